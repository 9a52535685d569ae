"""The lineage questions' small inconsistencies of issue 11 (point 12), each on the archive with known
answers (tests/archive_support.py): impact's --format, --version, names typed in the wrong case, an
empty name, --as-of in the future or without an offset, JSON counts, self-edges, runs still RUNNING."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lineage_cli.exits import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE
from lineage_cli.main import main
from lineage_lib import contract
from lineage_lib.version import __version__
from tests.archive_support import CUSTOMERS, DAILY, RAW, REPORT, SCD
from tests.functional.test_cli_questions import closure, ds, lineage, nodes, via


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one line a usage error prints (argparse exits 2 from inside main)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    assert (exited.value.code, out) == (EXIT_USAGE, "")
    assert len(err.splitlines()) == 1, err
    return err


def test_impact_takes_the_format_its_own_hint_names(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = lineage(
        capsys, "impact", "raw_db.orders_raw", "--archive", str(archive), "--format", "json"
    )
    assert (code, err) == (EXIT_OK, "")
    answer = json.loads(out)
    assert answer["direction"] == "downstream"
    assert nodes(answer) == {ds(RAW): 0, ds(DAILY): 1, ds(REPORT): 2}
    code, _, err = lineage(capsys, "impact", "raw_db.orders_rw", "--archive", str(archive))
    assert code == EXIT_NOT_FOUND
    assert "--format json" in err  # the hint names an option impact has
    markdown = lineage(
        capsys, "impact", "raw_db.orders_raw", "--archive", str(archive), "--format", "markdown"
    )
    assert markdown == lineage(capsys, "impact", "raw_db.orders_raw", "--archive", str(archive))


def test_version_names_the_tool_and_every_schema_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert out.startswith(f"lineage {__version__} ")
    assert len(out.splitlines()) == 1
    for version in contract.known_versions():
        assert version in out


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("RAW_DB.ORDERS_RAW", "raw_db.orders_raw"),
        ("Analytics_DB.Orders_Daily.Revenue", "analytics_db.orders_daily.revenue"),
        ("GLUE://DEFAULT/RAW_DB.CUSTOMERS", "raw_db.customers"),
    ],
)
def test_a_name_in_the_wrong_case_suggests_the_name_as_written(
    typed: str, meant: str, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = lineage(capsys, "upstream", typed, "--archive", str(archive))
    assert (code, out) == (EXIT_NOT_FOUND, "")
    assert f"did you mean {meant}," in err or f"did you mean {meant}?" in err


@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_name_is_a_usage_error(
    empty: str, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("upstream", "downstream", "impact"):
        err = usage_error(capsys, command, empty, "--archive", str(archive))
        assert "the name is empty" in err


def test_as_of_in_the_future_is_a_usage_error_naming_now(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    for later in ((now + timedelta(days=2)).date().isoformat(), (now + timedelta(hours=1)).isoformat()):
        err = usage_error(
            capsys, "upstream", "analytics_db.orders_daily", "--archive", str(archive), "--as-of", later
        )
        assert "is in the future (now is " in err
    today = now.date().isoformat()  # the end of today is not refused: it means up to now
    assert (
        lineage(capsys, "upstream", "analytics_db.orders_daily", "--archive", str(archive), "--as-of", today)[
            0
        ]
        == 0
    )


def test_a_time_without_an_offset_is_refused_and_one_with_an_offset_is_read_as_that_instant(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    question = ("upstream", "analytics_db.orders_daily", "--archive", str(archive), "--format", "json")
    err = usage_error(capsys, *question, "--as-of", "2026-11-20T03:00:00")
    assert "no UTC offset" in err
    assert "2026-11-20T03:00:00Z" in err  # what to type instead
    utc = closure(capsys, archive, *question[:2], "--as-of", "2026-11-20T03:00:00Z")
    paris = closure(capsys, archive, *question[:2], "--as-of", "2026-11-20T04:00:00+01:00")
    assert utc == paris


def test_json_counts_count_what_the_document_lists(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for question in (
        ("downstream", "raw_db.customers"),
        ("upstream", "analytics_db.orders_daily.customer_region"),
        ("upstream", "analytics_db.orders_daily"),
    ):
        answer = closure(capsys, archive, *question)
        assert answer["counts"]["nodes"] == len(answer["nodes"])
        assert answer["counts"]["datasets"] == len({n["dataset"] for n in answer["nodes"]})
        assert answer["counts"]["edges"] == len(answer["edges"])
        assert answer["nodes"][0]["depth"] == 0  # the root is listed, and counted


def test_a_self_edge_is_listed_at_the_hop_that_reached_its_dataset(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # raw_db.customers -> customers_scd (hop 1), and customer-scd reads and writes customers_scd
    answer = closure(capsys, archive, "downstream", "raw_db.customers")
    hops = {(e["source"]["dataset"], e["target"]["dataset"]): e["hop"] for e in answer["edges"]}
    assert hops[SCD.id, SCD.id] == hops[CUSTOMERS.id, SCD.id] == 1
    assert hops[DAILY.id, REPORT.id] == 2
    assert [e["hop"] for e in answer["edges"]] == sorted(e["hop"] for e in answer["edges"])
    code, text, _ = lineage(capsys, "downstream", "raw_db.customers", "--archive", str(archive))
    assert code == EXIT_OK
    hop_1 = text.split("hop 1\n", 1)[1].split("hop 2\n", 1)[0]
    assert "analytics_db.customers_scd -> analytics_db.customers_scd" in hop_1
    assert set(via(answer)) == {(ds(CUSTOMERS), ds(SCD)), (ds(CUSTOMERS), ds(DAILY)), (ds(SCD), ds(SCD)),
                                (ds(DAILY), ds(REPORT))}  # fmt: skip


def test_impact_flags_a_dataset_a_running_run_is_still_writing(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report, _ = lineage(capsys, "impact", "raw_db.customers", "--archive", str(archive))
    assert code == EXIT_OK
    banner = report.split("\n\n| ", 1)[0]  # the lines above the table
    assert "still RUNNING (`analytics_db.customers_scd`)" in banner
    assert "1 of them last ran FAILED, ABORTED or INCOMPLETE" in banner  # the export, ABORTED
    code, report, _ = lineage(capsys, "impact", "raw_db.orders_raw", "--archive", str(archive))
    assert "RUNNING" not in report  # nothing downstream of orders_raw is running
