"""A stopping process spends at most LINEAGE_STOP_TIMEOUT seconds on lineage, and loses none of it.

The CloudWatch sink points at a real local endpoint that accepts connections and never answers (what
a stalled network path looks like). Before the fix, SIGTERM flushed twice with 10 s connect and 30 s
read timeouts and standard retries: the process was still there after 150 s, and the platform's
SIGKILL then lost every buffered event, RUN_ABORT included. Now the stop flushes once within the
deadline and writes what it could not send to standard error as lineage lines, which the plane
archives like any other (Glue and Lambda ship standard error to CloudWatch Logs too).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lineage_lib.errors import LineageEmitError
from lineage_lib.sinks.cloudwatch import CloudWatchLogsSink
from tests.conftest import REPO
from tests.functional.job_support import SIGTERM_STATUS, Finished, finish, python_for, start

STOP_TIMEOUT = 2.0
SLACK = 8.0  # process scheduling on a loaded machine, a boto3 client made at the stop
JOB = """\
import sys, time
from pathlib import Path
import lineage_lib

HERE = Path(sys.argv[1])
run = lineage_lib.run("stalled-job")
run.step("aggregate").read(lineage_lib.s3("raw-bucket", "orders"), records=1200)
(HERE / "ready").write_text("ready")
"""
WAIT = "time.sleep(60)\n"
AT_EXIT_MESSAGE = "the process exited while the run was still open"


@pytest.fixture
def stalled_endpoint() -> Iterator[tuple[str, list[socket.socket]]]:
    """http://127.0.0.1:PORT: accepts every connection, reads nothing, answers nothing."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:  # the accept timed out: look at done again
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", accepted
    done.set()
    thread.join()
    for connection in [*accepted, server]:
        connection.close()


@pytest.fixture(scope="session")
def aws_site_for_python39(tmp_path_factory: pytest.TempPathFactory) -> str:
    """boto3 for Python 3.9 (the venv's botocore needs a newer urllib3 than 3.9 runs), from the index."""
    python = python_for("3.9")
    site = tmp_path_factory.mktemp("py39-aws")
    done = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            str(site),
            "boto3",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"could not install boto3 for Python 3.9: {done.stderr[-500:]}")
    return str(site)


