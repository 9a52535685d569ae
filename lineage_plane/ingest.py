"""One delivered CloudWatch Logs batch → archive objects, valid events for the run state, and counts.

Pure: no AWS calls, no clock (the time of receipt is passed in). Every lineage event found in the
batch's log messages (several per message when a job printed them in one write: extract.py) ends in
exactly one place, and ``Counts`` proves it, over events rather than messages: archived (a valid
event, under ``events/``), quarantined (looked like lineage but was refused, under ``quarantine/``
with the original message and the reason) or ignored (a message without lineage). Archived lines
are the producer's JSON text with an ``ingest`` object appended (lineage_plane.layout.Ingest), so the
event itself is kept byte for byte; ``ingest.log_event_id`` and ``ingest.event_index`` name the log
event and the event's place in its message.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from lineage_lib.contract import Field
from lineage_plane.archive_object import ArchiveObject
from lineage_plane.extract import Found, find_events
from lineage_plane.layout import (
    Archive,
    Ingest,
    Quarantine,
    QuarantineCode,
    event_date_of,
    event_object_key,
    log_date_of,
    quarantine_object_key,
)
from lineage_plane.refusals import Refusals, reason, state_reason
from lineage_plane.run_state import DELIVERED_AS, state_view
from lineage_plane.state_limits import state_refusal

_dumps: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
# The quarantine object of events that DynamoDB refused after the batch was archived (Validator).
RUN_STATE_REFUSED_SUFFIX: Final = "-run-state"
# The quarantine object of a payload that is not a subscription's, named by a digest of it.
UNREADABLE_PREFIX: Final = "unreadable-"


@dataclass(frozen=True)
class LogEvent:
    """One CloudWatch log event as the subscription delivers it."""

    id: str
    timestamp: int  # milliseconds since the epoch
    message: str
    # lineage replay: only the event at this index of the message (a quarantine line names one)
    only_event: int | None = None


@dataclass(frozen=True)
class Delivery:
    """A decoded subscription payload of type DATA_MESSAGE: one log stream's batch."""

    owner: str  # the account that owns the log group
    log_group: str
    log_stream: str
    log_events: Sequence[LogEvent]

    @functools.cached_property
    def first_timestamp(self) -> int:
        """CloudWatch's timestamp of the batch's first log event (0 for an empty batch)."""
        return min((e.timestamp for e in self.log_events), default=0)


@dataclass
class Counts:
    """Counted in events. ``received`` is every lineage event found in the batch's messages, plus
    each message in which none was found (``ignored``); ``log_events`` is how many messages came."""

    received: int = 0
    archived: int = 0
    quarantined: int = 0
    ignored: int = 0
    log_events: int = 0

    @property
    def balanced(self) -> bool:
        return self.received == self.archived + self.quarantined + self.ignored


@dataclass(slots=True)
class Accepted:
    """A valid event: its archived line and partition, and what the run state reads of it."""

    partition: tuple[str, str]  # (event_date, pipeline_id)
    line: str
    view: dict[str, Any]  # run_state.state_view, with the log event it came in (DELIVERED_AS)
    log_event: LogEvent
    index: int  # within its message

    @property
    def delivered_as(self) -> str:
        value: str = self.view[DELIVERED_AS]
        return value


