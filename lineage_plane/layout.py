"""Facts the plane's parts share, defined once: the subscription filter pattern, the archive's layout
in S3, the run-state table's layout in DynamoDB and the functions' environment variables.

The validator Lambda writes by these definitions, the CDK app builds its subscription filters, Athena
tables and DynamoDB table from them, and the CLI and the tests read by them. Pure data and string
functions, standard library only: ``infra`` imports this module without importing Lambda code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote, unquote

from lineage_lib.contract import Field

# --- Subscription filters -------------------------------------------------------------------------

# On log groups where jobs write everything else too (Glue's /aws-glue/jobs/output, Lambda groups):
# only lines that carry the schema_version field reach the validator. A quoted term matches the
# phrase anywhere in the message, so bare lines, prefixed lines and Lambda JSON-format records match.
SOURCE_FILTER_PATTERN: Final = f'"{Field.SCHEMA_VERSION}"'
# On the plane's own lineage log group (lineage_lib's cloudwatch sink) every line is meant to be
# lineage: deliver all of them, so that an event without a schema version is quarantined, not unseen.
LINEAGE_GROUP_FILTER_PATTERN: Final = ""
# Where Glue writes a job's standard output (the plane subscribes to it by default).
GLUE_OUTPUT_LOG_GROUP: Final = "/aws-glue/jobs/output"


class SubscriptionMessage:
    """``messageType`` of a CloudWatch Logs subscription payload."""

    DATA: Final = "DATA_MESSAGE"
    CONTROL: Final = "CONTROL_MESSAGE"  # sent when a filter is created, to check the destination


# --- Archive (S3) ---------------------------------------------------------------------------------


class Archive:
    """The archive bucket's layout: Hive-style partitions that Athena prunes with partition projection.

    ``events/event_date=YYYY-MM-DD/pipeline_id=<id>/<batch>.json.gz``: valid events, partitioned by
    the UTC date of their ``event_time`` and their pipeline, the two filters of nearly every question
    (a day of one pipeline's runs; a window of days across pipelines for a dataset's lineage).
    ``quarantine/log_date=YYYY-MM-DD/<batch>.json.gz``: rejected lines, partitioned by the UTC date of
    their batch's first CloudWatch timestamp (a rejected line may have no readable event time or
    pipeline; the date comes from the batch, not the clock, so a retry builds the same key).

    Objects are gzip JSON lines, at most one per partition per delivered batch, named by the batch.
    """

    EVENTS_PREFIX: Final = "events/"
    QUARANTINE_PREFIX: Final = "quarantine/"
    EVENT_DATE: Final = "event_date"
    PIPELINE_ID: Final = Field.PIPELINE_ID
    LOG_DATE: Final = "log_date"
    EVENT_PARTITIONS: Final = (EVENT_DATE, PIPELINE_ID)
    QUARANTINE_PARTITIONS: Final = (LOG_DATE,)
    OBJECT_SUFFIX: Final = ".json.gz"
    DATE_FORMAT: Final = "yyyy-MM-dd"  # Athena partition projection's format of the date partitions


class Ingest:
    """The ``ingest`` object the validator adds to every archived line: where and when it was received.

    Remove it to get the event exactly as its producer wrote it.
    """

    KEY: Final = "ingest"
    INGESTED_AT: Final = "ingested_at"
    LOG_GROUP: Final = "log_group"
    LOG_STREAM: Final = "log_stream"
    LOG_EVENT_ID: Final = "log_event_id"
    # the event's place among the lineage events of its log message (0 for the first): one message can
    # hold several (lines printed in one write); (log_event_id, event_index) names one archived line
    EVENT_INDEX: Final = "event_index"
    LOG_TIMESTAMP: Final = "log_timestamp"  # CloudWatch's timestamp of the log event, epoch ms
    ACCOUNT: Final = "account"
    REGION: Final = "region"
    BATCH_ID: Final = "batch_id"
    VALIDATOR_VERSION: Final = "validator_version"


class Quarantine:
    """Fields of a quarantined line, beside ``ingest``: the original message and why it was refused."""

    MESSAGE: Final = "message"  # the CloudWatch log message exactly as delivered
    REASON: Final = "reason"
    CODE: Final = "code"
    DETAIL: Final = "detail"
    PATH: Final = "path"
    RULE: Final = "rule"
    # copied from the message when they can be read, so the line is found again by event id
    EVENT_ID: Final = Field.EVENT_ID
    SCHEMA_VERSION: Final = Field.SCHEMA_VERSION


class QuarantineCode:
    """Why a line that looked like lineage was refused."""

    INVALID_JSON: Final = "invalid_json"  # truncated or otherwise unparseable
    MISSING_SCHEMA_VERSION: Final = "missing_schema_version"
    UNKNOWN_SCHEMA_VERSION: Final = "unknown_schema_version"
    SCHEMA_VIOLATION: Final = "schema_violation"
    OVERSIZE: Final = "oversize"  # over the contract's per-event limit (lineage_lib.contract)
    # lineage_lib in lenient mode emitted a refusal instead of the event (lineage_lib.contract.Refusal)
    PRODUCER_REFUSED: Final = "producer_refused"
    # valid, but the run state cannot hold it (a value DynamoDB refuses): quarantined, the batch goes on
    RUN_STATE_REFUSED: Final = "run_state_refused"
    # a payload that is not a CloudWatch Logs subscription's (not base64, gzip or JSON, fields missing):
    # kept whole in ``message``, without log events to count
    UNREADABLE_DELIVERY: Final = "unreadable_delivery"
    ALL: Final = (
        INVALID_JSON,
        MISSING_SCHEMA_VERSION,
        UNKNOWN_SCHEMA_VERSION,
        SCHEMA_VIOLATION,
        OVERSIZE,
        PRODUCER_REFUSED,
        RUN_STATE_REFUSED,
        UNREADABLE_DELIVERY,
    )


# Hive escapes partition values by percent-encoding; only these characters stay as they are, so that
# a pipeline id such as ``sales/daily`` cannot add a folder level.
_PARTITION_SAFE: Final = "-_.~"


def partition_value(raw: str) -> str:
    """The folder form of a partition value (``orders daily`` → ``orders%20daily``)."""
    # surrogatepass: the schema's names admit lone surrogates (a path with an undecodable byte)
    return quote(raw.encode("utf-8", "surrogatepass"), safe=_PARTITION_SAFE)


def partition_raw(value: str) -> str:
    """Inverse of partition_value."""
    return unquote(value, errors="surrogatepass")


def sortable_time(timestamp: str) -> str:
    """An event time (RFC 3339, UTC, Z, 0 to 6 fractional digits) in a form that sorts as time does.

    As written, ``…:01.5Z`` sorts before ``…:01Z`` ('.' < 'Z'); padded to microseconds, it does not.
    """
    body = timestamp[:-1] if timestamp.endswith("Z") else timestamp
    head, _, fraction = body.partition(".")
    return f"{head}.{fraction.ljust(6, '0')}Z"


def moment_of(event_time: str) -> datetime:
    """An event time (RFC 3339, UTC, Z, 0 to 6 fractional digits) as an aware datetime."""
    return datetime.strptime(sortable_time(event_time)[:-1], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)


def event_date_of(event_time: str) -> str:
    """The ``event_date`` partition of a valid event: the UTC date of its event_time (always UTC, Z)."""
    return event_time[: len("YYYY-MM-DD")]


def log_date_of(millis: int) -> str:
    """The ``log_date`` partition of a batch: the UTC date of a CloudWatch timestamp (epoch ms)."""
    return datetime.fromtimestamp(millis / 1000, tz=UTC).date().isoformat()


def event_object_key(event_date: str, pipeline_id: str, batch_id: str) -> str:
    """Key of a batch's valid events for one day and one pipeline."""
    return (
        f"{Archive.EVENTS_PREFIX}{Archive.EVENT_DATE}={event_date}/"
        f"{Archive.PIPELINE_ID}={partition_value(pipeline_id)}/{batch_id}{Archive.OBJECT_SUFFIX}"
    )


