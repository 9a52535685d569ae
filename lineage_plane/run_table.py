"""The run-state table's layout in DynamoDB, defined once: statuses, observers, keys and names.

The validator and the Glue bridge write by it, the CDK app builds the table from it, and the CLI's
``runs`` reads by it. Pure data and string functions, standard library only.
"""

from __future__ import annotations

from typing import Final

from lineage_lib.contract import Field

# --- Run state (DynamoDB) -------------------------------------------------------------------------


class RunStatus:
    """Status of a run attempt or a step. Terminal statuses never go back to RUNNING."""

    RUNNING: Final = "RUNNING"
    COMPLETE: Final = "COMPLETE"
    ABORTED: Final = "ABORTED"
    FAILED: Final = "FAILED"
    # The platform says the run ended, but its lineage has no terminal event (lost, or never written):
    # what it wrote cannot be trusted to be whole. Only ever derived, never folded (see Reconciliation).
    INCOMPLETE: Final = "INCOMPLETE"
    # When two terminal events disagree, the higher rank wins, whatever order they arrive in.
    RANK: Final = {RUNNING: 0, COMPLETE: 1, ABORTED: 2, FAILED: 3}
    TERMINAL: Final = frozenset({COMPLETE, ABORTED, FAILED, INCOMPLETE})


class PlatformState:
    """How the platform says a run ended, as an observer records it (tag ``platform_state``).

    Glue's own terminal ``JobRunState`` values, and two the run reconciler concludes itself.
    """

    SUCCEEDED: Final = "SUCCEEDED"
    FAILED: Final = "FAILED"
    TIMEOUT: Final = "TIMEOUT"
    STOPPED: Final = "STOPPED"
    ERROR: Final = "ERROR"
    GLUE_TERMINAL: Final = (SUCCEEDED, FAILED, TIMEOUT, STOPPED, ERROR)
    # the platform has no record of the run (Glue's EntityNotFoundException)
    NOT_FOUND: Final = "NOT_FOUND"
    # silent beyond the longest the platform lets it run (Lambda's 15 minutes; the plane's bound for EMR)
    EXPIRED: Final = "EXPIRED"
    # the run status each platform state settles to
    STATUS: Final = {
        SUCCEEDED: RunStatus.COMPLETE,
        FAILED: RunStatus.FAILED,
        TIMEOUT: RunStatus.FAILED,
        ERROR: RunStatus.FAILED,
        STOPPED: RunStatus.ABORTED,
        NOT_FOUND: RunStatus.ABORTED,
        EXPIRED: RunStatus.ABORTED,
    }


class Reconciliation:
    """What the platform's account of a run attempt says about its lineage (attempt attribute
    ``reconciliation``), derived from both sides whenever either changes, so never order-dependent.

    Absent while no observer has reported the attempt's end.
    """

    CONSISTENT: Final = "consistent"  # both ended, and agree
    DISAGREEMENT: Final = "disagreement"  # both ended, differently: the status follows the platform
    INCOMPLETE: Final = "incomplete"  # the platform says ended; lineage has no terminal event
    GAP: Final = "gap"  # the platform ran it; not one event came from the job itself
    ALL: Final = (CONSISTENT, DISAGREEMENT, INCOMPLETE, GAP)


class Observer:
    """Events the plane writes itself about a run, from what a platform says (platform-observed), as
    opposed to what the job's own lineage_lib emitted (execution-observed).

    They are events of the same contract, validated and archived by the validator's code path, with
    ``producer.name`` = PRODUCER and the tag ``observed_by`` naming who observed them.
    """

    PRODUCER: Final = "lineage-plane"
    TAG: Final = "observed_by"
    GLUE_BRIDGE: Final = "glue-bridge"  # Glue's job run API, on Glue's state-change events
    RUN_RECONCILER: Final = "run-reconciler"  # the scheduled sweep of runs silent for too long
    DATAZONE: Final = "datazone"  # the OpenLineage events Glue posts to Amazon DataZone
    ALL: Final = (GLUE_BRIDGE, RUN_RECONCILER, DATAZONE)
    # Their deliveries go through the validator's ingest as if read from this log group (ingest.log_group)
    LOG_GROUP_PREFIX: Final = "lineage-plane/"


class ObservedTag:
    """Tags an observer sets on its events (``tags`` of the contract: string values)."""

    OBSERVED_BY: Final = Observer.TAG
    PLATFORM_STATE: Final = "platform_state"  # PlatformState
    PLATFORM_RUN_ID: Final = "platform_run_id"  # Glue's JobRunId of this attempt
    PREVIOUS_RUN_ID: Final = "previous_run_id"  # Glue's PreviousRunId: the attempt this one retried
    STARTED_ON: Final = "started_on"
    COMPLETED_ON: Final = "completed_on"
    EXECUTION_SECONDS: Final = "execution_seconds"
    SCRIPT_LOCATION: Final = "script_location"
    GLUE_VERSION: Final = "glue_version"
    # the observer's verdict when it wrote the event (the run state re-derives it as lineage arrives)
    RECONCILIATION: Final = "reconciliation"
    LINEAGE_GAP: Final = "lineage_gap"  # on an observation of a run without lineage: why it is a gap
    OPENLINEAGE_RUN_ID: Final = "openlineage_run_id"  # DataZone: the OpenLineage run it came from
    OPENLINEAGE_JOB: Final = "openlineage_job"  # DataZone: namespace/name of the OpenLineage job


