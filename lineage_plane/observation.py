"""What a platform says about a run, as events of the lineage contract: pure, no AWS calls.

The Glue bridge and the run reconciler never write run state or archive objects themselves: they
build events here (``producer.name`` = ``lineage-plane``, tag ``observed_by``) and hand them to the
validator's code path (lambdas.common.service), so that they are validated, archived and folded into
the run state exactly as lineage_lib's are, and Athena sees platform truth beside execution lineage.

Every observed event's id is derived from what was observed (a UUID 5 of the platform's run id and
state), never drawn at random: a replayed EventBridge event, a Lambda retry or the reconciler seeing
what the bridge already saw makes the same event, which the run state applies once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from lineage_lib.context import glue_run_identity
from lineage_lib.contract import CURRENT_VERSION, EventType, Field, Platform
from lineage_lib.version import __version__
from lineage_plane.layout import moment_of
from lineage_plane.run_table import ObservedTag, Observer, PlatformState, Reconciliation

# uuid5(NAMESPACE_URL, "urn:lineage-plane:observation"): the namespace of every observed event's id.
OBSERVATION_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:lineage-plane:observation")
MAX_TAG_CHARS: Final = 1024  # the contract's limit on a tag's value
MAX_MESSAGE_CHARS: Final = 8192  # the contract's limit on error.message
# the glue.* identifiers the contract's context admits
_REGION: Final = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")

_EVENT_TYPE: Final = {
    PlatformState.SUCCEEDED: EventType.RUN_COMPLETE,
    PlatformState.STOPPED: EventType.RUN_ABORT,
    PlatformState.NOT_FOUND: EventType.RUN_ABORT,
    PlatformState.EXPIRED: EventType.RUN_ABORT,
}
_ERROR_TYPE: Final = {
    PlatformState.FAILED: "GlueJobRunFailed",
    PlatformState.TIMEOUT: "GlueJobRunTimeout",
    PlatformState.ERROR: "GlueJobRunError",
    PlatformState.STOPPED: "GlueJobRunStopped",
    PlatformState.NOT_FOUND: "PlatformRunNotFound",
    PlatformState.EXPIRED: "RunExpired",
}


@dataclass(frozen=True)
class RunKey:
    """A run attempt as the run state and the archive know it."""

    pipeline_id: str
    run_id: str
    attempt: int


@dataclass(frozen=True)
class GlueRun:
    """One Glue job run (one attempt), as Glue's GetJobRun and GetJob describe it."""

    job_name: str
    job_run_id: str  # Glue's JobRunId of this attempt
    state: str  # JobRunState
    attempt: int = 0  # Glue's Attempt
    previous_run_id: str | None = None  # the run this attempt retried
    started_on: datetime | None = None
    completed_on: datetime | None = None
    execution_seconds: int | None = None
    error_message: str | None = None
    arguments: Mapping[str, str] = field(default_factory=dict)  # job defaults, then the run's
    script_location: str | None = None
    glue_version: str | None = None

    @property
    def key(self) -> RunKey:
        """The run attempt lineage_lib reports from inside this run (same rules: lineage_lib.context)."""
        pipeline_id, run_id, attempt = glue_run_identity(self.job_name, self.job_run_id, self.arguments)
        return RunKey(pipeline_id, run_id, attempt)

    @property
    def ended(self) -> bool:
        return self.state in PlatformState.STATUS


def event_id_of(*parts: str) -> str:
    """The id of an observed event: a UUID 5 of what identifies the observation."""
    return str(uuid.uuid5(OBSERVATION_NAMESPACE, "/".join(parts)))


def timestamp(moment: datetime) -> str:
    """An event time of the contract: UTC, Z, milliseconds."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def observed_event(
    key: RunKey,
    *,
    identity: str,
    event_type: str,
    event_time: str,
    observer: str,
    context: Mapping[str, Any],
    tags: Mapping[str, str | None] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A contract event an observer writes about run attempt ``key``; ``identity`` names the
    observation (its event id is derived from it). Tags whose value is None are left out."""
    kept = {name: _tag(value) for name, value in (tags or {}).items() if value is not None}
    return {
        Field.SCHEMA_VERSION: CURRENT_VERSION,
        Field.EVENT_ID: event_id_of(identity),
        Field.EVENT_TIME: event_time,
        Field.EVENT_TYPE: event_type,
        Field.PRODUCER: {Field.NAME: Observer.PRODUCER, Field.VERSION: __version__},
        Field.PIPELINE_ID: key.pipeline_id,
        Field.RUN_ID: key.run_id,
        Field.ATTEMPT: key.attempt,
        Field.CONTEXT: dict(context),
        **fields,
        Field.TAGS: {ObservedTag.OBSERVED_BY: observer, **kept},
    }


