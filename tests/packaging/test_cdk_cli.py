"""The CDK CLI pinned by package.json and package-lock.json synthesizes the app of cdk.json.

The CLI reads the cloud assembly aws-cdk-lib writes; a CLI older than the library refuses it, so the
pin is checked by a real `cdk synth`. The test installs the CLI with `npm ci` (from the lock file, as
`make synth-cli` does) when node_modules/ does not hold the pinned version.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

LOCK = REPO / "package-lock.json"
NODE_MODULES = REPO / "node_modules"
CDK = NODE_MODULES / ".bin" / "cdk"
STACK = "LineagePlane"


def pinned_version() -> str:
    version: str = json.loads(LOCK.read_text())["packages"]["node_modules/aws-cdk"]["version"]
    return version


def installed_version() -> str | None:
    package = NODE_MODULES / "aws-cdk" / "package.json"
    return json.loads(package.read_text())["version"] if package.is_file() and CDK.exists() else None


@pytest.fixture(scope="session")
def cdk_cli() -> Path:
    """node_modules/.bin/cdk at the version of package-lock.json, installed with `npm ci` if need be."""
    if installed_version() != pinned_version():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm not found: the CDK CLI needs Node.js 20 or later with npm")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=REPO, check=True, timeout=600)
    assert installed_version() == pinned_version()
    return CDK


def cli_environment(cache: Path) -> dict[str, str]:
    """As the Makefile sets it: no version check or telemetry (offline), caches out of the home folder."""
    return {
        **os.environ,
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "CDK_HOME": str(cache / "cdk"),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_RUNTIME_PACKAGE_CACHE_ROOT": str(REPO / "build" / "cache" / "jsii"),
    }


def test_package_json_pins_the_cli_the_lock_file_holds() -> None:
    package = json.loads((REPO / "package.json").read_text())
    assert package["private"] is True
    assert package["devDependencies"]["aws-cdk"] == f"~{pinned_version()}"


def test_pinned_cli_synthesizes_the_app(cdk_cli: Path, artifacts: Path, tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    env = cli_environment(tmp_path)
    version = subprocess.run([cdk_cli, "--version"], env=env, capture_output=True, text=True, check=True)
    assert version.stdout.startswith(pinned_version() + " ")
    result = subprocess.run(
        [
            *(cdk_cli, "synth", "--no-notices", "-q", "-o", str(out)),
            *("-c", f"lineage:artifactsDir={artifacts}"),  # this session's build, not build/artifacts
        ],
        cwd=REPO,  # cdk.json's app: .venv/bin/python app.py
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["artifacts"][STACK]["type"] == "aws:cloudformation:stack"
    template = json.loads((out / f"{STACK}.template.json").read_text())
    types = {resource["Type"] for resource in template["Resources"].values()}
    assert "AWS::Lambda::LayerVersion" in types
    assert list(out.glob("asset.*")), "the assets (layer, functions) are staged beside the template"
