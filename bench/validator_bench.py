"""Cost of the validator Lambda on one delivered batch, against its targets, all measured in this one run.

    .venv/bin/python bench/validator_bench.py            # the figures (about 1-2 min on 2 cores)
    .venv/bin/python bench/validator_bench.py --quick    # a short run (smoke test; figures are noisy)
    .venv/bin/python bench/validator_bench.py --json     # the figures as JSON on stdout

The batch: 10,000 log events of one log stream (500 with --quick), delivered as a subscription filter
delivers them (JSON, gzip, base64 under awslogs.data). 99% are lineage events built by lineage_lib
itself: 20 runs of 5 pipelines on Glue, EMR and Lambda (the Lambda ones behind Lambda's text-format
prefix), every event type, READ/WRITE/TRANSFORM with schemas and column lineage; 1% are lines a
subscription lets through that are not valid lineage (noise, schema violations, truncated events, an
unknown schema version).

1. Throughput, per event, from the payload dict to the archive objects' gzip bytes:

DECODE      CloudWatchLogsEvent(payload).parse_logs_data() + delivery_of(): base64, gunzip, JSON
VALIDATOR   DECODE + ingest() (find, parse, validate, enrich, group, serialise) + body() of every object
JSONSCHEMA  VALIDATOR with jsonschema's Draft202012Validator in place of the compiled validator

Times are the median over 7 rounds (3 with --quick) of batch time / batch size, taken with
time.perf_counter_ns after a warm-up; each round times one batch of every case in turn, so that load
changes hit all cases alike. The garbage collector stays on, as in the Lambda.

2. Memory: the peak resident memory of a fresh process processing one batch (VmHWM on Linux), above
   what it holds once the handler's modules are imported and the payload is loaded.
3. Cold start: `import lambdas.validator.handler` against `import boto3` alone, each timed inside fresh
   interpreters (median of 9; 3 with --quick).
4. Requests: Validator.process (archive, then run state) against moto: S3 and DynamoDB requests per
   event, against one request per event. Counted, not timed (moto's latency is not AWS's). Then the
   same log events delivered again, cut in two batches (new batch ids): what that redelivery writes
   (events objects: none; the quarantined lines are quarantined again) and the reads it costs.

Targets are reported as met or not met; the script exits 0 either way (STYLE.md section 8).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Final

# Runnable as `python bench/validator_bench.py` from a checkout without an install.
REPO: Final = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent  # noqa: E402

from lambdas.validator.handler import delivery_of  # noqa: E402
from lineage_lib import (  # noqa: E402
    ColumnLineage,
    Dataset,
    ExecutionContext,
    Run,
    Step,
    contract,
    glue_table,
    s3,
)
from lineage_lib import __version__ as LINEAGE_VERSION  # noqa: E402
from lineage_lib._schema_compiler import SchemaViolation  # noqa: E402
from lineage_lib.contract import EventType, Field  # noqa: E402
from lineage_lib.emitter import Emitter  # noqa: E402
from lineage_lib.sinks import MemorySink  # noqa: E402
from lineage_local.local_plane import subscription_payload  # noqa: E402
from lineage_plane.ingest import Counts, Delivery, Outcome, ingest  # noqa: E402

REGION: Final = "eu-west-1"
ACCOUNT: Final = "123456789012"
LOG_GROUP: Final = "/lineage-plane/bench"
LOG_STREAM: Final = "2026/11/21/mixed"
RECEIVED_AT: Final = datetime.datetime(2026, 11, 21, 5, 0, 1, 125000, tzinfo=datetime.UTC)
SEED: Final = 20261121
RUNS: Final = 20
BAD_SHARE: Final = 0.01  # log events that are not valid lineage

# Targets (the validator's issue).
TARGET_EVENTS_PER_S: Final = 15_000.0
TARGET_MEMORY_MIB: Final = 100.0
TARGET_IMPORT_RATIO: Final = 1.5

# --------------------------------------------------------------------------------------------------
# The batch: lineage events of 20 runs of 5 pipelines, made by lineage_lib (a MemorySink keeps each
# line exactly as the job would have written it), plus 1% lines that are not valid lineage.


@dataclass(frozen=True)
class Table:
    dataset: Dataset
    columns: tuple[str, ...]


def _table(database: str, name: str, *columns: str) -> Table:
    return Table(glue_table(database, name), columns)


def _s3(uri: str, *columns: str) -> Table:
    return Table(s3(uri), columns)


@dataclass(frozen=True)
class Pipeline:
    name: str
    platform: str
    steps: tuple[str, ...]
    sources: tuple[Table, ...]
    targets: tuple[Table, ...]


PIPELINES: Final = (
    Pipeline(
        "orders-daily",
        contract.Platform.GLUE,
        ("extract", "aggregate_daily", "publish"),
        (
            _table("raw_db", "orders_raw", "order_id", "order_total", "order_ts", "customer_id", "currency"),
            _table("raw_db", "customers", "customer_id", "region", "segment", "created_at"),
        ),
        (
            _table("analytics_db", "orders_daily", "order_date", "revenue", "orders", "region"),
            _table("analytics_db", "revenue_by_region", "region", "revenue", "order_date"),
        ),
    ),
    Pipeline(
        "customers-sync",
        contract.Platform.GLUE,
        ("load", "dedupe", "merge", "export"),
        (
            _table("crm_raw", "accounts", "account_id", "name", "email", "country", "updated_at"),
            _s3("s3://acme-landing/crm/contacts", "contact_id", "account_id", "email", "phone"),
        ),
        (
            _table("curated_db", "customers", "customer_id", "name", "email_hash", "country"),
            _s3("s3://acme-curated/customers_snapshot", "customer_id", "country", "snapshot_date"),
        ),
    ),
    Pipeline(
        "clickstream-sessionize",
        contract.Platform.EMR,
        ("parse", "sessionize", "aggregate", "export"),
        (
            _s3("s3://acme-raw/clickstream/events", "event_ts", "user_id", "url", "referrer", "agent"),
            _table("ref_db", "url_categories", "url", "category"),
        ),
        (
            _s3("s3://acme-curated/clickstream/sessions", "session_id", "user_id", "started_at", "pages"),
            _table("analytics_db", "daily_sessions", "session_date", "category", "sessions", "users"),
        ),
    ),
    Pipeline(
        "inventory-snapshot",
        contract.Platform.EMR,
        ("extract", "reconcile", "snapshot"),
        (
            _table("erp_raw", "stock_movements", "sku", "warehouse", "quantity", "moved_at"),
            _s3("s3://acme-raw/erp/warehouses", "warehouse", "region", "capacity"),
        ),
        (_table("analytics_db", "inventory_daily", "sku", "warehouse", "on_hand", "snapshot_date"),),
    ),
    Pipeline(
        "invoice-export",
        contract.Platform.LAMBDA,
        ("fetch", "render", "upload"),
        (_table("billing_db", "invoices", "invoice_id", "customer_id", "amount", "issued_at"),),
        (_s3("s3://acme-exports/invoices", "invoice_id", "customer_id", "amount", "pdf_key"),),
    ),
)
TRANSFORMATIONS: Final = ("identity", "rename", "cast", "expression", "aggregation", "filter")


def run_context(pipeline: Pipeline, run_no: int, rng: random.Random) -> ExecutionContext:
    """The context lineage_lib.detect() finds on each platform (stated here, so that it is the same on
    every machine)."""
    if pipeline.platform == contract.Platform.GLUE:
        job_run = f"jr_{rng.getrandbits(128):032x}"
        attempt = 1 if run_no == 3 else 0  # one retried Glue run: jr_<hex>_attempt_1
        return ExecutionContext(
            platform=pipeline.platform,
            pipeline_id=pipeline.name,
            run_id=job_run,
            attempt=attempt,
            job_name=pipeline.name,
            job_run_id=f"{job_run}_attempt_{attempt}" if attempt else job_run,
            sfn_execution_arn=f"arn:aws:states:{REGION}:{ACCOUNT}:execution:nightly:2026-11-21T03-0{run_no}",
            region=REGION,
            host=f"ip-10-0-{run_no}-{rng.randrange(2, 250)}",
        )
    if pipeline.platform == contract.Platform.EMR:
        cluster = f"j-{rng.getrandbits(60):013X}"[:15]
        step = f"s-{rng.getrandbits(60):013X}"[:15]
        return ExecutionContext(
            platform=pipeline.platform,
            pipeline_id=pipeline.name,
            run_id=f"{cluster}/{step}",
            attempt=0,
            cluster_id=cluster,
            step_id=step,
            region=REGION,
            host=f"ip-10-1-{run_no}-{rng.randrange(2, 250)}.{REGION}.compute.internal",
        )
    request = f"{rng.getrandbits(128):032x}"
    request_id = f"{request[:8]}-{request[8:12]}-{request[12:16]}-{request[16:20]}-{request[20:]}"
    return ExecutionContext(
        platform=pipeline.platform,
        pipeline_id=pipeline.name,
        run_id=request_id,
        attempt=0,
        function_name=pipeline.name,
        function_version="$LATEST",
        request_id=request_id,
        region=REGION,
        host="169.254.100.1",
    )


def _mappings(target: Table, source: Table, rng: random.Random, count: int) -> list[ColumnLineage]:
    columns = rng.sample(target.columns, min(count, len(target.columns)))
    return [
        ColumnLineage(column, source.dataset.column(rng.choice(source.columns)), rng.choice(TRANSFORMATIONS))
        for column in columns
    ]


def operation(step: Step, pipeline: Pipeline, rng: random.Random) -> None:
    """One READ (40%), WRITE with column lineage (45%) or TRANSFORM (15%), as a job records them."""
    draw = rng.random()
    source = rng.choice(pipeline.sources)
    if draw < 0.40:
        dataset = source.dataset
        if rng.random() < 0.5:  # the job states the schema it read
            dataset = dataset.with_schema(str(rng.randrange(1, 12)), [(c, "string") for c in source.columns])
        step.read(
            dataset,
            records=rng.randrange(1_000, 5_000_000),
            size_bytes=rng.randrange(10**5, 10**10),
            files=rng.randrange(1, 400),
        )
    elif draw < 0.85:
        target = rng.choice(pipeline.targets)
        step.write(
            target.dataset,
            records=rng.randrange(1, 2_000_000),
            columns=_mappings(target, source, rng, rng.randrange(2, 5)),
        )
    else:
        target = rng.choice(pipeline.targets)
        joined = [
            ColumnLineage(
                rng.choice(target.columns),
                [source.dataset.column(c) for c in rng.sample(source.columns, 2)],
                "join",
                f"{source.dataset.id} joined on {source.columns[0]}",
            )
        ]
        step.transform(source.dataset, target.dataset, records=rng.randrange(1, 10**6), columns=joined)


def run_lines(pipeline: Pipeline, run_no: int, events: int, rng: random.Random) -> list[str]:
    """``events`` JSON lines of one run: RUN_START, steps (STEP_START, operations, STEP_COMPLETE or
    one STEP_FAIL), RUN_COMPLETE or RUN_FAIL, as lineage_lib writes them."""
    sink = MemorySink()
    run = Run(run_context(pipeline, run_no, rng), Emitter(sink))
    steps = pipeline.steps
    operations = events - 2 - 2 * len(steps)
    if operations < len(steps):
        raise SystemExit(f"benchmark setup error: {events} events are too few for a run of {pipeline.name}")
    failing = run_no == 1 and pipeline.platform == contract.Platform.EMR  # a few failed runs
    for index, name in enumerate(steps):
        step = run.step(name)
        share = operations // len(steps) + (1 if index < operations % len(steps) else 0)
        for _ in range(share):
            operation(step, pipeline, rng)
        if failing and index == len(steps) - 1:
            step.fail(f"ExecutorLostFailure: executor {rng.randrange(1, 40)} exited (exit code 137)")
        else:
            step.complete(records=rng.randrange(1, 10**6))
    if failing:
        run.fail("step export failed", exit_code=1)
    else:
        run.complete()
    if len(sink.lines) != events:
        raise SystemExit(f"benchmark setup error: run of {pipeline.name} made {len(sink.lines)} events")
    return sink.lines


def lambda_prefixed(line: str, event: dict[str, Any]) -> str:
    """A line as Lambda's text log format writes it: ``[INFO]\\t<time>\\t<request id>\\t<message>``."""
    return f"[INFO]\t{event[Field.EVENT_TIME]}\t{event[Field.RUN_ID]}\t{line}"


