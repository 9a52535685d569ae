"""Crash safety, proved on real processes: however a job ends, its runs get a terminal event and the
process ends with the status it would have had without lineage_lib.

Each job is a small script run with the interpreter of the tests; its events are the JSON lines of
its standard output. Every exit status expected here is the one of the same script without the
library, and ``test_without_lineage_each_job_ends_with_the_expected_status`` proves it on a no-op
``lineage_lib``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from lineage_lib import contract, env
from lineage_lib.contract import EventType
from tests.conftest import REPO

TIMEOUT = 20.0
SIGTERM_STATUS = -signal.SIGTERM  # killed by SIGTERM under its default action
SIGINT_STATUS = -signal.SIGINT  # Python ends with SIGINT after an unhandled KeyboardInterrupt

PRELUDE = """\
import os, signal, sys, time
from pathlib import Path
import lineage_lib

HERE = Path(sys.argv[1])
IN, OUT = lineage_lib.s3("raw-bucket", "orders"), lineage_lib.s3("curated-bucket", "daily")

def wait_for_sigterm():
    print("working, not an event", flush=True)
    (HERE / "ready").write_text("ready")
    time.sleep(60)
"""

# A run and its step "aggregate": the job code appended runs inside their with-blocks, or after them
# with both left open.
IN_WITH = """\
with lineage_lib.run("orders-daily") as run, run.step("aggregate") as step:
    step.read(IN, records=10)
    """
LEFT_OPEN = """\
run = lineage_lib.run("orders-daily")
run.step("aggregate").read(IN, records=10)
"""
RAISE = 'raise ValueError("order_total is missing")'
HANDLER_EXITS = """\
def on_term(signum, frame):
    (HERE / "job-handler-ran").write_text("yes")
    sys.exit(143)

signal.signal(signal.SIGTERM, on_term)
"""
GRACEFUL = """\
stop = []
signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))
with lineage_lib.run("orders-daily") as run, run.step("aggregate") as step:
    step.read(IN, records=10)
    (HERE / "ready").write_text("ready")
    deadline = time.monotonic() + 60
    while not stop and time.monotonic() < deadline:
        time.sleep(0.01)
    step.write(OUT, records=2)  # finish the batch in hand, then stop
"""
CLEAN = """\
with lineage_lib.run("orders-daily") as run, run.step("aggregate") as step:
    step.read(IN, records=10)
    step.write(OUT, records=2)
explicit = lineage_lib.run("orders-daily")
explicit.step("export").write(OUT, records=2)
explicit.complete()
"""
COMPLETE_WITH_METRICS = """\
run = lineage_lib.run("orders-daily")
step = run.step("export")
step.write(OUT, records=2)
step.complete(records=2)
run.complete(records=2)
"""
TERM = signal.SIGTERM

# name: (the job after the prelude, its exit status without lineage_lib, signal the test sends)
JOBS: dict[str, tuple[str, int, signal.Signals | None]] = {
    "exception_in_with": (IN_WITH + RAISE, 1, None),
    "exception_without_with": (LEFT_OPEN + RAISE, 1, None),
    "exit_in_with": (IN_WITH + "sys.exit(3)", 3, None),
    "exit_without_with": (LEFT_OPEN + "sys.exit(3)", 3, None),
    "keyboard_interrupt_in_with": (IN_WITH + "raise KeyboardInterrupt", SIGINT_STATUS, None),
    "keyboard_interrupt_without_with": (LEFT_OPEN + "raise KeyboardInterrupt", SIGINT_STATUS, None),
    "sigterm_in_with": (IN_WITH + "wait_for_sigterm()", SIGTERM_STATUS, TERM),
    "sigterm_without_with": (LEFT_OPEN + "wait_for_sigterm()", SIGTERM_STATUS, TERM),
    "sigterm_job_handler_exits_in_with": (HANDLER_EXITS + IN_WITH + "wait_for_sigterm()", 143, TERM),
    "sigterm_job_handler_exits_without_with": (HANDLER_EXITS + LEFT_OPEN + "wait_for_sigterm()", 143, TERM),
    "sigterm_job_handler_stops_gracefully": (GRACEFUL, 0, TERM),
    "sigterm_after_the_run_closed": (IN_WITH + "pass\nwait_for_sigterm()", SIGTERM_STATUS, TERM),
    "clean": (CLEAN, 0, None),
    "complete_with_metrics": (COMPLETE_WITH_METRICS, 0, None),
}

# Sends itself SIGTERM just before writing the terminal event, the worst moment for it to arrive.
SIGTERM_DURING_TERMINAL_EVENT = """
from lineage_lib.sinks import StdoutSink

