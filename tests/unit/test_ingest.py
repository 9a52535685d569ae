"""One delivered batch → archive objects, valid events and counts: every log event lands in one place."""

from __future__ import annotations

import copy
import gzip
import io
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lineage_lib as lineage
from lineage_lib import contract
from lineage_lib.sinks import StdoutSink
from lineage_plane.ingest import Delivery, LogEvent, Outcome, batch_id_of, ingest
from lineage_plane.layout import (
    Archive,
    Ingest,
    Quarantine,
    QuarantineCode,
    event_object_key,
    partitions_of,
    quarantine_object_key,
)
from lineage_plane.run_state import DELIVERED_AS, state_view
from tests.conftest import load_examples
from tests.unit.log_shapes import lambda_record, lambda_text, spark_driver

VALID = dict(load_examples("valid"))
INVALID = load_examples("invalid")
ACCOUNT = "123456789012"
REGION = "eu-west-1"
LOG_GROUP = "/aws-glue/jobs/output"
LOG_STREAM = "jr_5f1c0e9b2a7d4c3e8f6a1b2c3d4e5f60"
RECEIVED_AT = datetime(2026, 11, 21, 5, 0, 7, 123456, tzinfo=UTC)
INGESTED_AT = "2026-11-21T05:00:07.123Z"
VALIDATOR_VERSION = "0.1.0-test"
FIRST_TIMESTAMP = 1_795_237_200_000  # 2026-11-21T05:00:00Z, epoch ms


def example(name: str, serial: int, **changes: Any) -> dict[str, Any]:
    """A valid example event with its own event id (and any top-level field changed)."""
    event = copy.deepcopy(VALID[f"1.0/{name}"])
    event["event_id"] = f"0f8fad5b-d9cb-469f-a165-{serial:012d}"
    event.update(changes)
    return event


def compact(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))


def log_event_id(index: int) -> str:
    # CloudWatch's log event ids are 56-digit decimal strings
    return f"{37_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000 + index:056d}"


def delivery(messages: list[str], *, ids: list[str] | None = None) -> Delivery:
    ids = ids or [log_event_id(i) for i in range(len(messages))]
    return Delivery(
        owner=ACCOUNT,
        log_group=LOG_GROUP,
        log_stream=LOG_STREAM,
        log_events=[
            LogEvent(id=i, timestamp=FIRST_TIMESTAMP + n, message=m)
            for n, (i, m) in enumerate(zip(ids, messages, strict=True))
        ],
    )


def run_ingest(batch: Delivery) -> Outcome:
    return ingest(batch, region=REGION, received_at=RECEIVED_AT, validator_version=VALIDATOR_VERSION)


def decoded(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(body).decode("utf-8").splitlines()]


def archived_lines(outcome: Outcome) -> list[dict[str, Any]]:
    return [json.loads(line) for o in outcome.objects if o.key.startswith("events/") for line in o.lines]


def quarantined_lines(outcome: Outcome) -> list[dict[str, Any]]:
    return [json.loads(line) for o in outcome.objects if o.key.startswith("quarantine/") for line in o.lines]


def oversize_event(serial: int) -> dict[str, Any]:
    """A schema-valid WRITE too large for one CloudWatch log event: only its size is wrong."""
    source = "glue://default/raw_db.orders_raw"
    columns = [
        {
            "column": f"metric_{n:04d}",
            "sources": [{"dataset": source, "column": f"raw_metric_{n:04d}"}],
            "transformation": "expression",
            "description": f"sum of raw_metric_{n:04d} over the day, in euros " + "x" * 100,
        }
        for n in range(1500)
    ]
    return example("write-seed-column-lineage-rename", serial, columns=columns)


def best_match(event: dict[str, Any]) -> tuple[str, str]:
    """(path, rule) of the reference validator's most relevant error."""
    validator = jsonschema.Draft202012Validator(contract.schema("1.0"))
    error = jsonschema.exceptions.best_match(validator.iter_errors(event))
    assert error is not None
    return ".".join(str(p) for p in error.absolute_path), str(error.validator)


# --- one mixed batch, every outcome checked ------------------------------------------------------

