"""RunStateStore against moto: exactly-once application under competing writers, runs too big for one
transaction, attributes other writers own, and the expiry of the dedup markers.

Competing writers are real: a second store with its own client commits from inside a botocore
``before-call`` hook of the first, i.e. between the first store's read and its transaction.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

import lineage_lib as lineage
from lambdas.common.state_store import ApplyResult, RunStateStore
from lineage_lib.contract import Field
from lineage_lib.testing import capture
from lineage_local.local_plane import LOCAL_REGION, run_state_table_spec
from lineage_plane.run_state import fold
from lineage_plane.run_table import RunStateTable, attempt_sk, run_pk
from tests.functional.validator_support import (
    DAILY,
    RAW,
    TABLE,
    plain,
    retried_glue_run,
    state_of,
    state_of_progress,
)

T = RunStateTable
TTL_SECONDS = 35 * 86_400
NOW = 1_795_230_721.0
Event = dict[str, Any]
Key = tuple[str, str]


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=LOCAL_REGION)
        client.create_table(**run_state_table_spec(TABLE))
        yield client


def new_client() -> Any:
    """A client of its own, as a second Lambda execution environment has."""
    return boto3.client("dynamodb", region_name=LOCAL_REGION)


def store_on(client: Any) -> RunStateStore:
    return RunStateStore(
        client, TABLE, dedup_ttl_seconds=TTL_SECONDS, clock=lambda: NOW, sleep=lambda _: None
    )


def on_first_transaction(client: Any, action: Callable[[], Any]) -> None:
    """Run ``action`` when ``client`` is about to send its first TransactWriteItems, not after."""
    calls = itertools.count()

    def hook(**kwargs: Any) -> None:
        if next(calls) == 0:
            action()

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", hook)


def table(client: Any) -> dict[Key, dict[str, Any]]:
    pages = client.get_paginator("scan").paginate(TableName=TABLE, ConsistentRead=True)
    return {(i[T.PK], i[T.SK]): i for i in (plain(item) for page in pages for item in page["Items"])}


def run_items(client: Any) -> dict[Key, dict[str, Any]]:
    return {k: v for k, v in table(client).items() if v[T.KIND] != T.KIND_EVENT}


def assert_state_is_the_fold_of(client: Any, events: Sequence[Event]) -> None:
    folded = fold({e[Field.EVENT_ID]: e for e in events}.values())
    items = run_items(client)
    assert set(items) == {(k.pk, k.sk) for k in folded}
    for key, progress in folded.items():
        assert state_of(items[(key.pk, key.sk)]) == state_of_progress(progress), key


def retried_run_events() -> list[Event]:
    return [json.loads(line) for line in retried_glue_run()]


@pytest.mark.parametrize("competitor_applies", ["another event", "the same event"])
def test_a_writer_that_commits_between_read_and_write_loses_nothing(
    dynamodb: Any, competitor_applies: str
) -> None:
    events = [e for e in retried_run_events() if e[Field.ATTEMPT] == 1]
    seed, mine = events[:2], events[2]  # RUN_START, STEP_START; then a READ of the same step
    theirs = events[3] if competitor_applies == "another event" else mine
    assert (mine[Field.EVENT_TYPE], theirs[Field.EVENT_TYPE]) == ("READ", "READ")
    assert mine[Field.STEP] == theirs[Field.STEP]
    store_on(dynamodb).apply(seed)
    competitor = store_on(new_client())
    on_first_transaction(dynamodb, lambda: competitor.apply([theirs]))

    result = store_on(dynamodb).apply([mine])

    if theirs is mine:  # a batch redelivered to another environment at the same time
        assert result == ApplyResult(applied=0, duplicates=1, requests=3)
    else:  # read, cancelled (stale versions), read the stale items again, commit
        assert result == ApplyResult(applied=1, duplicates=0, requests=4, applied_ids={mine[Field.EVENT_ID]})
    assert_state_is_the_fold_of(dynamodb, [*seed, mine, theirs])
    attempt = run_items(dynamodb)[(run_pk(mine[Field.PIPELINE_ID], mine[Field.RUN_ID]), attempt_sk(1))]
    assert attempt[T.READ_COUNT] == len({mine[Field.EVENT_ID], theirs[Field.EVENT_ID]})


def many_step_run(steps: int) -> list[Event]:
    """A backfill run with one step per day: STEP_START, READ, WRITE, STEP_COMPLETE each."""
    with capture() as captured, lineage.run("orders-backfill", run_id="backfill-2026-11", attempt=0) as run:
        for day in range(steps):
            with run.step(f"day-{day:03d}") as step:
                step.read(RAW.at_version(f"2026-08-{day % 28 + 1:02d}"), records=1_000 + day)
                step.write(DAILY, records=31)
    return list(captured.events)


def test_a_run_of_over_a_hundred_events_commits_in_a_few_transactions_of_at_most_100_writes(
    dynamodb: Any,
) -> None:
    # 122 events on 31 items (moto copies the whole table for each write of a transaction: a bigger
    # run costs seconds here and proves nothing more)
    events = many_step_run(30)
    transactions: list[int] = []
    dynamodb.meta.events.register(
        "before-parameter-build.dynamodb.TransactWriteItems",
        lambda params, **_: transactions.append(len(params["TransactItems"])),
    )

    result = store_on(dynamodb).apply(events)

    assert (result.applied, result.duplicates) == (122, 0)
    # at most MAX_ITEMS_PER_TRANSACTION item puts per transaction: 31 items need a few
    assert 1 < len(transactions) <= 4
    assert max(transactions) <= 100
    step_writes = sum(transactions) - 122 - len(transactions)  # beside markers and the attempt item
    assert step_writes >= 30  # a step whose events two transactions share is written by both
    assert result.requests == len(transactions) + 1  # and one BatchGetItem
    assert result.requests * 30 < len(events)  # far fewer requests than events
    assert_state_is_the_fold_of(dynamodb, events)
    before = table(dynamodb)

    again = store_on(dynamodb).apply(events)

    assert (again.applied, again.duplicates) == (0, 122)
    assert table(dynamodb) == before


def reconcile(client: Any, key: Key, status: str) -> None:
    """What another writer (a Glue job-state bridge, say) does to an attempt: its own attribute, under
    the same optimistic lock as every writer."""
    current = plain(client.get_item(TableName=TABLE, Key={T.PK: {"S": key[0]}, T.SK: {"S": key[1]}})["Item"])
    client.update_item(
        TableName=TABLE,
        Key={T.PK: {"S": key[0]}, T.SK: {"S": key[1]}},
        UpdateExpression="SET reconciled_status = :s, #v = :next",
        ConditionExpression="#v = :v",
        ExpressionAttributeNames={"#v": T.VERSION},
        ExpressionAttributeValues={
            ":s": {"S": status},
            ":v": {"N": str(current[T.VERSION])},
            ":next": {"N": str(current[T.VERSION] + 1)},
        },
    )


def test_an_attribute_another_writer_owns_survives_later_applies(dynamodb: Any) -> None:
    events = [e for e in retried_run_events() if e[Field.ATTEMPT] == 0]
    key = (run_pk(events[0][Field.PIPELINE_ID], events[0][Field.RUN_ID]), attempt_sk(0))
    store_on(dynamodb).apply(events[:3])
    # between this store's read and its write, the other writer sets its attribute (and the version)
    bridge = new_client()
    on_first_transaction(dynamodb, lambda: reconcile(bridge, key, "FAILED"))
    store_on(dynamodb).apply(events[3:6])
    store_on(dynamodb).apply(events[6:])

    attempt = run_items(dynamodb)[key]
    assert attempt["reconciled_status"] == "FAILED"
    assert (attempt[T.EVENT_COUNT], attempt[T.STATUS]) == (len(events), "FAILED")
    assert_state_is_the_fold_of(dynamodb, events)


def test_every_applied_event_leaves_a_marker_that_expires(dynamodb: Any) -> None:
    events = retried_run_events()

    store_on(dynamodb).apply(events)

    items = table(dynamodb)
    markers = {k: v for k, v in items.items() if v[T.KIND] == T.KIND_EVENT}
    assert set(markers) == {(f"EVENT#{e[Field.EVENT_ID]}", "EVENT") for e in events}
    by_id = {e[Field.EVENT_ID]: e for e in events}
    for (pk, _), marker in markers.items():
        event = by_id[pk.removeprefix("EVENT#")]
        assert marker[T.TTL] == int(NOW) + TTL_SECONDS
        assert (
            marker[RunStateTable.MARKER_ATTEMPT]
            == f"{run_pk(event[Field.PIPELINE_ID], event[Field.RUN_ID])}/{attempt_sk(event[Field.ATTEMPT])}"
        )
    assert all(T.TTL not in item for item in run_items(dynamodb).values())


def transaction_conflicts(client: Any, times: int, reason: str = "TransactionConflict") -> None:
    """Cancel the first ``times`` TransactWriteItems as DynamoDB does when another transaction holds
    one of the items (every reason ``TransactionConflict``), or for another ``reason``."""
    calls = itertools.count()

    def hook(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if next(calls) >= times:
            return None
        count = len(json.loads(params["body"])["TransactItems"])  # the serialised request
        return AWSResponse("https://injected", 400, {}, None), {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": [{"Code": reason}] * count,
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", hook)


def test_conflicting_transactions_are_retried_until_the_events_are_applied(dynamodb: Any) -> None:
    events = retried_run_events()
    transaction_conflicts(dynamodb, times=3)

    result = store_on(dynamodb).apply(events)

    assert (result.applied, result.duplicates) == (len(events), 0)
    assert_state_is_the_fold_of(dynamodb, events)


def test_a_redelivered_batch_found_applied_on_the_last_try_is_not_a_conflict(dynamodb: Any) -> None:
    """Seven conflicting transactions, then the eighth (last) try learns that every event of the batch
    was applied before: nothing is left to do, and the batch is done, not failed."""
    events = retried_run_events()
    store_on(dynamodb).apply(events)
    transaction_conflicts(dynamodb, times=7)

    result = store_on(dynamodb).apply(events)

    assert (result.applied, result.duplicates) == (0, len(events))


def test_a_refusal_of_a_transaction_splits_it_and_a_one_off_refusal_loses_nothing(dynamodb: Any) -> None:
    """A cancellation reason that is neither a condition nor a race says the transaction's content is
    refused: the store splits it rather than fail the batch. Refused once only, every event still
    goes in (the poison events themselves: test_run_state_poison.py)."""
    events = retried_run_events()
    transaction_conflicts(dynamodb, times=1, reason="ValidationError")

    result = store_on(dynamodb).apply(events)

    assert (result.applied, result.duplicates, result.refused) == (len(events), 0, {})
    assert_state_is_the_fold_of(dynamodb, events)


def test_an_item_another_writer_created_without_a_version_is_taken_over(dynamodb: Any) -> None:
    events = retried_run_events()
    first = events[0]
    key = {
        RunStateTable.PK: {"S": run_pk(first["pipeline_id"], first["run_id"])},
        RunStateTable.SK: {"S": attempt_sk(first["attempt"])},
    }
    dynamodb.put_item(
        TableName=TABLE,
        Item={
            **key,
            RunStateTable.PIPELINE_ID: {"S": first["pipeline_id"]},
            RunStateTable.RUN_ID: {"S": first["run_id"]},
            RunStateTable.ATTEMPT: {"N": str(first["attempt"])},
            "owner_team": {"S": "data-platform"},
        },
    )

    result = store_on(dynamodb).apply(events)

    assert result.applied == len(events)
    item = dynamodb.get_item(TableName=TABLE, Key=key)["Item"]
    assert item["owner_team"] == {"S": "data-platform"}
    assert item[RunStateTable.VERSION] == {"N": "1"}
