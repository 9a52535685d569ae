"""Helpers shared by the validator's functional tests: the plane on moto, payloads, runs, read-backs.

Everything AWS is moto (``mock_aws``); faults are injected with botocore's own event system, on the
clients the handler creates itself (``local_plane(hooks=...)``). Payloads are what CloudWatch Logs
delivers: fixtures under tests/events/validator/ hold the decoded subscription data, and
``lineage_local.local_plane.subscription_payload`` packs it (gzip, base64) as the trigger does.
"""

from __future__ import annotations

import copy
import gzip
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final
from unittest import mock

import boto3
import botocore.loaders
import botocore.session
from boto3.dynamodb.types import TypeDeserializer
from botocore.awsrequest import AWSResponse
from moto import mock_aws

import lineage_lib as lineage
from lambdas.validator import handler
from lineage_lib import contract
from lineage_lib.contract import Field
from lineage_lib.sinks.cloudwatch import epoch_millis
from lineage_lib.testing import Captured, capture
from lineage_local.local_plane import LOCAL_REGION, LambdaContext, provision, subscription_payload
from lineage_plane.layout import GLUE_OUTPUT_LOG_GROUP, Ingest, QuarantineCode
from lineage_plane.run_state import Progress
from lineage_plane.run_table import RunStateTable
from tests.conftest import REPO, SCHEMAS

T = RunStateTable
EVENTS_DIR: Final = REPO / "tests" / "events" / "validator"
BUCKET: Final = "lineage-archive-123456789012-eu-west-1"
TABLE: Final = "lineage-run-state"
GLUE_OUTPUT: Final = GLUE_OUTPUT_LOG_GROUP  # where a Glue job's print() lines go

RAW = lineage.glue_table("raw_db", "orders_raw")
CURRENCIES = lineage.s3("s3://acme-ref/currencies/")
DAILY = lineage.glue_table("analytics_db", "orders_daily")
EXPORT = lineage.s3("s3://acme-exports/orders_daily/")

_deserialize = TypeDeserializer().deserialize
# One loader of botocore's service models for every session the tests and the handler create: moto
# gives each plane a new default session, and parsing the models again for each client costs more
# than the tests themselves. Only the (read-only, cached) model files are shared.
_MODEL_LOADER: Final = botocore.loaders.create_loader()
_Session: Final = boto3.session.Session  # local_plane() replaces the name the handler calls
_log_event_numbers = itertools.count(1)


# --- payloads ---------------------------------------------------------------------------------------


def load_data(name: str) -> dict[str, Any]:
    """A fixture: decoded subscription data (messageType, owner, logGroup, logStream, logEvents…)."""
    data: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return data


def pack(data: Mapping[str, Any]) -> dict[str, Any]:
    """The Lambda event carrying decoded subscription data (``{"awslogs": {"data": <base64 gzip>}}``)."""
    return subscription_payload(
        data["logEvents"],
        log_group=data["logGroup"],
        log_stream=data["logStream"],
        owner=data["owner"],
        filter_name=data["subscriptionFilters"][0],
        message_type=data["messageType"],
    )


def log_events(messages: Sequence[str]) -> list[dict[str, Any]]:
    """CloudWatch log events for lineage lines: a new id each, timestamped at the event's time."""
    events = []
    for message in messages:
        timestamp = epoch_millis(json.loads(message).get(Field.EVENT_TIME))
        events.append({"id": new_log_event_id(), "timestamp": timestamp, "message": message})
    return events


def new_log_event_id() -> str:
    """A CloudWatch log event id (56 digits), new on every call."""
    return f"3792846103947512{next(_log_event_numbers):040d}"


def glue_payload(events: Sequence[Mapping[str, Any]], stream: str) -> dict[str, Any]:
    """A delivery from the Glue output log group, of log events as ``log_events`` makes them."""
    return subscription_payload(events, log_group=GLUE_OUTPUT, log_stream=stream)


def write_with_columns(count: int) -> str:
    """A bare WRITE event with ``count`` column mappings of equal length (about 230 bytes each)."""
    event = json.loads((SCHEMAS / "1.0/examples/valid/write-seed-column-lineage-rename.json").read_text())
    event[Field.EVENT_ID] = "0f8fad5b-d9cb-469f-a165-708677280199"
    column = event[Field.COLUMNS][0]
    event[Field.COLUMNS] = [
        {**copy.deepcopy(column), Field.COLUMN: f"revenue_{i:05d}_{'x' * 90}"} for i in range(count)
    ]
    return json.dumps(event, separators=(",", ":"))


