"""One synthesized template per test session (synthesis costs seconds)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

# As the Makefile sets them, for runs of pytest outside make: jsii's cache stays in the project.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_RUNTIME_PACKAGE_CACHE_ROOT", str(REPO / "build" / "cache" / "jsii"))


@pytest.fixture(scope="session")
def stack(artifacts: Path) -> Any:
    import aws_cdk as cdk

    from infra.config import PlaneConfig
    from infra.stack import LineagePlaneStack

    app = cdk.App()
    return LineagePlaneStack(app, "LineagePlane", config=PlaneConfig(artifacts_dir=artifacts))


@pytest.fixture(scope="session")
def template(stack: Any) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_stack(stack)