class SigtermBeforeRunComplete(StdoutSink):
    def emit(self, line, event):
        if event["event_type"] == "RUN_COMPLETE":
            os.kill(os.getpid(), signal.SIGTERM)
        super().emit(line, event)

with lineage_lib.run("orders-daily", sink=SigtermBeforeRunComplete()) as run, run.step("aggregate") as step:
    step.read(IN, records=10)
"""

NO_OP_LINEAGE_LIB = """
class _Scope:
    def __enter__(self): return self
    def __exit__(self, *exc_info): return None
    def step(self, name): return _Scope()
    def read(self, *args, **kwargs): return None
    def write(self, *args, **kwargs): return None
    def complete(self, **metrics): return None

def run(*args, **kwargs): return _Scope()
def s3(*parts): return "s3://" + "/".join(parts)
"""


@dataclass
class Finished:
    returncode: int
    events: list[dict[str, Any]]
    stdout: str
    stderr: str

    def types(self) -> list[str]:
        return [e["event_type"] for e in self.events]

    def last(self, event_type: str) -> dict[str, Any]:
        return [e for e in self.events if e["event_type"] == event_type][-1]


def _spawn(
    tmp_path: Path,
    body: str,
    *,
    settings: dict[str, str] | None = None,
    pythonpath: Path = REPO,
    python: Sequence[str] = (sys.executable,),
) -> subprocess.Popen[str]:
    """Start the job in ``tmp_path`` with stdout buffered as in production (no PYTHONUNBUFFERED)."""
    script = tmp_path / "job.py"
    script.write_text(PRELUDE + dedent(body), encoding="utf-8")
    child_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED", "PYTHONPATH")}
    child_env.update({"PYTHONPATH": str(pythonpath), **(settings or {})})
    return subprocess.Popen(
        [*python, str(script), str(tmp_path)],
        cwd=tmp_path,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )


def _run_job(
    tmp_path: Path,
    body: str,
    *,
    send: signal.Signals | None = None,
    settings: dict[str, str] | None = None,
    pythonpath: Path = REPO,
    python: Sequence[str] = (sys.executable,),
) -> Finished:
    proc = _spawn(tmp_path, body, settings=settings, pythonpath=pythonpath, python=python)
    try:
        if send is not None:
            _wait_until_ready(tmp_path / "ready", proc)
            proc.send_signal(send)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    events = [json.loads(line) for line in lines]
    for event in events:
        contract.validate(event)
    return Finished(proc.returncode, events, out, err)


def _wait_until_ready(marker: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"the job ended (status {proc.returncode}) before it was ready: {proc.stderr.read()}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            pytest.fail("the job did not get ready in time")
        time.sleep(0.01)


def _assert_each_run_in_order(events: list[dict[str, Any]]) -> None:
    """RUN_START first, exactly one terminal event last, each step's events between its start and end."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        runs.setdefault(event["run_id"], []).append(event)
    assert runs, "no event at all"
    for run_events in runs.values():
        types = [e["event_type"] for e in run_events]
        assert types[0] == EventType.RUN_START, types
        assert types.count(EventType.RUN_START) == 1, types
        assert types[-1] in EventType.RUN_TERMINAL, types
        assert sum(t in EventType.RUN_TERMINAL for t in types) == 1, types
        open_steps: set[str] = set()
        for event in run_events[1:-1]:
            kind, step = event["event_type"], event["step"]
            if kind == EventType.STEP_START:
                assert step not in open_steps, types
                open_steps.add(step)
            else:
                assert step in open_steps, f"{kind} of step {step!r} outside the step: {types}"
                if kind in EventType.STEP_TERMINAL:
                    open_steps.remove(step)
        assert not open_steps, f"steps {open_steps} never closed: {types}"
        times = [e["event_time"] for e in run_events]
        assert times == sorted(times)


def _job(tmp_path: Path, name: str, **kwargs: Any) -> Finished:
    body, expected_status, send = JOBS[name]
    finished = _run_job(tmp_path, body, send=send, **kwargs)
    assert finished.returncode == expected_status, finished.stderr
    return finished


