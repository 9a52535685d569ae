"""Fixtures of the functional tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.archive_support as known
from tests.functional.validator_support import Plane, local_plane


@pytest.fixture
def plane() -> Iterator[Plane]:
    """A fresh moto plane (bucket, table, validator settings) for one test."""
    with local_plane() as plane:
        yield plane


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive with known answers (tests/archive_support.py), written once per session."""
    root = tmp_path_factory.mktemp("known-archive")
    known.write_known_archive(root)
    return root