READ = example("read-glue-table-with-schema-version", 1)
STEP_START = example("step-start", 2)
EMR_STEP = example("step-complete-emr", 3)
LAMBDA_RUN = example("run-complete-lambda", 4, event_time="2026-11-22T00:00:00.001Z")
RUN_START = example("run-start-glue-from-step-functions", 5, event_time="2026-11-20T23:59:59.999Z")
WRONG_TYPE = example("step-start", 6, attempt="0")
UNKNOWN_VERSION = example("step-start", 7, schema_version="2.0")
MISSING_VERSION = {k: v for k, v in example("step-start", 8).items() if k != "schema_version"}
OVERSIZE = oversize_event(9)
TRUNCATED = compact(example("step-start", 10))[:150]

# (message, producer's JSON text or None, where it must land)
MIXED = [
    (compact(READ), compact(READ), "archived"),
    (lambda_text(compact(STEP_START)), compact(STEP_START), "archived"),
    (spark_driver(json.dumps(EMR_STEP)), json.dumps(EMR_STEP), "archived"),
    (lambda_record(compact(LAMBDA_RUN)), compact(LAMBDA_RUN), "archived"),
    (lambda_record(RUN_START), None, "archived"),
    ("START RequestId: 8f5f1c2e-1b7a-4d0e-9c4b-2e6f0a1d3c55 Version: $LATEST", None, "ignored"),
    ('{"level":"INFO","msg":"x"}', None, "ignored"),
    (TRUNCATED, None, QuarantineCode.INVALID_JSON),
    (compact(WRONG_TYPE), None, QuarantineCode.SCHEMA_VIOLATION),
    (compact(UNKNOWN_VERSION), None, QuarantineCode.UNKNOWN_SCHEMA_VERSION),
    (lambda_text(compact(MISSING_VERSION)), None, QuarantineCode.MISSING_SCHEMA_VERSION),
    (compact(OVERSIZE), None, QuarantineCode.OVERSIZE),
]
VALID_IN_MIXED = [READ, STEP_START, EMR_STEP, LAMBDA_RUN, RUN_START]


@pytest.fixture(scope="module")
def mixed() -> tuple[Delivery, Outcome]:
    assert len(compact(OVERSIZE).encode()) > contract.MAX_EVENT_BYTES
    contract.validate(OVERSIZE)  # valid but for its size
    batch = delivery([m for m, _, _ in MIXED])
    return batch, run_ingest(batch)


def test_a_mixed_batch_is_counted_exactly(mixed: tuple[Delivery, Outcome]) -> None:
    _, outcome = mixed
    counts = outcome.counts
    assert (counts.received, counts.archived, counts.quarantined, counts.ignored) == (12, 5, 5, 2)
    assert counts.balanced
    assert outcome.reasons == Counter(
        {
            QuarantineCode.INVALID_JSON: 1,
            QuarantineCode.SCHEMA_VIOLATION: 1,
            QuarantineCode.UNKNOWN_SCHEMA_VERSION: 1,
            QuarantineCode.MISSING_SCHEMA_VERSION: 1,
            QuarantineCode.OVERSIZE: 1,
        }
    )
    assert outcome.ignored_ids == [log_event_id(5), log_event_id(6)]
    views = [{k: v for k, v in view.items() if k != DELIVERED_AS} for view in outcome.events]
    assert views == [state_view(event) for event in VALID_IN_MIXED]
    # each view names the log event it came in (for the run state's marker), never from the event
    assert [json.loads(view[DELIVERED_AS]) for view in outcome.events] == [
        [ACCOUNT, LOG_GROUP, LOG_STREAM, log_event_id(i), 0] for i in range(5)
    ]


