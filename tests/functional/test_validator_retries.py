"""Retries and repeats, as AWS delivers them: redelivered batches, failed writes, any order, any day."""

from __future__ import annotations

import functools
import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.common.archive import ArchiveWriter
from lambdas.common.errors import ArchiveWriteError
from lambdas.common.service import Validator
from lambdas.common.state_store import RunStateStore
from lambdas.validator import handler
from lineage_lib import contract
from lineage_lib.contract import Field
from lineage_local.local_plane import (
    LOCAL_REGION,
)
from lineage_plane.functions import ValidatorMetrics
from lineage_plane.layout import Ingest
from lineage_plane.run_state import fold
from lineage_plane.run_table import RunStateTable, run_pk
from tests.conftest import SCHEMAS
from tests.functional.validator_support import (
    BUCKET,
    IGNORED,
    MIXED,
    MIXED_OUTCOMES,
    TABLE,
    Plane,
    by_log_event_id,
    emf_metrics,
    fail_call,
    glue_payload,
    load_data,
    local_plane,
    log_events,
    mixed_with_oversize,
    pack,
    retried_glue_run,
    state_of,
    state_of_progress,
)

# An invocation that records no metric (a control message, one that raises) makes Powertools warn.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
T = RunStateTable


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
    # the run state's markers name the log events already applied: their objects are not even built
    # (nor their PUTs sent); the quarantine object is rebuilt and found there
    assert second == {
        **first,
        "already_archived": first["archived"],
        "duplicates": first["archived"],
        "objects_written": 0,
        "objects_already_present": 1,
    }
    [metrics] = emf_metrics(capsys.readouterr().out)
    assert metrics[ValidatorMetrics.DUPLICATES] == [7.0]
    assert metrics[ValidatorMetrics.ALREADY_ARCHIVED] == [7.0]
    assert metrics[ValidatorMetrics.OBJECTS_ALREADY_PRESENT] == [1.0]


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
