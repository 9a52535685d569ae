"""What the plane's functions and the CDK app agree on, defined once: metric names (the alarms watch
them) and the functions' environment variables (the app sets them, the functions read them)."""

from __future__ import annotations

from typing import Final

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
