"""The CloudWatch Logs sink against moto: what lands in the log group, batching, failures, exit."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

import lineage_lib
from lineage_lib import contract
from lineage_lib.contract import CLOUDWATCH_EVENT_OVERHEAD, EventType
from lineage_lib.emitter import flush_all_sinks
from lineage_lib.errors import LineageConfigError, LineageEmitError
from lineage_lib.sinks.cloudwatch import CloudWatchLogsSink, epoch_millis
from tests.conftest import REPO

REGION = "us-east-1"
GROUP = "/lineage-plane/events"
STREAM = "emr/j-1ABCDEF/s-2GHIJKL"
RAW = lineage_lib.s3("s3://raw-bucket/orders/")
DAILY = lineage_lib.glue_table("analytics_db", "orders_daily")
FULL_RUN = [
    EventType.RUN_START,
    EventType.STEP_START,
    EventType.READ,
    EventType.WRITE,
    EventType.STEP_COMPLETE,
    EventType.RUN_COMPLETE,
]
HOUR_MS = 3_600_000


class RecordingSink(CloudWatchLogsSink):
    """The real sink, remembering the lines it was given: what CloudWatch holds must be exactly these."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: list[str] = []

    def emit(self, line: str, event: Mapping[str, Any]) -> None:
        self.lines.append(line)
        super().emit(line, event)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, and nothing from the machine that could reach real AWS."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture
