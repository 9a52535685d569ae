"""The EMR bootstrap action, run for real against local wheelhouses with --target into temp folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shipping import build
from tests.packaging.support import assert_has_runtime_dependencies, dist_versions, make_wheel

VERSION = build.project_table()["version"]


def run_bootstrap(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Only the wheelhouse may provide wheels: no pip configuration or PIP_* variable of this machine.
    env = {name: value for name, value in os.environ.items() if not name.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    return subprocess.run(
        ["bash", str(script), "--python", sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def import_from(site: Path, module: str) -> subprocess.CompletedProcess[str]:
    """Import ``module`` with nothing but ``site`` and the standard library on the path."""
    return subprocess.run(
        [sys.executable, "-S", "-c", f"import {module}; print({module}.__file__)"],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(site)},
        cwd=site.parent,
        capture_output=True,
        text=True,
        check=False,
    )


def assert_failed_with(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("lineage bootstrap: ")
    for word in words:
        assert word in last_line


def test_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(build.BOOTSTRAP_SCRIPT)], check=True)


def test_missing_source_fails_and_says_so(tmp_path: Path) -> None:
    result = run_bootstrap(
        build.BOOTSTRAP_SCRIPT, "--target", str(tmp_path / "site"), str(tmp_path / "absent")
    )
    assert_failed_with(result, "source unreachable", str(tmp_path / "absent"))
    assert result.stdout == ""


def test_source_without_the_wheel_fails_and_says_so(tmp_path: Path) -> None:
    result = run_bootstrap(build.BOOTSTRAP_SCRIPT, "--target", str(tmp_path / "site"), str(tmp_path))
    assert_failed_with(result, "no wheel found", str(tmp_path))


def test_unknown_python_fails_and_says_so(tmp_path: Path) -> None:
    # run_bootstrap passes --python too; the last one given wins.
    result = run_bootstrap(build.BOOTSTRAP_SCRIPT, "--python", "no-such-python", str(tmp_path))
    assert_failed_with(result, "python not found", "--python")


def test_unknown_option_fails_and_says_so(tmp_path: Path) -> None:
    result = run_bootstrap(build.BOOTSTRAP_SCRIPT, "--sudo", str(tmp_path))
    assert_failed_with(result, "unknown option --sudo")


@pytest.mark.slow  # runs pip
def test_wheelhouse_missing_a_dependency_fails_in_pip_and_says_so(tmp_path: Path) -> None:
    make_wheel(tmp_path, "lineage-lib", VERSION, requires=["absent-dependency>=1"])
    result = run_bootstrap(build.BOOTSTRAP_SCRIPT, "--target", str(tmp_path / "site"), str(tmp_path))
    assert_failed_with(result, "pip failed", str(tmp_path))
    assert "absent-dependency" in result.stderr  # pip's own reason, above the one-line summary


@pytest.mark.slow  # runs pip
def test_a_wheel_without_lineage_lib_fails_the_import_check(tmp_path: Path) -> None:
    make_wheel(tmp_path, "lineage-lib", VERSION, package="not_lineage_lib")  # installs, no lineage_lib
    result = run_bootstrap(build.BOOTSTRAP_SCRIPT, "--target", str(tmp_path / "site"), str(tmp_path))
    assert_failed_with(result, "does not import")


@pytest.fixture(scope="module")
def installed(artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A copy of the EMR wheelhouse, the --target folder, and the first run's stdout."""
    root = tmp_path_factory.mktemp("emr-node")
    source, site = root / "source", root / "site"
    shutil.copytree(artifacts / build.EMR_DIR / build.EMR_WHEELHOUSE, source)
    result = run_bootstrap(
        artifacts / build.EMR_DIR / build.BOOTSTRAP_SCRIPT.name, "--target", str(site), str(source)
    )
    assert result.returncode == 0, result.stderr
    return source, site, result.stdout


@pytest.mark.slow
def test_installs_an_importable_lineage_lib_with_its_dependencies(installed: tuple[Path, Path, str]) -> None:
    _, site, stdout = installed
    assert f"installed lineage-lib {VERSION}" in stdout
    result = import_from(site, "lineage_lib")
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_relative_to(site)
    assert_has_runtime_dependencies(dist_versions(site))


@pytest.mark.slow
def test_second_run_says_already_installed_and_succeeds(
    artifacts: Path, installed: tuple[Path, Path, str]
) -> None:
    source, site, _ = installed
    script = artifacts / build.EMR_DIR / build.BOOTSTRAP_SCRIPT.name
    result = run_bootstrap(script, "--target", str(site), source.as_uri())  # file:// this time
    assert result.returncode == 0, result.stderr
    assert f"lineage-lib {VERSION} is already installed" in result.stdout