def columns_for(size: int) -> int:
    """How many column mappings make write_with_columns() just over ``size`` bytes."""
    base, per_column = len(write_with_columns(0)), len(write_with_columns(2)) - len(write_with_columns(1))
    return (size - base) // per_column + 1


def oversize_message() -> str:
    """A bare WRITE event just over the contract's per-event limit (built here: a 256 KiB line does
    not belong in a fixture file). CloudWatch Logs itself refuses a log event that large; the
    validator must still not archive one, should a producer find another way in."""
    message = write_with_columns(columns_for(contract.MAX_EVENT_BYTES))
    assert contract.MAX_EVENT_BYTES < len(message.encode()) < contract.MAX_EVENT_BYTES + 1_000
    return message


# --- runs, as lineage_lib emits them ----------------------------------------------------------------


def glue_argv(job: str, job_run_id: str) -> list[str]:
    """sys.argv of a Glue job run: lineage_lib detects the platform, run id and attempt from it."""
    return [f"{job.replace('-', '_')}.py", "--JOB_NAME", job, "--JOB_RUN_ID", job_run_id]


def retried_glue_run(job: str = "orders-daily", job_run_id: str = "jr_7d41c2e09a6b4f35") -> list[str]:
    """The lines of a Glue job run that failed in its second step, then succeeded on Glue's retry:
    attempt 0 ends in RUN_FAIL, attempt 1 (job run ``<id>_attempt_1``) in RUN_COMPLETE."""
    with capture() as captured, mock.patch.dict(os.environ, {"AWS_REGION": LOCAL_REGION}):
        with mock.patch.object(sys, "argv", glue_argv(job, job_run_id)):
            try:
                with lineage.run() as run:
                    with run.step("extract") as step:
                        step.read(RAW, records=120_000)
                        step.read(CURRENCIES, records=170)
                    with run.step("aggregate") as step:
                        step.read(RAW.with_schema("7"), records=120_000)
                        raise KeyError("order_total")
            except KeyError:
                pass
        with mock.patch.object(sys, "argv", glue_argv(job, f"{job_run_id}_attempt_1")), lineage.run() as run:
            with run.step("extract") as step:
                step.read(RAW, records=120_010)
                step.read(CURRENCIES, records=170)
            with run.step("aggregate") as step:
                step.read(RAW.with_schema("7"), records=120_010)
                step.transform(RAW, DAILY)
                step.write(DAILY, records=31)
            with run.step("publish") as step:
                step.write(EXPORT, records=31, files=1)
    return list(captured.lines)


def crashed_glue_run(
    job: str = "sessionize", job_run_id: str = "jr_0b9e4f7a21c34d58"
) -> tuple[Captured, lineage.Run]:
    """A Glue job run that hangs in its step (no terminal event yet): what it emitted so far (the
    sink keeps receiving what the run emits later), and the open run."""
    with capture() as captured, mock.patch.dict(os.environ, {"AWS_REGION": LOCAL_REGION}):
        with mock.patch.object(sys, "argv", glue_argv(job, job_run_id)):
            run = lineage.run()
        step = run.step("sessionize")
        step.read(lineage.s3("s3://acme-raw/clicks/"), records=9_000_000)
        step.read(lineage.s3("s3://acme-raw/sessions/"), records=12_000)
    return captured, run


def completed_glue_run(job: str, job_run_id: str) -> list[str]:
    with (
        capture() as captured,
        mock.patch.dict(os.environ, {"AWS_REGION": LOCAL_REGION}),
        mock.patch.object(sys, "argv", glue_argv(job, job_run_id)),
        lineage.run() as run,
        run.step("load") as step,
    ):
        step.read(RAW, records=10)
        step.write(DAILY, records=1)
    return list(captured.lines)


# --- the plane on moto --------------------------------------------------------------------------------


