"""Jobs run as real processes, on the venv's Python 3.11 and on a Python 3.9 (EMR 7's), for the tests
of what lineage_lib promises about processes: forks, threads, signals, a stalled endpoint, lenient mode.

A job is a script written to ``tmp_path/job.py`` and started with ``PYTHONPATH`` at the repository;
its lineage is the JSON lines of its standard output (or standard error, where a test says so).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lineage_lib import contract, env
from lineage_lib.contract import EventType
from tests.conftest import REPO
from tests.functional.test_supported_pythons import find_python

TIMEOUT = 60.0
PYTHONS = ("3.11", "3.9")
SIGTERM_STATUS = -signal.SIGTERM


def python_for(version: str) -> str:
    """The interpreter of a version: the tests' own for 3.11, else one found on the machine (skip if none)."""
    if version == f"{sys.version_info.major}.{sys.version_info.minor}":
        return sys.executable
    found = find_python(version)
    if found is None:
        pytest.skip(f"no Python {version} on this machine")
    return found


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    seconds: float  # from the signal (or the start) to the end of the process

    def events(self, text: str | None = None) -> list[dict[str, Any]]:
        """The lineage events of standard output (or of ``text``), each checked against the contract."""
        lines = (self.stdout if text is None else text).splitlines()
        events = [json.loads(line) for line in lines if line.startswith("{")]
        for event in events:
            contract.validate(event)
        return events


def start(
    tmp_path: Path,
    body: str,
    *,
    python: str,
    settings: Mapping[str, str] | None = None,
    unset: Sequence[str] = (),
) -> subprocess.Popen[str]:
    script = tmp_path / "job.py"
    script.write_text(body, encoding="utf-8")
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(env.PREFIX) and k not in unset}
    child_env.pop("PYTHONUNBUFFERED", None)
    child_env.update({"PYTHONPATH": str(REPO), **(settings or {})})
    return subprocess.Popen(
        [python, str(script), str(tmp_path)],
        cwd=tmp_path,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
    )


def wait_for(marker: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not marker.exists():
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the job ended (status {proc.returncode}) before {marker.name}: {err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the job did not write {marker.name} in time")
        time.sleep(0.01)


def finish(
    proc: subprocess.Popen[str],
    *,
    signal_when: Path | None = None,
    send: signal.Signals = signal.SIGTERM,
    timeout: float = TIMEOUT,
) -> Finished:
    """Wait for the job (after sending ``send`` once ``signal_when`` exists); kill it past ``timeout``."""
    try:
        if signal_when is not None:
            wait_for(signal_when, proc)
            proc.send_signal(send)
        began = time.monotonic()
        out, err = proc.communicate(timeout=timeout)
        return Finished(proc.returncode, out, err, time.monotonic() - began)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def run_job(
    tmp_path: Path,
    body: str,
    *,
    python: str,
    settings: Mapping[str, str] | None = None,
    signal_when: str | None = None,
    timeout: float = TIMEOUT,
) -> Finished:
    proc = start(tmp_path, body, python=python, settings=settings)
    marker = None if signal_when is None else tmp_path / signal_when
    return finish(proc, signal_when=marker, timeout=timeout)


def by_run(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each run's event types, in the order they were printed."""
    runs: dict[str, list[str]] = {}
    for event in events:
        runs.setdefault(event["run_id"], []).append(event["event_type"])
    return runs


def terminal_events(types: list[str]) -> list[str]:
    return [t for t in types if t in EventType.RUN_TERMINAL]
