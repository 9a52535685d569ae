"""The validator's work for one delivered batch: sort it, archive it, then apply it to the run state.

The archive is written first and its failure raises, so Lambda retries the whole batch; the run
state is written only once the batch is archived, so it never refers to an event the archive lacks.
A retry rebuilds the same object keys (conditional writes skip what exists) and the run state skips
event ids it has applied: nothing is lost and nothing is counted twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lambdas.common.archive import ArchiveWriter
from lambdas.common.ingest import Delivery, LogEvent, Outcome, ingest
from lambdas.common.settings import Settings
from lambdas.common.state_store import RunStateStore
from lineage_lib.contract import Field
from lineage_lib.plane import Observer, moment_of
from lineage_lib.version import __version__


@dataclass
class Report:
    """What one invocation did, for the metrics, the logs and the handler's return value."""

    outcome: Outcome
    objects_written: list[str] = field(default_factory=list)
    objects_already_present: list[str] = field(default_factory=list)
    duplicates: int = 0
    applied_ids: set[str] = field(default_factory=set)
    s3_requests: int = 0
    dynamodb_requests: int = 0

    def summary(self) -> dict[str, int]:
        counts = self.outcome.counts
        return {
            "received": counts.received,
            "archived": counts.archived,
            "quarantined": counts.quarantined,
            "ignored": counts.ignored,
            "duplicates": self.duplicates,
            "objects_written": len(self.objects_written),
            "objects_already_present": len(self.objects_already_present),
        }


class Validator:
    """Processes deliveries with an injected archive writer and run-state store."""

    def __init__(
        self,
        archive: ArchiveWriter,
        run_state: RunStateStore,
        *,
        region: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        version: str = __version__,
    ) -> None:
        self._archive = archive
        self._run_state = run_state
        self._region = region
        self._clock = clock
        self._version = version

    @classmethod
    def from_settings(cls, settings: Settings, *, s3: Any, dynamodb: Any) -> Validator:
        return cls(
            ArchiveWriter(s3, settings.archive_bucket),
            RunStateStore(dynamodb, settings.run_state_table, dedup_ttl_seconds=settings.dedup_ttl_seconds),
            region=settings.region,
        )

    @property
    def run_state(self) -> RunStateStore:
        return self._run_state

    def process(self, delivery: Delivery) -> Report:
        outcome = ingest(
            delivery, region=self._region, received_at=self._clock(), validator_version=self._version
        )
        report = Report(outcome)
        written = self._archive.write(outcome.objects)
        report.objects_written = written.written
        report.objects_already_present = written.already_present
        report.s3_requests = written.requests
        applied = self._run_state.apply(outcome.events)
        report.duplicates = applied.duplicates
        report.applied_ids = applied.applied_ids
        report.dynamodb_requests = applied.requests
        return report


def observed_delivery(
    events: Sequence[Mapping[str, Any]], *, observer: str, account: str, stream: str
) -> Delivery:
    """Events an observer of the plane wrote (lineage_lib.plane.Observer), as a delivery that the
    validator's ingest takes like any other: read from log group ``lineage-plane/<observer>``, one log
    event per event, named by its event id and timed by its event time, so that the same events
    always make the same batch (and archive keys)."""
    log_events = [
        LogEvent(
            id=event[Field.EVENT_ID],
            timestamp=_epoch_millis(event[Field.EVENT_TIME]),
            message=json.dumps(event, ensure_ascii=False, separators=(",", ":")),
        )
        for event in events
    ]
    return Delivery(
        owner=account,
        log_group=Observer.LOG_GROUP_PREFIX + observer,
        log_stream=stream,
        log_events=log_events,
    )


def _epoch_millis(event_time: str) -> int:
    return int(moment_of(event_time).timestamp() * 1000)