def bad_line(kind: str, number: int, base: dict[str, Any], rng: random.Random) -> str:
    """A line the subscription lets through (it mentions schema_version) that is not valid lineage."""
    event = json.loads(json.dumps(base))
    event[Field.EVENT_ID] = f"00000000-0000-4000-8000-{number:012d}"
    dumps = functools.partial(json.dumps, separators=(",", ":"), ensure_ascii=False)
    if kind == "noise":
        return (
            f"[WARNING]\t{base[Field.EVENT_TIME]}\t{base[Field.RUN_ID]}\tcatalog table raw_db.orders_raw "
            "has no schema_version parameter; assuming 1",
            f"26/11/21 05:00:{number % 60:02d} INFO SchemaRegistry: schema_version=7 for raw_db.orders_raw",
            dumps({"level": "INFO", "msg": "config loaded", "schema_version_check": "strict", "n": number}),
        )[number % 3]
    if kind == "violation":
        variant = number % 4
        if variant == 0:
            event[Field.METRICS] = {Field.RECORDS: -rng.randrange(1, 100)}
        elif variant == 1:
            del event[Field.PIPELINE_ID]
        elif variant == 2:
            event[Field.EVENT_TYPE] = "UPSERT"
        else:
            event[Field.COLUMNS] = [
                {Field.COLUMN: "revenue", Field.SOURCES: [], Field.TRANSFORMATION: "copy"}
            ]
        return dumps(event)
    if kind == "truncated":
        line = dumps(event)
        return line[: len(line) * 2 // 3]
    event[Field.SCHEMA_VERSION] = "2.0"  # "unknown_version": from a newer producer
    return dumps(event)


BAD_KINDS: Final = ("noise", "violation", "violation", "noise", "truncated", "unknown_version")


@dataclass
class Batch:
    log_events: int
    message_bytes: int
    payload: dict[str, Any]
    event_types: Counter[str]
    prefixed: int  # behind Lambda's text-format prefix
    bad: Counter[str]

    @property
    def payload_bytes(self) -> int:
        return len(self.payload["awslogs"]["data"])


def make_batch(size: int) -> Batch:
    rng = random.Random(SEED)
    bad_count = max(round(size * BAD_SHARE), len(BAD_KINDS))
    good = size - bad_count
    per_run = [good // RUNS + (1 if i < good % RUNS else 0) for i in range(RUNS)]
    runs = []
    for i, events in enumerate(per_run):
        pipeline = PIPELINES[i % len(PIPELINES)]
        lines = run_lines(pipeline, i // len(PIPELINES), events, rng)
        runs.append([(line, json.loads(line), pipeline) for line in lines])
    # One log stream of concurrent runs: their events interleaved (each run's own order kept).
    merged: list[tuple[str, dict[str, Any], Pipeline]] = []
    cursors = [0] * len(runs)
    while len(merged) < good:
        i = rng.randrange(len(runs))
        if cursors[i] < len(runs[i]):
            merged.append(runs[i][cursors[i]])
            cursors[i] += 1
    writes = [event for _, event, _ in merged if event[Field.EVENT_TYPE] == EventType.WRITE]
    messages = []
    prefixed = 0
    for line, event, pipeline in merged:
        if pipeline.platform == contract.Platform.LAMBDA:
            messages.append(lambda_prefixed(line, event))
            prefixed += 1
        else:
            messages.append(line)
    bad: Counter[str] = Counter()
    for number, position in enumerate(sorted(rng.sample(range(size), bad_count))):
        kind = BAD_KINDS[number % len(BAD_KINDS)]
        bad[kind] += 1
        messages.insert(position, bad_line(kind, number, rng.choice(writes), rng))
    start_ms = int(RECEIVED_AT.timestamp() * 1000) - 60_000
    log_events = [
        {
            "id": f"{37_596_227_385_049_474_766_488_153_325_853_044_454_498_416_364_519_080_000 + n:056d}",
            "timestamp": start_ms + n * 60_000 // size,
            "message": message,
        }
        for n, message in enumerate(messages)
    ]
    payload = subscription_payload(log_events, log_group=LOG_GROUP, log_stream=LOG_STREAM, owner=ACCOUNT)
    types = Counter(str(event[Field.EVENT_TYPE]) for _, event, _ in merged)
    message_bytes = sum(len(message.encode()) for message in messages)
    return Batch(len(log_events), message_bytes, payload, types, prefixed, bad)


# --------------------------------------------------------------------------------------------------
# The pipeline timed, and the reference validator it is compared with.


def decode(payload: dict[str, Any]) -> Delivery:
    """What the handler does before the service: Powertools decodes, delivery_of() maps."""
    return delivery_of(CloudWatchLogsEvent(payload).parse_logs_data())


def process(payload: dict[str, Any]) -> tuple[Outcome, list[bytes]]:
    """Decode, ingest, and the gzip body of every archive object (what the archive writer sends)."""
    outcome = ingest(
        decode(payload), region=REGION, received_at=RECEIVED_AT, validator_version=LINEAGE_VERSION
    )
    return outcome, [obj.body() for obj in outcome.objects]


@functools.cache
def jsonschema_validator(version: str = contract.CURRENT_VERSION) -> Callable[[Any], None]:
    """The reference implementation behind the compiled validator's interface: None or SchemaViolation."""
    import jsonschema

    iter_errors = jsonschema.Draft202012Validator(contract.schema(version)).iter_errors

    def validate(event: Any) -> None:
        for error in iter_errors(event):
            raise SchemaViolation(
                tuple(error.absolute_path), str(error.validator), error.message, error.instance
            )

    return validate


@contextmanager
def reference_validator() -> Iterator[None]:
    """ingest() looks up contract.compiled_validator on each call: point it at jsonschema meanwhile."""
    saved = contract.compiled_validator
    contract.compiled_validator = jsonschema_validator
    try:
        yield
    finally:
        contract.compiled_validator = saved


# --------------------------------------------------------------------------------------------------
# 1. Throughput.


@dataclass
class Spec:
    name: str
    what: str
    once: Callable[[], object]
    reference: bool = False  # with jsonschema in place of the compiled validator


@dataclass
class Result:
    name: str
    what: str
    median_us: float
    min_us: float
    max_us: float
    batch: int
    repeats: int

    @property
    def events_per_s(self) -> float:
        return 1e6 / self.median_us


@dataclass(frozen=True)
class Sorted:
    """What the batch became (kept instead of the outcome: timing with a larger heap than the
    Lambda's would charge the garbage collector for the benchmark's own objects)."""

    counts: Counts
    objects: int
    gzip_bytes: int


def warm_up(specs: list[Spec]) -> Sorted:
    """Run every case once (compiled validators, lazy imports, first allocations), and check that both
    validators sort the batch the same way into the same bytes (the baseline really is the same
    pipeline) and that every log event is accounted for."""
    outputs: dict[str, Any] = {}
    for spec in specs:
        with reference_validator() if spec.reference else nullcontext():
            outputs[spec.name] = spec.once()
    (outcome, bodies), (reference, reference_bodies) = outputs["VALIDATOR"], outputs["JSONSCHEMA"]
    if outcome.counts != reference.counts or bodies != reference_bodies:
        raise SystemExit("benchmark setup error: the jsonschema baseline does not produce the same archive")
    if not outcome.counts.balanced:
        raise SystemExit(f"benchmark setup error: counts do not add up: {outcome.counts}")
    return Sorted(outcome.counts, len(bodies), sum(map(len, bodies)))


def measure_all(specs: list[Spec], batch: int, *, quick: bool, progress: bool) -> dict[str, Result]:
    """Time every case in rounds: each round runs one batch of each case, in turn, so that a change of
    machine load during the run weighs on all cases alike instead of skewing the ratios."""
    repeats = 3 if quick else 7
    clock = time.perf_counter_ns
    samples: dict[str, list[float]] = {spec.name: [] for spec in specs}
    for round_no in range(1, repeats + 1):
        if progress:
            print(f"  throughput round {round_no}/{repeats}", file=sys.stderr, flush=True)
        for spec in specs:
            once = spec.once
            with reference_validator() if spec.reference else nullcontext():
                start = clock()
                once()
                elapsed = clock() - start
            samples[spec.name].append(elapsed / batch / 1000)
    return {
        spec.name: Result(
            spec.name,
            spec.what,
            statistics.median(samples[spec.name]),
            min(samples[spec.name]),
            max(samples[spec.name]),
            batch,
            repeats,
        )
        for spec in specs
    }


# --------------------------------------------------------------------------------------------------
# 2. Memory: one batch in a fresh process.

MEMORY_CHILD_FLAG: Final = "--memory-child"


def peak_rss_kib() -> tuple[int, str]:
    """The process's peak resident memory so far, in KiB, and where it was read.

    VmHWM (Linux) is this process's own high-water mark. ru_maxrss is the fallback: on Linux it also
    carries the parent's resident size at the fork that made the process, which would hide the batch.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]), "VmHWM"
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (peak // 1024 if sys.platform == "darwin" else peak), "ru_maxrss"


def memory_child(path: str) -> int:
    """In a fresh process: the handler's modules imported and the payload loaded, peak; then one batch
    processed (outcome and every gzip body held at once, as during the archive writes), peak."""
    with open(path, encoding="utf-8") as handle:
        payload = json.load(handle)
    before, source = peak_rss_kib()
    outcome, bodies = process(payload)
    after, _ = peak_rss_kib()
    report = {"before_kib": before, "after_kib": after, "source": source, "objects": len(bodies)}
    print(json.dumps({**report, "received": outcome.counts.received}))
    return 0


@dataclass
class Memory:
    before_kib: int
    after_kib: int
    source: str
    events: int

    @property
    def batch_mib(self) -> float:
        return (self.after_kib - self.before_kib) / 1024


def measure_memory(payload: dict[str, Any]) -> Memory:
    with tempfile.TemporaryDirectory(prefix="validator-bench-") as tmp:
        path = Path(tmp) / "payload.json"
        path.write_text(json.dumps(payload), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, __file__, MEMORY_CHILD_FLAG, str(path)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"benchmark error: the memory child failed:\n{done.stderr}")
    found = json.loads(done.stdout)
    return Memory(found["before_kib"], found["after_kib"], found["source"], found["received"])


# --------------------------------------------------------------------------------------------------
# 3. Cold start: import times in fresh interpreters.

IMPORTS: Final = {"HANDLER": "lambdas.validator.handler", "BOTO3": "boto3"}
_IMPORT_TIMER: Final = (
    "import sys, time\nstart = time.perf_counter_ns()\nimport {module}\n"
    "sys.stdout.write(str(time.perf_counter_ns() - start))\n"
)


def import_ms(module: str) -> float:
    """Milliseconds `import module` takes in a fresh interpreter (started from the repository root,
    as Lambda starts from its task root), timed inside it: interpreter start-up is not counted."""
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_TIMER.format(module=module)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark error: importing {module} failed:\n{done.stderr}")
    return int(done.stdout) / 1e6


@dataclass
class ColdStart:
    samples: dict[str, list[float]] = field(default_factory=dict)

    def median(self, name: str) -> float:
        return statistics.median(self.samples[name])

    def lowest(self, name: str) -> float:
        return min(self.samples[name])


def measure_cold_start(*, quick: bool, progress: bool) -> ColdStart:
    repeats = 3 if quick else 9
    for module in IMPORTS.values():  # warm-up: bytecode caches, page cache
        import_ms(module)
    result = ColdStart({name: [] for name in IMPORTS})
    for round_no in range(1, repeats + 1):
        if progress:
            print(f"  import round {round_no}/{repeats}", file=sys.stderr, flush=True)
        for name, module in IMPORTS.items():
            result.samples[name].append(import_ms(module))
    return result


# --------------------------------------------------------------------------------------------------
# 4. Requests: the whole service against moto.


@dataclass
class Requests:
    events: int
    archived: int
    applied: int
    s3: int
    dynamodb: int
    seconds: float
    # the same log events redelivered in two batches
    redelivered_events_objects: int = 0  # events/ objects written (0: nothing stored twice)
    redelivered_quarantine_objects: int = 0
    redelivered_already_archived: int = 0
    redelivered_dynamodb: int = 0


@contextmanager
def moto_table_backup_once() -> Iterator[None]:
    """moto's TransactWriteItems deep-copies the whole table once per action as its rollback backup
    (up to 100 identical copies per request: about half an hour for this batch). Meanwhile, each
    call copies each table once and reuses that copy: the same backup, the same behaviour."""
    import copy
    import importlib
    from types import SimpleNamespace

    models: Any = importlib.import_module("moto.dynamodb.models")
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        copies: dict[int, Any] = {}

        def deepcopy(obj: Any, memo: Any = None) -> Any:
            if not isinstance(obj, models.Table):
                return copy.deepcopy(obj, memo)
            if id(obj) not in copies:
                copies[id(obj)] = copy.deepcopy(obj)
            return copies[id(obj)]

        models.copy = SimpleNamespace(deepcopy=deepcopy)
        try:
            original(backend, transact_items)
        finally:
            models.copy = copy

    models.DynamoDBBackend.transact_write_items = transact_write_items
    try:
        yield
    finally:
        models.DynamoDBBackend.transact_write_items = original


def measure_requests(payload: dict[str, Any]) -> Requests:
    """Validator.process on the batch, in moto: the archive's and the run state's requests."""
    import boto3
    from moto import mock_aws

    from lambdas.common.service import Validator
    from lambdas.common.settings import Settings
    from lineage_local.local_plane import provision

    with mock_aws(), moto_table_backup_once():
        session = boto3.session.Session(
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
        )
        s3_client, dynamodb = session.client("s3"), session.client("dynamodb")
        environment = provision(
            s3=s3_client,
            dynamodb=dynamodb,
            bucket="lineage-bench-archive",
            table="lineage-bench-run-state",
            region=REGION,
        )
        validator = Validator.from_settings(
            Settings.from_environment(environment), s3=s3_client, dynamodb=dynamodb
        )
        start = time.perf_counter()
        delivery = decode(payload)
        report = validator.process(delivery)
        seconds = time.perf_counter() - start
        half = len(delivery.log_events) // 2
        again = [
            validator.process(dataclasses.replace(delivery, log_events=part))
            for part in (delivery.log_events[:half], delivery.log_events[half:])
        ]
    written = [key for r in again for key in r.objects_written]
    return Requests(
        events=report.outcome.counts.received,
        archived=report.outcome.counts.archived,
        applied=report.outcome.counts.archived - report.duplicates,
        s3=report.s3_requests,
        dynamodb=report.dynamodb_requests,
        seconds=seconds,
        redelivered_events_objects=sum(k.startswith("events/") for k in written),
        redelivered_quarantine_objects=sum(k.startswith("quarantine/") for k in written),
        redelivered_already_archived=sum(r.already_archived for r in again),
        redelivered_dynamodb=sum(r.dynamodb_requests for r in again),
    )


# --------------------------------------------------------------------------------------------------
# Reporting.


@dataclass
class Ratio:
    name: str
    value: float
    of_mins: float | None
    target: float | None
    note: str

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.value <= self.target


@dataclass
class Target:
    name: str
    value: float
    unit: str
    comparison: str  # ">=", "<=" or "<"
    limit: float

    @property
    def met(self) -> bool:
        return {">=": self.value >= self.limit, "<=": self.value <= self.limit, "<": self.value < self.limit}[
            self.comparison
        ]


@dataclass
class Figures:
    batch: Batch
    outcome: Sorted
    results: dict[str, Result]
    memory: Memory
    cold: ColdStart
    requests: Requests

    def ratios(self) -> list[Ratio]:
        us = {name: r.median_us for name, r in self.results.items()}
        mins = {name: r.min_us for name, r in self.results.items()}
        events = self.requests.events
        return [
            Ratio(
                "VALIDATOR / JSONSCHEMA events/s",
                us["JSONSCHEMA"] / us["VALIDATOR"],
                mins["JSONSCHEMA"] / mins["VALIDATOR"],
                None,
                "informational: compiled vs reference validator",
            ),
            Ratio(
                "VALIDATOR / DECODE us",
                us["VALIDATOR"] / us["DECODE"],
                mins["VALIDATOR"] / mins["DECODE"],
                None,
                "informational: the whole pipeline vs decoding alone",
            ),
            Ratio(
                "import HANDLER / BOTO3",
                self.cold.median("HANDLER") / self.cold.median("BOTO3"),
                self.cold.lowest("HANDLER") / self.cold.lowest("BOTO3"),
                TARGET_IMPORT_RATIO,
                "cold start",
            ),
            Ratio(
                "DynamoDB requests / event",
                self.requests.dynamodb / events,
                None,
                None,
                f"informational: one round trip per event is 1 ({events} requests)",
            ),
            Ratio("S3 requests / event", self.requests.s3 / events, None, None, "informational"),
        ]

    def targets(self) -> list[Target]:
        return [
            Target(
                "throughput",
                self.results["VALIDATOR"].events_per_s,
                "events/s per core",
                ">=",
                TARGET_EVENTS_PER_S,
            ),
            Target("memory", self.memory.batch_mib, "MiB above baseline", "<", TARGET_MEMORY_MIB),
            Target(
                "cold start",
                self.cold.median("HANDLER") / self.cold.median("BOTO3"),
                "x import boto3",
                "<=",
                TARGET_IMPORT_RATIO,
            ),
        ]


def versions() -> dict[str, str]:
    out = {"lineage_lib": LINEAGE_VERSION}
    for dist in ("aws-lambda-powertools", "boto3", "jsonschema", "moto"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def machine() -> dict[str, Any]:
    from bench.emit_bench import machine as where  # here, not at the top: the memory child must not import it

    return where(versions())


def batch_summary(figures: Figures) -> dict[str, Any]:
    batch, counts = figures.batch, figures.outcome.counts
    return {
        "log_events": batch.log_events,
        "runs": RUNS,
        "pipelines": len(PIPELINES),
        "event_types": dict(sorted(batch.event_types.items())),
        "lambda_prefixed": batch.prefixed,
        "not_valid_lineage": dict(sorted(batch.bad.items())),
        "message_bytes": batch.message_bytes,
        "payload_bytes": batch.payload_bytes,
        "archived": counts.archived,
        "quarantined": counts.quarantined,
        "ignored": counts.ignored,
        "objects": figures.outcome.objects,
        "gzip_bytes": figures.outcome.gzip_bytes,
    }


def report_text(figures: Figures, info: dict[str, Any], quick: bool) -> str:
    summary = batch_summary(figures)
    memory, cold, requests = figures.memory, figures.cold, figures.requests
    types = ", ".join(f"{k} {v}" for k, v in summary["event_types"].items())
    bad = ", ".join(f"{k} {v}" for k, v in summary["not_valid_lineage"].items())
    out = [
        "lineage validator benchmark" + ("  (--quick: short run, noisy figures)" if quick else ""),
        f"  date     {info['date']}",
        f"  commit   {info['commit']}",
        f"  machine  {info['platform']}, {info['cpu_count']} CPUs",
        f"  python   {info['python']}",
        "  versions " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()),
        f"  batch    {summary['log_events']} log events of one stream, {summary['message_bytes']:,} bytes of "
        f"messages, payload {summary['payload_bytes']:,} bytes (base64 of gzip)",
        f"           {RUNS} runs of {len(PIPELINES)} pipelines: {types}",
        f"           {summary['lambda_prefixed']} behind Lambda's text prefix; not valid lineage: {bad}",
        f"  outcome  archived {summary['archived']}, quarantined {summary['quarantined']}, "
        f"ignored {summary['ignored']}: {summary['objects']} objects, "
        f"{summary['gzip_bytes']:,} bytes gzipped",
        "",
        "  1. throughput: payload dict to gzip bytes, one batch per case per round",
        f"  {'case':<11} {'us/event':>9} {'min':>8} {'max':>8} {'events/s':>9} {'batch x reps':>13}  what",
    ]
    for r in figures.results.values():
        out.append(
            f"  {r.name:<11} {r.median_us:>9.2f} {r.min_us:>8.2f} {r.max_us:>8.2f} {r.events_per_s:>9,.0f} "
            f"{f'{r.batch} x {r.repeats}':>13}  {r.what}"
        )
    out += [
        "",
        f"  2. memory: one batch of {memory.events} in a fresh process ({memory.source}): "
        f"{memory.batch_mib:.1f} MiB above {memory.before_kib / 1024:.1f} MiB (handler imported, payload "
        f"loaded); peak {memory.after_kib / 1024:.1f} MiB",
        f"  3. cold start: import in fresh interpreters, median (min) of {len(cold.samples['HANDLER'])}: "
        f"{IMPORTS['HANDLER']} {cold.median('HANDLER'):.0f} ms ({cold.lowest('HANDLER'):.0f}), "
        f"boto3 {cold.median('BOTO3'):.0f} ms ({cold.lowest('BOTO3'):.0f})",
        f"  4. requests: Validator.process on moto, {requests.events} log events "
        f"({requests.archived} valid): "
        f"{requests.applied} applied to the run state; S3 {requests.s3}, DynamoDB {requests.dynamodb} "
        f"(one per event: {requests.events}); {requests.seconds:.1f} s on moto (not timed as a target)",
        f"     redelivered in two batches: {requests.redelivered_already_archived} events already archived, "
        f"{requests.redelivered_events_objects} events objects written, "
        f"{requests.redelivered_quarantine_objects} quarantine objects written (refusals have no marker), "
        f"DynamoDB {requests.redelivered_dynamodb} (the markers' reads)",
        "",
        f"  {'ratio (of medians)':<32} {'value':>8} {'of mins':>8}  {'target':>8}  status",
    ]
    for ratio in figures.ratios():
        target = "-" if ratio.target is None else f"<= {ratio.target:g}"
        status = {None: ratio.note, True: "MET", False: "NOT MET"}[ratio.met]
        of_mins = "-" if ratio.of_mins is None else f"{ratio.of_mins:.3f}"
        out.append(f"  {ratio.name:<32} {ratio.value:>8.3f} {of_mins:>8}  {target:>8}  {status}")
    out += ["", f"  {'target':<12} {'value':>10}  {'unit':<20} {'target':>10}  status"]
    for t in figures.targets():
        status = "MET" if t.met else "NOT MET"
        out.append(
            f"  {t.name:<12} {t.value:>10,.2f}  {t.unit:<20} {f'{t.comparison} {t.limit:g}':>10}  {status}"
        )
    out.append("  (status from the medians; a large gap between the ratio columns means a noisy run)")
    return "\n".join(out)


def report_json(figures: Figures, info: dict[str, Any], quick: bool) -> str:
    memory, cold, requests = figures.memory, figures.cold, figures.requests
    return json.dumps(
        {
            **info,
            "quick": quick,
            "batch": batch_summary(figures),
            "cases": {
                r.name: {
                    "us_per_event": round(r.median_us, 3),
                    "min_us": round(r.min_us, 3),
                    "max_us": round(r.max_us, 3),
                    "events_per_s": round(r.events_per_s),
                    "batch": r.batch,
                    "repeats": r.repeats,
                    "what": r.what,
                }
                for r in figures.results.values()
            },
            "memory": {
                "source": memory.source,
                "events": memory.events,
                "before_mib": round(memory.before_kib / 1024, 2),
                "peak_mib": round(memory.after_kib / 1024, 2),
                "batch_mib": round(memory.batch_mib, 2),
            },
            "cold_start": {
                name: {
                    "module": IMPORTS[name],
                    "median_ms": round(cold.median(name), 2),
                    "min_ms": round(cold.lowest(name), 2),
                    "repeats": len(cold.samples[name]),
                }
                for name in IMPORTS
            },
            "requests": {
                "events": requests.events,
                "archived": requests.archived,
                "s3": requests.s3,
                "dynamodb": requests.dynamodb,
                "applied": requests.applied,
                "moto_seconds": round(requests.seconds, 2),
                "redelivered": {
                    "already_archived": requests.redelivered_already_archived,
                    "events_objects_written": requests.redelivered_events_objects,
                    "quarantine_objects_written": requests.redelivered_quarantine_objects,
                    "dynamodb": requests.redelivered_dynamodb,
                },
            },
            "ratios": {
                ratio.name: {
                    "value": round(ratio.value, 4),
                    "of_mins": None if ratio.of_mins is None else round(ratio.of_mins, 4),
                    "target": ratio.target,
                    "met": ratio.met,
                }
                for ratio in figures.ratios()
            },
            "targets": {
                t.name: {
                    "value": round(t.value, 3),
                    "unit": t.unit,
                    "target": f"{t.comparison} {t.limit:g}",
                    "met": t.met,
                }
                for t in figures.targets()
            },
        },
        indent=2,
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == [MEMORY_CHILD_FLAG]:
        return memory_child(args[1])
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="short run (a smoke test): figures are noisy")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    options = parser.parse_args(args)
    progress = not options.json

    size = 500 if options.quick else 10_000
    if progress:
        print(f"  building a batch of {size} log events", file=sys.stderr, flush=True)
    batch = make_batch(size)
    payload = batch.payload
    specs = [
        Spec("DECODE", "Powertools decode + delivery_of", lambda: decode(payload)),
        Spec("VALIDATOR", "DECODE + ingest + gzip bodies", lambda: process(payload)),
        Spec("JSONSCHEMA", "VALIDATOR, jsonschema Draft202012Validator", lambda: process(payload), True),
    ]
    outcome = warm_up(specs)
    results = measure_all(specs, size, quick=options.quick, progress=progress)
    if progress:
        print("  memory: one batch in a fresh process", file=sys.stderr, flush=True)
    memory = measure_memory(payload)
    cold = measure_cold_start(quick=options.quick, progress=progress)
    if progress:
        print("  requests: Validator.process on moto", file=sys.stderr, flush=True)
    requests = measure_requests(payload)

    figures = Figures(batch, outcome, results, memory, cold, requests)
    report = report_json if options.json else report_text
    print(report(figures, machine(), options.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
