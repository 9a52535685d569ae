"""The plane on this machine: moto stands in for S3, DynamoDB and CloudWatch Logs, in process.

moto cannot run Lambda code (no Docker), so a subscription filter never delivers. This module is the
one piece that stands in for AWS: it selects a log group's events with the subscription's own filter
pattern (FilterLogEvents), packs them per log stream into the payload CloudWatch Logs sends (JSON,
gzip, base64 under ``awslogs.data``) and invokes the validator's handler with it. Everything else is
the real handler making real boto3 calls against moto.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from lineage_plane.functions import FunctionEnv
from lineage_plane.layout import SOURCE_FILTER_PATTERN, SubscriptionMessage
from lineage_plane.run_table import RunStateTable

LOCAL_ACCOUNT: Final = "123456789012"  # moto's default account
LOCAL_REGION: Final = "eu-west-1"
# CloudWatch Logs delivers a stream's events in batches; 10,000 is the most one PutLogEvents carries.
MAX_BATCH_EVENTS: Final = 10_000


def subscription_payload(
    log_events: Sequence[Mapping[str, Any]],
    *,
    log_group: str,
    log_stream: str,
    owner: str = LOCAL_ACCOUNT,
    filter_name: str = "lineage-validator",
    message_type: str = SubscriptionMessage.DATA,
) -> dict[str, Any]:
    """The event a Lambda function receives from a CloudWatch Logs subscription filter.

    ``log_events`` are ``{"id", "timestamp", "message"}`` mappings, as FilterLogEvents returns them
    (``eventId`` is accepted for ``id``).
    """
    data = {
        "messageType": message_type,
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": [filter_name],
        "logEvents": [
            {"id": e.get("id", e.get("eventId")), "timestamp": e["timestamp"], "message": e["message"]}
            for e in log_events
        ],
    }
    packed = gzip.compress(json.dumps(data, separators=(",", ":")).encode("utf-8"))
    return {"awslogs": {"data": base64.b64encode(packed).decode("ascii")}}


def control_message_payload(log_group: str, owner: str = LOCAL_ACCOUNT) -> dict[str, Any]:
    """The message CloudWatch Logs sends when a subscription filter is created."""
    event = {"id": "", "timestamp": 0, "message": "CWL CONTROL MESSAGE: Checking health of destination"}
    return subscription_payload(
        [event], log_group=log_group, log_stream="", owner=owner, message_type=SubscriptionMessage.CONTROL
    )


@dataclass
class LambdaContext:
    """What a Lambda function's handler receives as ``context`` (the attributes Powertools reads)."""

    function_name: str = "lineage-validator"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = ""
    invoked_function_arn: str = ""

    def __post_init__(self) -> None:
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())
        self.invoked_function_arn = self.invoked_function_arn or (
            f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{self.function_name}"
        )

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def run_state_table_spec(name: str) -> dict[str, Any]:
    """CreateTable arguments of the run-state table, from the layout in lineage_plane.layout."""
    t = RunStateTable
    attributes = [t.PK, t.SK, t.ACTIVE_PK, t.ACTIVE_SK, t.PIPELINE_PK, t.PIPELINE_SK]

    def index(name: str, pk: str, sk: str) -> dict[str, Any]:
        return {
            "IndexName": name,
            "KeySchema": [
                {"AttributeName": pk, "KeyType": "HASH"},
                {"AttributeName": sk, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }

    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in attributes],
        "KeySchema": [
            {"AttributeName": t.PK, "KeyType": "HASH"},
            {"AttributeName": t.SK, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            index(t.ACTIVE_INDEX, t.ACTIVE_PK, t.ACTIVE_SK),
            index(t.PIPELINE_INDEX, t.PIPELINE_PK, t.PIPELINE_SK),
        ],
    }


def filtered_batches(
    logs: Any, log_group: str, filter_pattern: str = SOURCE_FILTER_PATTERN, max_events: int = MAX_BATCH_EVENTS
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(log stream, events) batches of the events a subscription with this pattern would deliver."""
    by_stream: dict[str, list[dict[str, Any]]] = {}
    for page in logs.get_paginator("filter_log_events").paginate(
        logGroupName=log_group, filterPattern=filter_pattern
    ):
        for event in page["events"]:
            by_stream.setdefault(event["logStreamName"], []).append(event)
    for stream, events in by_stream.items():
        for start in range(0, len(events), max_events):
            yield stream, events[start : start + max_events]


def deliver(
    logs: Any,
    log_group: str,
    handler: Callable[[dict[str, Any], Any], Any],
    *,
    filter_pattern: str = SOURCE_FILTER_PATTERN,
    owner: str = LOCAL_ACCOUNT,
) -> list[Any]:
    """Deliver a log group's matching events to ``handler`` as its subscription would; the results."""
    return [
        handler(
            subscription_payload(events, log_group=log_group, log_stream=stream, owner=owner),
            LambdaContext(),
        )
        for stream, events in filtered_batches(logs, log_group, filter_pattern)
    ]


def provision(
    *, s3: Any, dynamodb: Any, bucket: str, table: str, region: str = LOCAL_REGION
) -> dict[str, str]:
    """Create the archive bucket and run-state table; the validator's environment for them."""
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    dynamodb.create_table(**run_state_table_spec(table))
    return {
        FunctionEnv.ARCHIVE_BUCKET: bucket,
        FunctionEnv.RUN_STATE_TABLE: table,
        FunctionEnv.AWS_REGION: region,
    }


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set the functions' environment variables for the duration of the block, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def emf_totals(printed: str) -> Counter[str]:
    """The metrics a handler printed as EMF records (Powertools), summed by name: what CloudWatch would
    count (a value may be one number or a list of them)."""
    totals: Counter[str] = Counter()
    for line in printed.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            record = json.loads(line)
            for directive in record["_aws"]["CloudWatchMetrics"]:
                for definition in directive["Metrics"]:
                    value = record[definition["Name"]]
                    totals[definition["Name"]] += sum(value) if isinstance(value, list) else value
    return totals
