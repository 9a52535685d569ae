"""The local plane's delivery step: the one piece that stands in for AWS, so it is tested itself."""

from __future__ import annotations

import base64
import gzip
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent
from moto import mock_aws

from lineage_local import local_plane
from lineage_plane.layout import SOURCE_FILTER_PATTERN, SubscriptionMessage
from lineage_plane.run_table import RunStateTable

GROUP = "/aws-glue/jobs/output"


@pytest.fixture
def logs() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("logs", region_name=local_plane.LOCAL_REGION)
        client.create_log_group(logGroupName=GROUP)
        yield client


def put(logs: Any, stream: str, messages: list[str]) -> None:
    logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": m} for i, m in enumerate(messages)]
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)


def test_the_payload_is_what_cloudwatch_logs_sends_and_powertools_decodes_it() -> None:
    events = [{"id": "3650000000000000000000000000000000000000000000000000", "timestamp": 5, "message": "m"}]
    payload = local_plane.subscription_payload(
        events, log_group=GROUP, log_stream="jr_1", owner="111122223333"
    )
    raw = json.loads(gzip.decompress(base64.b64decode(payload["awslogs"]["data"])))
    assert raw == {
        "messageType": "DATA_MESSAGE",
        "owner": "111122223333",
        "logGroup": GROUP,
        "logStream": "jr_1",
        "subscriptionFilters": ["lineage-validator"],
        "logEvents": events,
    }
    decoded = CloudWatchLogsEvent(payload).parse_logs_data()
    assert decoded.log_group == GROUP
    assert decoded.log_events[0].get_id == events[0]["id"]


def test_a_control_message_has_the_control_type() -> None:
    payload = local_plane.control_message_payload(GROUP)
    assert CloudWatchLogsEvent(payload).parse_logs_data().message_type == SubscriptionMessage.CONTROL


def test_deliver_sends_only_what_the_filter_pattern_selects_one_batch_per_stream(logs: Any) -> None:
    put(
        logs,
        "jr_1",
        ['{"schema_version":"1.0","n":1}', "Glue job starting", '{"schema_version":"1.0","n":2}'],
    )
    put(logs, "jr_2", ["no lineage here", '[INFO]\tt\tr\t{"schema_version":"1.0","n":3}'])
    received: list[tuple[str, list[str]]] = []

    def handler(event: dict[str, Any], context: Any) -> int:
        data = CloudWatchLogsEvent(event).parse_logs_data()
        received.append((data.log_stream, [e.message for e in data.log_events]))
        assert context.aws_request_id
        return len(data.log_events)

    assert sorted(local_plane.deliver(logs, GROUP, handler)) == [1, 2]
    assert sorted(received) == [
        ("jr_1", ['{"schema_version":"1.0","n":1}', '{"schema_version":"1.0","n":2}']),
        ("jr_2", ['[INFO]\tt\tr\t{"schema_version":"1.0","n":3}']),
    ]
    assert SOURCE_FILTER_PATTERN == '"schema_version"'


def test_batches_are_cut_at_the_size_asked(logs: Any) -> None:
    put(logs, "jr_1", [f'{{"schema_version":"1.0","n":{i}}}' for i in range(5)])
    batches = list(local_plane.filtered_batches(logs, GROUP, max_events=2))
    assert [len(events) for _, events in batches] == [2, 2, 1]


def test_provision_creates_the_table_with_its_indexes_and_environment_restores() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name=local_plane.LOCAL_REGION)
        dynamodb = boto3.client("dynamodb", region_name=local_plane.LOCAL_REGION)
        env = local_plane.provision(s3=s3, dynamodb=dynamodb, bucket="archive-x", table="runs-x")
        table = dynamodb.describe_table(TableName="runs-x")["Table"]
        indexes = {index["IndexName"] for index in table["GlobalSecondaryIndexes"]}
        assert indexes == {RunStateTable.ACTIVE_INDEX, RunStateTable.PIPELINE_INDEX}
        assert s3.head_bucket(Bucket="archive-x")

    before = dict(os.environ)
    with local_plane.environment(env):
        assert all(os.environ[name] == value for name, value in env.items())
    assert dict(os.environ) == before
