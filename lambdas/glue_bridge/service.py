"""The Glue bridge's work for one ended Glue run: ask Glue, judge the lineage, record what Glue says.

For each run the bridge reads Glue's account (GetJobRun, GetJob), the attempt's run state, and builds
an observed event of the contract (lineage_plane.observation) that goes through the validator's
own code path: validated, archived, folded into the run state. The run state derives the verdict from
both accounts (lineage_plane.run_state), so a terminal lineage event that arrives after Glue's is
still counted; the verdict the bridge reports (metrics, the event's ``reconciliation`` tag) is the one
it saw. A replayed state-change event builds the same event, which changes nothing and counts nothing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from lambdas.common.service import Report, Validator, observed_delivery
from lambdas.common.state_store import RunStateStore
from lambdas.glue_bridge.glue import GlueRunNotFoundError, GlueRuns, GlueStateChange
from lineage_lib.contract import Field
from lineage_plane.observation import GlueRun, RunKey, glue_run_event
from lineage_plane.run_state import ItemKey, reconcile
from lineage_plane.run_table import Observer, PlatformState, Reconciliation, attempt_sk, run_pk

logger = logging.getLogger(__name__)


class PlatformLineage(Protocol):
    """Lineage the platform itself recorded for a run (lambdas.glue_bridge.datazone)."""

    def events_for(
        self,
        *,
        key: RunKey,
        job_name: str,
        job_run_id: str,
        started: datetime,
        ended: datetime,
        region: str | None,
    ) -> list[dict[str, Any]]: ...


@dataclass
class Observation:
    """What the bridge recorded about one Glue run attempt."""

    job_name: str
    job_run_id: str
    state: str
    key: RunKey | None = None
    verdict: str | None = None  # lineage_plane.run_table.Reconciliation, as seen when recorded
    new: bool = False  # False: a replay of an observation already applied
    found: bool = True  # False: Glue had no record of the run
    platform_lineage_events: int = 0
    report: Report | None = None
    run: GlueRun | None = None  # Glue's account, as read

    def summary(self) -> dict[str, Any]:
        counts = self.report.summary() if self.report else {}
        return {
            "job_name": self.job_name,
            "job_run_id": self.job_run_id,
            "state": self.state,
            "pipeline_id": self.key.pipeline_id if self.key else None,
            "run_id": self.key.run_id if self.key else None,
            "attempt": self.key.attempt if self.key else None,
            "verdict": self.verdict,
            "new": self.new,
            "found": self.found,
            "platform_lineage_events": self.platform_lineage_events,
            **{f"events_{name}": value for name, value in counts.items()},
        }


@dataclass
class GlueBridge:
    """Records Glue's account of ended runs. Collaborators are injected (boto3 clients inside)."""

    validator: Validator
    run_state: RunStateStore
    glue: GlueRuns
    account: str
    region: str
    platform_lineage: PlatformLineage | None = None

    def on_state_change(self, change: GlueStateChange) -> Observation:
        """Handle one "Glue Job State Change" event. A state that is not an end is ignored."""
        if change.state not in PlatformState.GLUE_TERMINAL:
            logger.info("not an end state, ignored: %s %s", change.job_run_id, change.state)
            return Observation(change.job_name, change.job_run_id, change.state)
        try:
            run = self.glue.describe(change.job_name, change.job_run_id)
        except GlueRunNotFoundError as err:
            # No crash loop: a retry cannot make Glue find it. Record what the event says, loudly.
            logger.error(str(err), extra={"job_name": change.job_name, "job_run_id": change.job_run_id})
            return self.record(change.as_run(), ended_at=change.time, found=False)
        if run.state not in PlatformState.GLUE_TERMINAL:  # the event and the API disagree: trust the event
            run = dataclasses.replace(run, state=change.state)
        return self.record(run, ended_at=change.time)

    def record(
        self,
        run: GlueRun,
        *,
        ended_at: datetime,
        observer: str = Observer.GLUE_BRIDGE,
        found: bool = True,
    ) -> Observation:
        """Judge ``run``'s lineage against the run state and archive Glue's account of its end."""
        key = run.key
        verdict = self.verdict(key, PlatformState.STATUS[run.state])
        event = glue_run_event(run, observer=observer, region=self.region, ended_at=ended_at, verdict=verdict)
        # One source for a Glue run's end whoever observed it: the bridge's delivery and the reconciler's
        # make the same batch, so the archive keeps the first one's object and never both.
        report = self._process([event], stream=run.job_run_id)
        return Observation(
            job_name=run.job_name,
            job_run_id=run.job_run_id,
            state=run.state,
            key=key,
            verdict=verdict,
            new=event[Field.EVENT_ID] in report.applied_ids,
            found=found,
            report=report,
            run=run,
        )

    def add_platform_lineage(self, observation: Observation) -> int:
        """Archive the lineage the platform recorded for the observed run (DataZone), after its end is
        recorded, so that a refusal (a typed error: what to grant, what to set) fails the invocation
        for a retry without holding Glue's account back; how many events were read."""
        run = observation.run
        if self.platform_lineage is None or run is None or run.started_on is None or observation.key is None:
            return 0
        events = self.platform_lineage.events_for(
            key=observation.key,
            job_name=run.job_name,
            job_run_id=run.job_run_id,
            started=run.started_on,
            ended=run.completed_on or run.started_on,
            region=self.region,
        )
        if events:
            self._process(events, stream=f"{run.job_run_id}/{Observer.DATAZONE}")
        observation.platform_lineage_events = len(events)
        return len(events)

    def _process(self, events: list[dict[str, Any]], *, stream: str) -> Report:
        delivery = observed_delivery(
            events, observer=Observer.GLUE_BRIDGE, account=self.account, stream=stream
        )
        report = self.validator.process(delivery)
        if report.outcome.counts.quarantined:
            logger.error(
                "an observed event failed validation and was quarantined: a bug of the bridge",
                extra={"reasons": dict(report.outcome.reasons), "stream": stream},
            )
        return report

    def verdict(self, key: RunKey, platform_status: str) -> str:
        """The reconciliation as the run state stands now (before Glue's account is added)."""
        item_key = ItemKey(run_pk(key.pipeline_id, key.run_id), attempt_sk(key.attempt))
        stored = self.run_state.read([item_key]).get(item_key)
        if stored is None:
            return Reconciliation.GAP
        progress = stored.progress
        return reconcile(progress.status, progress.lineage_events, platform_status)


def counts_by_verdict(observations: list[Observation]) -> Mapping[str, int]:
    """New observations per verdict (replays are not counted twice)."""
    counts = dict.fromkeys(Reconciliation.ALL, 0)
    for observation in observations:
        if observation.new and observation.verdict is not None:
            counts[observation.verdict] += 1
    return counts