@dataclass
class Plane:
    """The archive bucket and run-state table on moto, and the validator's handler pointed at them."""

    s3: Any
    dynamodb: Any
    logs: Any

    def invoke(self, payload: Mapping[str, Any]) -> dict[str, int]:
        result: dict[str, int] = handler.handler(dict(payload), LambdaContext())
        return result

    def archive_text(self) -> dict[str, list[str]]:
        """Every archive object, key → its lines (gunzipped)."""
        objects: dict[str, list[str]] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            for listed in page.get("Contents", []):
                body = self.s3.get_object(Bucket=BUCKET, Key=listed["Key"])["Body"].read()
                objects[listed["Key"]] = gzip.decompress(body).decode("utf-8").splitlines()
        return objects

    def archive(self) -> dict[str, list[dict[str, Any]]]:
        return {key: [json.loads(line) for line in lines] for key, lines in self.archive_text().items()}

    def scan(self) -> list[dict[str, Any]]:
        """Every item of the run-state table, as DynamoDB returns it, in key order."""
        items = [
            item
            for page in self.dynamodb.get_paginator("scan").paginate(TableName=TABLE, ConsistentRead=True)
            for item in page["Items"]
        ]
        return sorted(items, key=lambda item: (item[T.PK]["S"], item[T.SK]["S"]))

    def run_items(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Attempt and step items as plain values, by (pk, sk)."""
        return {
            (item[T.PK], item[T.SK]): item
            for item in map(plain, self.scan())
            if item[T.KIND] in (T.KIND_ATTEMPT, T.KIND_STEP)
        }

    def query(self, **kwargs: Any) -> list[dict[str, Any]]:
        pages = self.dynamodb.get_paginator("query").paginate(TableName=TABLE, **kwargs)
        return [plain(item) for page in pages for item in page["Items"]]


def plain(item: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item with plain values (numbers as int)."""
    values = {name: _deserialize(value) for name, value in item.items()}
    return json.loads(json.dumps(values, default=_jsonable))


def _jsonable(value: Any) -> Any:
    if isinstance(value, set):
        return sorted(value)
    return int(value) if value == int(value) else float(value)


def session_sharing_models(**kwargs: Any) -> boto3.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _MODEL_LOADER)
    session = _Session(botocore_session=core, **kwargs)
    _MODEL_LOADER.search_paths[:] = list(dict.fromkeys(_MODEL_LOADER.search_paths))  # boto3 adds one
    return session


@contextmanager
def local_plane(hooks: Mapping[str, Callable[..., Any]] | None = None) -> Iterator[Plane]:
    """A fresh plane on moto. ``hooks`` (botocore event name → handler) are registered on every client
    the validator creates, e.g. ``{"before-call.s3.PutObject": fail_call(2, "SlowDown", 503)}``."""
    handler.validator.cache_clear()
    registered = dict(hooks or {})

    def hooked_session(**kwargs: Any) -> boto3.session.Session:
        """What the handler gets for ``boto3.session.Session(region_name=...)``."""
        session = session_sharing_models(**kwargs)
        for event_name, hook in registered.items():
            session.events.register(event_name, hook)
        return session

    try:
        with mock_aws():
            session = session_sharing_models(region_name=LOCAL_REGION)
            s3, dynamodb, logs = (session.client(name) for name in ("s3", "dynamodb", "logs"))
            environment = provision(s3=s3, dynamodb=dynamodb, bucket=BUCKET, table=TABLE)
            with (
                mock.patch.dict(os.environ, environment),
                mock.patch.object(boto3.session, "Session", hooked_session),
            ):
                yield Plane(s3, dynamodb, logs)
    finally:
        handler.validator.cache_clear()


