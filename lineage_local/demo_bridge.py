"""The demo's third part: Glue's own account of the runs, joined to their lineage, on moto.

moto's Glue holds the demo's jobs and their runs as Glue would report them (lineage_local.local_glue).
EventBridge's "Glue Job State Change" event of each ended run goes to the real Glue bridge handler,
except one, as EventBridge delivery is best effort: the run reconciler's scheduled sweep, an hour
later, finds that run still "running" in the run state and asks Glue. The demo prints each verdict:
consistent, incomplete (the platform says it ended, its lineage never did) and the lineage gap (a job
Glue ran that recorded no lineage at all), and the metrics the stack's alarms watch.
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TextIO

from lineage_local import local_plane
from lineage_plane.run_table import PlatformState, Reconciliation

ROLE: Final = f"arn:aws:iam::{local_plane.LOCAL_ACCOUNT}:role/lineage-demo-glue"
EXPLAINED: Final = {
    Reconciliation.CONSISTENT: "consistent: lineage and Glue agree",
    Reconciliation.DISAGREEMENT: "disagreement: Glue's account wins",
    Reconciliation.INCOMPLETE: "INCOMPLETE: Glue says it ended, its lineage never did",
    Reconciliation.GAP: "LINEAGE GAP: Glue ran it, and not one lineage event came from it",
}


@dataclass(frozen=True)
class GlueJobRun:
    """A run of the demo as Glue reports it, with what the job printed."""

    job_name: str
    job_run_id: str
    state: str  # as Glue ends it
    lines: Sequence[str] = ()
    attempt: int = 0
    first_run_id: str | None = None  # a retry's first attempt
    error_message: str | None = None
    event_delivered: bool = True  # False: its state-change event is lost (the reconciler finds it)
    started_on: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(minutes=10))


def record_in_glue(glue: Any, runs: Sequence[GlueJobRun]) -> None:
    """Create the demo's jobs and runs in moto's Glue."""
    from lineage_local.local_glue import record_run  # imports moto: only when the demo runs

    for job_name in dict.fromkeys(run.job_name for run in runs):
        glue.create_job(
            Name=job_name,
            Role=ROLE,
            Command={"Name": "glueetl", "ScriptLocation": f"s3://lineage-demo-jobs/{job_name}.py"},
            ExecutionProperty={"MaxConcurrentRuns": 10},
            GlueVersion="5.0",
        )
    previous: dict[str, str] = {}
    for run in runs:
        record_run(
            glue,
            run.job_name,
            state=run.state,
            started_on=run.started_on,
            duration=timedelta(minutes=4),
            attempt=run.attempt,
            retry_of=previous.get(run.first_run_id or "") if run.attempt else None,
            job_run_id=run.job_run_id,
            error_message=run.error_message,
        )
        previous[run.first_run_id or run.job_run_id] = run.job_run_id


def state_change(run: GlueJobRun) -> dict[str, Any]:
    """The EventBridge event Glue sends when ``run`` ends (the Lambda target receives it as is)."""
    return {
        "version": "0",
        "id": f"demo-{run.job_run_id}",
        "detail-type": "Glue Job State Change",
        "source": "aws.glue",
        "account": local_plane.LOCAL_ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": local_plane.LOCAL_REGION,
        "resources": [],
        "detail": {
            "jobName": run.job_name,
            "severity": "INFO" if run.state == PlatformState.SUCCEEDED else "ERROR",
            "state": run.state,
            "jobRunId": run.job_run_id,
            "message": run.error_message or "Job run succeeded",
        },
    }


def reconcile(runs: Sequence[GlueJobRun], glue: Any, out: TextIO) -> Counter[str]:
    """Run the bridge on each delivered state change and the reconciler an hour later; the metrics."""
    from lambdas.glue_bridge import handler as bridge_handler
    from lambdas.glue_bridge import reconciler as reconciler_handler

    record_in_glue(glue, runs)
    print(
        f"\nGlue's account (moto's Glue holds {len({r.job_name for r in runs})} jobs and {len(runs)} "
        "runs), joined to the lineage:",
        file=out,
    )
    print('  EventBridge "Glue Job State Change" -> Glue bridge (lambdas/glue_bridge/handler.py):', file=out)
    printed = io.StringIO()
    for cached in (bridge_handler.settings, bridge_handler.bridge, reconciler_handler.reconciler):
        cached.cache_clear()
    try:
        for run in runs:
            if not run.event_delivered:
                print(
                    f"    {_name(run)}: its state-change event was lost (delivery is best effort)", file=out
                )
                continue
            with contextlib.redirect_stdout(printed):
                seen = bridge_handler.handler(
                    state_change(run), local_plane.LambdaContext("lineage-glue-bridge")
                )
            print(f"    {_name(run)}: Glue {run.state:<9} -> {EXPLAINED[seen['verdict']]}", file=out)
        an_hour_later = datetime.now(UTC) + timedelta(minutes=61)
        account = local_plane.LOCAL_ACCOUNT
        reconciler_handler.reconciler(account).clock = lambda: an_hour_later
        with contextlib.redirect_stdout(printed):
            swept = reconciler_handler.handler(
                _scheduled(an_hour_later), local_plane.LambdaContext("lineage-run-reconciler")
            )
        print(
            f"  Run reconciler, an hour later (a schedule): {swept['swept']} attempt silent for over "
            f"an hour, asked Glue: {swept['glue_ended']} ended on Glue, recorded as Glue reports it",
            file=out,
        )
    finally:
        for cached in (bridge_handler.settings, bridge_handler.bridge, reconciler_handler.reconciler):
            cached.cache_clear()
    metrics = local_plane.emf_totals(printed.getvalue())
    print(f"  metrics (EMF): {', '.join(f'{k}={v:g}' for k, v in sorted(metrics.items()))}", file=out)
    return metrics


def glue_log_streams(runs: Sequence[GlueJobRun]) -> dict[str, list[str]]:
    """What each run wrote to Glue's output log group: Glue's own lines around the job's."""
    return {run.job_run_id: glue_output(run.job_run_id, run.lines) for run in runs}


def glue_output(job_run_id: str, lines: Sequence[str]) -> list[str]:
    """A job run's output stream as Glue writes it: its own log lines around the job's."""
    return [
        f"Glue job {job_run_id} starting: Glue version 5.0, worker type G.1X",
        "INFO GlueContext: catalog table analytics_db.orders_daily, schema_version 3 is the current one",
        *lines,
        f"Glue job {job_run_id} finished",
    ]


def _name(run: GlueJobRun) -> str:
    return f"{run.job_name} {run.job_run_id} attempt {run.attempt}"


def _scheduled(moment: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "demo-sweep",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": local_plane.LOCAL_ACCOUNT,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": local_plane.LOCAL_REGION,
        "resources": [],
        "detail": {},
    }