def glue_context(job_name: str, job_run_id: str, region: str | None) -> dict[str, Any]:
    context: dict[str, Any] = {Field.PLATFORM: Platform.GLUE, "job_name": job_name, "job_run_id": job_run_id}
    if region and _REGION.match(region):
        context["region"] = region
    return context


def glue_run_event(
    run: GlueRun,
    *,
    observer: str,
    region: str | None,
    ended_at: datetime,
    verdict: str | None = None,
) -> dict[str, Any]:
    """The end of a Glue run attempt as Glue reports it: RUN_COMPLETE, RUN_FAIL or RUN_ABORT.

    ``ended_at`` is used when Glue gives no CompletedOn (the state-change event's time); ``verdict``
    is the observer's reading of the lineage at the time (lineage_plane.run_table.Reconciliation).
    """
    state = run.state
    event_type = _EVENT_TYPE.get(state, EventType.RUN_FAIL)
    error = None
    if event_type != EventType.RUN_COMPLETE:
        message = run.error_message or f"Glue reports job run {run.job_run_id} of {run.job_name} as {state}"
        error = {Field.TYPE: _ERROR_TYPE.get(state, "GlueJobRun" + state.title()), Field.MESSAGE: message}
        error[Field.MESSAGE] = error[Field.MESSAGE][:MAX_MESSAGE_CHARS]
    tags = {
        ObservedTag.PLATFORM_STATE: state,
        ObservedTag.PLATFORM_RUN_ID: run.job_run_id,
        ObservedTag.PREVIOUS_RUN_ID: run.previous_run_id,
        ObservedTag.STARTED_ON: timestamp(run.started_on) if run.started_on else None,
        ObservedTag.COMPLETED_ON: timestamp(run.completed_on) if run.completed_on else None,
        ObservedTag.EXECUTION_SECONDS: None if run.execution_seconds is None else str(run.execution_seconds),
        ObservedTag.SCRIPT_LOCATION: run.script_location,
        ObservedTag.GLUE_VERSION: run.glue_version,
        ObservedTag.RECONCILIATION: verdict,
        ObservedTag.LINEAGE_GAP: GAP_REASON if verdict == Reconciliation.GAP else None,
    }
    extra: dict[str, Any] = {Field.ERROR: error} if error else {}
    return observed_event(
        run.key,
        identity=f"glue/{run.job_name}/{run.job_run_id}/{state}",
        event_type=event_type,
        event_time=timestamp(run.completed_on or ended_at),
        observer=observer,
        context=glue_context(run.job_name, run.job_run_id, region),
        tags=tags,
        **extra,
    )


GAP_REASON: Final = "the platform ran this attempt and no event of its own lineage reached the plane"


def lost_run_event(
    key: RunKey,
    *,
    state: str,
    context: Mapping[str, Any],
    last_event_time: str,
    limit: timedelta,
    observer: str = Observer.RUN_RECONCILER,
    message: str,
) -> dict[str, Any]:
    """The reconciler's close of a run its platform cannot account for: NOT_FOUND (the platform has
    no record of it) or EXPIRED (silent beyond the longest it could run). Its time is deterministic
    (the last event, plus ``limit``), so a retried sweep writes the same event."""
    last = moment_of(last_event_time)
    return observed_event(
        key,
        identity=f"lost/{key.pipeline_id}/{key.run_id}/{key.attempt}/{state}",
        event_type=_EVENT_TYPE[state],
        event_time=timestamp(last + limit),
        observer=observer,
        context=context,
        tags={ObservedTag.PLATFORM_STATE: state, ObservedTag.RECONCILIATION: Reconciliation.INCOMPLETE},
        error={Field.TYPE: _ERROR_TYPE[state], Field.MESSAGE: message[:MAX_MESSAGE_CHARS]},
    )


def _tag(value: str) -> str:
    return value if len(value) <= MAX_TAG_CHARS else value[: MAX_TAG_CHARS - 1] + "…"