def test_a_mixed_batch_makes_one_object_per_day_and_pipeline_and_one_quarantine_object(
    mixed: tuple[Delivery, Outcome],
) -> None:
    _, outcome = mixed
    batch = outcome.batch_id
    assert [o.key for o in outcome.objects] == [
        f"events/event_date=2026-11-20/pipeline_id=orders-daily/{batch}.json.gz",
        f"events/event_date=2026-11-21/pipeline_id=orders-daily/{batch}.json.gz",
        f"events/event_date=2026-11-21/pipeline_id=sessionize/{batch}.json.gz",
        f"events/event_date=2026-11-22/pipeline_id=orders-notify/{batch}.json.gz",
        f"quarantine/log_date=2026-11-21/{batch}.json.gz",
    ]
    assert [o.key for o in outcome.objects] == [
        event_object_key("2026-11-20", "orders-daily", batch),
        event_object_key("2026-11-21", "orders-daily", batch),
        event_object_key("2026-11-21", "sessionize", batch),
        event_object_key("2026-11-22", "orders-notify", batch),
        quarantine_object_key("2026-11-21", batch),
    ]
    # every archived event sits in the partition of its own date and pipeline
    for obj in outcome.objects[:-1]:
        where = partitions_of(obj.key)
        for line in obj.lines:
            event = json.loads(line)
            assert where == {
                Archive.EVENT_DATE: event["event_time"][:10],
                Archive.PIPELINE_ID: event["pipeline_id"],
            }
    assert [len(o.lines) for o in outcome.objects] == [1, 2, 1, 1, 5]


def test_gzip_bodies_decompress_to_the_lines(mixed: tuple[Delivery, Outcome]) -> None:
    _, outcome = mixed
    for obj in outcome.objects:
        body = obj.body()
        assert body[:2] == b"\x1f\x8b"
        assert gzip.decompress(body).decode("utf-8") == "".join(line + "\n" for line in obj.lines)
        assert decoded(body) == [json.loads(line) for line in obj.lines]


def test_archived_lines_are_the_producers_text_plus_an_ingest_object(
    mixed: tuple[Delivery, Outcome],
) -> None:
    batch, outcome = mixed
    by_event_id = {json.loads(line)["event_id"]: line for o in outcome.objects[:-1] for line in o.lines}
    for index, (_, producer_text, where) in enumerate(MIXED):
        if where != "archived":
            continue
        original = VALID_IN_MIXED[index]
        raw = by_event_id[original["event_id"]]
        # the producer's JSON text, byte for byte, then the ingest object
        text = producer_text if producer_text is not None else compact(original)
        assert raw.startswith(text[:-1] + ',"ingest":{')
        line = json.loads(raw)
        ingested = line.pop(Ingest.KEY)
        assert line == original
        assert list(line) == list(original)  # field order kept too
        log_event = batch.log_events[index]
        assert ingested == {
            Ingest.INGESTED_AT: INGESTED_AT,
            Ingest.LOG_GROUP: LOG_GROUP,
            Ingest.LOG_STREAM: LOG_STREAM,
            Ingest.LOG_EVENT_ID: log_event.id,
            Ingest.EVENT_INDEX: 0,
            Ingest.LOG_TIMESTAMP: log_event.timestamp,
            Ingest.ACCOUNT: ACCOUNT,
            Ingest.REGION: REGION,
            Ingest.BATCH_ID: outcome.batch_id,
            Ingest.VALIDATOR_VERSION: VALIDATOR_VERSION,
        }


