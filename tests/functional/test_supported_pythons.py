"""lineage_lib runs where jobs run: Glue 4.0 (3.10), Glue 5.0 (3.11), EMR 7 (3.9), Lambda (3.12+)."""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lineage_lib import contract
from tests.conftest import REPO

TARGET_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")


def find_python(version: str) -> str | None:
    """A working interpreter of that version (pyenv's shims may name one that does not run)."""
    candidates = sorted(glob.glob(f"/root/.pyenv/versions/{version}.*/bin/python{version}"), reverse=True)
    candidates += [found for found in [shutil.which(f"python{version}")] if found]
    for candidate in candidates:
        probe = subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False)
        if probe.returncode == 0:
            return candidate
    return None


def test_the_library_needs_nothing_newer_than_python_3_9() -> None:
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "vermin"),
            "-t=3.9-",
            "--violations",
            "--no-tips",
            "--eval-annotations",
            "lineage_lib",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("version", TARGET_PYTHONS)
def test_the_seed_job_emits_valid_lineage_on_each_target_python(version: str) -> None:
    python = find_python(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine (the vermin check above still covers 3.9)")
    # -S: no site-packages at all, so this also proves lineage_lib needs no third-party package.
    done = subprocess.run(
        [
            python,
            "-S",
            "examples/orders_daily/glue_job.py",
            "--JOB_NAME",
            "orders-daily",
            "--JOB_RUN_ID",
            "jr_py",
        ],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    for event in events:
        contract.validate(event)
    assert [e["event_type"] for e in events][-1] == "RUN_COMPLETE"
    assert any(c["column"] == "revenue" for e in events for c in e.get("columns", []))
