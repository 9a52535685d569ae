"""The run-state table in DynamoDB: exactly-once application of events to attempts and steps.

An invocation's events are grouped by run attempt; each group is committed in transactions of at most
100 writes that put one marker per event id (``attribute_not_exists``) together with the new state of
the attempt and step items it touches (conditioned on the version read). A marker that already exists
means the event was applied before (a redelivered batch, a duplicated log line): it is dropped and
counted as a duplicate, and the rest is committed. A version that moved means another writer got
there first: the items are read again and the fold is redone. Because the fold is commutative
(lambdas.common.run_state), the result does not depend on which writer wins.

Requests: one BatchGetItem per 100 items touched, one TransactWriteItems per ~90 events.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from lambdas.common.errors import RunStateConflictError, RunStateWriteError
from lambdas.common.run_state import ItemKey, PlatformEnd, Progress, apply_event, keys_of, new_progress
from lineage_lib.contract import Field
from lineage_lib.plane import EVENT_MARKER_SK, RunStateTable, RunStatus, event_marker_pk, sortable_time

T = RunStateTable
MAX_TRANSACTION_ITEMS: Final = 100
MAX_BATCH_GET_KEYS: Final = 100
# Attribute names this store owns on attempt and step items; any other attribute (written by the Glue
# bridge, for instance) is carried over unchanged when an item is rewritten.
_MANAGED: Final = frozenset(
    {
        T.PK, T.SK, T.KIND, T.VERSION, T.PIPELINE_ID, T.RUN_ID, T.ATTEMPT, T.STEP, T.STATUS,
        T.STATUS_EVENT_TIME, T.STATUS_EVENT_ID, T.ERROR, T.STARTED_AT, T.FIRST_EVENT_TIME,
        T.LAST_EVENT_TIME, T.EVENT_COUNT, T.READ_COUNT, T.WRITE_COUNT, T.TRANSFORM_COUNT, T.INPUTS,
        T.OUTPUTS, T.CONTEXT, T.PLATFORM, T.ACTIVE_PK, T.ACTIVE_SK, T.PIPELINE_SK, T.LINEAGE_STATUS,
        T.OBSERVED_EVENT_COUNT, T.PLATFORM_STATE, T.PLATFORM_STATUS, T.PLATFORM_ERROR,
        T.PLATFORM_ENDED_AT, T.PLATFORM_EVENT_ID, T.PLATFORM_RUN_ID, T.PREVIOUS_RUN_ID, T.OBSERVED_BY,
        T.RECONCILIATION,
    }
)  # fmt: skip
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass
class Stored:
    """An item as read: its progress, its version (None when absent) and attributes owned by others."""

    progress: Progress
    version: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ApplyResult:
    applied: int = 0
    duplicates: int = 0
    requests: int = 0
    applied_ids: set[str] = field(default_factory=set)  # the event ids applied by this call


class RunStateStore:
    """Applies valid events to the run-state table. The client is a boto3 DynamoDB client."""

    def __init__(
        self,
        client: Any,
        table: str,
        *,
        dedup_ttl_seconds: int,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_tries: int = 8,
    ) -> None:
        self._client = client
        self._table = table
        self._dedup_ttl = dedup_ttl_seconds
        self._clock = clock
        self._sleep = sleep
        self._max_tries = max_tries

    def apply(self, events: Iterable[Mapping[str, Any]]) -> ApplyResult:
        """Apply each distinct event exactly once; returns how many were new and how many repeats."""
        result = ApplyResult()
        by_attempt: dict[ItemKey, dict[str, Mapping[str, Any]]] = {}
        for event in events:
            group = by_attempt.setdefault(keys_of(event)[0], {})
            if event[Field.EVENT_ID] in group:
                result.duplicates += 1
            else:
                group[event[Field.EVENT_ID]] = event
        if not by_attempt:
            return result
        touched = {key for group in by_attempt.values() for e in group.values() for key in _keys(e)}
        stored = self._load(touched, result)
        for attempt_key in sorted(by_attempt, key=lambda k: (k.pk, k.sk)):
            ordered = sorted(by_attempt[attempt_key].values(), key=_order)
            for chunk in _chunks(ordered):
                self._commit(chunk, stored, result)
        return result

    def read(self, keys: Iterable[ItemKey]) -> dict[ItemKey, Stored]:
        """The stored attempts and steps among ``keys`` (absent ones are left out)."""
        found = self._load(set(keys), ApplyResult())
        return {key: item for key, item in found.items() if item.version is not None}

    def silent_attempts(self, last_event_before: str, *, limit: int) -> list[Progress]:
        """Running attempts whose last event is older than ``last_event_before`` (an event time), the
        longest silent first, at most ``limit``: one Query on the sparse active-runs index."""
        found: list[Progress] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": T.ACTIVE_INDEX,
            "KeyConditionExpression": "#p = :p AND #s < :before",
            "ExpressionAttributeNames": {"#p": T.ACTIVE_PK, "#s": T.ACTIVE_SK},
            "ExpressionAttributeValues": {
                ":p": {"S": T.ACTIVE_PARTITION},
                ":before": {"S": sortable_time(last_event_before)},
            },
        }
        while len(found) < limit:
            response = self._client.query(**request, Limit=limit - len(found))
            found += [_from_item(raw).progress for raw in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return [progress for progress in found if progress.active]

    # --- reading ----------------------------------------------------------------------------------

    def _load(self, keys: set[ItemKey], result: ApplyResult) -> dict[ItemKey, Stored]:
        loaded: dict[ItemKey, Stored] = {}
        ordered = sorted(keys, key=lambda k: (k.pk, k.sk))
        for start in range(0, len(ordered), MAX_BATCH_GET_KEYS):
            request = {
                self._table: {
                    "Keys": [_key_attrs(k) for k in ordered[start : start + MAX_BATCH_GET_KEYS]],
                    "ConsistentRead": True,
                }
            }
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                result.requests += 1
                for raw in response.get("Responses", {}).get(self._table, []):
                    item = _from_item(raw)
                    loaded[item.progress.key] = item
                request = response.get("UnprocessedKeys") or {}
                if request:
                    self._sleep(0.05 + random.random() * 0.1)
        return loaded

    # --- writing ----------------------------------------------------------------------------------

    def _commit(
        self, chunk: list[Mapping[str, Any]], stored: dict[ItemKey, Stored], result: ApplyResult
    ) -> None:
        pending = list(chunk)
        for attempt in range(self._max_tries):
            if not pending:
                return
            updated = _fold_into(pending, stored)
            expires = int(self._clock()) + self._dedup_ttl
            actions = [self._marker_put(e, expires) for e in pending]
            actions += [self._item_put(key, item) for key, item in updated.items()]
            try:
                self._client.transact_write_items(TransactItems=actions)
            except ClientError as err:
                result.requests += 1
                if err.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code", "None") for r in err.response.get("CancellationReasons", [])]
                marker_reasons, item_reasons = reasons[: len(pending)], reasons[len(pending) :]
                repeated = {i for i, code in enumerate(marker_reasons) if code == _CONDITION_FAILED}
                stale = [k for k, c in zip(updated, item_reasons, strict=False) if c == _CONDITION_FAILED]
                result.duplicates += len(repeated)
                pending = [e for i, e in enumerate(pending) if i not in repeated]
                refused = {c for c in reasons if c not in _PASSED and c != _CONDITION_FAILED} - _TRANSIENT
                if refused:  # not a race to retry: say what DynamoDB refused, and on what
                    raise RunStateWriteError(sorted(refused), [f"{k.pk}/{k.sk}" for k in updated]) from err
                if stale:
                    stored.update(self._load(set(stale), result))
                if not repeated and not stale:  # a conflicting transaction or throttling: back off
                    self._sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
                continue
            result.requests += 1
            result.applied += len(pending)
            result.applied_ids.update(e[Field.EVENT_ID] for e in pending)
            for key, item in updated.items():
                stored[key] = Stored(item.progress, (item.version or 0) + 1, item.extra)
            return
        if pending:  # the last try may have found every remaining event already applied
            raise RunStateConflictError(len(pending), self._max_tries)

    def _marker_put(self, event: Mapping[str, Any], expires: int) -> dict[str, Any]:
        attempt_key = keys_of(event)[0]
        return {
            "Put": {
                "TableName": self._table,
                "Item": {
                    T.PK: {"S": event_marker_pk(event[Field.EVENT_ID])},
                    T.SK: {"S": EVENT_MARKER_SK},
                    T.KIND: {"S": T.KIND_EVENT},
                    T.MARKER_ATTEMPT: {"S": f"{attempt_key.pk}/{attempt_key.sk}"},
                    T.TTL: {"N": str(expires)},
                },
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": T.PK},
            }
        }

    def _item_put(self, key: ItemKey, item: Stored) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self._table, "Item": _to_item(item)}
        if item.version is None:
            put["ConditionExpression"] = "attribute_not_exists(#pk)"
            put["ExpressionAttributeNames"] = {"#pk": T.PK}
        elif item.version == 0:  # created by a writer that keeps no version: still unchanged?
            put["ConditionExpression"] = "attribute_exists(#pk) AND attribute_not_exists(#v)"
            put["ExpressionAttributeNames"] = {"#pk": T.PK, "#v": T.VERSION}
        else:
            put["ConditionExpression"] = "#v = :v"
            put["ExpressionAttributeNames"] = {"#v": T.VERSION}
            put["ExpressionAttributeValues"] = {":v": {"N": str(item.version)}}
        return {"Put": put}


_CONDITION_FAILED: Final = "ConditionalCheckFailed"
_PASSED: Final = frozenset({"None", ""})
# Cancellation reasons that go away on their own: another transaction on the item, throttling.
_TRANSIENT: Final = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
# Item puts per transaction: run_state caps what grows in an item (at worst about 200 KB of dataset
# ids, error and context), so that 16 of them stay under a transaction's 4 MB.
MAX_ITEMS_PER_TRANSACTION: Final = 16


def _order(event: Mapping[str, Any]) -> tuple[str, str, str]:
    # By step first, so that a transaction touches as few step items as possible.
    return event.get(Field.STEP) or "", sortable_time(event[Field.EVENT_TIME]), event[Field.EVENT_ID]


def _keys(event: Mapping[str, Any]) -> tuple[ItemKey, ...]:
    attempt_key, step_key = keys_of(event)
    return (attempt_key,) if step_key is None else (attempt_key, step_key)


def _chunks(events: Sequence[Mapping[str, Any]]) -> Iterable[list[Mapping[str, Any]]]:
    """Runs of events whose markers and touched items fit one transaction."""
    chunk: list[Mapping[str, Any]] = []
    steps: set[str] = set()
    for event in events:
        step = event.get(Field.STEP)
        grows = 1 + (1 if step is not None and step not in steps else 0)
        new_step = grows - 1
        too_many = len(chunk) + 1 + len(steps) + grows > MAX_TRANSACTION_ITEMS
        if chunk and (too_many or 1 + len(steps) + new_step > MAX_ITEMS_PER_TRANSACTION):
            yield chunk
            chunk, steps = [], set()
        chunk.append(event)
        if step is not None:
            steps.add(step)
    if chunk:
        yield chunk


def _fold_into(
    events: Sequence[Mapping[str, Any]], stored: Mapping[ItemKey, Stored]
) -> dict[ItemKey, Stored]:
    """Copies of the touched items with the events applied; ``stored`` is left as it was."""
    updated: dict[ItemKey, Stored] = {}
    for event in events:
        for index, key in enumerate(_keys(event)):
            item = updated.get(key)
            if item is None:
                known = stored.get(key)
                item = (
                    copy.deepcopy(known)
                    if known is not None
                    else Stored(new_progress(event, of_step=index == 1))
                )
                updated[key] = item
            apply_event(item.progress, event)
    return updated


def _key_attrs(key: ItemKey) -> dict[str, Any]:
    return {T.PK: {"S": key.pk}, T.SK: {"S": key.sk}}


def _to_item(item: Stored) -> dict[str, Any]:
    p = item.progress
    key = p.key
    attrs: dict[str, Any] = {
        T.PK: key.pk,
        T.SK: key.sk,
        T.KIND: T.KIND_ATTEMPT if p.step is None else T.KIND_STEP,
        T.VERSION: (item.version or 0) + 1,
        T.PIPELINE_ID: p.pipeline_id,
        T.RUN_ID: p.run_id,
        T.ATTEMPT: p.attempt,
        T.STATUS: p.final_status,
        T.LINEAGE_STATUS: p.status,
        T.EVENT_COUNT: p.events,
        T.OBSERVED_EVENT_COUNT: p.observed_events,
        T.READ_COUNT: p.reads,
        T.WRITE_COUNT: p.writes,
        T.TRANSFORM_COUNT: p.transforms,
    }
    optional = {
        T.STEP: p.step,
        T.STATUS_EVENT_TIME: p.status_event[0] if p.status_event else None,
        T.STATUS_EVENT_ID: p.status_event[1] if p.status_event else None,
        T.ERROR: p.error,
        T.STARTED_AT: p.started_at,
        T.FIRST_EVENT_TIME: p.first_event_time,
        T.LAST_EVENT_TIME: p.last_event_time,
        T.INPUTS: set(p.inputs) or None,
        T.OUTPUTS: set(p.outputs) or None,
    }
    if p.platform is not None:
        end = p.platform
        optional.update(
            {
                T.PLATFORM_STATUS: end.status,
                T.PLATFORM_STATE: end.state,
                T.PLATFORM_ENDED_AT: end.decided_by[0],
                T.PLATFORM_EVENT_ID: end.decided_by[1],
                T.OBSERVED_BY: end.observed_by,
                T.PLATFORM_ERROR: end.error,
                T.PLATFORM_RUN_ID: end.platform_run_id,
                T.PREVIOUS_RUN_ID: end.previous_run_id,
                T.RECONCILIATION: p.reconciliation,
            }
        )
    if p.step is None:
        optional[T.CONTEXT] = p.context or None
        optional[T.PLATFORM] = p.context.get(Field.PLATFORM)
        started = p.started_at or p.first_event_time or ""
        optional[T.PIPELINE_SK] = f"{sortable_time(started)}#{key.pk}#{key.sk}"
        if p.active:
            optional[T.ACTIVE_PK] = T.ACTIVE_PARTITION
            optional[T.ACTIVE_SK] = f"{sortable_time(p.last_event_time or '')}#{key.pk}#{key.sk}"
    attrs.update((name, value) for name, value in optional.items() if value is not None)
    serialised = {name: _serializer.serialize(value) for name, value in attrs.items()}
    return {**item.extra, **serialised}


def _from_item(raw: Mapping[str, Any]) -> Stored:
    values = {name: _plain(_deserializer.deserialize(value)) for name, value in raw.items()}
    status_time, status_id = values.get(T.STATUS_EVENT_TIME), values.get(T.STATUS_EVENT_ID)
    # ``status`` is the verdict; lineage's own status is ``lineage_status`` (items written before the
    # platform's account existed hold only ``status``, which was lineage's then)
    status = values.get(T.LINEAGE_STATUS, values.get(T.STATUS, RunStatus.RUNNING))
    platform = None
    if values.get(T.PLATFORM_STATUS) and values.get(T.PLATFORM_EVENT_ID):
        platform = PlatformEnd(
            status=values[T.PLATFORM_STATUS],
            state=values.get(T.PLATFORM_STATE, values[T.PLATFORM_STATUS]),
            decided_by=(values.get(T.PLATFORM_ENDED_AT, ""), values[T.PLATFORM_EVENT_ID]),
            observed_by=values.get(T.OBSERVED_BY, ""),
            error=values.get(T.PLATFORM_ERROR),
            platform_run_id=values.get(T.PLATFORM_RUN_ID),
            previous_run_id=values.get(T.PREVIOUS_RUN_ID),
        )
    progress = Progress(
        pipeline_id=values[T.PIPELINE_ID],
        run_id=values[T.RUN_ID],
        attempt=values[T.ATTEMPT],
        step=values.get(T.STEP),
        status=status if status in RunStatus.RANK else RunStatus.RUNNING,
        status_event=(status_time, status_id) if status_time and status_id else None,
        error=values.get(T.ERROR),
        started_at=values.get(T.STARTED_AT),
        first_event_time=values.get(T.FIRST_EVENT_TIME),
        last_event_time=values.get(T.LAST_EVENT_TIME),
        events=values.get(T.EVENT_COUNT, 0),
        reads=values.get(T.READ_COUNT, 0),
        writes=values.get(T.WRITE_COUNT, 0),
        transforms=values.get(T.TRANSFORM_COUNT, 0),
        inputs=set(values.get(T.INPUTS, ())),
        outputs=set(values.get(T.OUTPUTS, ())),
        context=dict(values.get(T.CONTEXT, {})),
        observed_events=values.get(T.OBSERVED_EVENT_COUNT, 0),
        platform=platform,
    )
    extra = {name: value for name, value in raw.items() if name not in _MANAGED}
    return Stored(progress, values.get(T.VERSION, 0), extra)


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: integers become int again, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value
