"""lineage_lib runs where jobs run: Glue 4.0 (3.10), Glue 5.0 (3.11), EMR 7 (3.9), Lambda (3.12+)."""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lineage_lib import contract
from shipping.job_wheel import build_job_wheel
from tests.conftest import REPO
from tests.functional import test_crash_safety as crash

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


@pytest.fixture(scope="module")
def job_wheel_content(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The job wheel (what Glue, EMR and the Lambda layer install), built and unpacked: lineage_lib alone."""
    folder = tmp_path_factory.mktemp("job-wheel")
    wheel = build_job_wheel(folder / "dist")
    site = folder / "site"
    zipfile.ZipFile(wheel).extractall(site)
    assert sorted(p.name for p in site.iterdir() if not p.name.endswith(".dist-info")) == ["lineage_lib"]
    return site


@pytest.mark.parametrize("version", ["3.9", "3.10"])
def test_the_job_wheel_imports_and_keeps_its_crash_promise_on_old_pythons(
    version: str, job_wheel_content: Path, tmp_path: Path
) -> None:
    python = find_python(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine (pyenv's {version} is expected on CI)")
    # -S: no site-packages, no clone on the path: the wheel's content is all the job has.
    probe = [python, "-S", "-c", "import lineage_lib, sys; print(lineage_lib.__file__, sys.version_info[:2])"]
    done = subprocess.run(
        probe,
        env={"PYTHONPATH": str(job_wheel_content)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(str(job_wheel_content))
    assert f"(3, {version.split('.')[1]})" in done.stdout
    # The SIGTERM path: step and run aborted with the signal, then the process dies of SIGTERM.
    body, expected_status, send = crash.JOBS["sigterm_in_with"]
    finished = crash._run_job(tmp_path, body, send=send, pythonpath=job_wheel_content, python=(python, "-S"))
    assert finished.returncode == expected_status, finished.stderr
    assert finished.types() == ["RUN_START", "STEP_START", "READ", "STEP_FAIL", "RUN_ABORT"]
    assert finished.last("RUN_ABORT")["error"]["signal"] == "SIGTERM"