def test_quarantined_lines_carry_the_message_the_reason_and_where_it_came_from(
    mixed: tuple[Delivery, Outcome],
) -> None:
    batch, outcome = mixed
    lines = decoded(outcome.objects[-1].body())
    refused = [(i, m, w) for i, (m, _, w) in enumerate(MIXED) if w not in ("archived", "ignored")]
    assert len(lines) == len(refused)
    for line, (index, message, code) in zip(lines, refused, strict=True):
        assert line[Quarantine.MESSAGE] == message
        assert line[Quarantine.REASON][Quarantine.CODE] == code
        assert line[Quarantine.REASON][Quarantine.DETAIL]
        assert line[Ingest.KEY][Ingest.LOG_EVENT_ID] == batch.log_events[index].id
        assert line[Ingest.KEY][Ingest.EVENT_INDEX] == 0
        assert line[Ingest.KEY][Ingest.LOG_TIMESTAMP] == batch.log_events[index].timestamp
        assert line[Ingest.KEY][Ingest.BATCH_ID] == outcome.batch_id
        assert line[Ingest.KEY][Ingest.INGESTED_AT] == INGESTED_AT
        assert line[Ingest.KEY][Ingest.LOG_GROUP] == LOG_GROUP
    truncated, wrong_type, unknown, missing, oversize = lines
    # an event id is copied when the message could be read, so the line can be found by it
    assert Quarantine.EVENT_ID not in truncated
    assert "JSON" in truncated[Quarantine.REASON][Quarantine.DETAIL]
    assert wrong_type[Quarantine.EVENT_ID] == WRONG_TYPE["event_id"]
    assert wrong_type[Quarantine.SCHEMA_VERSION] == "1.0"
    assert (
        wrong_type[Quarantine.REASON][Quarantine.PATH],
        wrong_type[Quarantine.REASON][Quarantine.RULE],
    ) == (
        "attempt",
        "type",
    )
    assert unknown[Quarantine.EVENT_ID] == UNKNOWN_VERSION["event_id"]
    assert unknown[Quarantine.SCHEMA_VERSION] == "2.0"
    assert "'2.0'" in unknown[Quarantine.REASON][Quarantine.DETAIL]
    assert missing[Quarantine.EVENT_ID] == MISSING_VERSION["event_id"]
    assert Quarantine.SCHEMA_VERSION not in missing
    assert oversize[Quarantine.EVENT_ID] == OVERSIZE["event_id"]
    assert str(contract.MAX_EVENT_BYTES) in oversize[Quarantine.REASON][Quarantine.DETAIL]


# --- every example of the contract -----------------------------------------------------------------


@pytest.mark.parametrize(("name", "event"), list(VALID.items()), ids=list(VALID))
def test_every_valid_example_is_archived_unchanged(name: str, event: dict[str, Any]) -> None:
    outcome = run_ingest(delivery([json.dumps(event, indent=2), lambda_record(event)]))
    assert (outcome.counts.archived, outcome.counts.quarantined, outcome.counts.ignored) == (2, 0, 0)
    lines = archived_lines(outcome)
    for line in lines:
        line.pop(Ingest.KEY)
        assert line == event
    assert outcome.objects[0].key == event_object_key(
        event["event_time"][:10], event["pipeline_id"], outcome.batch_id
    )


@pytest.mark.parametrize(("name", "example_"), INVALID, ids=[n for n, _ in INVALID])
def test_every_invalid_example_is_quarantined_with_the_reference_validators_reason(
    name: str, example_: dict[str, Any]
) -> None:
    event = example_["event"]
    outcome = run_ingest(delivery([json.dumps(event)]))
    assert (outcome.counts.archived, outcome.counts.quarantined, outcome.counts.ignored) == (0, 1, 0)
    (line,) = quarantined_lines(outcome)
    reason = line[Quarantine.REASON]
    if event["schema_version"] not in contract.known_versions():
        assert reason[Quarantine.CODE] == QuarantineCode.UNKNOWN_SCHEMA_VERSION
        return
    assert reason[Quarantine.CODE] == QuarantineCode.SCHEMA_VIOLATION
    path, rule = best_match(event)
    assert reason.get(Quarantine.PATH, "") == path
    assert reason[Quarantine.RULE] == rule
    assert line[Quarantine.MESSAGE] == json.dumps(event)
    if isinstance(event.get("event_id"), str):
        assert line[Quarantine.EVENT_ID] == event["event_id"]


def test_a_run_written_by_lineage_lib_is_archived_byte_for_byte() -> None:
    out = io.StringIO()
    raw = lineage.glue_table("raw_db", "orders_raw")
    daily = lineage.glue_table("analytics_db", "orders_daily")
    with lineage.run("orders-daily", sink=StdoutSink(out)) as run, run.step("aggregate") as step:
        step.read(raw, records=10)
        step.write(daily, records=2)
    written = out.getvalue().splitlines()
    assert len(written) == 6
    outcome = run_ingest(delivery([lambda_text(line) for line in written]))
    assert outcome.counts.archived == 6
    archived = [line for obj in outcome.objects for line in obj.lines]
    assert sorted(line[: line.rindex(',"ingest":')] + "}" for line in archived) == sorted(written)


