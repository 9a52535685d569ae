"""The validator's handler against moto: what a delivered batch leaves in the archive and the run state.

Each test packs a CloudWatch Logs subscription payload (a fixture under tests/events/validator/, or the
lines lineage_lib emits for a Glue job run), invokes the real handler, and reads back what a user
would: the objects in the archive bucket, the items of the run-state table, the EMF metrics.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.common.errors import SettingsError
from lineage_lib import contract
from lineage_lib.contract import Field
from lineage_lib.version import __version__
from lineage_local.local_plane import (
    LOCAL_REGION,
    control_message_payload,
    subscription_payload,
)
from lineage_plane.functions import FunctionEnv, ValidatorMetrics
from lineage_plane.layout import Archive, Ingest, Quarantine, QuarantineCode, partitions_of
from lineage_plane.run_table import RunStateTable, run_pk
from tests.functional.validator_support import (
    ARCHIVED,
    IGNORED,
    MIXED,
    MIXED_OUTCOMES,
    QUARANTINED,
    SCHEMA_PATHS,
    Plane,
    by_log_event_id,
    columns_for,
    emf_metrics,
    load_data,
    local_plane,
    mixed_with_oversize,
    new_log_event_id,
    pack,
    write_with_columns,
)

# An invocation that records no metric (a control message, one that raises) makes Powertools warn.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
T = RunStateTable


def utc_today() -> str:
    return datetime.now(UTC).date().isoformat()


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
        "log_events": 19,
        "already_archived": 0,
        "run_state_refused": 0,
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
        ValidatorMetrics.LOG_EVENTS: [19.0],
        ValidatorMetrics.ALREADY_ARCHIVED: [0.0],
        ValidatorMetrics.RUN_STATE_REFUSED: [0.0],
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
            Ingest.EVENT_INDEX: 0,
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
