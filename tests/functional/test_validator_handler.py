"""The validator's handler against moto: what a delivered batch leaves in the archive and the run state.

Each test packs a CloudWatch Logs subscription payload (a fixture under tests/events/validator/, or the
lines lineage_lib emits for a Glue job run), invokes the real handler, and reads back what a user
would: the objects in the archive bucket, the items of the run-state table, the EMF metrics.
"""

from __future__ import annotations

import functools
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.common.archive import ArchiveWriter
from lambdas.common.errors import ArchiveWriteError, SettingsError
from lambdas.common.run_state import fold
from lambdas.common.state_store import RunStateStore
from lambdas.validator import handler
from lambdas.validator.service import Validator
from lineage_cli.local_plane import (
    LOCAL_REGION,
    control_message_payload,
    deliver,
    subscription_payload,
)
from lineage_lib import contract
from lineage_lib.contract import Field
from lineage_lib.plane import (
    Archive,
    FunctionEnv,
    Ingest,
    Quarantine,
    QuarantineCode,
    RunStateTable,
    ValidatorMetrics,
    partitions_of,
    run_pk,
    sortable_time,
)
from lineage_lib.sinks.cloudwatch import epoch_millis
from lineage_lib.version import __version__
from tests.conftest import SCHEMAS
from tests.functional.validator_support import (
    BUCKET,
    GLUE_OUTPUT,
    TABLE,
    Plane,
    columns_for,
    completed_glue_run,
    crashed_glue_run,
    emf_metrics,
    fail_call,
    glue_payload,
    load_data,
    local_plane,
    log_events,
    new_log_event_id,
    oversize_message,
    pack,
    retried_glue_run,
    state_of,
    state_of_progress,
    write_with_columns,
)

# An invocation that records no metric (a control message, one that raises) makes Powertools warn.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
T = RunStateTable
MIXED = "mixed-shapes.json"
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


@pytest.fixture
def plane() -> Iterator[Plane]:
    with local_plane() as plane:
        yield plane


def mixed_with_oversize() -> dict[str, Any]:
    data = load_data(MIXED)
    last = data["logEvents"][-1]["timestamp"]
    data["logEvents"].append({"id": new_log_event_id(), "timestamp": last + 1, "message": oversize_message()})
    return data


def utc_today() -> str:
    return datetime.now(UTC).date().isoformat()


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


def producer_texts(message: str) -> list[str]:
    """Where a producer's JSON text can be found verbatim in a log message: the message itself, or the
    message string of a Lambda JSON-format record."""
    texts = [message]
    try:
        record = json.loads(message)
    except ValueError:
        return texts
    if isinstance(record, dict) and isinstance(record.get("message"), str):
        texts.append(record["message"])
    return texts