@pytest.mark.parametrize("name", sorted(JOBS))
def test_without_lineage_each_job_ends_with_the_expected_status(tmp_path: Path, name: str) -> None:
    no_op = tmp_path / "without_lineage" / "lineage_lib"
    no_op.mkdir(parents=True)
    (no_op / "__init__.py").write_text(NO_OP_LINEAGE_LIB, encoding="utf-8")
    finished = _job(tmp_path, name, pythonpath=no_op.parent)
    assert finished.events == []


@pytest.mark.parametrize("name", ["exception_in_with", "exception_without_with"])
def test_an_unhandled_exception_fails_step_and_run_with_it_and_still_prints_the_traceback(
    tmp_path: Path, name: str
) -> None:
    finished = _job(tmp_path, name)
    _assert_each_run_in_order(finished.events)
    assert finished.types() == ["RUN_START", "STEP_START", "READ", "STEP_FAIL", "RUN_FAIL"]
    for kind in ("STEP_FAIL", "RUN_FAIL"):
        error = finished.last(kind)["error"]
        assert (error["type"], error["message"]) == ("ValueError", "order_total is missing")
        assert "Traceback" in error["stack"]
    assert "Traceback (most recent call last)" in finished.stderr
    assert finished.stderr.rstrip().endswith("ValueError: order_total is missing")


def test_sys_exit_inside_the_with_blocks_fails_the_run_with_the_exit_code(tmp_path: Path) -> None:
    finished = _job(tmp_path, "exit_in_with")
    _assert_each_run_in_order(finished.events)
    assert finished.types() == ["RUN_START", "STEP_START", "READ", "STEP_FAIL", "RUN_FAIL"]
    assert finished.last("RUN_FAIL")["error"]["exit_code"] == 3
    assert finished.last("STEP_FAIL")["error"]["exit_code"] == 3


def test_sys_exit_with_a_run_left_open_is_aborted_at_exit(tmp_path: Path) -> None:
    finished = _job(tmp_path, "exit_without_with")
    _assert_each_run_in_order(finished.events)
    assert finished.types() == ["RUN_START", "STEP_START", "READ", "STEP_FAIL", "RUN_ABORT"]
    assert "still open" in finished.last("RUN_ABORT")["error"]["message"]


@pytest.mark.parametrize("name", ["keyboard_interrupt_in_with", "keyboard_interrupt_without_with"])
def test_an_unhandled_keyboard_interrupt_aborts_the_run_with_sigint(tmp_path: Path, name: str) -> None:
    finished = _job(tmp_path, name)
    _assert_each_run_in_order(finished.events)
    assert finished.types() == ["RUN_START", "STEP_START", "READ", "STEP_FAIL", "RUN_ABORT"]
    assert finished.last("RUN_ABORT")["error"]["signal"] == "SIGINT"


@pytest.mark.parametrize("name", ["sigterm_without_with", "sigterm_in_with"])
def test_sigterm_aborts_step_and_run_then_kills_the_process_as_sigterm_does(
    tmp_path: Path, name: str
) -> None:
    finished = _job(tmp_path, name)
    _assert_each_run_in_order(finished.events)
    assert finished.types() == ["RUN_START", "STEP_START", "READ", "STEP_FAIL", "RUN_ABORT"]
    assert finished.last("RUN_ABORT")["error"]["signal"] == "SIGTERM"
    assert finished.last("STEP_FAIL")["error"]["signal"] == "SIGTERM"
    assert "working, not an event" in finished.stdout.splitlines()


@pytest.mark.parametrize(
    "name", ["sigterm_job_handler_exits_without_with", "sigterm_job_handler_exits_in_with"]
)
def test_sigterm_aborts_the_run_and_the_jobs_own_handler_still_ends_the_process(
    tmp_path: Path, name: str
) -> None:
    finished = _job(tmp_path, name)
    assert (tmp_path / "job-handler-ran").read_text() == "yes"
    _assert_each_run_in_order(finished.events)
    assert finished.types() == ["RUN_START", "STEP_START", "READ", "STEP_FAIL", "RUN_ABORT"]
    assert finished.last("RUN_ABORT")["error"]["signal"] == "SIGTERM"