def logs(aws_env: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("logs", region_name=REGION)


@pytest.fixture
def group(logs: Any) -> str:
    logs.create_log_group(logGroupName=GROUP)
    return GROUP


@pytest.fixture
def make_sink(logs: Any) -> Iterator[Callable[..., RecordingSink]]:
    """Sinks whose leftovers are delivered to moto at teardown, not to real AWS at interpreter exit."""
    made: list[RecordingSink] = []

    def make(*args: Any, **kwargs: Any) -> RecordingSink:
        sink = RecordingSink(*args, **kwargs)
        made.append(sink)
        return sink

    yield make
    for sink in made:
        if sink.pending:
            if not logs.describe_log_groups(logGroupNamePrefix=sink.log_group)["logGroups"]:
                logs.create_log_group(logGroupName=sink.log_group)
            sink.flush()


def count_puts(client: Any) -> list[list[dict[str, Any]]]:
    """The logEvents of every PutLogEvents call the client makes (a real botocore event hook)."""
    calls: list[list[dict[str, Any]]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(list(params["logEvents"]))

    # before-parameter-build sees the API parameters, once per call (retries happen further down).
    client.meta.events.register("before-parameter-build.logs.PutLogEvents", record)
    return calls


def stored(logs: Any, stream: str = STREAM, group: str = GROUP) -> list[dict[str, Any]]:
    return logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]


def messages(logs: Any, stream: str = STREAM, group: str = GROUP) -> list[str]:
    return [e["message"] for e in stored(logs, stream, group)]


def event_at(millis: int) -> dict[str, str]:
    return {"event_time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + "Z"}


def full_run(sink: Any, pipeline: str = "orders-daily") -> None:
    with lineage_lib.run(pipeline=pipeline, sink=sink) as run, run.step("aggregate") as step:
        step.read(RAW, records=1200)
        step.write(DAILY, records=31)


def test_run_events_land_in_the_stream_in_order_as_the_exact_json_lines(
    logs: Any, group: str, make_sink: Callable[..., RecordingSink]
) -> None:
    sink = make_sink(group, STREAM)
    full_run(sink)

    events = stored(logs)
    assert [e["message"] for e in events] == sink.lines
    parsed = [json.loads(e["message"]) for e in events]
    for event in parsed:
        contract.validate(event)
    assert [e["event_type"] for e in parsed] == FULL_RUN
    assert [e["timestamp"] for e in events] == [epoch_millis(e["event_time"]) for e in parsed]
    assert sink.pending == 0


def test_the_stream_is_created_on_first_flush_and_an_existing_one_is_reused(
    logs: Any, group: str, make_sink: Callable[..., RecordingSink]
) -> None:
    assert logs.describe_log_streams(logGroupName=group)["logStreams"] == []
    full_run(make_sink(group, STREAM))
    full_run(make_sink(group, STREAM))  # a second process writing to the same stream

    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [STREAM]
    assert [json.loads(m)["event_type"] for m in messages(logs)] == FULL_RUN * 2


def test_the_default_stream_name_is_unique_and_readable(
    logs: Any, group: str, make_sink: Callable[..., RecordingSink]
) -> None:
    first, second = make_sink(group), make_sink(group)
    today = time.strftime("%Y/%m/%d", time.gmtime())
    assert re.fullmatch(rf"lineage/{today}/[^/:*]+/[0-9a-f]{{32}}", first.log_stream)
    assert first.log_stream != second.log_stream
    full_run(first)
    assert len(messages(logs, first.log_stream)) == len(FULL_RUN)


def test_a_stream_deleted_after_creation_is_created_again(
    logs: Any, group: str, make_sink: Callable[..., RecordingSink]
) -> None:
    sink = make_sink(group, STREAM, client=boto3.client("logs", region_name=REGION))
    sink.emit("first", event_at(int(time.time() * 1000)))
    sink.flush()
    logs.delete_log_stream(logGroupName=group, logStreamName=STREAM)

    sink.emit("second", event_at(int(time.time() * 1000)))
    sink.flush()
    assert messages(logs) == ["second"]


def test_batches_split_at_the_event_count_limit(
    logs: Any, group: str, make_sink: Callable[..., RecordingSink]
) -> None:
    client = boto3.client("logs", region_name=REGION)
    calls = count_puts(client)
    sink = make_sink(group, STREAM, client=client, max_batch_events=4)
    full_run(sink)  # 4 buffered, the 5th sends them; RUN_COMPLETE's flush sends the last 2

    assert [len(call) for call in calls] == [4, 2]
    assert messages(logs) == sink.lines


def test_batches_split_at_the_byte_limit_counting_utf8_bytes_and_overhead(
    logs: Any, group: str, make_sink: Callable[..., RecordingSink]
) -> None:
    client = boto3.client("logs", region_name=REGION)
    calls = count_puts(client)
    sink = make_sink(group, STREAM, client=client, max_batch_bytes=250)
    now = int(time.time() * 1000)
    # 2 + 36 x 2 = 74 UTF-8 bytes (38 characters) + 26 overhead = 100: two fit in 250, three do not.
    lines = [f"{i:02d}" + "é" * 36 for i in range(5)]
    for i, line in enumerate(lines):
        sink.emit(line, event_at(now + i * 1000))
    sink.close()

    assert [len(call) for call in calls] == [2, 2, 1]
    assert messages(logs) == lines


def test_an_event_larger_than_the_byte_limit_is_sent_on_its_own(
    logs: Any, group: str, make_sink: Callable[..., RecordingSink]
) -> None:
    client = boto3.client("logs", region_name=REGION)
    calls = count_puts(client)
    sink = make_sink(group, STREAM, client=client, max_batch_bytes=100)
    now = int(time.time() * 1000)
    sink.emit("small", event_at(now))
    sink.emit("x" * 300, event_at(now + 1000))
    sink.emit("small again", event_at(now + 2000))
    sink.flush()

    assert [len(call) for call in calls] == [1, 1, 1]
    assert messages(logs) == ["small", "x" * 300, "small again"]


def test_batches_are_chronological_and_never_span_24_hours(
    logs: Any, group: str, make_sink: Callable[..., RecordingSink]
) -> None:
    client = boto3.client("logs", region_name=REGION)
    calls = count_puts(client)
    sink = make_sink(group, STREAM, client=client)
    now = int(time.time() * 1000)
    for hours_ago in (1, 30, 20, 29):  # emitted out of order
        sink.emit(f"{hours_ago}h ago", event_at(now - hours_ago * HOUR_MS))
    sink.flush()

    assert [[e["message"] for e in call] for call in calls] == [
        ["30h ago", "29h ago", "20h ago"],
        ["1h ago"],  # 29 hours after the batch's first event: a PutLogEvents call may not span that
    ]
    assert messages(logs) == ["30h ago", "29h ago", "20h ago", "1h ago"]


def test_emit_flushes_once_the_oldest_event_is_older_than_the_interval(
    logs: Any, group: str, make_sink: Callable[..., RecordingSink]
) -> None:
    client = boto3.client("logs", region_name=REGION)
    calls = count_puts(client)
    sink = make_sink(group, STREAM, client=client, flush_interval=0.2)
    sink.emit("first", event_at(int(time.time() * 1000)))
    assert (calls, sink.pending) == ([], 1)

    time.sleep(0.25)
    sink.emit("second", event_at(int(time.time() * 1000)))
    assert (len(calls), sink.pending) == (1, 0)
    assert messages(logs) == ["first", "second"]


def test_close_flushes_what_is_buffered(
    logs: Any, group: str, make_sink: Callable[..., RecordingSink]
) -> None:
    sink = make_sink(group, STREAM)
    sink.emit("buffered", event_at(int(time.time() * 1000)))
    assert sink.pending == 1
    sink.close()
    assert messages(logs) == ["buffered"]


def test_a_missing_log_group_is_reported_and_the_events_stay_buffered(
    logs: Any, make_sink: Callable[..., RecordingSink], caplog: pytest.LogCaptureFixture
) -> None:
    sink = make_sink(GROUP, STREAM)
    with pytest.raises(LineageEmitError) as raised:
        full_run(sink)  # RUN_COMPLETE's flush is the first one

    message = str(raised.value)
    for expected in (repr(GROUP), "does not exist", "deploy", "logs:CreateLogStream", "logs:PutLogEvents"):
        assert expected in message
    assert sink.pending == len(FULL_RUN)
    # Flushing again, closing, and the flush at interpreter exit each try once and give up: no loop.
    with pytest.raises(LineageEmitError):
        sink.close()
    with caplog.at_level(logging.ERROR, logger="lineage_lib.emitter"):
        flush_all_sinks()
    assert "does not exist" in caplog.text
    assert sink.pending == len(FULL_RUN)

    logs.create_log_group(logGroupName=GROUP)
    sink.flush()
    assert messages(logs) == sink.lines
    assert [json.loads(m)["event_type"] for m in sink.lines] == FULL_RUN


def test_an_aws_error_carries_its_code_and_keeps_the_events(
    logs: Any, group: str, make_sink: Callable[..., RecordingSink]
) -> None:
    from moto.core import set_initial_no_auth_action_count

    # A job role allowed to create its stream but not to write to it: moto checks IAM policies
    # within set_initial_no_auth_action_count(0).
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="emr-step")
    key = iam.create_access_key(UserName="emr-step")["AccessKey"]

    def allow(*actions: str) -> None:
        statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
        document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        iam.put_user_policy(UserName="emr-step", PolicyName="lineage", PolicyDocument=document)

    client = boto3.client(
        "logs",
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    sink = make_sink(group, STREAM, client=client)
    sink.emit("kept", event_at(int(time.time() * 1000)))
    allow("logs:CreateLogStream")
    with pytest.raises(LineageEmitError) as raised:
        set_initial_no_auth_action_count(0)(sink.flush)()
    # AWS says AccessDeniedException; moto answers this JSON API with an XML error body that botocore
    # reads as code "403". Either way the code and the service's message are in ours.
    assert re.search(r"PutLogEvents failed with (AccessDeniedException|403)", str(raised.value))
    assert "not authorized to perform: logs:PutLogEvents" in str(raised.value)
    assert raised.value.__cause__ is not None
    assert sink.pending == 1

    allow("logs:CreateLogStream", "logs:PutLogEvents")
    set_initial_no_auth_action_count(0)(sink.flush)()
    assert messages(logs) == ["kept"]


def test_events_rejected_by_cloudwatch_are_reported_not_dropped_silently(
    logs: Any, group: str, make_sink: Callable[..., RecordingSink]
) -> None:
    sink = make_sink(group, STREAM)
    now = int(time.time() * 1000)
    sink.emit("twenty days old", event_at(now - 20 * 24 * HOUR_MS))
    sink.emit("current", event_at(now))
    with pytest.raises(LineageEmitError, match="1 too old"):
        sink.flush()

    assert messages(logs) == ["current"]
    assert sink.pending == 0  # sending it again could only be rejected again
    sink.flush()


def test_concurrent_emitters_deliver_every_event_exactly_once(
    logs: Any, group: str, make_sink: Callable[..., RecordingSink]
) -> None:
    sink = make_sink(group, STREAM, max_batch_events=7)
    now = int(time.time() * 1000)

    def emit_many(thread: int) -> None:
        for i in range(50):
            sink.emit(f"{thread}-{i}", event_at(now))

    threads = [threading.Thread(target=emit_many, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.close()
    assert sorted(messages(logs)) == sorted(f"{t}-{i}" for t in range(8) for i in range(50))


@pytest.mark.parametrize(
    ("event_time", "millis"),
    [
        ("2024-05-01T12:00:00Z", 1_714_564_800_000),
        ("2024-05-01T12:00:00.5Z", 1_714_564_800_500),
        ("2024-05-01T12:00:00.123456Z", 1_714_564_800_123),
    ],
)
def test_timestamps_come_from_the_event_time(event_time: str, millis: int) -> None:
    assert epoch_millis(event_time) == millis


def test_an_event_without_a_usable_time_is_stamped_now() -> None:
    before = int(time.time() * 1000)
    assert before <= epoch_millis("yesterday") <= int(time.time() * 1000)


def test_from_environment_needs_the_log_group_variable() -> None:
    with pytest.raises(LineageConfigError, match="needs LINEAGE_LOG_GROUP: set it"):
        CloudWatchLogsSink.from_environment({"LINEAGE_LOG_STREAM": STREAM})

    named = CloudWatchLogsSink.from_environment({"LINEAGE_LOG_GROUP": GROUP, "LINEAGE_LOG_STREAM": STREAM})
    assert (named.log_group, named.log_stream) == (GROUP, STREAM)
    generated = CloudWatchLogsSink.from_environment({"LINEAGE_LOG_GROUP": GROUP})
    assert generated.log_stream.startswith("lineage/")


def test_from_environment_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAGE_LOG_GROUP", GROUP)
    assert CloudWatchLogsSink.from_environment().log_group == GROUP


def test_lineage_sink_cloudwatch_sends_the_run_to_the_configured_stream(
    logs: Any, group: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEAGE_SINK", "cloudwatch")
    monkeypatch.setenv("LINEAGE_LOG_GROUP", group)
    monkeypatch.setenv("LINEAGE_LOG_STREAM", STREAM)
    full_run(None)
    assert [json.loads(m)["event_type"] for m in messages(logs)] == FULL_RUN


def test_lineage_sink_cloudwatch_without_a_group_fails_at_run_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAGE_SINK", "cloudwatch")
    with pytest.raises(LineageConfigError, match="LINEAGE_LOG_GROUP"):
        lineage_lib.run(pipeline="orders-daily")


def test_importing_the_library_and_the_sink_does_not_import_boto3() -> None:
    code = "import sys, lineage_lib, lineage_lib.sinks.cloudwatch; sys.exit('boto3' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, check=False).returncode == 0


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=60 * 60),  # minutes ago: up to 60 hours
            st.text(st.characters(exclude_categories=("Cs",)), max_size=120),
        ),
        max_size=25,
    ),
    max_events=st.integers(min_value=1, max_value=6),
    max_bytes=st.integers(min_value=60, max_value=600),
)
def test_every_event_is_delivered_once_in_batches_within_the_limits(
    logs: Any, group: str, events: list[tuple[int, str]], max_events: int, max_bytes: int
) -> None:
    client = boto3.client("logs", region_name=REGION)
    calls = count_puts(client)
    stream = uuid.uuid4().hex
    sink = CloudWatchLogsSink(
        group,
        stream,
        client=client,
        max_batch_events=max_events,
        max_batch_bytes=max_bytes,
        flush_interval=3600,
    )
    now = int(time.time() * 1000)
    lines = [f"{i}:{text}" for i, (_, text) in enumerate(events)]
    for line, (minutes_ago, _) in zip(lines, events, strict=True):
        sink.emit(line, event_at(now - minutes_ago * 60_000))
    sink.close()

    assert sorted(m for call in calls for m in (e["message"] for e in call)) == sorted(lines)
    for call in calls:
        times = [e["timestamp"] for e in call]
        assert times == sorted(times)
        assert times[-1] - times[0] < 24 * HOUR_MS
        assert len(call) <= max_events
        size = sum(len(e["message"].encode("utf-8")) + CLOUDWATCH_EVENT_OVERHEAD for e in call)
        assert size <= max_bytes or len(call) == 1
    if lines:
        assert sorted(messages(logs, stream, group)) == sorted(lines)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def moto_endpoint(aws_env: None) -> Iterator[tuple[str, Any, str]]:
    """A real moto server on this machine: its URL, a Logs client of it, and a fresh log group."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        logs = boto3.client("logs", region_name=REGION, endpoint_url=endpoint)
        group = f"/lineage-plane/slow-{uuid.uuid4().hex[:8]}"
        logs.create_log_group(logGroupName=group)
        yield endpoint, logs, group
    finally:
        server.stop()


def _job_environment(endpoint: str, group: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    environ.update(
        LINEAGE_SINK="cloudwatch",
        LINEAGE_LOG_GROUP=group,
        LINEAGE_LOG_STREAM=STREAM,
        AWS_ENDPOINT_URL=endpoint,
        PYTHONPATH=str(REPO),
    )
    return environ


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [e["event_type"] for e in events]


@pytest.mark.slow
@pytest.mark.parametrize("ending", ["sys.exit(0)", "pass  # the script just ends", "sigterm"])
def test_a_job_that_stops_with_its_run_open_still_delivers_every_event(
    moto_endpoint: tuple[str, Any, str], tmp_path: Any, ending: str
) -> None:
    endpoint, logs, group = moto_endpoint
    job = tmp_path / "emr_step.py"
    wait = "open('ready', 'w').close()\nimport time\ntime.sleep(60)\n"
    job.write_text(
        "import sys\n"
        "import lineage_lib\n"
        "run = lineage_lib.run(pipeline_id='orders-daily')\n"
        "step = run.step('aggregate')\n"
        "step.read(lineage_lib.s3('s3://raw-bucket/orders/'), records=1200)\n"
        f"{wait if ending == 'sigterm' else ending}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, str(job)],
        cwd=tmp_path,
        env=_job_environment(endpoint, group),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if ending == "sigterm":
            while not (tmp_path / "ready").exists() and proc.poll() is None:
                time.sleep(0.01)
            proc.terminate()
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == (-15 if ending == "sigterm" else 0), stderr
    assert "could not" not in stderr

    events = [json.loads(m) for m in messages(logs, STREAM, group)]
    for event in events:
        contract.validate(event)
    assert _types(events) == [
        EventType.RUN_START,
        EventType.STEP_START,
        EventType.READ,
        EventType.STEP_FAIL,
        EventType.RUN_ABORT,
    ]
    expected = (
        "received SIGTERM" if ending == "sigterm" else "the process exited while the run was still open"
    )
    assert events[-1]["error"]["message"] == expected


FORKING_JOB = """\
import os, sys
import lineage_lib

run = lineage_lib.run(pipeline_id="parent-job", run_id="parent-run")
run.step("aggregate").read(lineage_lib.s3("raw-bucket", "orders"), records=1)  # buffered, not sent
pid = os.fork()
if pid == 0:  # the child's own run, through the same process-wide sink
    with lineage_lib.run(pipeline_id="child-job", run_id="child-run") as child:
        child.step("export").write(lineage_lib.s3("curated-bucket", "export"), records=1)
    sys.exit(0)
os.waitpid(pid, 0)
run.complete()
"""


@pytest.mark.slow
def test_a_forked_child_never_sends_what_its_parent_buffered(
    moto_endpoint: tuple[str, Any, str], tmp_path: Any
) -> None:
    endpoint, logs, group = moto_endpoint
    job = tmp_path / "forking_job.py"
    job.write_text(FORKING_JOB)
    done = subprocess.run(
        [sys.executable, str(job)],
        env=_job_environment(endpoint, group),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(m) for m in messages(logs, STREAM, group)]
    assert len({e["event_id"] for e in events}) == len(events)  # nothing sent twice
    runs: dict[str, list[str]] = {}
    for event in events:
        runs.setdefault(event["run_id"], []).append(event["event_type"])
    assert runs == {
        "parent-run": ["RUN_START", "STEP_START", "READ", "STEP_COMPLETE", "RUN_COMPLETE"],
        "child-run": ["RUN_START", "STEP_START", "WRITE", "STEP_COMPLETE", "RUN_COMPLETE"],
    }
