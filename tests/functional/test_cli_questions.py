"""``lineage upstream|downstream|impact`` end to end (``lineage_cli.main.main``) on the archive with known
answers (tests/archive_support.py): every expectation below is read from that scenario, not from what
the CLI printed once. Output formats, observers, run statuses and impact's report: test_cli_formats.py."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lineage_cli import questions
from lineage_cli.exits import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE
from lineage_cli.main import main
from lineage_lib import ColumnRef, Dataset
from tests import archive_support as known
from tests.archive_support import CUSTOMERS, DAILY, RAW, REGION_JOIN, REPORT, REVENUE, SCD

Node = tuple[str, str | None]  # (dataset id, column or None), as the JSON form names a node
ORDERS_JOB = "orders-daily/orders_daily"  # pipeline_id/job_name of the orders-daily runs


class BeforeTheLastDay(datetime):
    """A clock that reads the archive's first day (the machine's clock, or a producer's, may lag)."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> BeforeTheLastDay:
        return cls(2026, 11, 19, 12, tzinfo=UTC)


def lineage(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def closure(capsys: pytest.CaptureFixture[str], archive: Path, *argv: str) -> dict[str, Any]:
    """The JSON answer of a question that must succeed, silently (no progress bar when captured)."""
    code, out, err = lineage(capsys, *argv, "--archive", str(archive), "--format", "json")
    assert (code, err) == (EXIT_OK, "")
    document: dict[str, Any] = json.loads(out)
    return document


def ds(dataset: Dataset) -> Node:
    return (dataset.id, None)


def col(ref: ColumnRef) -> Node:
    return (ref.dataset, ref.column)


def nodes(document: dict[str, Any]) -> dict[Node, int]:
    return {(n["dataset"], n["column"]): n["depth"] for n in document["nodes"]}


def via(document: dict[str, Any]) -> dict[tuple[Node, Node], list[dict[str, Any]]]:
    """Each edge (source, target) in data-flow order -> what states it (job, last run, observer...)."""
    return {
        ((e["source"]["dataset"], e["source"]["column"]), (e["target"]["dataset"], e["target"]["column"])): e[
            "via"
        ]
        for e in document["edges"]
    }


@pytest.mark.parametrize("command", ["upstream", "downstream", "impact"])
def test_each_question_s_help_teaches_with_examples_and_exit_codes(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    assert "examples:" in help_text
    assert f"lineage {command} " in help_text
    assert "exit codes: 0 answered, 1 findings" in help_text
    assert "3 unknown name" in help_text


def test_column_upstream_goes_through_the_rename(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = lineage(
        capsys, "upstream", "analytics_db.orders_daily.revenue", "--archive", str(archive)
    )
    assert (code, err) == (EXIT_OK, "")
    # REVENUE: revenue <- RAW.order_total (rename); last attempt run-2/2 COMPLETE; RAW read at 7 then 8
    assert out.splitlines() == [
        "upstream of analytics_db.orders_daily.revenue: 1 column in 1 dataset, 1 edge, 1 job",
        "hop 1",
        "  analytics_db.orders_daily.revenue <- raw_db.orders_raw.order_total  (rename; job "
        f"{ORDERS_JOB}, step aggregate; last run run-2 attempt 2 COMPLETE; schema 7,8 -> 3; "
        "execution-observed)",
    ]
    [source] = REVENUE.sources
    answer = closure(capsys, archive, "upstream", f"{DAILY.id}.revenue")  # the full id works too
    assert nodes(answer) == {(DAILY.id, "revenue"): 0, col(source): 1}


def test_column_upstream_through_the_join_gives_both_sources(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = closure(capsys, archive, "upstream", "analytics_db.orders_daily.customer_region")
    target = (DAILY.id, REGION_JOIN.column)
    assert nodes(answer) == {target: 0, **{col(source): 1 for source in REGION_JOIN.sources}}
    stated = via(answer)
    assert set(stated) == {(col(source), target) for source in REGION_JOIN.sources}
    assert {e["transformation"] for edges in stated.values() for e in edges} == {"join"}
    # what the document lists: the root and its two sources, in three datasets
    assert answer["counts"] == {"nodes": 3, "datasets": 3, "edges": 2, "jobs": 1}


def test_column_upstream_crosses_jobs_hop_by_hop(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answer = closure(capsys, archive, "upstream", f"{REPORT.id}.revenue")
    assert nodes(answer) == {
        (REPORT.id, "revenue"): 0,
        (DAILY.id, "revenue"): 1,
        col(RAW.column("order_total")): 2,
    }
    assert [(e["hop"], [v["transformation"] for v in e["via"]]) for e in answer["edges"]] == [
        (1, ["identity"]),  # the export's TRANSFORM column (no transformation stated: identity)
        (2, ["rename"]),
    ]


def test_as_of_shows_the_lineage_before_and_after_the_schema_change(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = closure(
        capsys, archive, "upstream", "analytics_db.orders_daily", "--as-of", known.BEFORE_SCHEMA_CHANGE
    )
    after = closure(capsys, archive, "upstream", "analytics_db.orders_daily")
    for answer in (before, after):
        assert nodes(answer) == {ds(DAILY): 0, ds(RAW): 1, ds(CUSTOMERS): 1}
    [then] = via(before)[ds(RAW), ds(DAILY)]
    [now] = via(after)[ds(RAW), ds(DAILY)]
    assert (then["source_schema_versions"], then["target_schema_versions"]) == (["7"], ["3"])
    assert (now["source_schema_versions"], now["target_schema_versions"]) == (["7", "8"], ["3"])
    assert (then["last_run_id"], then["last_attempt"], then["runs"]) == ("run-1", 1, 1)
    assert (now["last_run_id"], now["last_attempt"], now["runs"]) == ("run-2", 2, 3)
    # discount <- RAW.discount came with schema 8 (11-20): not there before, there after
    discount = "analytics_db.orders_daily.discount"
    code, out, err = lineage(
        capsys, "upstream", discount, "--archive", str(archive), "--as-of", known.BEFORE_SCHEMA_CHANGE
    )
    assert (code, out) == (EXIT_NOT_FOUND, "")
    assert f"unknown dataset or column {discount!r}" in err
    assert nodes(closure(capsys, archive, "upstream", discount)) == {
        (DAILY.id, "discount"): 0,
        col(RAW.column("discount")): 1,
    }
    # the export (11-20T06:00) was not yet observed: nothing past orders_daily downstream of RAW
    early = closure(capsys, archive, "downstream", "raw_db.orders_raw", "--as-of", "2026-11-19")
    assert nodes(early) == {ds(RAW): 0, ds(DAILY): 1}


def test_depth_1_stops_after_one_hop_and_no_depth_goes_all_the_way(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = closure(capsys, archive, "downstream", "raw_db.customers", "--depth", "1")
    every = closure(capsys, archive, "downstream", "raw_db.customers")
    assert (one["depth_limit"], every["depth_limit"]) == (1, None)
    assert nodes(one) == {ds(CUSTOMERS): 0, ds(DAILY): 1, ds(SCD): 1}
    assert nodes(every) == {ds(CUSTOMERS): 0, ds(DAILY): 1, ds(SCD): 1, ds(REPORT): 2}
    assert set(via(one)) == {(ds(CUSTOMERS), ds(DAILY)), (ds(CUSTOMERS), ds(SCD))}
    assert set(via(every)) == {*via(one), (ds(DAILY), ds(REPORT)), (ds(SCD), ds(SCD))}


def test_since_leaves_out_the_days_before_it(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # only customer-scd read raw_db.customers on the last day; orders-daily ran on 11-19 and 11-20
    recent = closure(capsys, archive, "downstream", "raw_db.customers", "--since", known.LAST_DAY)
    assert nodes(recent) == {ds(CUSTOMERS): 0, ds(SCD): 1}
    code, _, err = lineage(
        capsys, "downstream", "raw_db.orders_raw", "--archive", str(archive), "--since", known.LAST_DAY
    )
    assert code == EXIT_NOT_FOUND
    assert f"{known.LAST_DAY} to {known.LAST_DAY}" in err  # the window it looked in


def test_a_job_reading_and_writing_its_own_table_ends_and_shows_the_self_edge(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers: list[tuple[int, str, str]] = []
    asking = threading.Thread(
        target=lambda: answers.append(
            lineage(capsys, "downstream", "analytics_db.customers_scd", "--archive", str(archive))
        ),
        daemon=True,
    )
    asking.start()
    asking.join(timeout=60)
    assert not asking.is_alive(), "lineage downstream hangs on a cycle"
    assert answers == [
        (
            EXIT_OK,
            "downstream of analytics_db.customers_scd: 0 datasets, 1 edge, 1 job\n"
            "hop 1\n"
            "  analytics_db.customers_scd -> analytics_db.customers_scd  (job customer-scd/customer_scd, "
            "step merge; last run scd-1 attempt 1 RUNNING; execution-observed)\n",
            "",
        )
    ]
    upstream = closure(capsys, archive, "upstream", "analytics_db.customers_scd")
    assert nodes(upstream) == {ds(SCD): 0, ds(CUSTOMERS): 1}
    assert set(via(upstream)) == {(ds(SCD), ds(SCD)), (ds(CUSTOMERS), ds(SCD))}


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("analytics_db.orders_dayly", "analytics_db.orders_daily"),
        ("analytics_db.orders_daily.revenu", "analytics_db.orders_daily.revenue"),
    ],
)
def test_an_unknown_name_exits_3_with_the_closest_names(
    typed: str, meant: str, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("upstream", "downstream", "impact"):
        code, out, err = lineage(capsys, command, typed, "--archive", str(archive))
        assert (code, out) == (EXIT_NOT_FOUND, "")
        closest = re.search(r"did you mean (.*?)\?", err)
        assert closest is not None, err
        assert closest.group(1).split(", ")[0] == meant


def test_an_empty_archive_exits_3_saying_the_window_holds_no_edges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "events").mkdir()
    for command in ("upstream", "downstream", "impact"):
        code, out, err = lineage(capsys, command, "raw_db.orders_raw", "--archive", str(tmp_path))
        assert (code, out) == (EXIT_NOT_FOUND, "")
        assert "no lineage edges in this window" in err


def test_a_folder_that_is_no_archive_exits_2_saying_what_to_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("not an archive")
    code, out, err = lineage(capsys, "upstream", "raw_db.orders_raw", "--archive", str(tmp_path))
    assert (code, out) == (EXIT_USAGE, "")
    assert "neither events/ nor quarantine/" in err
    assert "Pass --archive with the folder that holds events/" in err
    code, _, err = lineage(capsys, "upstream", "raw_db.orders_raw")
    assert code == EXIT_USAGE
    assert "pass --archive DIR" in err


def test_an_s3_archive_answers_as_the_folder_does(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    question = ["downstream", "raw_db.orders_raw", "--since", "2026-11-20", "--until", "2026-11-20"]
    local = lineage(capsys, *question, "--format", "json", "--archive", str(archive))
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="lineage-archive")
        for path in sorted(archive.rglob("*.json.gz")):
            s3.upload_file(str(path), "lineage-archive", f"plane/{path.relative_to(archive).as_posix()}")
        remote = lineage(capsys, *question, "--format", "json", "--archive", "s3://lineage-archive/plane")
    assert remote == local
    answer = json.loads(local[1])
    assert nodes(answer) == {ds(RAW): 0, ds(DAILY): 1, ds(REPORT): 2}
    [raw] = via(answer)[ds(RAW), ds(DAILY)]
    assert (raw["source_schema_versions"], raw["runs"]) == (["8"], 2)  # 11-20 only: run-2/1 and run-2/2
    cached = tmp_path / "cache" / "lineage-plane" / "s3" / "lineage-archive" / "plane" / "events"
    assert sorted(p.name for p in cached.iterdir()) == ["event_date=2026-11-20"]


def test_as_of_before_the_archive_s_first_day_is_an_empty_graph_not_a_usage_error(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["upstream", "analytics_db.orders_daily", "--archive", str(archive), "--as-of", "2020-01-01"])
    assert code == 3
    assert "no lineage edges in this window" in capsys.readouterr().err


def test_a_local_archive_s_answer_does_not_depend_on_the_clock(
    archive: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    question = ("upstream", "analytics_db.customers_scd", "--archive", str(archive), "--format", "json")
    today = lineage(capsys, *question)
    monkeypatch.setattr(questions, "datetime", BeforeTheLastDay)  # the window is the days the archive holds
    assert lineage(capsys, *question) == today
    assert today[0] == 0
