"""Poison events at the run-state store, against moto: one event DynamoDB cannot hold never blocks the
others. The validator keeps such events out before it archives (lineage_plane.state_limits,
tests/functional/test_validator_poison.py); the store is the defence behind it, for whatever that check
does not know: it splits a refused transaction down to the event, applies every other one and reports
the one it could not apply."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.common.state_store import RunStateStore
from lineage_lib.contract import EventType, Field
from lineage_local.local_plane import LOCAL_REGION, run_state_table_spec
from lineage_plane.run_state import fold
from lineage_plane.run_table import RunStateTable
from tests.functional.test_run_state_store import NOW, TTL_SECONDS, run_items, table
from tests.functional.validator_support import TABLE, retried_glue_run, state_of, state_of_progress

T = RunStateTable
Event = dict[str, Any]


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=LOCAL_REGION)
        client.create_table(**run_state_table_spec(TABLE))
        yield client


def innocent_events() -> list[Event]:
    return [json.loads(line) for line in retried_glue_run()]


def poisoned(base: Event, **changes: Any) -> Event:
    """A copy of one of the run's events, with a new event id and the changes."""
    return {**base, Field.EVENT_ID: str(uuid.uuid4()), **changes}


def poisons(events: list[Event]) -> dict[str, Event]:
    """Events of the same run attempts as the innocent ones, each holding what DynamoDB refuses."""
    [step_fail] = [e for e in events if e[Field.EVENT_TYPE] == EventType.STEP_FAIL]
    read = next(e for e in events if e[Field.EVENT_TYPE] == EventType.READ and e[Field.ATTEMPT] == 1)
    return {
        # the serializer refuses it before sending (decimal.Inexact in DynamoDB's 38-digit context);
        # later than the step's own failure, so that its error is the one the step item keeps
        "45-digit exit code": poisoned(
            step_fail,
            event_time="2099-01-01T00:00:00Z",
            error={"type": "SystemExit", "message": "x", "exit_code": 10**45 + 1},
        ),
        # moto cancels the transaction (real DynamoDB refuses the invalid UTF-8 too)
        "lone surrogate in a step name": poisoned(read, step="aggregate_\ud800"),
        # ValidationException: a step's sort key over 1024 bytes (256 four-byte characters)
        "step key over 1024 bytes": poisoned(read, step="\U0001f600" * 256),
    }


@pytest.mark.parametrize(
    "poison", ["45-digit exit code", "lone surrogate in a step name", "step key over 1024 bytes"]
)
def test_one_poison_event_is_left_out_and_every_other_event_is_applied(dynamodb: Any, poison: str) -> None:
    events = innocent_events()
    bad = poisons(events)[poison]
    batch = [*events[:5], bad, *events[5:]]  # in the middle of its attempt's transaction
    store = RunStateStore(
        dynamodb, TABLE, dedup_ttl_seconds=TTL_SECONDS, clock=lambda: NOW, sleep=lambda _: None
    )

    result = store.apply(batch)  # never raises

    assert (result.applied, result.duplicates) == (len(events), 0)
    assert list(result.refused) == [bad[Field.EVENT_ID]]
    assert result.refused[bad[Field.EVENT_ID]]  # DynamoDB's (or the serializer's) reason
    folded = fold(events)
    items = run_items(dynamodb)
    assert set(items) == {(k.pk, k.sk) for k in folded}
    for key, progress in folded.items():
        assert state_of(items[(key.pk, key.sk)]) == state_of_progress(progress), key
    markers = {pk for (pk, _), item in table(dynamodb).items() if item[T.KIND] == T.KIND_EVENT}
    assert f"EVENT#{bad[Field.EVENT_ID]}" not in markers  # a later delivery tries it again, in vain
    assert len(markers) == len(events)


def test_several_poison_events_cost_a_few_transactions_each_and_a_retry_refuses_them_again(
    dynamodb: Any,
) -> None:
    events = innocent_events()
    bad = list(poisons(events).values())
    store = RunStateStore(
        dynamodb, TABLE, dedup_ttl_seconds=TTL_SECONDS, clock=lambda: NOW, sleep=lambda _: None
    )

    first = store.apply([*bad, *events])
    again = store.apply([*bad, *events])  # the batch redelivered: only the poison is tried again

    assert set(first.refused) == set(again.refused) == {e[Field.EVENT_ID] for e in bad}
    assert (first.applied, again.applied, again.duplicates) == (len(events), 0, len(events))
    # splitting halves: each poison event costs at most one transaction per halving of its chunk
    assert first.requests <= 3 + len(bad) * 6
