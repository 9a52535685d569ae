"""The validator's work for one delivered batch: sort it, archive it, then apply it to the run state.

The archive is written first and its failure raises, so Lambda retries the whole batch; the run
state is written only once the batch is archived, so it never refers to an event the archive lacks.
A retry rebuilds the same object keys (conditional writes skip what exists) and the run state skips
event ids it has applied: nothing is lost and nothing is counted twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lambdas.common.archive import ArchiveWriter
from lambdas.common.state_store import RunStateStore
from lambdas.common.ingest import Delivery, Outcome, ingest
from lambdas.common.settings import Settings
from lineage_lib.version import __version__


@dataclass
class Report:
    """What one invocation did, for the metrics, the logs and the handler's return value."""

    outcome: Outcome
    objects_written: list[str] = field(default_factory=list)
    objects_already_present: list[str] = field(default_factory=list)
    duplicates: int = 0
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
        report.dynamodb_requests = applied.requests
        return report