def _settings(endpoint: str, pythonpath: str) -> dict[str, str]:
    return {
        "PYTHONPATH": pythonpath,
        "LINEAGE_SINK": "cloudwatch",
        "LINEAGE_LOG_GROUP": "/lineage-plane/events",
        "LINEAGE_LOG_STREAM": "emr/j-STALLED/s-STALLED",
        "LINEAGE_STOP_TIMEOUT": str(STOP_TIMEOUT),
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def _stop(tmp_path: Path, python: str, settings: dict[str, str], *, sigterm: bool) -> Finished:
    unset = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")  # nothing that could reach AWS
    proc = start(tmp_path, JOB + (WAIT if sigterm else ""), python=python, settings=settings, unset=unset)
    return finish(
        proc, signal_when=tmp_path / "ready" if sigterm else None, timeout=STOP_TIMEOUT + SLACK + 30
    )


def _assert_spilled(done: Finished, accepted: list[socket.socket], abort_message: str) -> list[str]:
    """The events went to stderr as valid lineage lines, after one try at the stalled endpoint."""
    assert accepted, "the sink never tried the endpoint"
    assert "lineage events could not be sent to CloudWatch Logs" in done.stderr
    events = done.events(done.stderr)
    assert [e["event_type"] for e in events] == ["RUN_START", "STEP_START", "READ", "STEP_FAIL", "RUN_ABORT"]
    assert events[-1]["error"]["message"] == abort_message
    assert done.events() == []  # nothing on stdout: the sink is CloudWatch's
    return [line for line in done.stderr.splitlines() if line.startswith("{")]


def _archived_by_the_plane(lines: list[str]) -> int:
    from lineage_plane.ingest import Delivery, LogEvent, ingest

    delivery = Delivery(
        "123456789012",
        "/aws-glue/jobs/error",
        "jr_stalled",
        [LogEvent(str(i), 1_796_000_000_000 + i, line) for i, line in enumerate(lines)],
    )
    now = datetime.now(UTC)
    outcome = ingest(delivery, region="eu-west-1", received_at=now, validator_version="test")
    assert outcome.counts.balanced
    return outcome.counts.archived


@pytest.mark.parametrize("sigterm", [True, False], ids=["sigterm", "exit"])
def test_a_stalled_endpoint_holds_the_stop_no_longer_than_the_deadline(
    tmp_path: Path, stalled_endpoint: tuple[str, list[socket.socket]], sigterm: bool
) -> None:
    endpoint, accepted = stalled_endpoint
    done = _stop(tmp_path, python_for("3.11"), _settings(endpoint, str(REPO)), sigterm=sigterm)
    assert done.returncode == (SIGTERM_STATUS if sigterm else 0), done.stderr
    assert done.seconds < STOP_TIMEOUT + SLACK
    lines = _assert_spilled(done, accepted, "received SIGTERM" if sigterm else AT_EXIT_MESSAGE)
    assert _archived_by_the_plane(lines) == len(lines)


@pytest.mark.slow  # installs boto3 for Python 3.9 with pip
def test_a_stalled_endpoint_holds_the_stop_no_longer_than_the_deadline_on_python_3_9(
    tmp_path: Path, stalled_endpoint: tuple[str, list[socket.socket]], aws_site_for_python39: str
) -> None:
    endpoint, accepted = stalled_endpoint
    pythonpath = os.pathsep.join([str(REPO), aws_site_for_python39])
    done = _stop(tmp_path, python_for("3.9"), _settings(endpoint, pythonpath), sigterm=True)
    assert done.returncode == SIGTERM_STATUS, done.stderr
    assert done.seconds < STOP_TIMEOUT + SLACK
    _assert_spilled(done, accepted, "received SIGTERM")


def test_no_time_at_all_writes_everything_to_stderr_at_once(
    tmp_path: Path, stalled_endpoint: tuple[str, list[socket.socket]]
) -> None:
    endpoint, accepted = stalled_endpoint
    settings = {**_settings(endpoint, str(REPO)), "LINEAGE_STOP_TIMEOUT": "0"}
    done = _stop(tmp_path, python_for("3.11"), settings, sigterm=True)
    assert done.returncode == SIGTERM_STATUS, done.stderr
    assert not accepted  # not even tried
    assert [e["event_type"] for e in done.events(done.stderr)][-1] == "RUN_ABORT"


def test_a_bad_stop_timeout_fails_the_run_at_its_start(tmp_path: Path) -> None:
    done = finish(start(tmp_path, JOB, python=python_for("3.11"), settings={"LINEAGE_STOP_TIMEOUT": "soon"}))
    assert done.returncode == 1
    assert "LINEAGE_STOP_TIMEOUT='soon': give the seconds lineage may take" in done.stderr
    assert done.events() == []


def test_a_flush_stuck_in_another_thread_does_not_hold_the_stop(
    stalled_endpoint: tuple[str, list[socket.socket]], capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3
    from botocore.config import Config

    endpoint, accepted = stalled_endpoint
    client = boto3.client(
        "logs",
        region_name="eu-west-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(connect_timeout=1, read_timeout=3, retries={"total_max_attempts": 1}),
    )
    sink = CloudWatchLogsSink("/lineage-plane/events", "emr/j-STUCK/s-STUCK", client=client)
    line = '{"schema_version":"1.0","event_type":"RUN_START"}'
    sink.emit(line, {"event_time": "2026-11-21T05:00:00Z"})

    def stuck_flush() -> None:
        with contextlib.suppress(LineageEmitError):
            sink.flush()  # holds the sink's lock until the read times out

    thread = threading.Thread(target=stuck_flush)
    thread.start()
    while not accepted:
        time.sleep(0.01)
    began = time.monotonic()
    sink.flush_within(1.0)
    assert time.monotonic() - began < 1.0 + SLACK
    err = capsys.readouterr().err
    assert "another thread was still sending them" in err
    assert err.splitlines()[-1] == line
    thread.join()