# --- batch ids ------------------------------------------------------------------------------------


def test_batch_id_is_the_same_for_a_redelivered_batch() -> None:
    messages = [m for m, _, _ in MIXED]
    first, again = run_ingest(delivery(messages)), run_ingest(delivery(list(messages)))
    assert first.batch_id == again.batch_id == batch_id_of(delivery(messages))
    assert [o.key for o in first.objects] == [o.key for o in again.objects]
    assert [o.body() for o in first.objects] == [o.body() for o in again.objects]
    assert first.batch_id.startswith(f"{FIRST_TIMESTAMP:013d}-")


@pytest.mark.parametrize("changed", [0, 1, 11])
def test_batch_id_differs_when_any_log_event_id_differs(changed: int) -> None:
    messages = [m for m, _, _ in MIXED]
    ids = [log_event_id(i) for i in range(len(messages))]
    other = list(ids)
    other[changed] = log_event_id(1000)
    assert batch_id_of(delivery(messages, ids=ids)) != batch_id_of(delivery(messages, ids=other))


def test_batch_id_differs_between_log_streams_with_the_same_ids() -> None:
    batch = delivery(["x"])
    other = Delivery(ACCOUNT, LOG_GROUP, "another-stream", batch.log_events)
    assert batch_id_of(batch) != batch_id_of(other)


# --- bugs ------------------------------------------------------------------------------------------


def test_a_truncated_lambda_json_record_holding_lineage_is_quarantined() -> None:
    record = lambda_record(compact(oversize_event(20)))
    truncated = record[:262_000]  # what CloudWatch Logs keeps of a log event over 256 KiB
    outcome = run_ingest(delivery([truncated]))
    assert outcome.reasons == Counter({QuarantineCode.INVALID_JSON: 1})


@pytest.mark.parametrize(
    ("message", "path", "rule"),
    [
        # an event logged as an object by a Lambda function, a path with an undecodable byte
        (
            lambda_record(
                example("read-glue-table-with-schema-version", 30, source={"id": "s3://b/caf\udcff.csv"})
            ),
            "source.id",
            "pattern",
        ),
        # a garbled event id, copied to the quarantine line
        (compact(example("step-start", 31, event_id="\udcff")), "event_id", "minLength"),
        # the acceptance test's step name: valid before issue 11, it failed the run state's transaction
        (compact(example("step-start", 32, step="step_\ud800")), "step", "pattern"),
    ],
    ids=["dataset id", "event id", "step name"],
)
def test_a_line_with_an_escaped_lone_surrogate_is_quarantined_and_does_not_fail_the_batch(
    message: str, path: str, rule: str
) -> None:
    assert message.isascii()  # the log event itself is plain ASCII JSON
    outcome = run_ingest(delivery([message, compact(READ)]))
    assert (outcome.counts.archived, outcome.counts.quarantined) == (1, 1)
    [line] = quarantined_lines(outcome)
    assert line[Quarantine.REASON][Quarantine.CODE] == QuarantineCode.SCHEMA_VIOLATION
    assert (line[Quarantine.REASON][Quarantine.PATH], line[Quarantine.REASON][Quarantine.RULE]) == (
        path,
        rule,
    )
    for obj in outcome.objects:  # the archive writes the lone surrogate as the JSON escape it came from
        assert decoded(obj.body()) == [json.loads(line) for line in obj.lines]


# --- conservation ---------------------------------------------------------------------------------