def test_a_mixed_batch_is_archived_quarantined_and_ignored_line_by_line(
    plane: Plane, capsys: pytest.CaptureFixture[str]
) -> None:
    data = mixed_with_oversize()
    outcomes = [*MIXED_OUTCOMES, (QUARANTINED, QuarantineCode.OVERSIZE)]
    capsys.readouterr()
    day_before = utc_today()
    result = plane.invoke(pack(data))
    days = {day_before, utc_today()}

    assert result == {
        "received": 19,
        "archived": 7,
        "quarantined": 6,
        "ignored": 6,
        "duplicates": 0,
        "objects_written": 4,
        "objects_already_present": 0,
    }
    [metrics] = emf_metrics(capsys.readouterr().out)
    assert metrics == {
        "namespace": ValidatorMetrics.NAMESPACE,
        ValidatorMetrics.RECEIVED: [19.0],
        ValidatorMetrics.ARCHIVED: [7.0],
        ValidatorMetrics.QUARANTINED: [6.0],
        ValidatorMetrics.IGNORED: [6.0],
        ValidatorMetrics.DUPLICATES: [0.0],
        ValidatorMetrics.OBJECTS_ALREADY_PRESENT: [0.0],
    }

    texts = plane.archive_text()
    keys = sorted(texts)
    batch_ids = {k.rsplit("/", 1)[1].removesuffix(Archive.OBJECT_SUFFIX) for k in keys}
    assert len(batch_ids) == 1  # one object per partition, all named by the batch
    assert [k.rsplit("/", 1)[0] + "/" for k in keys] == [
        "events/event_date=2026-11-20/pipeline_id=orders%20backfill/",
        "events/event_date=2026-11-21/pipeline_id=orders-daily/",
        "events/event_date=2026-11-21/pipeline_id=sessionize/",
        f"quarantine/log_date={partitions_of(keys[3])[Archive.LOG_DATE]}/",
    ]
    assert partitions_of(keys[0]) == {
        Archive.EVENT_DATE: "2026-11-20",
        Archive.PIPELINE_ID: "orders backfill",
    }
    # the quarantine is dated by the batch's first CloudWatch timestamp, not by the clock
    first_logged = min(e["timestamp"] for e in data["logEvents"])
    first_day = datetime.fromtimestamp(first_logged / 1000, tz=UTC).date().isoformat()
    assert partitions_of(keys[3])[Archive.LOG_DATE] == first_day

    found = by_log_event_id({k: [json.loads(line) for line in lines] for k, lines in texts.items()})
    raw_lines = {
        json.loads(line)[Ingest.KEY][Ingest.LOG_EVENT_ID]: line for lines in texts.values() for line in lines
    }
    for index, (log_event, (outcome, code)) in enumerate(zip(data["logEvents"], outcomes, strict=True)):
        if outcome == IGNORED:
            assert log_event["id"] not in found, log_event["message"]
            continue
        key, line = found[log_event["id"]]
        ingest = line.pop(Ingest.KEY)
        assert ingest == {
            Ingest.INGESTED_AT: ingest[Ingest.INGESTED_AT],
            Ingest.LOG_GROUP: "/aws/lambda/orders-notify",
            Ingest.LOG_STREAM: data["logStream"],
            Ingest.ACCOUNT: "123456789012",
            Ingest.REGION: LOCAL_REGION,
            Ingest.BATCH_ID: next(iter(batch_ids)),
            Ingest.VALIDATOR_VERSION: __version__,
            Ingest.LOG_EVENT_ID: log_event["id"],
            Ingest.LOG_TIMESTAMP: log_event["timestamp"],
        }
        assert ingest[Ingest.INGESTED_AT][:10] in days
        if outcome == ARCHIVED:
            assert key.startswith(Archive.EVENTS_PREFIX)
            contract.validate(line)  # the producer's event, whole, once ``ingest`` is removed
            assert key.split("/")[1] == f"{Archive.EVENT_DATE}={line[Field.EVENT_TIME][:10]}"
            producer_text = raw_lines[log_event["id"]].split(f',"{Ingest.KEY}":', 1)[0] + "}"
            assert any(producer_text in text for text in producer_texts(log_event["message"]))
        else:
            assert key.startswith(Archive.QUARANTINE_PREFIX)
            assert line[Quarantine.MESSAGE] == log_event["message"]
            assert line[Quarantine.REASON][Quarantine.CODE] == code
            assert line[Quarantine.REASON][Quarantine.DETAIL]
            if index in SCHEMA_PATHS:
                assert line[Quarantine.REASON][Quarantine.PATH] == SCHEMA_PATHS[index]
                assert line[Quarantine.REASON][Quarantine.RULE] == "type"
            if code != QuarantineCode.INVALID_JSON:  # an event that parses is found again by its id
                assert f'"{Field.EVENT_ID}":"{line[Quarantine.EVENT_ID]}"' in log_event["message"]

    # Only valid events reach the run state: the quarantined READ of the same run is not counted.
    attempt = plane.run_items()[
        (run_pk("orders-daily", "jr_5f1c0e9b2a7d4c3e8f6a1b2c3d4e5f60"), "ATTEMPT#00000")
    ]
    assert (attempt[T.STATUS], attempt[T.EVENT_COUNT], attempt[T.READ_COUNT]) == ("RUNNING", 5, 1)


@st.composite
def batches_of_mixed_lines(draw: st.DrawFn) -> list[list[int]]:
    """Batches of the fixture's log lines (by index); a line drawn twice is logged twice."""
    line = st.integers(0, len(MIXED_OUTCOMES) - 1)
    return draw(st.lists(st.lists(line, min_size=1, max_size=12), min_size=1, max_size=4))