class RunStateTable:
    """The run-state table: one item per run attempt, one per step, one dedup marker per event id.

    Keys: ``pk`` = ``RUN#<pipeline>#<run>``; ``sk`` = ``ATTEMPT#00001`` for an attempt, and
    ``ATTEMPT#00001#STEP#<step>`` for its steps, so one Query on ``pk`` returns every attempt of a run
    with its steps. Markers: ``pk`` = ``EVENT#<event_id>``, ``sk`` = ``EVENT``, expiring via ``expires_at``.
    """

    PK: Final = "pk"
    SK: Final = "sk"
    TTL: Final = "expires_at"
    VERSION: Final = "version"  # optimistic lock: every writer conditions on it
    KIND: Final = "kind"
    KIND_ATTEMPT: Final = "attempt"
    KIND_STEP: Final = "step"
    KIND_EVENT: Final = "event"
    MARKER_ATTEMPT: Final = "attempt_key"  # on a marker: the attempt item its event was applied to
    # on a marker: the log event its event was applied from (lineage_plane.ingest.delivered_as), so a
    # later delivery of that same log event, batched otherwise, is known as already archived
    MARKER_DELIVERED_AS: Final = "delivered_as"
    # Sparse index of running attempts, ordered by their last event: "what is running now, and what
    # has been silent for an hour?" is one Query. Present only while an attempt's status is RUNNING.
    ACTIVE_INDEX: Final = "active-runs"
    ACTIVE_PK: Final = "active_pk"
    ACTIVE_SK: Final = "active_sk"
    ACTIVE_PARTITION: Final = "ACTIVE"
    # Sparse index of attempts by pipeline, in start order: one pipeline's history.
    PIPELINE_INDEX: Final = "pipeline-runs"
    PIPELINE_PK: Final = Field.PIPELINE_ID
    PIPELINE_SK: Final = "run_order"

    # attributes of attempt and step items
    PIPELINE_ID: Final = Field.PIPELINE_ID
    RUN_ID: Final = Field.RUN_ID
    ATTEMPT: Final = Field.ATTEMPT
    STEP: Final = Field.STEP
    STATUS: Final = "status"
    STATUS_EVENT_TIME: Final = "status_event_time"
    STATUS_EVENT_ID: Final = "status_event_id"
    STARTED_AT: Final = "started_at"
    FIRST_EVENT_TIME: Final = "first_event_time"
    LAST_EVENT_TIME: Final = "last_event_time"
    EVENT_COUNT: Final = "event_count"
    READ_COUNT: Final = "read_count"
    WRITE_COUNT: Final = "write_count"
    TRANSFORM_COUNT: Final = "transform_count"
    INPUTS: Final = "inputs"
    OUTPUTS: Final = "outputs"
    PLATFORM: Final = Field.PLATFORM
    CONTEXT: Final = Field.CONTEXT
    ERROR: Final = Field.ERROR
    # what lineage alone says (``status`` is the verdict: lineage's, or the platform's once it spoke)
    LINEAGE_STATUS: Final = "lineage_status"
    OBSERVED_EVENT_COUNT: Final = "observed_event_count"  # of event_count: events from observers
    # what an observer said about the attempt's end (lineage_plane.layout.Observer)
    # (named as the observed events' tags they come from)
    PLATFORM_STATE: Final = ObservedTag.PLATFORM_STATE
    PLATFORM_STATUS: Final = "platform_status"
    PLATFORM_ERROR: Final = "platform_error"
    PLATFORM_ENDED_AT: Final = "platform_ended_at"
    PLATFORM_EVENT_ID: Final = "platform_event_id"
    PLATFORM_RUN_ID: Final = ObservedTag.PLATFORM_RUN_ID
    PREVIOUS_RUN_ID: Final = ObservedTag.PREVIOUS_RUN_ID
    OBSERVED_BY: Final = ObservedTag.OBSERVED_BY
    RECONCILIATION: Final = ObservedTag.RECONCILIATION


_KEY_SEPARATOR: Final = "#"


def _key_part(value: str) -> str:
    # '#' separates key parts: escape it (and the escape character) inside ids.
    return value.replace("%", "%25").replace(_KEY_SEPARATOR, "%23")


def run_pk(pipeline_id: str, run_id: str) -> str:
    return f"RUN#{_key_part(pipeline_id)}#{_key_part(run_id)}"


def attempt_sk(attempt: int) -> str:
    return f"ATTEMPT#{attempt:05d}"


def step_sk(attempt: int, step: str) -> str:
    return f"{attempt_sk(attempt)}#STEP#{_key_part(step)}"


def event_marker_pk(event_id: str) -> str:
    return f"EVENT#{event_id}"


EVENT_MARKER_SK: Final = "EVENT"