@dataclass
class Outcome:
    batch_id: str
    counts: Counts
    accepted: list[Accepted]
    quarantine: ArchiveObject
    reasons: Counter[str] = field(default_factory=Counter)  # quarantine codes
    ignored_ids: list[str] = field(default_factory=list)  # CloudWatch ids of the ignored log events
    ingest_fields: dict[str, Any] = field(default_factory=dict)

    @property
    def events(self) -> list[dict[str, Any]]:
        """The valid events' fields the run state reads (run_state.state_view)."""
        return [accepted.view for accepted in self.accepted]

    @functools.cached_property
    def objects(self) -> list[ArchiveObject]:
        return self.archive_objects()

    def archive_objects(self, leave_out: Collection[str] = ()) -> list[ArchiveObject]:
        """One object per partition of the valid events, then the quarantine's; ``leave_out`` names
        events (Accepted.delivered_as) an earlier delivery of the same log events archived."""
        partitions: dict[tuple[str, str], ArchiveObject] = {}
        for accepted in self.accepted:
            if accepted.delivered_as in leave_out:
                continue
            target = partitions.get(accepted.partition)
            if target is None:
                key = event_object_key(*accepted.partition, self.batch_id)
                target = partitions[accepted.partition] = ArchiveObject(key)
            target.lines.append(accepted.line)
        objects = [partitions[p] for p in sorted(partitions)]
        return [*objects, self.quarantine] if self.quarantine.lines else objects

    def state_refused_object(self, refused: Mapping[str, str]) -> ArchiveObject:
        """Quarantine lines for archived events whose run-state write DynamoDB refused (event id →
        DynamoDB's reason), at a key of their own beside the batch's quarantine object."""
        suffix = Archive.OBJECT_SUFFIX
        key = self.quarantine.key.removesuffix(suffix) + RUN_STATE_REFUSED_SUFFIX + suffix
        refusals = ArchiveObject(key)
        for accepted in self.accepted:
            detail = refused.get(accepted.view[Field.EVENT_ID])
            if detail is None:
                continue
            why = reason(
                QuarantineCode.RUN_STATE_REFUSED,
                f"archived under events/, but DynamoDB refused its run-state write: {detail}",
                rule="dynamodb",
            )
            line = _quarantine_line(accepted.view, accepted.log_event, accepted.index, why, self)
            refusals.lines.append(line)
        return refusals


def batch_id_of(delivery: Delivery) -> str:
    """A name for the batch that is the same on every redelivery of it: the time of its first log
    event (so keys sort by time) and a digest of where it comes from and the ids of its log events."""
    digest = hashlib.sha256(f"{delivery.owner}\n{delivery.log_group}\n{delivery.log_stream}".encode())
    for log_event in delivery.log_events:
        digest.update(b"\n" + log_event.id.encode())
    return f"{delivery.first_timestamp:013d}-{digest.hexdigest()[:24]}"


def _source_of(delivery: Delivery) -> str:
    """The start of every ``delivered_as`` of a batch (a JSON array's start): made once per batch."""
    return _dumps([delivery.owner, delivery.log_group, delivery.log_stream])[:-1] + ","


def _delivered_as(source: str, log_event_id: str, index: int) -> str:
    """The identity of one event as delivered: where its log event came from (``_source_of``), the
    log event and the event's place in the message. The same on every delivery of that log event,
    whatever the batching; never taken from the event itself."""
    return f"{source}{_dumps(log_event_id)},{index}]"


