"""Cost of one lineage event, against the floor and the baselines, all measured in this one run.

    .venv/bin/python bench/emit_bench.py            # the figures (about 10-25 s on 2 cores)
    .venv/bin/python bench/emit_bench.py --quick    # a short run (smoke test; figures are noisy)
    .venv/bin/python bench/emit_bench.py --json     # the figures as JSON on stdout

Cases, each per event, all writing one JSON line to the same text stream opened on os.devnull:

FLOOR            json.dumps + write + flush of a prebuilt WRITE event (what any emitter must pay)
LINEAGE_EMIT     Emitter(StdoutSink).emit(event): compiled validation, dumps, size check, write, flush
LINEAGE_API      step.write(DAILY, records=..., columns=[ColumnLineage(...), ...]): builds and emits
JSONSCHEMA_EMIT  LINEAGE_EMIT with the reference validator (jsonschema Draft202012Validator) instead
OPENLINEAGE_API  the equivalent event built and emitted with openlineage-python's console transport

Times are the median over 7 rounds (3 with --quick) of batch time / batch size, taken with
time.perf_counter_ns after a warm-up; each round times one batch of every case in turn, so that load
changes hit all cases alike. The garbage collector stays on, as in a job. Targets are reported as met
or not met; the script exits 0 either way (STYLE.md section 8).
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import IO, Any

# Runnable as `python bench/emit_bench.py` from a checkout without an install.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The OpenLineage client reads these at construction and on emit; the baseline must neither be
# disabled (OPENLINEAGE_DISABLED) nor configured from the environment (URL, config file, OPENLINEAGE__*).
for _name in [k for k in os.environ if k.startswith("OPENLINEAGE")]:
    del os.environ[_name]

import jsonschema  # noqa: E402

from lineage_lib import ColumnLineage, ExecutionContext, Run, Step, detect, glue_table  # noqa: E402
from lineage_lib import __version__ as LINEAGE_VERSION  # noqa: E402
from lineage_lib.contract import MAX_EVENT_BYTES, schema  # noqa: E402
from lineage_lib.emitter import Emitter  # noqa: E402
from lineage_lib.sinks import MemorySink, StdoutSink  # noqa: E402

# --------------------------------------------------------------------------------------------------
# The event: a Glue job's WRITE of a daily aggregate, shaped like the schema's seed example (about 800
# bytes): two column mappings, a record count, the Glue context (job name, job run id, region, host).

RAW = glue_table("raw_db", "orders_raw")
DAILY = glue_table("analytics_db", "orders_daily")
RECORDS = 31
PIPELINE = "orders-daily"
STEP = "aggregate_daily"
GLUE_RUN = "jr_5f1c0e9b2a7d4c3e8f6a1b2c3d4e5f60"
HOST = "ip-10-0-0-1"  # pinned, so that the event has the same size on every machine
REGION = "eu-west-1"
ACCOUNT = "123456789012"

# Column mappings as a job states them: (target column, source column, lineage_lib transformation,
# OpenLineage transformation subtype).
MAPPINGS = (
    ("revenue", "order_total", "rename", "IDENTITY"),
    ("order_date", "order_ts", "cast", "TRANSFORMATION"),
)


def glue_context() -> ExecutionContext:
    """The context a Glue job detects (from a stated argv and environment: no AWS call)."""
    detected = detect(
        argv=["orders_daily.py", "--JOB_NAME", PIPELINE, "--JOB_RUN_ID", GLUE_RUN],
        environ={"AWS_REGION": REGION},
        emr_job_flow_file=os.devnull,
    )
    return replace(detected, host=HOST)


def write_daily(step: Step) -> None:
    """The public call that LINEAGE_API times: builds the column mappings and the event, emits it."""
    step.write(
        DAILY,
        records=RECORDS,
        columns=[ColumnLineage(target, RAW.column(source), kind) for target, source, kind, _ in MAPPINGS],
    )


def open_run(sink: Any) -> tuple[Run, Step]:
    run = Run(glue_context(), Emitter(sink))
    return run, run.step(STEP)


def captured_event() -> dict[str, Any]:
    """One real WRITE event, built by lineage_lib and captured exactly as it would have been written."""
    sink = MemorySink()
    run, step = open_run(sink)
    write_daily(step)
    event = sink.events[-1]
    run.complete()
    return event


# --------------------------------------------------------------------------------------------------
# The cases. Each factory gets the output stream and returns (emit one event, close).

Case = Callable[[IO[str]], tuple[Callable[[], None], Callable[[], None]]]


def _nothing() -> None:
    return None


def case_floor(event: dict[str, Any]) -> Case:
    def factory(stream: IO[str]) -> tuple[Callable[[], None], Callable[[], None]]:
        dumps, write, flush = json.dumps, stream.write, stream.flush

        def once() -> None:
            line = dumps(event, separators=(",", ":"), ensure_ascii=False)
            write(line + "\n")
            flush()

        return once, _nothing

    return factory


def case_lineage_emit(event: dict[str, Any]) -> Case:
    def factory(stream: IO[str]) -> tuple[Callable[[], None], Callable[[], None]]:
        emitter = Emitter(StdoutSink(stream=stream))
        emit = emitter.emit

        def once() -> None:
            emit(event)

        return once, _nothing

    return factory


def case_lineage_api() -> Case:
    def factory(stream: IO[str]) -> tuple[Callable[[], None], Callable[[], None]]:
        run, step = open_run(StdoutSink(stream=stream))  # RUN_START, STEP_START: outside the timing

        def once() -> None:
            write_daily(step)

        def close() -> None:
            step.complete()
            run.complete()

        return once, close

    return factory


def case_jsonschema_emit(event: dict[str, Any]) -> Case:
    """Emitter.emit's steps, with the reference validator in place of the compiled one."""
    validate = jsonschema.Draft202012Validator(schema("1.0")).validate

    def factory(stream: IO[str]) -> tuple[Callable[[], None], Callable[[], None]]:
        dumps, write, flush = json.dumps, stream.write, stream.flush

        def once() -> None:
            validate(event)
            line = dumps(event, separators=(",", ":"), ensure_ascii=False)
            if len(line) * 4 > MAX_EVENT_BYTES and len(line.encode("utf-8")) > MAX_EVENT_BYTES:
                raise AssertionError("unreachable: the benchmark event is small")
            write(line + "\n")
            flush()

        return once, _nothing

    return factory