def _message_of(kind: str, serial: int) -> tuple[str, str]:
    """A message of one kind and where it must land."""
    event = example("read-glue-table-with-schema-version", serial)
    text = compact(event)
    made = {
        "bare": (text, "archived"),
        "lambda text": (lambda_text(text), "archived"),
        "spark": (spark_driver(text), "archived"),
        "record string": (lambda_record(text), "archived"),
        "record object": (lambda_record(event), "archived"),
        "noise text": (f"INFO processed {serial} rows", "ignored"),
        "noise json": (json.dumps({"level": "INFO", "msg": "x", "n": serial}), "ignored"),
        "noise record": (lambda_record(f"START RequestId: {serial}"), "ignored"),
        "truncated": (text[: 40 + serial % 100], "quarantined"),
        "wrong type": (compact({**event, "attempt": str(serial)}), "quarantined"),
        "unknown version": (compact({**event, "schema_version": "2.0"}), "quarantined"),
        "missing version": (
            compact({k: v for k, v in event.items() if k != "schema_version"}),
            "quarantined",
        ),
        "unknown field": (lambda_text(compact({**event, "owner": "me"})), "quarantined"),
    }
    return made[kind]


KINDS = [
    "bare",
    "lambda text",
    "spark",
    "record string",
    "record object",
    "noise text",
    "noise json",
    "noise record",
    "truncated",
    "wrong type",
    "unknown version",
    "missing version",
    "unknown field",
]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(KINDS), max_size=40))
def test_every_log_event_lands_in_exactly_one_place(kinds: list[str]) -> None:
    made = [_message_of(kind, serial) for serial, kind in enumerate(kinds)]
    batch = delivery([m for m, _ in made])
    outcome = run_ingest(batch)
    counts = outcome.counts
    assert counts.received == len(kinds)
    assert counts.received == counts.archived + counts.quarantined + counts.ignored
    assert counts.balanced
    assert sum(outcome.reasons.values()) == counts.quarantined
    archived = [line[Ingest.KEY][Ingest.LOG_EVENT_ID] for line in archived_lines(outcome)]
    quarantined = [line[Ingest.KEY][Ingest.LOG_EVENT_ID] for line in quarantined_lines(outcome)]
    assert len(archived) == counts.archived
    assert len(quarantined) == counts.quarantined
    assert len(outcome.events) == counts.archived
    landed = Counter(archived) + Counter(quarantined) + Counter(outcome.ignored_ids)
    assert landed == Counter(e.id for e in batch.log_events)
    where = {
        **dict.fromkeys(archived, "archived"),
        **dict.fromkeys(quarantined, "quarantined"),
        **dict.fromkeys(outcome.ignored_ids, "ignored"),
    }
    assert [where[e.id] for e in batch.log_events] == [w for _, w in made]


def test_only_the_first_violations_of_a_batch_pay_for_the_reference_validators_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lineage_plane import refusals as refusals_module

    calls = []
    real_explain = contract.explain

    def counted(event: Any) -> Any:
        calls.append(event)
        return real_explain(event)

    monkeypatch.setattr(contract, "explain", counted)
    count = refusals_module.MAX_EXPLAINED_PER_BATCH + 10
    wrong = [compact(example("write-seed-column-lineage-rename", i, attempt="one")) for i in range(count)]
    outcome = run_ingest(delivery(wrong))
    assert outcome.counts.quarantined == count
    assert len(calls) == refusals_module.MAX_EXPLAINED_PER_BATCH
    reasons = [line["reason"] for line in quarantined_lines(outcome)]
    # Past the budget the compiled validator's report still names the field and the rule.
    assert {(r["path"], r["rule"]) for r in reasons} == {("attempt", "type")}


def test_a_line_nested_deeper_than_the_parser_goes_is_quarantined_not_a_crash() -> None:
    deep = '{"schema_version":"1.0","tags":' + "[" * 5000 + "]" * 5000 + "}"
    outcome = run_ingest(delivery([deep]))
    assert (outcome.counts.quarantined, outcome.reasons["invalid_json"]) == (1, 1)


def test_a_long_line_with_a_lone_surrogate_is_measured_as_the_archive_writes_it() -> None:
    event = example("write-seed-column-lineage-rename", 1)
    event["error"] = {"type": "X", "message": "\ud800" + "x" * 70_000}  # wrong for a WRITE: refused
    outcome = run_ingest(delivery([json.dumps(event, ensure_ascii=False)]))
    assert outcome.counts.quarantined == 1
    for obj in outcome.objects:
        assert gzip.decompress(obj.body())  # the whole batch still writes