def _rfc3339_millis(moment: datetime) -> str:
    """``2026-11-21T03:12:01.125Z``: the contract's form of a time, as ``ingest.ingested_at`` holds it."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def ingest(
    delivery: Delivery,
    *,
    region: str,
    received_at: datetime,
    validator_version: str,
) -> Outcome:
    """Sort every lineage event of a batch into archived or quarantined, and messages without one
    into ignored."""
    batch_id = batch_id_of(delivery)
    ingest_fields = {
        Ingest.INGESTED_AT: _rfc3339_millis(received_at),
        Ingest.LOG_GROUP: delivery.log_group,
        Ingest.LOG_STREAM: delivery.log_stream,
        Ingest.ACCOUNT: delivery.owner,
        Ingest.REGION: region,
        Ingest.BATCH_ID: batch_id,
        Ingest.VALIDATOR_VERSION: validator_version,
    }
    # Every archived line ends the same way but for the log event's id, index and timestamp: build
    # the constant part once per batch, and splice it onto the producer's own JSON text.
    tail_open = f',"{Ingest.KEY}":' + _dumps(ingest_fields)[:-1] + f',"{Ingest.LOG_EVENT_ID}":'
    tail_index = f',"{Ingest.EVENT_INDEX}":'
    tail_time = f',"{Ingest.LOG_TIMESTAMP}":'

    # The quarantine's date comes from the batch, not the clock: a retry after midnight builds the
    # same key, and its conditional write finds the object there.
    quarantine = ArchiveObject(quarantine_object_key(log_date_of(delivery.first_timestamp), batch_id))
    outcome = Outcome(batch_id, Counts(log_events=len(delivery.log_events)), [], quarantine)
    outcome.ingest_fields = ingest_fields
    refusal_of = Refusals()
    source = _source_of(delivery)

    for log_event in delivery.log_events:
        found_events = _selected(find_events(log_event.message), log_event.only_event)
        if not found_events:
            outcome.ignored_ids.append(log_event.id)
            continue
        for index, found in found_events:
            event, why = found.event, refusal_of(found)
            if event is None or why is not None:  # an unparsed candidate is always refused
                outcome.reasons[why[Quarantine.CODE] if why else QuarantineCode.INVALID_JSON] += 1
                quarantine.lines.append(_quarantine_line(event, log_event, index, why or {}, outcome))
                continue
            view = state_view(event)
            view[DELIVERED_AS] = _delivered_as(source, log_event.id, index)
            refused = state_refusal(view)
            if refused is not None:
                outcome.reasons[QuarantineCode.RUN_STATE_REFUSED] += 1
                why = state_reason(refused)
                quarantine.lines.append(_quarantine_line(event, log_event, index, why, outcome))
                continue
            line = (
                f"{found.text[:-1]}{tail_open}{_dumps(log_event.id)}{tail_index}{index}"
                f"{tail_time}{log_event.timestamp}}}}}"
            )
            partition = (event_date_of(event[Field.EVENT_TIME]), event[Field.PIPELINE_ID])
            outcome.accepted.append(Accepted(partition, line, view, log_event, index))

    counts = outcome.counts
    counts.archived = len(outcome.accepted)
    counts.quarantined = len(quarantine.lines)
    counts.ignored = len(outcome.ignored_ids)
    counts.received = counts.archived + counts.quarantined + counts.ignored
    return outcome


def unreadable_object(
    payload: str, problem: str, *, region: str, received_at: datetime, validator_version: str
) -> ArchiveObject:
    """A payload that is no subscription's (lambdas.common.errors.UnreadableDeliveryError), kept
    whole as one quarantine line. It has no batch to date it: its ``log_date`` is the day it was
    received, and its name a digest of its content, so a repeat of the same payload that day is
    written once."""
    digest = hashlib.sha256(payload.encode("utf-8", errors="backslashreplace")).hexdigest()[:24]
    received = received_at.astimezone(UTC)
    name = f"{UNREADABLE_PREFIX}{digest}"
    key = quarantine_object_key(received.date().isoformat(), name)
    line = {
        Quarantine.REASON: reason(QuarantineCode.UNREADABLE_DELIVERY, problem),
        Quarantine.MESSAGE: payload,
        Ingest.KEY: {
            Ingest.INGESTED_AT: _rfc3339_millis(received),
            Ingest.REGION: region,
            Ingest.BATCH_ID: name,
            Ingest.VALIDATOR_VERSION: validator_version,
        },
    }
    return ArchiveObject(key, [_dumps(line)])


def _selected(found: list[Found], only: int | None) -> list[tuple[int, Found]]:
    if only is None:
        return list(enumerate(found))
    return [(only, found[only])] if 0 <= only < len(found) else []


def _quarantine_line(
    event: Mapping[str, Any] | None, log_event: LogEvent, index: int, why: Mapping[str, str], outcome: Outcome
) -> str:
    line: dict[str, Any] = {}
    if event is not None:
        for name in (Quarantine.EVENT_ID, Quarantine.SCHEMA_VERSION):
            value = event.get(name)
            if isinstance(value, str):
                line[name] = value
    line[Quarantine.REASON] = dict(why)
    line[Quarantine.MESSAGE] = log_event.message
    line[Ingest.KEY] = {
        **outcome.ingest_fields,
        Ingest.LOG_EVENT_ID: log_event.id,
        Ingest.EVENT_INDEX: index,
        Ingest.LOG_TIMESTAMP: log_event.timestamp,
    }
    return _dumps(line)