def quarantine_object_key(log_date: str, batch_id: str) -> str:
    """Key of a batch's quarantined lines, by the date of the batch's first log event."""
    return f"{Archive.QUARANTINE_PREFIX}{Archive.LOG_DATE}={log_date}/{batch_id}{Archive.OBJECT_SUFFIX}"


def partitions_of(key: str) -> dict[str, str]:
    """The partition values in an archive key (raw, decoded), e.g. for listing and pruning."""
    found: dict[str, str] = {}
    for part in key.split("/")[1:-1]:
        name, sep, value = part.partition("=")
        if sep:
            found[name] = partition_raw(value)
    return found


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


# --- Functions' environment variables --------------------------------------------------------------


class ValidatorMetrics:
    """CloudWatch metrics (EMF) of the validator: the CDK app's alarms watch these names."""

    NAMESPACE: Final = "LineagePlane"
    RECEIVED: Final = "EventsReceived"
    ARCHIVED: Final = "EventsArchived"
    QUARANTINED: Final = "EventsQuarantined"
    IGNORED: Final = "EventsIgnored"
    DUPLICATES: Final = "EventsDuplicate"  # already applied to the run state: redelivered or repeated
    OBJECTS_ALREADY_PRESENT: Final = "ArchiveObjectsAlreadyPresent"  # written by an earlier attempt
    LOG_EVENTS: Final = "LogEventsReceived"  # messages delivered (EventsReceived counts events in them)
    # events an earlier delivery of the same log events archived and applied (a redelivery, batched
    # the same way or not): not archived again
    ALREADY_ARCHIVED: Final = "EventsAlreadyArchived"
    # archived events whose run-state write DynamoDB still refused (quarantined too, under run_state_refused)
    RUN_STATE_REFUSED: Final = "EventsRunStateRefused"
    UNREADABLE_DELIVERIES: Final = "UnreadableDeliveries"  # payloads that are not a subscription's


