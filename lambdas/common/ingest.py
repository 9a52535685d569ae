"""One delivered CloudWatch Logs batch → archive objects, valid events for the run state, and counts.

Pure: no AWS calls, no clock (the time of receipt is passed in). Every log event of the batch ends
in exactly one of three places, and ``Counts`` proves it: archived (a valid event, under ``events/``),
quarantined (looked like lineage but was refused, under ``quarantine/`` with the original message and
the reason) or ignored (not lineage). Archived lines are the producer's JSON text with an ``ingest``
object appended (lineage_lib.plane.Ingest), so the event itself is kept byte for byte.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from lambdas.common.archive import ArchiveObject
from lambdas.common.extract import Found, find_event
from lambdas.common.run_state import state_view
from lineage_lib import contract
from lineage_lib._schema_compiler import SchemaViolation
from lineage_lib.contract import Field
from lineage_lib.plane import (
    Ingest,
    Quarantine,
    QuarantineCode,
    event_date_of,
    event_object_key,
    log_date_of,
    quarantine_object_key,
)

_dumps: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
# jsonschema's best_match costs ~0.8 ms per refused event: a batch of nothing but schema violations
# would outlast the function's timeout. The first ones of a batch get its precise reason; the rest
# get the compiled validator's own (also exact about path and rule, terser in wording).
MAX_EXPLAINED_PER_BATCH: Final = 50


@dataclass(frozen=True)
class LogEvent:
    """One CloudWatch log event as the subscription delivers it."""

    id: str
    timestamp: int  # milliseconds since the epoch
    message: str


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
    received: int = 0
    archived: int = 0
    quarantined: int = 0
    ignored: int = 0

    @property
    def balanced(self) -> bool:
        return self.received == self.archived + self.quarantined + self.ignored


@dataclass
class Outcome:
    batch_id: str
    counts: Counts
    objects: list[ArchiveObject]
    events: list[dict[str, Any]]  # the valid events' fields the run state reads (run_state.state_view)
    reasons: Counter[str] = field(default_factory=Counter)  # quarantine codes
    ignored_ids: list[str] = field(default_factory=list)  # CloudWatch ids of the ignored log events


def batch_id_of(delivery: Delivery) -> str:
    """A name for the batch that is the same on every redelivery of it: the time of its first log
    event (so keys sort by time) and a digest of where it comes from and the ids of its log events."""
    digest = hashlib.sha256(f"{delivery.owner}\n{delivery.log_group}\n{delivery.log_stream}".encode())
    for log_event in delivery.log_events:
        digest.update(b"\n" + log_event.id.encode())
    return f"{delivery.first_timestamp:013d}-{digest.hexdigest()[:24]}"


def ingest(
    delivery: Delivery,
    *,
    region: str,
    received_at: datetime,
    validator_version: str,
) -> Outcome:
    """Sort every log event of a batch into archived, quarantined or ignored."""
    batch_id = batch_id_of(delivery)
    ingest_fields = {
        Ingest.INGESTED_AT: received_at.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
        Ingest.LOG_GROUP: delivery.log_group,
        Ingest.LOG_STREAM: delivery.log_stream,
        Ingest.ACCOUNT: delivery.owner,
        Ingest.REGION: region,
        Ingest.BATCH_ID: batch_id,
        Ingest.VALIDATOR_VERSION: validator_version,
    }
    # Every archived line ends the same way but for the log event's id and timestamp: build the
    # constant part once per batch, and splice it onto the producer's own JSON text.
    tail_open = f',"{Ingest.KEY}":' + _dumps(ingest_fields)[:-1] + f',"{Ingest.LOG_EVENT_ID}":'
    tail_time = f',"{Ingest.LOG_TIMESTAMP}":'

    counts = Counts(received=len(delivery.log_events))
    partitions: dict[tuple[str, str], ArchiveObject] = {}
    # The quarantine's date comes from the batch, not the clock: a retry after midnight builds the
    # same key, and its conditional write finds the object there.
    quarantine = ArchiveObject(quarantine_object_key(log_date_of(delivery.first_timestamp), batch_id))
    valid: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    ignored: list[str] = []
    refusal_of = _Refusals()

    for log_event in delivery.log_events:
        found = find_event(log_event.message)
        if found is None:
            ignored.append(log_event.id)
            continue
        refusal = refusal_of(found)
        if refusal is not None:
            reasons[refusal[Quarantine.CODE]] += 1
            quarantine.lines.append(_quarantine_line(found, log_event, refusal, ingest_fields))
            continue
        event = found.event
        assert event is not None  # an unparsed candidate is refused
        partition = (event_date_of(event[Field.EVENT_TIME]), event[Field.PIPELINE_ID])
        target = partitions.get(partition)
        if target is None:
            target = partitions[partition] = ArchiveObject(event_object_key(*partition, batch_id))
        target.lines.append(
            f"{found.text[:-1]}{tail_open}{_dumps(log_event.id)}{tail_time}{log_event.timestamp}}}}}"
        )
        valid.append(state_view(event))

    counts.archived = len(valid)
    counts.quarantined = len(quarantine.lines)
    counts.ignored = len(ignored)
    objects = [partitions[p] for p in sorted(partitions)]
    if quarantine.lines:
        objects.append(quarantine)
    return Outcome(batch_id, counts, objects, valid, reasons, ignored)


class _Refusals:
    """Why a lineage candidate is refused (its quarantine ``reason``), or None when it is valid.

    One per batch: it counts how many schema violations may still get jsonschema's wording.
    """

    def __init__(self) -> None:
        self.explanations_left = MAX_EXPLAINED_PER_BATCH

    def __call__(self, found: Found) -> dict[str, str] | None:
        event = found.event
        if event is None:
            return _reason(QuarantineCode.INVALID_JSON, f"not valid JSON (truncated?): {found.parse_error}")
        version = event.get(Field.SCHEMA_VERSION)
        if version is None:
            return _reason(QuarantineCode.MISSING_SCHEMA_VERSION, "the event declares no schema_version")
        if not isinstance(version, str) or version not in contract.known_versions():
            known = ", ".join(contract.known_versions())
            return _reason(
                QuarantineCode.UNKNOWN_SCHEMA_VERSION,
                f"schema_version {version!r} is not one this validator knows ({known}); deploy the "
                "plane's newer version, then replay the quarantine",
            )
        if len(found.text) * 4 > contract.MAX_EVENT_BYTES:  # 4 bytes per character at most
            size = len(found.text.encode("utf-8", errors="backslashreplace"))  # as the archive writes it
            if size > contract.MAX_EVENT_BYTES:
                return _reason(
                    QuarantineCode.OVERSIZE,
                    f"the event is {size} bytes, over the contract's {contract.MAX_EVENT_BYTES}-byte limit",
                )
        try:
            contract.compiled_validator(version)(event)  # compiled once per process and version
        except SchemaViolation as violation:
            self.explanations_left -= 1
            return _schema_reason(event, violation, explain=self.explanations_left >= 0)
        return None


def _schema_reason(event: Mapping[str, Any], violation: SchemaViolation, *, explain: bool) -> dict[str, str]:
    # The reference validator names the most relevant error precisely; the compiled one's report is
    # the fallback when jsonschema is not installed or the batch's budget is spent.
    explained = None
    if explain:
        try:
            explained = contract.explain(event)
        except ImportError:
            explained = None
    if explained is not None:
        return _reason(QuarantineCode.SCHEMA_VIOLATION, explained.reason, explained.path, explained.rule)
    path = ".".join(str(part) for part in violation.path)
    return _reason(QuarantineCode.SCHEMA_VIOLATION, violation.message, path, violation.rule)


def _reason(code: str, detail: str, path: str = "", rule: str = "") -> dict[str, str]:
    reason = {Quarantine.CODE: code, Quarantine.DETAIL: detail}
    if path:
        reason[Quarantine.PATH] = path
    if rule:
        reason[Quarantine.RULE] = rule
    return reason


def _quarantine_line(
    found: Found, log_event: LogEvent, reason: dict[str, str], ingest_fields: Mapping[str, Any]
) -> str:
    line: dict[str, Any] = {}
    if found.event is not None:
        for name in (Quarantine.EVENT_ID, Quarantine.SCHEMA_VERSION):
            value = found.event.get(name)
            if isinstance(value, str):
                line[name] = value
    line[Quarantine.REASON] = reason
    line[Quarantine.MESSAGE] = log_event.message
    line[Ingest.KEY] = {
        **ingest_fields,
        Ingest.LOG_EVENT_ID: log_event.id,
        Ingest.LOG_TIMESTAMP: log_event.timestamp,
    }
    return _dumps(line)
