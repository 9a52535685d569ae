"""``lineage runs --archive DIR``: the run state read from a file of the table's items gives, view by view,
the answer the table itself gives (the moto table of test_cli_runs.py, filled by the real store)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from lineage_cli import runs
from lineage_cli.exits import EXIT_OK, EXIT_USAGE, UsageError
from lineage_cli.run_state_file import FILE_NAME, LocalRunStateReader, write_items
from tests.functional.test_cli_runs import TABLE, dynamodb, parse  # noqa: F401 - dynamodb: a fixture

VIEWS = [
    (),
    ("--active",),
    ("--incomplete",),
    ("--failed",),
    ("--gaps",),
    ("--pipeline", "orders-daily"),
    ("--failed", "--limit", "1"),
]


def answer(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = runs.run(parse(*argv), out)
    return code, out.getvalue()


@pytest.fixture
def folder(dynamodb: Any, tmp_path: Path) -> Path:  # noqa: F811 - the fixture, used
    items = [
        item for page in dynamodb.get_paginator("scan").paginate(TableName=TABLE) for item in page["Items"]
    ]
    assert write_items(tmp_path / FILE_NAME, items) == len(items)
    return tmp_path


@pytest.mark.parametrize("view", VIEWS, ids=lambda view: " ".join(view) or "summary")
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_each_view_of_the_file_is_the_table_s(view: tuple[str, ...], fmt: str, folder: Path) -> None:
    from_table = answer("--table", TABLE, *view, "--format", fmt)
    from_file = answer("--archive", str(folder), *view, "--format", fmt)
    assert from_file == from_table
    assert from_file[0] == EXIT_OK
    if fmt == "json" and view == ("--incomplete",):
        rows = json.loads(from_file[1])
        assert {(r["pipeline_id"], r["reconciliation"]) for r in rows} == {
            ("sessionize", "incomplete"),
            ("nightly-export", "gap"),
        }


def test_a_folder_without_run_state_says_what_to_pass(tmp_path: Path) -> None:
    for where, says in (
        (tmp_path, f"no {FILE_NAME} in it"),
        (tmp_path / "missing", "no such folder"),
        ("s3://lineage-archive", "an S3 archive holds no run state"),
    ):
        with pytest.raises(UsageError, match=says):
            LocalRunStateReader.open(where)
    (tmp_path / FILE_NAME).write_text('{"Item": {"pk": {"S": "RUN#a#b"}}}\nnot json\n')
    with pytest.raises(UsageError, match=f"{FILE_NAME}:2: not a run-state item"):
        LocalRunStateReader.open(tmp_path)


def test_table_and_archive_are_two_places_to_ask_not_both(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse("--table", TABLE, "--archive", str(folder))
    assert exited.value.code == EXIT_USAGE
    assert "not allowed with argument" in capsys.readouterr().err