@settings(max_examples=25, deadline=None)
@given(batches=batches_of_mixed_lines())
def test_every_delivered_log_event_is_archived_quarantined_or_ignored_exactly_once(
    batches: list[list[int]],
) -> None:
    data = load_data(MIXED)
    delivered: dict[str, int] = {}  # log event id → index of its line in the fixture
    with local_plane() as plane:
        for batch in batches:
            events = [{**data["logEvents"][i], "id": new_log_event_id()} for i in batch]
            delivered.update((e["id"], i) for e, i in zip(events, batch, strict=True))
            result = plane.invoke(
                subscription_payload(events, log_group=data["logGroup"], log_stream=data["logStream"])
            )
            expected = Counter(MIXED_OUTCOMES[i][0] for i in batch)
            assert result["received"] == len(batch)
            assert result["received"] == result[ARCHIVED] + result[QUARANTINED] + result[IGNORED]
            assert {o: result[o] for o in (ARCHIVED, QUARANTINED, IGNORED)} == {
                o: expected[o] for o in (ARCHIVED, QUARANTINED, IGNORED)
            }
        found = by_log_event_id(plane.archive())

    by_event_id: dict[str, set[str]] = {}
    for log_event_id, (_, line) in found.items():
        if Field.EVENT_ID in line:
            by_event_id.setdefault(line[Field.EVENT_ID], set()).add(log_event_id)
    for log_event_id, index in delivered.items():
        outcome = MIXED_OUTCOMES[index][0]
        if outcome == IGNORED:
            assert log_event_id not in found
            continue
        key, line = found[log_event_id]
        prefix = Archive.EVENTS_PREFIX if outcome == ARCHIVED else Archive.QUARANTINE_PREFIX
        assert key.startswith(prefix)
        if MIXED_OUTCOMES[index][1] != QuarantineCode.INVALID_JSON:
            assert log_event_id in by_event_id[line[Field.EVENT_ID]]
    assert len(found) == sum(MIXED_OUTCOMES[i][0] != IGNORED for i in delivered.values())


