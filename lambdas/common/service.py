"""The validator's work for one delivered batch: sort it, archive it, then apply it to the run state.

The archive is written first and its failure raises, so Lambda retries the whole batch; the run
state is written only once the batch is archived, so it never refers to an event the archive lacks.
A retry rebuilds the same object keys (conditional writes skip what exists) and the run state skips
event ids it has applied: nothing is lost and nothing is counted twice.

Before the archive is written, the run state's markers say which events were applied from these
very log events by an earlier delivery (the same batch retried after its run-state write, or the
same log events batched otherwise): they are left out of the archive objects and the run state, and
counted as already archived. Those objects exist already (an event is applied only after its batch
was archived), so a retry of the same batch still finds its keys there, and a delivery batched
otherwise stores nothing twice. Two deliveries of the same log events racing between this read and
their run-state writes can both archive them: the one place such duplicates exist.

An event DynamoDB still refuses (lambdas.common.state_store isolates it) stays archived, and gets a
quarantine line with the reason (``run_state_refused``), in an object of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lambdas.common.archive import ArchiveWriter
from lambdas.common.settings import Settings
from lambdas.common.state_store import RunStateStore
from lineage_lib.contract import Field
from lineage_lib.version import __version__
from lineage_plane.archive_object import ArchiveObject
from lineage_plane.ingest import Delivery, LogEvent, Outcome, ingest, unreadable_object
from lineage_plane.layout import moment_of
from lineage_plane.run_table import Observer


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
    # of the archived: applied by an earlier delivery of the same log events, so not archived again
    already_archived: int = 0
    # of the archived: refused by DynamoDB, event id → its reason (quarantined as well)
    state_refused: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        """Counts in events: received = archived + quarantined + ignored (see ingest.Counts)."""
        counts = self.outcome.counts
        return {
            "received": counts.received,
            "archived": counts.archived,
            "quarantined": counts.quarantined,
            "ignored": counts.ignored,
            "log_events": counts.log_events,
            "already_archived": self.already_archived,
            "run_state_refused": len(self.state_refused),
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
        delivered = self._run_state.delivered(outcome.events)
        report.dynamodb_requests = delivered.requests
        before = delivered.identities
        report.already_archived = sum(accepted.delivered_as in before for accepted in outcome.accepted)
        self._write(report, outcome.archive_objects(leave_out=before) if before else outcome.objects)
        applied = self._run_state.apply(
            [a.view for a in outcome.accepted if a.delivered_as not in before] if before else outcome.events
        )
        report.duplicates = applied.duplicates + report.already_archived
        report.applied_ids = applied.applied_ids
        report.dynamodb_requests += applied.requests
        if applied.refused:
            report.state_refused = applied.refused
            self._write(report, [outcome.state_refused_object(applied.refused)])
        return report

    def keep_unreadable(self, payload: str, problem: str) -> str:
        """Quarantine a payload that is no subscription's (retrying it cannot help); its object key."""
        obj = unreadable_object(
            payload, problem, region=self._region, received_at=self._clock(), validator_version=self._version
        )
        self._archive.write([obj])
        return obj.key

    def _write(self, report: Report, objects: list[ArchiveObject]) -> None:
        written = self._archive.write(objects)
        report.objects_written += written.written
        report.objects_already_present += written.already_present
        report.s3_requests += written.requests


def observed_delivery(
    events: Sequence[Mapping[str, Any]], *, observer: str, account: str, stream: str
) -> Delivery:
    """Events an observer of the plane wrote (lineage_plane.run_table.Observer), as a delivery that the
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
