"""Facts the plane's parts share, defined once: the subscription filter pattern and the archive's
layout in S3 (the run-state table's is lineage_plane.run_table, metric names and the functions'
environment variables lineage_plane.functions).

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
