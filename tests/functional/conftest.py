"""Fixtures of the functional tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.functional.validator_support import Plane, local_plane


@pytest.fixture
def plane() -> Iterator[Plane]:
    """A fresh moto plane (bucket, table, validator settings) for one test."""
    with local_plane() as plane:
        yield plane