def test_a_job_handler_that_stops_gracefully_keeps_its_run_open_to_complete(tmp_path: Path) -> None:
    finished = _job(tmp_path, "sigterm_job_handler_stops_gracefully")
    _assert_each_run_in_order(finished.events)
    assert finished.types() == ["RUN_START", "STEP_START", "READ", "WRITE", "STEP_COMPLETE", "RUN_COMPLETE"]
    assert finished.stderr == ""


def test_a_clean_run_completes_once_and_the_exit_hook_adds_nothing(tmp_path: Path) -> None:
    finished = _job(tmp_path, "clean")
    _assert_each_run_in_order(finished.events)
    assert finished.types() == [
        *("RUN_START", "STEP_START", "READ", "WRITE", "STEP_COMPLETE", "RUN_COMPLETE"),
        *("RUN_START", "STEP_START", "WRITE", "STEP_COMPLETE", "RUN_COMPLETE"),
    ]
    assert finished.stderr == ""


def test_sigterm_after_the_run_closed_adds_no_event(tmp_path: Path) -> None:
    finished = _job(tmp_path, "sigterm_after_the_run_closed")
    _assert_each_run_in_order(finished.events)
    assert finished.types() == ["RUN_START", "STEP_START", "READ", "STEP_COMPLETE", "RUN_COMPLETE"]


def test_with_signal_handling_off_the_library_leaves_sigterm_alone(tmp_path: Path) -> None:
    finished = _job(tmp_path, "sigterm_without_with", settings={env.HANDLE_SIGNALS: "0"})
    assert finished.types() == ["RUN_START", "STEP_START", "READ"]


@pytest.mark.parametrize(
    ("job_handler", "expected_status"),
    [("", SIGTERM_STATUS), ("signal.signal(signal.SIGTERM, lambda s, f: sys.exit(143))\n", 143)],
)
def test_sigterm_while_the_terminal_event_is_written_waits_for_it(
    tmp_path: Path, job_handler: str, expected_status: int
) -> None:
    finished = _run_job(tmp_path, job_handler + SIGTERM_DURING_TERMINAL_EVENT)
    assert finished.returncode == expected_status, finished.stderr
    _assert_each_run_in_order(finished.events)
    assert finished.types() == ["RUN_START", "STEP_START", "READ", "STEP_COMPLETE", "RUN_COMPLETE"]


def test_completing_with_metrics_ends_the_job_well(tmp_path: Path) -> None:
    finished = _job(tmp_path, "complete_with_metrics")
    _assert_each_run_in_order(finished.events)
    assert finished.last("RUN_COMPLETE")["metrics"] == {"records": 2}
    assert finished.last("STEP_COMPLETE")["metrics"] == {"records": 2}


WAIT_FOR_STDOUT_TO_CLOSE = """
(HERE / "ready").write_text("ready")
while not (HERE / "stdout-closed").exists():
    time.sleep(0.01)
"""


@pytest.mark.parametrize("unbuffered", ["", "1"], ids=["buffered", "unbuffered"])
def test_a_closed_stdout_ends_the_job_as_it_ends_a_job_that_prints(tmp_path: Path, unbuffered: str) -> None:
    """Strict mode: lineage that cannot be delivered fails the job, the way writing to a closed pipe
    fails any job; the exit hook says which run it could not close instead of raising or hanging."""
    bodies = {
        "prints": f'print("started", flush=True){WAIT_FOR_STDOUT_TO_CLOSE}print("done", flush=True)',
        "lineage": f'run = lineage_lib.run("orders-daily"){WAIT_FOR_STDOUT_TO_CLOSE}run.step("aggregate")',
    }
    status, stderr = {}, {}
    for name, body in bodies.items():
        (tmp_path / name).mkdir()
        proc = _spawn(tmp_path / name, body, settings={"PYTHONUNBUFFERED": unbuffered})
        try:
            _wait_until_ready(tmp_path / name / "ready", proc)
            assert proc.stdout is not None
            proc.stdout.readline()  # the first line got out; then the reader goes away
            proc.stdout.close()
            (tmp_path / name / "stdout-closed").write_text("closed")
            _, stderr[name] = proc.communicate(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        status[name] = proc.returncode
    assert status["lineage"] == status["prints"] != 0, stderr
    assert "LineageEmitError: StdoutSink could not emit an event: [Errno 32] Broken pipe" in stderr["lineage"]
    assert "lineage_lib: could not close run" in stderr["lineage"]