def case_openlineage_api() -> Case:
    """The equivalent event through openlineage-python: RunEvent (event_v2), console transport."""
    from openlineage.client import event_v2 as ol
    from openlineage.client.client import OpenLineageClient
    from openlineage.client.facet_v2 import column_lineage_dataset as cl
    from openlineage.client.facet_v2 import job_type_job
    from openlineage.client.facet_v2 import output_statistics_output_dataset as out_stats
    from openlineage.client.transport.console import ConsoleConfig, ConsoleTransport
    from openlineage.client.uuid import generate_new_uuid

    # No config file either: the client would otherwise look in $OPENLINEAGE_CONFIG, the working
    # directory and ~/.openlineage (only the explicit transport and the defaults must apply).
    if hasattr(OpenLineageClient, "_find_yaml_config_path"):
        OpenLineageClient._find_yaml_config_path = staticmethod(lambda: None)  # type: ignore[method-assign]

    # OpenLineage naming for Glue tables: namespace arn:aws:glue:{region}:{account}, name table/{db}/{t}.
    namespace = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    raw_name, daily_name = "table/raw_db/orders_raw", "table/analytics_db/orders_daily"
    run_id = str(generate_new_uuid())
    producer = f"https://github.com/lineage-plane/lineage_lib/{LINEAGE_VERSION}"

    def factory(stream: IO[str]) -> tuple[Callable[[], None], Callable[[], None]]:
        logger = logging.getLogger("openlineage.client.transport.console")
        handler = logging.StreamHandler(stream)
        saved = (logger.level, logger.propagate, list(logger.handlers))
        logger.handlers = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False
        client = OpenLineageClient(transport=ConsoleTransport(ConsoleConfig()))
        emit = client.emit

        def once() -> None:
            fields = {
                target: cl.Fields(
                    inputFields=[
                        cl.InputField(
                            namespace=namespace,
                            name=raw_name,
                            field=source,
                            transformations=[cl.Transformation(type="DIRECT", subtype=subtype)],
                        )
                    ]
                )
                for target, source, _, subtype in MAPPINGS
            }
            emit(
                ol.RunEvent(
                    eventType=ol.RunState.RUNNING,
                    eventTime=datetime.datetime.now(datetime.UTC).isoformat(),
                    run=ol.Run(runId=run_id),
                    job=ol.Job(
                        namespace="glue",
                        name=f"{PIPELINE}.{STEP}",
                        facets={
                            "jobType": job_type_job.JobTypeJobFacet(
                                processingType="BATCH", integration="GLUE", jobType="JOB"
                            )
                        },
                    ),
                    inputs=[ol.InputDataset(namespace=namespace, name=raw_name)],
                    outputs=[
                        ol.OutputDataset(
                            namespace=namespace,
                            name=daily_name,
                            facets={"columnLineage": cl.ColumnLineageDatasetFacet(fields=fields)},
                            outputFacets={
                                "outputStatistics": out_stats.OutputStatisticsOutputDatasetFacet(
                                    rowCount=RECORDS
                                )
                            },
                        )
                    ],
                    producer=producer,
                )
            )

        def close() -> None:
            client.close(0)
            logger.level, logger.propagate, logger.handlers = saved[0], saved[1], saved[2]

        return once, close

    return factory