class BridgeMetrics:
    """Metrics of the Glue bridge and the run reconciler (same namespace as the validator's)."""

    NAMESPACE: Final = ValidatorMetrics.NAMESPACE
    LINEAGE_GAPS: Final = "LineageGaps"  # a platform run that left no lineage at all
    INCOMPLETE_RUNS: Final = "IncompleteRuns"  # ended on the platform without a terminal lineage event
    DISAGREEMENTS: Final = "StatusDisagreements"  # lineage and the platform ended differently
    RUNS_OBSERVED: Final = "RunsObserved"  # new platform observations written (replays not counted)
    RUNS_NOT_FOUND: Final = "PlatformRunsNotFound"  # the platform has no record of the run
    RUNS_SWEPT: Final = "RunsSwept"  # silent active runs the reconciler looked at
    LINEAGE_EVENTS_READ: Final = "PlatformLineageEvents"  # DataZone events turned into contract events


class FunctionEnv:
    """Environment variables of the plane's Lambda functions (set by the CDK app, read at cold start)."""

    ARCHIVE_BUCKET: Final = "ARCHIVE_BUCKET"
    RUN_STATE_TABLE: Final = "RUN_STATE_TABLE"
    DEDUP_TTL_DAYS: Final = "DEDUP_TTL_DAYS"  # how long an event id is remembered (default 35 days)
    AWS_REGION: Final = "AWS_REGION"  # set by Lambda itself
    AWS_DEFAULT_REGION: Final = "AWS_DEFAULT_REGION"  # the fallback, outside Lambda
    # the Glue bridge: read Glue's OpenLineage events back from this Amazon DataZone domain (optional)
    DATAZONE_DOMAIN_ID: Final = "DATAZONE_DOMAIN_ID"
    # the run reconciler: ask the platform about runs silent for this long (default 60 minutes) ...
    RECONCILE_SILENT_MINUTES: Final = "RECONCILE_SILENT_MINUTES"
    # ... and close EMR and local runs silent for this long, which have no platform to ask (default 1440)
    RECONCILE_MAX_RUN_MINUTES: Final = "RECONCILE_MAX_RUN_MINUTES"
