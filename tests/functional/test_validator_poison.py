"""Poison events through the validator's handler, against moto: the acceptance test's 45-digit exit code
and lone surrogate in a step name, ids whose keys DynamoDB refuses, and an event DynamoDB refuses for a
reason the validator's own check does not know. Each is quarantined with its reason; every other event
of the batch is archived and applied; the invocation never raises, so no batch fails every retry."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from lineage_lib.contract import EventType, Field
from lineage_plane.functions import ValidatorMetrics
from lineage_plane.layout import Archive, Ingest, Quarantine, QuarantineCode
from lineage_plane.run_state import fold
from lineage_plane.run_table import RunStateTable
from tests.functional.validator_support import (
    Plane,
    emf_metrics,
    glue_payload,
    local_plane,
    log_events,
    retried_glue_run,
    state_of,
    state_of_progress,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
T = RunStateTable
STREAM = "jr_7d41c2e09a6b4f35"
Event = dict[str, Any]


def innocent_events() -> list[Event]:
    return [json.loads(line) for line in retried_glue_run()]


def copy_of(events: list[Event], event_type: str, **changes: Any) -> Event:
    base = next(e for e in events if e[Field.EVENT_TYPE] == event_type)
    return {**base, Field.EVENT_ID: str(uuid.uuid4()), **changes}


def poison_events(events: list[Event]) -> dict[str, tuple[Event, str, str]]:
    """name → (event, quarantine code, path of the reason)."""
    return {
        # valid before issue 11: raised decimal.Inexact after the archive write, on every retry
        "45-digit exit code": (
            # (the step's last failure, so that its error is the one the step item keeps)
            copy_of(
                events,
                EventType.STEP_FAIL,
                event_time="2099-01-01T00:00:00Z",
                error={"type": "SystemExit", "message": "1", "exit_code": 10**45 + 1},
            ),
            QuarantineCode.SCHEMA_VIOLATION,
            "error.exit_code",
        ),
        # valid before issue 11: the run state's transaction failed, on every retry
        "lone surrogate in a step name": (
            copy_of(events, EventType.READ, step="step_\ud800"),
            QuarantineCode.SCHEMA_VIOLATION,
            "step",
        ),
        # valid now too: 256 + 256 two-byte characters make the attempt's index sort key over 1024 bytes
        "ids too long for the keys": (
            copy_of(events, EventType.RUN_START, pipeline_id="\u00e9" * 256, run_id="\u00e9" * 256),
            QuarantineCode.RUN_STATE_REFUSED,
            Field.RUN_ID,
        ),
    }


def lines_of(events: list[Event]) -> list[str]:
    # json.dumps escapes the lone surrogate: the log message is ASCII, as CloudWatch delivers it
    return [json.dumps(e, separators=(",", ":")) for e in events]


def assert_run_state_is_the_fold_of(plane: Plane, events: list[Event]) -> None:
    folded = fold(events)
    items = plane.run_items()
    assert set(items) == {(k.pk, k.sk) for k in folded}
    for key, progress in folded.items():
        assert state_of(items[(key.pk, key.sk)]) == state_of_progress(progress), key


def quarantine_lines(plane: Plane) -> list[dict[str, Any]]:
    return [
        line
        for key, lines in plane.archive().items()
        if key.startswith(Archive.QUARANTINE_PREFIX)
        for line in lines
    ]


def archived_event_ids(plane: Plane) -> list[str]:
    return sorted(
        line[Field.EVENT_ID]
        for key, lines in plane.archive().items()
        if key.startswith(Archive.EVENTS_PREFIX)
        for line in lines
    )


@pytest.mark.parametrize(
    "poison", ["45-digit exit code", "lone surrogate in a step name", "ids too long for the keys"]
)
def test_a_poison_event_is_quarantined_and_every_other_event_is_applied(plane: Plane, poison: str) -> None:
    events = innocent_events()
    bad, code, path = poison_events(events)[poison]
    payload = glue_payload(log_events(lines_of([*events[:4], bad, *events[4:]])), STREAM)

    result = plane.invoke(payload)  # never raises
    again = plane.invoke(payload)  # nor does the retry: nothing is left to fail

    assert (result["archived"], result["quarantined"], result["run_state_refused"]) == (len(events), 1, 0)
    assert again["already_archived"] == len(events)
    assert archived_event_ids(plane) == sorted(e[Field.EVENT_ID] for e in events)
    assert_run_state_is_the_fold_of(plane, events)
    [line] = quarantine_lines(plane)
    assert (line[Quarantine.EVENT_ID], line[Quarantine.REASON][Quarantine.CODE]) == (
        bad[Field.EVENT_ID],
        code,
    )
    assert line[Quarantine.REASON][Quarantine.PATH] == path


def test_every_poison_in_one_batch_is_quarantined_with_its_own_reason(plane: Plane) -> None:
    events = innocent_events()
    poisons = poison_events(events).values()
    mixed = [*events]
    for offset, (bad, _, _) in enumerate(poisons):
        mixed.insert(3 * offset + 1, bad)

    result = plane.invoke(glue_payload(log_events(lines_of(mixed)), STREAM))

    assert (result["received"], result["archived"], result["quarantined"]) == (len(mixed), len(events), 3)
    assert_run_state_is_the_fold_of(plane, events)
    reasons = {
        line[Quarantine.EVENT_ID]: line[Quarantine.REASON][Quarantine.CODE]
        for line in quarantine_lines(plane)
    }
    assert reasons == {bad[Field.EVENT_ID]: code for bad, code, _ in poisons}


# --- DynamoDB refuses what the validator's check let through: the store's defence ------------------


def refusing_transactions_with(event_id: str) -> Callable[..., Any]:
    """A before-call hook: DynamoDB's ValidationException for any transaction holding the event's marker."""

    def hook(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if f"EVENT#{event_id}" not in params["body"].decode():
            return None
        return AWSResponse("https://injected", 400, {}, None), {
            "Error": {
                "Code": "ValidationException",
                "Message": "Item size has exceeded the maximum allowed size",
            },
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }

    return hook


def test_an_event_dynamodb_still_refuses_stays_archived_is_quarantined_too_and_counted_apart(
    capsys: pytest.CaptureFixture[str],
) -> None:
    events = innocent_events()
    refused = events[6]
    hooks = {"before-call.dynamodb.TransactWriteItems": refusing_transactions_with(refused[Field.EVENT_ID])}
    payload = glue_payload(log_events(lines_of(events)), STREAM)
    with local_plane(hooks=hooks) as plane:
        capsys.readouterr()
        result = plane.invoke(payload)  # never raises
        [metrics] = emf_metrics(capsys.readouterr().out)

        # counted once, as archived (it is, under events/), and apart as refused by the run state
        assert (result["received"], result["archived"], result["quarantined"]) == (
            len(events),
            len(events),
            0,
        )
        assert result["run_state_refused"] == 1
        assert metrics[ValidatorMetrics.RUN_STATE_REFUSED] == [1.0]
        assert archived_event_ids(plane) == sorted(e[Field.EVENT_ID] for e in events)
        applied = [e for e in events if e is not refused]
        assert_run_state_is_the_fold_of(plane, applied)
        objects = plane.archive()
        [key] = [k for k in objects if k.startswith(Archive.QUARANTINE_PREFIX)]
        assert key.endswith(f"-run-state{Archive.OBJECT_SUFFIX}")
        [line] = objects[key]
        assert line[Quarantine.EVENT_ID] == refused[Field.EVENT_ID]
        assert line[Quarantine.REASON][Quarantine.CODE] == QuarantineCode.RUN_STATE_REFUSED
        assert "ValidationException" in line[Quarantine.REASON][Quarantine.DETAIL]
        assert line[Ingest.KEY][Ingest.LOG_EVENT_ID] == payload_ids(plane, refused)

        again = plane.invoke(payload)  # the redelivery refuses it again, and writes nothing new

        assert (again["run_state_refused"], again["already_archived"]) == (1, len(applied))
        assert plane.archive() == objects


def payload_ids(plane: Plane, event: Event) -> str:
    [line] = [
        line
        for key, lines in plane.archive().items()
        if key.startswith(Archive.EVENTS_PREFIX)
        for line in lines
        if line[Field.EVENT_ID] == event[Field.EVENT_ID]
    ]
    log_event_id: str = line[Ingest.KEY][Ingest.LOG_EVENT_ID]
    return log_event_id
