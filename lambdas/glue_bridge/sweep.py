"""The run reconciler's sweep: running attempts silent for too long, asked about, closed or flagged.

EventBridge delivers Glue's state changes at best once, and a job killed hard never writes its end. On
a schedule, the reconciler reads the attempts of the sparse active-runs index whose last event is
older than a bound, and asks each one's platform:

* Glue (the attempt's context names the job and its run): GetJobRun. Ended: recorded exactly as the
  Glue bridge records it (the same event, so whichever of the two comes first, the other changes
  nothing). Still running: left alone. Unknown to Glue: closed as NOT_FOUND, with a logged error.
* Lambda: no invocation outlives 15 minutes; an attempt silent past that (and the bound) is closed as
  EXPIRED.
* EMR and local runs: no platform to ask; silent past the configured longest run, closed as EXPIRED.

A closed attempt leaves the index, so a sweep never asks about it again; every close is an observed
event with an id derived from the attempt, so a retried sweep writes nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from lambdas.common.errors import PlaneError
from lambdas.common.service import Validator, observed_delivery
from lambdas.common.state_store import RunStateStore
from lambdas.glue_bridge.glue import GlueRunNotFoundError
from lambdas.glue_bridge.service import GlueBridge, Observation
from lineage_lib.contract import Field, Platform
from lineage_plane.layout import moment_of
from lineage_plane.observation import RunKey, lost_run_event, timestamp
from lineage_plane.run_state import Progress
from lineage_plane.run_table import Observer, PlatformState

logger = logging.getLogger(__name__)

LAMBDA_MAX_RUN: Final = timedelta(minutes=15)  # Lambda's longest invocation
MAX_ATTEMPTS_PER_SWEEP: Final = 200  # bounded work per invocation; the next sweep takes the rest


@dataclass
class SweepReport:
    """What one sweep looked at and did."""

    swept: int = 0
    still_running: int = 0
    closed: list[Observation] = field(default_factory=list)  # Glue runs recorded as Glue reports them
    expired: int = 0  # closed by this sweep as EXPIRED (an earlier sweep's close is not counted)
    not_found: int = 0  # closed by this sweep as NOT_FOUND

    def summary(self) -> dict[str, int]:
        return {
            "swept": self.swept,
            "still_running": self.still_running,
            "glue_ended": len(self.closed),
            "glue_ended_new": sum(observation.new for observation in self.closed),
            "expired": self.expired,
            "not_found": self.not_found,
        }


@dataclass
class RunReconciler:
    """Sweeps silent running attempts. ``silent``: how long without an event before asking; ``max_run``:
    how long an EMR or local attempt may go silent before it is closed."""

    bridge: GlueBridge
    validator: Validator
    run_state: RunStateStore
    silent: timedelta
    max_run: timedelta
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    limit: int = MAX_ATTEMPTS_PER_SWEEP

    def sweep(self) -> SweepReport:
        now = self.clock()
        report = SweepReport()
        for progress in self.run_state.silent_attempts(timestamp(now - self.silent), limit=self.limit):
            report.swept += 1
            self._settle(progress, now, report)
        return report

    def _settle(self, progress: Progress, now: datetime, report: SweepReport) -> None:
        context = progress.context
        platform = context.get(Field.PLATFORM)
        job_name, job_run_id = context.get("job_name"), context.get("job_run_id")
        if platform == Platform.GLUE and job_name and job_run_id:
            try:
                run = self.bridge.glue.describe(job_name, job_run_id)
            except GlueRunNotFoundError as err:
                logger.error(str(err), extra={"job_name": job_name, "job_run_id": job_run_id})
                report.not_found += self._close(progress, PlatformState.NOT_FOUND, timedelta(0), str(err))
                return
            if not run.ended:
                report.still_running += 1
                return
            observation = self.bridge.record(run, ended_at=now, observer=Observer.RUN_RECONCILER)
            report.closed.append(observation)
            try:
                self.bridge.add_platform_lineage(observation)
            except PlaneError as err:  # one run's DataZone refusal must not stop the sweep
                logger.error(str(err), extra={"job_run_id": job_run_id})
            return
        limit = LAMBDA_MAX_RUN if platform == Platform.LAMBDA else self.max_run
        last = _moment(progress.last_event_time)
        if last is not None and now - last < limit:
            report.still_running += 1
            return
        message = (
            f"no event for {_minutes(now - last) if last else 'an unknown time'} and no end: longer than a "
            f"{platform or 'run'} attempt can last here ({_minutes(limit)}); closed by the run reconciler"
        )
        report.expired += self._close(progress, PlatformState.EXPIRED, limit, message)

    def _close(self, progress: Progress, state: str, limit: timedelta, message: str) -> bool:
        """Close the attempt as ``state``; False when an earlier sweep already had."""
        key = RunKey(progress.pipeline_id, progress.run_id, progress.attempt)
        last_time = progress.last_event_time or progress.first_event_time or timestamp(self.clock())
        event = lost_run_event(
            key, state=state, context=progress.context or {Field.PLATFORM: Platform.LOCAL},
            last_event_time=last_time, limit=limit, message=message,
        )  # fmt: skip
        delivery = observed_delivery(
            [event], observer=Observer.RUN_RECONCILER, account=self.bridge.account, stream=progress.key.pk
        )
        applied = self.validator.process(delivery)
        return event[Field.EVENT_ID] in applied.applied_ids


def _moment(event_time: str | None) -> datetime | None:
    return moment_of(event_time) if event_time else None


def _minutes(span: timedelta) -> str:
    return f"{int(span.total_seconds() // 60)} min"