def test_a_redelivered_batch_changes_nothing_and_counts_its_events_as_duplicates(
    plane: Plane, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = pack(mixed_with_oversize())
    first = plane.invoke(payload)
    archive = plane.archive_text()
    etags = {o["Key"]: o["ETag"] for o in plane.s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    items = plane.scan()
    capsys.readouterr()

    second = plane.invoke(payload)

    assert plane.archive_text() == archive
    assert {o["Key"]: o["ETag"] for o in plane.s3.list_objects_v2(Bucket=BUCKET)["Contents"]} == etags
    by_log_event_id(plane.archive())  # no line twice
    assert plane.scan() == items
    assert second == {
        **first,
        "duplicates": first["archived"],
        "objects_written": 0,
        "objects_already_present": 4,
    }
    [metrics] = emf_metrics(capsys.readouterr().out)
    assert metrics[ValidatorMetrics.DUPLICATES] == [7.0]
    assert metrics[ValidatorMetrics.OBJECTS_ALREADY_PRESENT] == [4.0]


def delivered_once_state() -> list[dict[str, Any]]:
    """The run-state items of the mixed batch delivered once, without faults (versions included)."""
    with local_plane() as plane:
        plane.invoke(pack(load_data(MIXED)))
        return list(plane.run_items().values())


def test_a_failed_archive_write_is_retried_without_losing_or_repeating_anything() -> None:
    expected_state = delivered_once_state()
    payload = pack(load_data(MIXED))
    with local_plane(hooks={"before-call.s3.PutObject": fail_call(2, "SlowDown", 503)}) as plane:
        with pytest.raises(ArchiveWriteError, match="SlowDown"):
            plane.invoke(payload)
        assert len(plane.archive_text()) == 1
        assert plane.scan() == []  # no run state for a batch the archive does not hold

        retry = plane.invoke(payload)

        assert (retry["objects_written"], retry["objects_already_present"], retry["duplicates"]) == (3, 1, 0)
        found = by_log_event_id(plane.archive())
        assert sorted(found) == sorted(
            e["id"]
            for e, (outcome, _) in zip(load_data(MIXED)["logEvents"], MIXED_OUTCOMES, strict=True)
            if outcome != IGNORED
        )
        assert list(plane.run_items().values()) == expected_state


def test_a_failed_run_state_write_is_retried_and_applied_once() -> None:
    expected_state = delivered_once_state()
    payload = pack(load_data(MIXED))
    hooks = {"before-call.dynamodb.TransactWriteItems": fail_call(1, "InternalServerError", 500)}
    with local_plane(hooks=hooks) as plane:
        with pytest.raises(ClientError, match="InternalServerError"):
            plane.invoke(payload)
        archive = plane.archive_text()
        assert len(archive) == 4
        assert plane.scan() == []

        retry = plane.invoke(payload)

        assert (retry["objects_written"], retry["objects_already_present"], retry["duplicates"]) == (0, 4, 0)
        assert plane.archive_text() == archive
        assert list(plane.run_items().values()) == expected_state
        markers = [i for i in plane.scan() if i[T.KIND]["S"] == T.KIND_EVENT]
        assert len(markers) == retry["archived"]


# --- order independence -----------------------------------------------------------------------------


@functools.cache
def retried_run_lines() -> tuple[str, ...]:
    """The retried Glue run, and what a second producer says about the end of each attempt: another
    RUN_FAIL of attempt 0 at the same instant (ties are broken by event id), and a RUN_ABORT of
    attempt 1 (Glue's timeout, after the job had printed RUN_COMPLETE). Disagreeing terminal events
    make the final status depend on the fold's rules alone, never on arrival order."""
    lines = retried_glue_run()
    events = [json.loads(line) for line in lines]
    [fail] = [e for e in events if e[Field.EVENT_TYPE] == "RUN_FAIL"]
    [complete] = [e for e in events if e[Field.EVENT_TYPE] == "RUN_COMPLETE"]
    reports = [
        {
            **fail,
            Field.EVENT_ID: str(uuid.uuid4()),
            Field.ERROR: {"type": "GlueJobRunFailed", "message": "exit 1"},
        },
        {
            **complete,
            Field.EVENT_ID: str(uuid.uuid4()),
            Field.EVENT_TYPE: "RUN_ABORT",
            Field.ERROR: {"type": "Aborted", "message": "Glue job run TIMEOUT"},
        },
    ]
    for report in reports:
        contract.validate(report)
    return (*lines, *(json.dumps(r, separators=(",", ":")) for r in reports))


def without_version(items: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {key: {k: v for k, v in item.items() if k != T.VERSION} for key, item in items.items()}


@functools.cache
def in_order_state() -> dict[tuple[str, str], dict[str, Any]]:
    """The run state of the retried run's events delivered once, in the order they were logged."""
    with local_plane() as plane:
        plane.invoke(glue_payload(log_events(retried_run_lines()), "jr_7d41c2e09a6b4f35"))
        return without_version(plane.run_items())


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_run_state_does_not_depend_on_delivery_order_or_repeats(data: st.DataObject) -> None:
    lines = retried_run_lines()
    expected = in_order_state()
    count = len(lines)
    order = data.draw(st.permutations(range(count)), label="order")
    cuts = sorted(data.draw(st.sets(st.integers(1, count - 1), max_size=5), label="cuts"))
    batches = [list(order[a:b]) for a, b in zip([0, *cuts], [*cuts, count], strict=True)]
    for index in data.draw(st.lists(st.integers(0, count - 1), max_size=4), label="logged twice"):
        batches[data.draw(st.integers(0, len(batches) - 1))].append(index)
    payloads = [
        glue_payload(log_events([lines[i] for i in batch]), "jr_7d41c2e09a6b4f35") for batch in batches
    ]
    sequence = list(range(len(payloads)))
    for again in data.draw(st.lists(st.integers(0, len(payloads) - 1), max_size=2), label="redelivered"):
        sequence.insert(data.draw(st.integers(sequence.index(again) + 1, len(sequence))), again)

    with local_plane() as plane:
        for n in sequence:
            result = plane.invoke(payloads[n])
            assert result["archived"] == result["received"]
        items = plane.run_items()
        markers = {
            plain_pk for plain_pk in (i[T.PK]["S"] for i in plane.scan()) if plain_pk.startswith("EVENT#")
        }

    events = {e[Field.EVENT_ID]: e for e in map(json.loads, lines)}
    assert without_version(items) == expected
    assert markers == {f"EVENT#{event_id}" for event_id in events}
    folded = fold(events.values())
    assert {(k.pk, k.sk) for k in folded} == set(items)
    for key, progress in folded.items():
        assert state_of(items[(key.pk, key.sk)]) == state_of_progress(progress)


# --- the run state's indexes ------------------------------------------------------------------------


def put_log_lines(plane: Plane, stream: str, lines: list[str]) -> None:
    """Lines into the Glue output log group, as the job's stdout gets there."""
    if stream not in {
        s["logStreamName"] for s in plane.logs.describe_log_streams(logGroupName=GLUE_OUTPUT)["logStreams"]
    }:
        plane.logs.create_log_stream(logGroupName=GLUE_OUTPUT, logStreamName=stream)
    plane.logs.put_log_events(
        logGroupName=GLUE_OUTPUT,
        logStreamName=stream,
        logEvents=[
            {"timestamp": epoch_millis(json.loads(line)[Field.EVENT_TIME]), "message": line} for line in lines
        ],
    )


def active_runs(plane: Plane) -> list[dict[str, Any]]:
    return plane.query(
        IndexName=T.ACTIVE_INDEX,
        KeyConditionExpression="#pk = :active",
        ExpressionAttributeNames={"#pk": T.ACTIVE_PK},
        ExpressionAttributeValues={":active": {"S": T.ACTIVE_PARTITION}},
    )


def test_a_crashed_run_stays_in_the_active_index_until_a_terminal_event_arrives(plane: Plane) -> None:
    emitted, run = crashed_glue_run()
    crashed = list(emitted.lines)
    completed = completed_glue_run("orders-daily", "jr_1a2b3c4d5e6f7a8b")
    plane.logs.create_log_group(logGroupName=GLUE_OUTPUT)
    put_log_lines(plane, "jr_0b9e4f7a21c34d58", crashed)
    put_log_lines(plane, "jr_1a2b3c4d5e6f7a8b", completed)
    # the Glue driver's own output, which the subscription's filter pattern leaves out
    plane.logs.put_log_events(
        logGroupName=GLUE_OUTPUT,
        logStreamName="jr_0b9e4f7a21c34d58",
        logEvents=[
            {
                "timestamp": epoch_millis(json.loads(crashed[-1])[Field.EVENT_TIME]) + 1,
                "message": "INFO processing",
            }
        ],
    )

    results = deliver(plane.logs, GLUE_OUTPUT, handler.handler)

    assert sorted(r["archived"] for r in results) == sorted([len(crashed), len(completed)])
    assert sum(r["ignored"] for r in results) == 0  # the filter pattern kept the noise out
    [active] = active_runs(plane)
    last = json.loads(crashed[-1])
    assert (active[T.PK], active[T.SK], active[T.STATUS]) == (
        run_pk("sessionize", "jr_0b9e4f7a21c34d58"),
        "ATTEMPT#00000",
        "RUNNING",
    )
    assert active[T.ACTIVE_SK].startswith(f"{sortable_time(last[Field.EVENT_TIME])}#")
    assert (active[T.EVENT_COUNT], active[T.READ_COUNT]) == (4, 2)

    # Glue stops the hung job: the library's SIGTERM handler fails the open step and aborts the run.
    run.abort("stopped by Glue", signal_name="SIGTERM")
    late = emitted.lines[len(crashed) :]
    assert [json.loads(line)[Field.EVENT_TYPE] for line in late] == ["STEP_FAIL", "RUN_ABORT"]
    plane.invoke(glue_payload(log_events(late), "jr_0b9e4f7a21c34d58"))

    assert active_runs(plane) == []
    items = plane.run_items()
    attempt = items[(run_pk("sessionize", "jr_0b9e4f7a21c34d58"), "ATTEMPT#00000")]
    assert (attempt[T.STATUS], attempt[T.ERROR]["signal"]) == ("ABORTED", "SIGTERM")
    assert not {T.ACTIVE_PK, T.ACTIVE_SK} & set(attempt)


def test_a_retried_glue_run_is_one_query_and_its_pipeline_lists_attempts_in_start_order(plane: Plane) -> None:
    # run ids that sort against time: the index must order by start, not by id
    earlier = completed_glue_run("orders-daily", "jr_fffffffffffffff9")
    time.sleep(0.002)
    retried = retried_glue_run()
    time.sleep(0.002)
    later = completed_glue_run("orders-daily", "jr_0000000000000001")
    for lines in (later, retried, earlier):
        plane.invoke(glue_payload(log_events(lines), "jr"))

    items = plane.query(
        KeyConditionExpression="#pk = :pk",
        ExpressionAttributeNames={"#pk": T.PK},
        ExpressionAttributeValues={":pk": {"S": run_pk("orders-daily", "jr_7d41c2e09a6b4f35")}},
        ConsistentRead=True,
    )
    assert [(i[T.SK], i[T.STATUS]) for i in items] == [
        ("ATTEMPT#00000", "FAILED"),
        ("ATTEMPT#00000#STEP#aggregate", "FAILED"),
        ("ATTEMPT#00000#STEP#extract", "COMPLETE"),
        ("ATTEMPT#00001", "COMPLETE"),
        ("ATTEMPT#00001#STEP#aggregate", "COMPLETE"),
        ("ATTEMPT#00001#STEP#extract", "COMPLETE"),
        ("ATTEMPT#00001#STEP#publish", "COMPLETE"),
    ]
    assert items[0][T.ERROR][Field.TYPE] == "KeyError"
    assert T.ERROR not in items[3]
    assert {i[T.KIND] for i in items} == {T.KIND_ATTEMPT, T.KIND_STEP}

    history = plane.query(
        IndexName=T.PIPELINE_INDEX,
        KeyConditionExpression="#p = :p",
        ExpressionAttributeNames={"#p": T.PIPELINE_PK},
        ExpressionAttributeValues={":p": {"S": "orders-daily"}},
    )
    assert [(i[T.RUN_ID], i[T.ATTEMPT]) for i in history] == [
        ("jr_fffffffffffffff9", 0),
        ("jr_7d41c2e09a6b4f35", 0),
        ("jr_7d41c2e09a6b4f35", 1),
        ("jr_0000000000000001", 0),
    ]
    assert [i[T.STARTED_AT] for i in history] == sorted(i[T.STARTED_AT] for i in history)
    assert {i[T.KIND] for i in history} == {T.KIND_ATTEMPT}


# --- the edges of the trigger -----------------------------------------------------------------------


def test_a_control_message_is_acknowledged_and_writes_nothing(plane: Plane) -> None:
    result = plane.invoke(control_message_payload("/aws-glue/jobs/output"))

    assert result == {"received": 0}
    assert plane.archive_text() == {}
    assert plane.scan() == []


def test_a_missing_archive_bucket_fails_naming_the_variable_then_recovers_once_set(plane: Plane) -> None:
    payload = pack(load_data(MIXED))
    with mock.patch.dict(os.environ):
        del os.environ[FunctionEnv.ARCHIVE_BUCKET]
        with pytest.raises(SettingsError, match=FunctionEnv.ARCHIVE_BUCKET) as missing:
            plane.invoke(payload)
    assert missing.value.name == FunctionEnv.ARCHIVE_BUCKET
    assert plane.archive_text() == {}
    assert plane.scan() == []

    assert plane.invoke(payload)["archived"] == 7  # the failure was not cached


def test_a_lambda_json_record_split_by_lambda_is_quarantined_not_ignored(plane: Plane) -> None:
    """Lambda splits a log line longer than 262,118 bytes into several log events. A JSON-format
    record carrying a 200 KB lineage event as its message string arrives as two parts; the first holds
    the (escaped) "schema_version" and does not parse: it is a broken event, to be quarantined.
    (Ignored before 92a9ac4, which taught extract to look for the escaped field names too.)"""
    text = write_with_columns(columns_for(contract.MAX_EVENT_BYTES) - 60)
    assert len(text.encode()) < contract.MAX_EVENT_BYTES
    record = json.dumps(
        {
            "timestamp": "2026-11-21T03:12:04.126Z",
            "level": "INFO",
            "message": text,
            "logger": "lineage_lib",
            "requestId": "79b4f56e-95b1-4643-9700-2807f4e68189",
        },
        separators=(",", ":"),
    )
    cut = contract.MAX_EVENT_BYTES
    assert len(record) > cut
    parts = [record[:cut], record[cut:]]
    events = [{"id": new_log_event_id(), "timestamp": 1_795_230_724_126, "message": part} for part in parts]

    result = plane.invoke(
        subscription_payload(
            events, log_group="/aws/lambda/orders-notify", log_stream="2026/11/21/[$LATEST]4b1f"
        )
    )

    assert (result["received"], result["quarantined"], result["ignored"]) == (2, 1, 1)
    [lines] = plane.archive().values()
    assert lines[0][Quarantine.REASON][Quarantine.CODE] == QuarantineCode.INVALID_JSON
    assert lines[0][Quarantine.MESSAGE] == parts[0]


# --- bugs found -------------------------------------------------------------------------------------


def valid_example(name: str) -> dict[str, Any]:
    example: dict[str, Any] = json.loads(
        (SCHEMAS / "1.0" / "examples" / "valid" / f"{name}.json").read_text()
    )
    return example


@pytest.mark.parametrize(
    ("field_path", "value"),
    [
        pytest.param(
            (Field.ATTEMPT,),
            1.0,
            id="attempt",
        ),
        pytest.param(
            (Field.ERROR, "exit_code"),
            3.0,
            id="exit_code",
        ),
    ],
)
def test_an_integral_float_that_the_schema_accepts_reaches_the_run_state(
    plane: Plane, field_path: tuple[str, ...], value: float
) -> None:
    """JSON Schema counts 1.0 as an integer (the compiled validator agrees), so such an event is valid
    and archived; it must reach the run state too, and not fail every retry of its whole batch."""
    event = valid_example("run-fail-exit-code")
    target = event
    for name in field_path[:-1]:
        target = target[name]
    target[field_path[-1]] = value
    contract.validate(event)
    start = valid_example("run-start-glue-from-step-functions")
    start[Field.ATTEMPT] = event[Field.ATTEMPT]
    lines = [json.dumps(start), json.dumps(event)]

    result = plane.invoke(glue_payload(log_events(lines), "jr_5f1c0e9b2a7d4c3e8f6a1b2c3d4e5f60"))

    assert result["archived"] == 2
    attempt = plane.run_items()[
        (run_pk(event[Field.PIPELINE_ID], event[Field.RUN_ID]), f"ATTEMPT#{int(event[Field.ATTEMPT]):05d}")
    ]
    assert (attempt[T.STATUS], attempt[T.EVENT_COUNT]) == ("FAILED", 2)


def test_a_retry_after_midnight_does_not_quarantine_a_line_twice() -> None:
    """The run-state write fails at 23:59:59.9; Lambda retries the batch a minute later, the next day.
    The archived events are recognised (same keys), the quarantined lines must be too."""
    times = iter(
        [datetime(2026, 11, 21, 23, 59, 59, 900_000, UTC), datetime(2026, 11, 22, 0, 1, 0, tzinfo=UTC)]
    )
    data = load_data(MIXED)
    with local_plane() as plane:
        dynamodb = boto3.client("dynamodb", region_name=LOCAL_REGION)
        dynamodb.meta.events.register(
            "before-call.dynamodb.TransactWriteItems",
            fail_call(1, "ProvisionedThroughputExceededException", 400),
        )
        validator = Validator(
            ArchiveWriter(boto3.client("s3", region_name=LOCAL_REGION), BUCKET),
            RunStateStore(dynamodb, TABLE, dedup_ttl_seconds=86_400),
            region=LOCAL_REGION,
            clock=lambda: next(times),
        )
        delivery = handler.delivery_of(handler.CloudWatchLogsEvent(pack(data)).parse_logs_data())
        with pytest.raises(dynamodb.exceptions.ProvisionedThroughputExceededException):
            validator.process(delivery)
        report = validator.process(delivery)

        found = Counter(
            line[Ingest.KEY][Ingest.LOG_EVENT_ID] for lines in plane.archive().values() for line in lines
        )
    assert report.objects_written == []
    assert set(found.values()) == {1}