def fail_call(nth: int, code: str, status: int) -> Callable[..., Any]:
    """A before-call hook answering the ``nth`` call (1-based) with an AWS error, as the service would:
    botocore raises it as the ClientError of that code, without sending the request."""
    calls = itertools.count(1)

    def hook(**kwargs: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if next(calls) != nth:
            return None
        error = {"Error": {"Code": code, "Message": "injected by the test"}}
        return AWSResponse("https://injected", status, {}, None), {
            **error,
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    return hook


# --- reading results ------------------------------------------------------------------------------


def emf_metrics(stdout: str) -> list[dict[str, float]]:
    """The EMF records printed on stdout (one per invocation): metric name → value, per namespace."""
    records = []
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or "_aws" not in record:
            continue
        for directive in record["_aws"]["CloudWatchMetrics"]:
            names = [metric["Name"] for metric in directive["Metrics"]]
            values = {name: record[name] for name in names}
            records.append({"namespace": directive["Namespace"], **values})
    return records


def state_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """What a run-state item says about its attempt or step, in the terms of run_state.Progress."""
    status_event = (
        (item[T.STATUS_EVENT_TIME], item[T.STATUS_EVENT_ID]) if T.STATUS_EVENT_TIME in item else None
    )
    return {
        "status": item[T.STATUS],
        "status_event": status_event,
        "error": item.get(T.ERROR),
        "started_at": item.get(T.STARTED_AT),
        "first_event_time": item.get(T.FIRST_EVENT_TIME),
        "last_event_time": item.get(T.LAST_EVENT_TIME),
        "counts": (item[T.EVENT_COUNT], item[T.READ_COUNT], item[T.WRITE_COUNT], item[T.TRANSFORM_COUNT]),
        "inputs": sorted(item.get(T.INPUTS, [])),
        "outputs": sorted(item.get(T.OUTPUTS, [])),
    }


def state_of_progress(progress: Progress) -> dict[str, Any]:
    return {
        "status": progress.status,
        "status_event": progress.status_event,
        "error": progress.error,
        "started_at": progress.started_at,
        "first_event_time": progress.first_event_time,
        "last_event_time": progress.last_event_time,
        "counts": (progress.events, progress.reads, progress.writes, progress.transforms),
        "inputs": sorted(progress.inputs),
        "outputs": sorted(progress.outputs),
    }


MIXED: Final = "mixed-shapes.json"  # tests/events/validator/: every message shape, good and bad


def mixed_with_oversize() -> dict[str, Any]:
    data = load_data(MIXED)
    last = data["logEvents"][-1]["timestamp"]
    data["logEvents"].append({"id": new_log_event_id(), "timestamp": last + 1, "message": oversize_message()})
    return data


def by_log_event_id(objects: dict[str, list[dict[str, Any]]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every archived or quarantined line by its CloudWatch log event id: (object key, line)."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for key, lines in objects.items():
        for line in lines:
            log_event_id = line[Ingest.KEY][Ingest.LOG_EVENT_ID]
            assert log_event_id not in found, (
                f"log event {log_event_id} is in {found[log_event_id][0]} and {key}"
            )
            found[log_event_id] = (key, line)
    return found


ARCHIVED, QUARANTINED, IGNORED = "archived", "quarantined", "ignored"
# What becomes of each log event of mixed-shapes.json, in its order: (outcome, quarantine code).
MIXED_OUTCOMES: tuple[tuple[str, str | None], ...] = (
    (ARCHIVED, None),  # bare RUN_COMPLETE of "orders backfill", event date 2026-11-20
    (IGNORED, None),  # Lambda's START line
    (ARCHIVED, None),  # bare RUN_START of a Glue job started by Step Functions
    (ARCHIVED, None),  # Lambda text format: [INFO]\t<time>\t<request id>\t{...}
    (ARCHIVED, None),  # Lambda JSON format, the event as the message string
    (QUARANTINED, QuarantineCode.SCHEMA_VIOLATION),  # "attempt": "1"
    (QUARANTINED, QuarantineCode.SCHEMA_VIOLATION),  # "records": "120000", Lambda text format
    (QUARANTINED, QuarantineCode.UNKNOWN_SCHEMA_VERSION),  # "schema_version": "2.0"
    (ARCHIVED, None),  # after a Spark driver's log4j prefix
    (ARCHIVED, None),  # Powertools JSON record, the event as the message object
    (IGNORED, None),  # a Glue driver log line
    (IGNORED, None),  # a Lambda JSON record that is not lineage
    (IGNORED, None),  # a Lambda platform record
    (QUARANTINED, QuarantineCode.INVALID_JSON),  # truncated after 300 characters
    (QUARANTINED, QuarantineCode.MISSING_SCHEMA_VERSION),  # RUN_FAIL without schema_version
    (ARCHIVED, None),  # bare STEP_COMPLETE of an EMR step
    (IGNORED, None),  # Lambda's END line
    (IGNORED, None),  # Lambda's REPORT line
)
SCHEMA_PATHS = {5: "attempt", 6: "metrics.records"}
