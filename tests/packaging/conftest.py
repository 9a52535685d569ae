"""The artifacts, built once per test session by the real command's code."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipping import build


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of ``python -m shipping.build`` with its defaults (what ``make artifacts`` ships)."""
    out = tmp_path_factory.mktemp("artifacts")
    build.build_all(out)
    return out


@pytest.fixture(scope="session")
def project_wheel(artifacts: Path) -> Path:
    (wheel,) = (artifacts / build.WHEEL_DIR).glob("*.whl")
    return wheel
