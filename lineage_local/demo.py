"""The demo behind ``lineage demo``: the main job on the embedded default.

Runs the seed pipeline (examples/orders_daily/glue_job.py) as Glue would run it, in real child
processes with Glue's job arguments: a first attempt that fails after reading, then Glue's retry
(``<run id>_attempt_1``) that succeeds. What the jobs print is exactly what CloudWatch Logs would
receive; the demo validates every line and shows the runs and the column lineage they recorded.
Then the output goes through the plane's ingestion path on moto (lineage_local.demo_plane): CloudWatch
Logs, the subscription filter, the validator Lambda's handler, the S3 archive and the run state.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import lineage_lib
from lineage_cli import run_state_file
from lineage_cli.exits import UsageError
from lineage_lib import contract, env
from lineage_lib.contract import EventType, Field
from lineage_local import demo_bridge, demo_folder, demo_plane
from lineage_local.seed import seed_job

# The folder the job's child process imports lineage_lib from: the one this process imported it from.
LIB_ROOT = Path(lineage_lib.__file__).resolve().parent.parent
DEFAULT_JOB = seed_job()


class DemoError(UsageError):
    """The demo cannot run as asked (missing job script, job produced no lineage)."""


def run_job(job: Path, job_args: Sequence[str], workdir: Path) -> tuple[int, list[str], str]:
    """Run one job attempt in a child process; returns (exit code, stdout lines, stderr)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(env.PREFIX)}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(LIB_ROOT), environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, str(job), *job_args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=workdir,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout.splitlines(), done.stderr


def lineage_events(lines: Sequence[str]) -> list[dict[str, Any]]:
    """The lineage events among a job's output lines, each validated against its schema."""
    events = []
    for line in lines:
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        contract.validate(event)
        events.append(event)
    return events


def shown_job(job: Path) -> str:
    """The job as the demo names it: the seed by its place in the repository, any other as given."""
    if job.resolve() == DEFAULT_JOB.resolve():
        return "examples/orders_daily/glue_job.py"
    return str(job)


def _short(dataset_id: str) -> str:
    return dataset_id.split("/", 3)[-1] if dataset_id.startswith("glue://") else dataset_id


def report(events: Sequence[dict[str, Any]], out: TextIO) -> None:
    print(
        f"\n{len(events)} lineage events, every one valid against schema {contract.CURRENT_VERSION}:",
        file=out,
    )
    print(f"  {'time':<24} {'run':<22} {'att':>3}  {'event':<14} {'step':<20} dataset", file=out)
    for e in events:
        dataset = e.get(Field.TARGET, e.get(Field.SOURCE, {})).get(Field.DATASET_ID, "")
        print(
            f"  {e[Field.EVENT_TIME]:<24} {e[Field.RUN_ID]:<22} {e[Field.ATTEMPT]:>3}  "
            f"{e[Field.EVENT_TYPE]:<14} {e.get(Field.STEP, ''):<20} {_short(dataset)}",
            file=out,
        )
    print("\nRuns (a retry is a new attempt of the same run, never an overwrite):", file=out)
    for e in events:
        if e[Field.EVENT_TYPE] in EventType.RUN_TERMINAL:
            error = e.get(Field.ERROR)
            why = f"  ({error[Field.TYPE]}: {error[Field.MESSAGE]})" if error else ""
            run = f"{e[Field.PIPELINE_ID]} {e[Field.RUN_ID]} attempt {e[Field.ATTEMPT]}"
            print(f"  {run}: {e[Field.EVENT_TYPE]}{why}", file=out)
    print("\nColumn lineage recorded by the successful attempt:", file=out)
    for e in events:
        for col in e.get(Field.COLUMNS, []):
            for src in col[Field.SOURCES]:
                print(
                    f"  {_short(e[Field.TARGET][Field.DATASET_ID])}.{col[Field.COLUMN]:<11} <- "
                    f"{_short(src[Field.DATASET])}.{src[Field.COLUMN]}  ({col[Field.TRANSFORMATION]})",
                    file=out,
                )


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    job: Path = args.job
    if not job.is_file():
        raise DemoError(f"job script {job} not found; pass --job with a job script that exists")
    archive_out: Path = args.archive_out
    replacing = demo_folder.check(archive_out)  # refused before anything runs
    run_id = f"jr_demo{uuid.uuid4().hex[:12]}"
    killed_id = f"jr_demo{uuid.uuid4().hex[:12]}"
    print("lineage-plane demo: the seed pipeline run as a Glue job, on this machine", file=out)
    print(f"  job: {shown_job(job)}", file=out)
    events: list[dict[str, Any]] = []
    runs: list[demo_bridge.GlueJobRun] = []
    with tempfile.TemporaryDirectory(prefix="lineage-demo-") as tmp:
        failure = "the warehouse is read-only"
        attempts = [
            # (job run id, attempt, job arguments, how Glue ends it, Glue's error message)
            (
                run_id,
                0,
                ["--fail_after_read", failure],
                "FAILED",
                f"RuntimeError: simulated failure: {failure}",
            ),
            (
                f"{run_id}_attempt_1",
                1,
                ["--output", str(Path(tmp) / "orders_daily.jsonl")],
                "SUCCEEDED",
                None,
            ),
            # killed by the platform mid-step (SIGKILL, as an out-of-memory kill): no terminal event
            (killed_id, 0, ["--killed_after_read", "1"], "FAILED", "Command failed with exit code 137"),
        ]
        for job_run_id, attempt, extra, state, error in attempts:
            code, lines, stderr = run_job(
                job, ["--JOB_NAME", "orders-daily", "--JOB_RUN_ID", job_run_id, *extra], Path(tmp)
            )
            found = lineage_events(lines)
            print(f"  Glue run {job_run_id}: exit code {code}, {len(found)} lineage events", file=out)
            if not found:
                raise DemoError(f"the job emitted no lineage (exit code {code}):\n{stderr}")
            events.extend(found)
            runs.append(
                demo_bridge.GlueJobRun(
                    "orders-daily", job_run_id, state, lines, attempt=attempt, first_run_id=run_id,
                    error_message=error, event_delivered=job_run_id != killed_id,
                )
            )  # fmt: skip
    # and a job that never imported lineage_lib: Glue ran it, it recorded nothing
    export_id = f"jr_demo{uuid.uuid4().hex[:12]}"
    runs.append(
        demo_bridge.GlueJobRun(
            "orders-export", export_id, "SUCCEEDED", ["exported 31 rows to s3://acme-exports/"]
        )
    )
    print(f"  Glue run {export_id} of orders-export: no lineage_lib in that job, so no lineage", file=out)
    if args.events_out:
        try:
            args.events_out.write_text("".join(json.dumps(e) + "\n" for e in events))
        except OSError as err:
            raise DemoError(f"--events-out {args.events_out}: cannot be written ({err.strerror})") from err
        print(f"  events written to {args.events_out}", file=out)
    report(events, out)
    with demo_folder.staged(archive_out) as staging:
        demo_plane.run(runs, out, keep=staging)
    where = demo_folder.shown(archive_out)
    print(
        f"\nKept in {where}{' (the previous demo folder replaced)' if replacing else ''}: the archive "
        f"(events/, quarantine/) and the run-state table's items ({run_state_file.FILE_NAME}). Ask it:\n"
        f"  lineage upstream analytics_db.orders_daily.revenue --archive {where}\n"
        f"  lineage runs --archive {where} --incomplete",
        file=out,
    )
    return 0