# --------------------------------------------------------------------------------------------------
# Measuring.


@dataclass
class Spec:
    name: str
    what: str
    factory: Case
    batch: int  # events per timed batch (full run)


@dataclass
class Result:
    name: str
    what: str
    median_us: float
    min_us: float
    max_us: float
    batch: int
    repeats: int
    line_bytes: int


def last_line(factory: Case) -> str:
    """Run a case once on a memory stream: the line it writes (checks it really writes the event)."""
    buffer = io.StringIO()
    once, close = factory(buffer)
    start = buffer.tell()
    once()
    written = buffer.getvalue()[start:]
    close()
    lines = written.splitlines()
    if len(lines) != 1:
        raise SystemExit(f"benchmark setup error: expected one line per event, got {len(lines)}")
    json.loads(lines[0])
    return lines[0]


def measure_all(specs: list[Spec], stream: IO[str], *, quick: bool, progress: bool) -> dict[str, Result]:
    """Time every case in rounds: each round runs one batch of each case, in turn, so that a change of
    machine load during the run weighs on all cases alike instead of skewing the ratios."""
    repeats = 3 if quick else 7
    clock = time.perf_counter_ns
    prepared = []
    try:
        for spec in specs:
            batch = max(spec.batch // 25, 20) if quick else spec.batch
            line_bytes = len(last_line(spec.factory).encode("utf-8"))
            once, close = spec.factory(stream)
            prepared.append((spec, batch, line_bytes, once, close))
            for _ in range(max(batch // 5, 20)):  # warm-up: caches, lazy imports, first allocations
                once()
        samples: dict[str, list[float]] = {spec.name: [] for spec in specs}
        for round_no in range(1, repeats + 1):
            if progress:
                print(f"  round {round_no}/{repeats}", file=sys.stderr, flush=True)
            for spec, batch, _, once, _ in prepared:
                loop = range(batch)
                start = clock()
                for _ in loop:
                    once()
                samples[spec.name].append((clock() - start) / batch / 1000)
    finally:
        for *_, close in reversed(prepared):
            close()
    return {
        spec.name: Result(
            spec.name,
            spec.what,
            statistics.median(samples[spec.name]),
            min(samples[spec.name]),
            max(samples[spec.name]),
            batch,
            repeats,
            line_bytes,
        )
        for spec, batch, line_bytes, _, _ in prepared
    }


@dataclass
class Ratio:
    name: str
    value: float
    target: float | None
    note: str

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.value <= self.target


def ratios(results: dict[str, Result], *, use_min: bool = False) -> list[Ratio]:
    """The target ratios, from the medians (or from the minimums: a check on how noisy the run was)."""
    us = {name: (r.min_us if use_min else r.median_us) for name, r in results.items()}
    return [
        Ratio("LINEAGE_EMIT / FLOOR", us["LINEAGE_EMIT"] / us["FLOOR"], 3.0, "hot-path overhead"),
        Ratio("LINEAGE_API / FLOOR", us["LINEAGE_API"] / us["FLOOR"], None, "informational"),
        Ratio(
            "JSONSCHEMA_EMIT / FLOOR",
            us["JSONSCHEMA_EMIT"] / us["FLOOR"],
            None,
            "informational (the issue measured ~45x)",
        ),
        Ratio(
            "LINEAGE_API / OPENLINEAGE_API", us["LINEAGE_API"] / us["OPENLINEAGE_API"], 0.10, "vs baseline"
        ),
    ]


def versions() -> dict[str, str]:
    out = {"lineage_lib": LINEAGE_VERSION}
    for dist in ("jsonschema", "openlineage-python"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parent.parent
    return subprocess.run(["git", *args], check=False, cwd=root, capture_output=True, text=True, timeout=10)


def commit() -> str:
    """The checkout measured: short commit id, with "+changes" when the working tree differs."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def machine(found_versions: dict[str, str] | None = None) -> dict[str, Any]:
    """Where and with what a figure was measured (another bench passes the versions it cares about)."""
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpu_count": os.cpu_count(),
        "versions": versions() if found_versions is None else found_versions,
    }


def report_text(results: dict[str, Result], event_bytes: int, info: dict[str, Any], quick: bool) -> str:
    out = [
        "lineage emit benchmark" + ("  (--quick: short run, noisy figures)" if quick else ""),
        f"  date     {info['date']}",
        f"  commit   {info['commit']}",
        f"  machine  {info['platform']}, {info['cpu_count']} CPUs",
        f"  python   {info['python']}",
        "  versions " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()),
        f"  event    WRITE with {len(MAPPINGS)} column mappings, metrics, Glue context: "
        f"{event_bytes} bytes serialised",
        "",
        f"  {'case':<16} {'us/event':>9} {'min':>9} {'max':>9} {'batch x reps':>13} {'line bytes':>10}  what",
    ]
    for r in results.values():
        out.append(
            f"  {r.name:<16} {r.median_us:>9.2f} {r.min_us:>9.2f} {r.max_us:>9.2f} "
            f"{f'{r.batch} x {r.repeats}':>13} {r.line_bytes:>10}  {r.what}"
        )
    out += ["", f"  {'ratio (of medians)':<30} {'value':>8} {'of mins':>8}  {'target':>8}  status"]
    for ratio, of_mins in zip(ratios(results), ratios(results, use_min=True), strict=True):
        target = "-" if ratio.target is None else f"<= {ratio.target:g}"
        status = {None: ratio.note, True: "MET", False: "NOT MET"}[ratio.met]
        out.append(f"  {ratio.name:<30} {ratio.value:>8.3f} {of_mins.value:>8.3f}  {target:>8}  {status}")
    out.append("  (status from the medians; a large gap between the two columns means a noisy run)")
    return "\n".join(out)


def report_json(results: dict[str, Result], event_bytes: int, info: dict[str, Any], quick: bool) -> str:
    return json.dumps(
        {
            **info,
            "quick": quick,
            "event_bytes": event_bytes,
            "cases": {
                r.name: {
                    "us_per_event": round(r.median_us, 3),
                    "min_us": round(r.min_us, 3),
                    "max_us": round(r.max_us, 3),
                    "batch": r.batch,
                    "repeats": r.repeats,
                    "line_bytes": r.line_bytes,
                    "what": r.what,
                }
                for r in results.values()
            },
            "ratios": {
                ratio.name: {
                    "value": round(ratio.value, 4),
                    "of_mins": round(of_mins.value, 4),
                    "target": ratio.target,
                    "met": ratio.met,
                }
                for ratio, of_mins in zip(ratios(results), ratios(results, use_min=True), strict=True)
            },
        },
        indent=2,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="short run (a smoke test): figures are noisy")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    event = captured_event()
    event_bytes = len(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    specs = [
        Spec("FLOOR", "json.dumps + write + flush", case_floor(event), 5000),
        Spec("LINEAGE_EMIT", "Emitter(StdoutSink).emit(event)", case_lineage_emit(event), 5000),
        Spec("LINEAGE_API", "step.write(DAILY, records=, columns=[...])", case_lineage_api(), 5000),
        Spec("JSONSCHEMA_EMIT", "emit, jsonschema Draft202012Validator", case_jsonschema_emit(event), 1000),
        Spec("OPENLINEAGE_API", "OpenLineageClient(ConsoleTransport).emit", case_openlineage_api(), 1000),
    ]
    with open(os.devnull, "w", encoding="utf-8") as stream:
        results = measure_all(specs, stream, quick=args.quick, progress=not args.json)

    info = machine()
    report = report_json if args.json else report_text
    print(report(results, event_bytes, info, args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
