"""Fixtures of the packaging tests (the ``artifacts`` fixture itself is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipping import build


@pytest.fixture(scope="session")
def project_wheel(artifacts: Path) -> Path:
    (wheel,) = (artifacts / build.WHEEL_DIR).glob("*.whl")
    return wheel
