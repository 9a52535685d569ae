"""The run-state table in DynamoDB: exactly-once application of events to attempts and steps.

An invocation's events are grouped by run attempt; each group is committed in transactions of at most
100 writes that put one marker per event id (``attribute_not_exists``) together with the new state of
the attempt and step items it touches (conditioned on the version read). A marker that already exists
means the event was applied before (a redelivered batch, a duplicated log line): it is dropped and
counted as a duplicate, and the rest is committed. A version that moved means another writer got
there first: the items are read again and the fold is redone. Because the fold is commutative
(lineage_plane.run_state), the result does not depend on which writer wins.

A transaction DynamoDB refuses for its content (a ValidationException, a cancellation reason that
is neither a condition nor a race, a value the serializer cannot write) never fails the batch: it
is split in halves, down to the one event it cannot hold, which is left out and reported
(``ApplyResult.refused``) while every other event is applied. lineage_plane.state_limits keeps
such events out before the archive is written; this is the defence behind it.

Each marker records the log event its event was applied from (``delivered_as``): ``delivered``
reads them back, so that the validator archives nothing twice when the same log events come again,
batched otherwise.

Requests: one BatchGetItem per 100 items touched, one TransactWriteItems per ~90 events, and
``delivered``'s one eventually consistent BatchGetItem per 100 event ids.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import ClientError, ParamValidationError

from lambdas.common.errors import RunStateConflictError
from lambdas.common.state_chunks import chunks, fold_into, keys, order
from lambdas.common.state_items import Stored, from_item, to_item
from lineage_lib.contract import Field
from lineage_plane.layout import sortable_time
from lineage_plane.run_state import DELIVERED_AS, ItemKey, Progress, keys_of
from lineage_plane.run_table import EVENT_MARKER_SK, RunStateTable, event_marker_pk

__all__ = ["ApplyResult", "Delivered", "RunStateStore", "Stored"]

T = RunStateTable
MAX_BATCH_GET_KEYS: Final = 100


@dataclass
class ApplyResult:
    applied: int = 0
    duplicates: int = 0
    requests: int = 0
    applied_ids: set[str] = field(default_factory=set)  # the event ids applied by this call
    # event id → why DynamoDB refused the one-event transaction that was left of it
    refused: dict[str, str] = field(default_factory=dict)


@dataclass
class Delivered:
    """Which events (their ``delivered_as``) were applied from these same log events before."""

    identities: set[str] = field(default_factory=set)
    requests: int = 0


class _Refused(Exception):
    """A transaction DynamoDB will refuse whenever it is sent, for what it holds."""

    def __init__(self, pending: list[Mapping[str, Any]], reason: str) -> None:
        super().__init__(reason)
        self.pending = pending
        self.reason = reason


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
        touched = {key for group in by_attempt.values() for e in group.values() for key in keys(e)}
        stored = self._load(touched, result)
        for attempt_key in sorted(by_attempt, key=lambda k: (k.pk, k.sk)):
            ordered = sorted(by_attempt[attempt_key].values(), key=order)
            for chunk in chunks(ordered):
                self._commit(chunk, stored, result)
        return result

    def delivered(self, events: Iterable[Mapping[str, Any]]) -> Delivered:
        """Of these state views, the ``delivered_as`` of those whose marker says they were applied
        from the very same log event (not merely the same event id: a log line's claims are not its
        identity). Eventually consistent reads: a marker written a moment ago may be missed, and the
        event is then archived a second time (the queries count each event id once)."""
        wanted: dict[str, set[str]] = {}
        for event in events:
            identity = event.get(DELIVERED_AS)
            if identity is not None:
                wanted.setdefault(event_marker_pk(event[Field.EVENT_ID]), set()).add(identity)
        found = Delivered()
        markers = sorted(wanted)
        for start in range(0, len(markers), MAX_BATCH_GET_KEYS):
            batch = markers[start : start + MAX_BATCH_GET_KEYS]
            keys = [{T.PK: {"S": pk}, T.SK: {"S": EVENT_MARKER_SK}} for pk in batch]
            request: dict[str, Any] = {
                self._table: {
                    "Keys": keys,
                    "ProjectionExpression": "#pk, #d",
                    "ExpressionAttributeNames": {"#pk": T.PK, "#d": T.MARKER_DELIVERED_AS},
                }
            }
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                found.requests += 1
                for raw in response.get("Responses", {}).get(self._table, []):
                    identity = raw.get(T.MARKER_DELIVERED_AS, {}).get("S")
                    if identity in wanted.get(raw[T.PK]["S"], ()):
                        found.identities.add(identity)
                request = response.get("UnprocessedKeys") or {}
                if request:
                    self._sleep(0.05 + random.random() * 0.1)
        return found

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
            found += [from_item(raw).progress for raw in response.get("Items", [])]
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
                    item = from_item(raw)
                    loaded[item.progress.key] = item
                request = response.get("UnprocessedKeys") or {}
                if request:
                    self._sleep(0.05 + random.random() * 0.1)
        return loaded

    # --- writing ----------------------------------------------------------------------------------

    def _commit(
        self, chunk: list[Mapping[str, Any]], stored: dict[ItemKey, Stored], result: ApplyResult
    ) -> None:
        """Commit a chunk; one that DynamoDB refuses for what it holds is split, down to the event."""
        try:
            self._commit_chunk(chunk, stored, result)
        except _Refused as refused:
            pending = refused.pending
            if len(pending) == 1:
                result.refused[pending[0][Field.EVENT_ID]] = refused.reason
                return
            half = len(pending) // 2
            for part in (pending[:half], pending[half:]):
                self._commit(part, stored, result)

    def _commit_chunk(
        self, chunk: list[Mapping[str, Any]], stored: dict[ItemKey, Stored], result: ApplyResult
    ) -> None:
        pending = list(chunk)
        for attempt in range(self._max_tries):
            if not pending:
                return
            updated = fold_into(pending, stored)
            expires = int(self._clock()) + self._dedup_ttl
            try:
                actions = [self._marker_put(e, expires) for e in pending]
                actions += [self._item_put(key, item) for key, item in updated.items()]
                self._client.transact_write_items(TransactItems=actions)
            except (ArithmeticError, TypeError, ParamValidationError) as err:  # refused before sending
                raise _Refused(pending, f"{type(err).__name__}: {err}") from err
            except ClientError as err:
                result.requests += 1
                error = err.response.get("Error", {})
                if error.get("Code") in _REFUSED_REQUEST:
                    raise _Refused(pending, f"{error.get('Code')}: {error.get('Message', '')}") from err
                if error.get("Code") != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code", "None") for r in err.response.get("CancellationReasons", [])]
                marker_reasons, item_reasons = reasons[: len(pending)], reasons[len(pending) :]
                repeated = {i for i, code in enumerate(marker_reasons) if code == _CONDITION_FAILED}
                stale = [k for k, c in zip(updated, item_reasons, strict=False) if c == _CONDITION_FAILED]
                result.duplicates += len(repeated)
                pending = [e for i, e in enumerate(pending) if i not in repeated]
                refused = {c for c in reasons if c not in _PASSED and c != _CONDITION_FAILED} - _TRANSIENT
                if refused and pending:  # not a race to retry: what the transaction holds is refused
                    raise _Refused(pending, "cancelled: " + ", ".join(sorted(refused))) from err
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
        identity = event.get(DELIVERED_AS)
        delivered = {} if identity is None else {T.MARKER_DELIVERED_AS: {"S": identity}}
        return {
            "Put": {
                "TableName": self._table,
                "Item": {
                    T.PK: {"S": event_marker_pk(event[Field.EVENT_ID])},
                    T.SK: {"S": EVENT_MARKER_SK},
                    T.KIND: {"S": T.KIND_EVENT},
                    T.MARKER_ATTEMPT: {"S": f"{attempt_key.pk}/{attempt_key.sk}"},
                    T.TTL: {"N": str(expires)},
                    **delivered,
                },
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": T.PK},
            }
        }

    def _item_put(self, key: ItemKey, item: Stored) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self._table, "Item": to_item(item)}
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
# Errors of a whole request that no retry changes: what it holds is refused (a key or an item too
# large, a value DynamoDB cannot store).
_REFUSED_REQUEST: Final = frozenset({"ValidationException"})
# Cancellation reasons that go away on their own: another transaction on the item, throttling.
_TRANSIENT: Final = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)


def _key_attrs(key: ItemKey) -> dict[str, Any]:
    return {T.PK: {"S": key.pk}, T.SK: {"S": key.sk}}
