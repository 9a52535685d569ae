"""Every saved query, run by the local engine (DuckDB over the archive, the Trino SQL transpiled by
sqlglot) on an archive with known answers (tests/archive_support.py): the answers, not just a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lineage_cli.archive import ArchiveNotFoundError
from lineage_cli.engine import QuerySource, SourceError, UnknownQueryError, open_source
from lineage_lib import ColumnRef, Dataset
from lineage_plane import athena_schema
from tests import archive_support as known
from tests.archive_support import CUSTOMERS, DAILY, LANDING, RAW, REPORT, SALES_DAILY, SALES_RAW, SCD

WINDOW = [known.FIRST_DAY, known.LAST_DAY]
# Parameters of every query over the whole known archive; a new query file must add its own here.
PARAMETERS: dict[str, list[str]] = {
    "column_origin": [*WINDOW, DAILY.id, "revenue"],
    "downstream_of_dataset": [*WINDOW, RAW.id],
    "incomplete_runs": [*WINDOW, "%"],
    "lineage_gaps": WINDOW,
    "schema_versions_per_dataset": [*WINDOW, "%"],
    "quarantined_by_reason": [known.QUARANTINE_DAY, known.QUARANTINE_DAY],
    "lineage_edges": [*WINDOW, known.AFTER_EVERYTHING],
}
ORDERS = ("orders-daily", "orders_daily", "aggregate", "execution")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    known.write_known_archive(root)
    return root


@pytest.fixture(scope="module")
def source(archive: Path) -> QuerySource:
    return open_source(str(archive), athena_workgroup=None)


def test_every_query_file_is_answered_here() -> None:
    assert {q.name for q in athena_schema.saved_queries()} == set(PARAMETERS)


def test_column_origin_goes_through_the_rename_and_counts_a_redelivered_event_once(
    source: QuerySource,
) -> None:
    [row] = source.run("column_origin", PARAMETERS["column_origin"])
    assert (row["source_dataset"], row["source_column"], row["transformation"]) == (
        RAW.id,
        "order_total",
        "rename",
    )
    assert (row["pipeline_id"], row["events"], row["runs"]) == (
        "orders-daily",
        3,
        2,
    )  # run-1's WRITE came twice
    assert row["first_seen"].isoformat() == "2026-11-19T02:00:03+00:00"
    assert row["last_seen"].isoformat() == "2026-11-20T03:00:03.500000+00:00"


def test_column_origin_of_a_join_gives_both_source_datasets(source: QuerySource) -> None:
    rows = source.run("column_origin", [*WINDOW, DAILY.id, "customer_region"])
    assert {(r["source_dataset"], r["source_column"], r["transformation"]) for r in rows} == {
        (RAW.id, "customer_id", "join"),
        (CUSTOMERS.id, "region", "join"),
    }


def test_downstream_of_dataset_follows_hops_across_pipelines_with_encoded_ids(source: QuerySource) -> None:
    rows = source.run("downstream_of_dataset", PARAMETERS["downstream_of_dataset"])
    assert [(r["dataset_id"], r["hops"], r["written_by_pipelines"]) for r in rows] == [
        (DAILY.id, 1, ["orders-daily"]),
        (REPORT.id, 2, [known.EXPORT_PIPELINE]),  # the event's own id, not the folder's 'reports%2F...'
    ]


def test_incomplete_runs_are_the_running_one_and_the_one_only_glue_ended(source: QuerySource) -> None:
    rows = source.run("incomplete_runs", PARAMETERS["incomplete_runs"])
    assert [(r["pipeline_id"], r["run_id"], r["platform_state"], r["last_event_type"]) for r in rows] == [
        ("customer-scd", "scd-1", None, "WRITE"),
        ("lost-job", "lost-1", "FAILED", "WRITE"),
    ]
    assert rows[0]["events"] == 4
    assert source.run("incomplete_runs", [*WINDOW, "lost-%"])[0]["run_id"] == "lost-1"


def test_lineage_gaps_sorts_each_kind_of_hole(source: QuerySource) -> None:
    rows = source.run("lineage_gaps", PARAMETERS["lineage_gaps"])
    assert {(r["pipeline_id"], r["gap_kind"], r["platform_state"]) for r in rows} == {
        ("glue-sales", "gap", "SUCCEEDED"),
        ("lost-job", "incomplete", "FAILED"),
        ("noop-job", "no_datasets", None),
    }
    gap = next(r for r in rows if r["gap_kind"] == "gap")
    assert (gap["observers"], gap["own_events"]) == (["datazone", "glue-bridge"], 0)


def test_schema_versions_show_the_change_from_7_to_8(source: QuerySource) -> None:
    rows = source.run("schema_versions_per_dataset", PARAMETERS["schema_versions_per_dataset"])
    assert [(r["dataset_id"], r["schema_version"], r["reads"], r["writes"]) for r in rows] == [
        (DAILY.id, "3", 1, 3),
        (RAW.id, "7", 1, 0),
        (RAW.id, "8", 2, 0),
    ]
    assert (
        source.run("schema_versions_per_dataset", [*WINDOW, "glue://default/raw_db.%"])[0]["schema_version"]
        == "7"
    )


def test_quarantined_by_reason_counts_each_refused_line_once(source: QuerySource) -> None:
    rows = source.run("quarantined_by_reason", PARAMETERS["quarantined_by_reason"])
    assert sorted((r["log_date"], r["reason_code"], r["log_group"], r["lines"]) for r in rows) == [
        (known.QUARANTINE_DAY, "invalid_json", known.JOB_LOG_GROUP, 1),
        (known.QUARANTINE_DAY, "schema_violation", known.JOB_LOG_GROUP, 1),  # delivered twice
    ]
    assert source.run("quarantined_by_reason", [known.FIRST_DAY, known.FIRST_DAY]) == []


# --- lineage_edges ----------------------------------------------------------------------------------


def versions(text: str) -> tuple[str, ...]:
    """The query's schema versions: distinct, sorted, joined by ', '."""
    return tuple(text.split(", ")) if text else ()


def edge_set(rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {
        (
            r["edge_kind"],
            r["source_dataset"],
            r["source_column"],
            r["target_dataset"],
            r["target_column"],
            r["transformation"],
            (r["pipeline_id"], r["job_name"], r["step"], r["observed"]),
            (r["last_run_id"], r["last_attempt"], r["last_run_status"], r["runs"]),
            (versions(r["source_schema_versions"]), versions(r["target_schema_versions"])),
        )
        for r in rows
    }


Versions = tuple[tuple[str, ...], tuple[str, ...]]
NONE: Versions = ((), ())


def dataset_edge(
    source: Dataset, target: Dataset, job: tuple[str, ...], run: tuple[Any, ...], versions: Versions = NONE
) -> tuple[Any, ...]:
    return ("dataset", source.id, None, target.id, None, None, job, run, versions)


def column_edge(
    source: ColumnRef,
    target: ColumnRef,
    how: str,
    job: tuple[str, ...],
    run: tuple[Any, ...],
    versions: Versions = NONE,
) -> tuple[Any, ...]:
    return ("column", source.dataset, source.column, target.dataset, target.column, how, job, run, versions)


NOW = ("run-2", 2, "COMPLETE", 3)  # last run id, attempt, status; runs
EXPORT = (known.EXPORT_PIPELINE, known.EXPORT_PIPELINE, "export", "execution")  # job_name: the pipeline
SCD_JOB = ("customer-scd", "customer_scd", "merge", "execution")
SALES = ("glue-sales", "sales_etl", "sales_etl", "platform")
RAW_7_8, RAW_8, DAILY_3 = (("7", "8"), ("3",)), (("8",), ("3",)), ((), ("3",))
EDGES_NOW = {
    dataset_edge(RAW, DAILY, ORDERS, NOW, RAW_7_8),
    dataset_edge(CUSTOMERS, DAILY, ORDERS, NOW, DAILY_3),
    dataset_edge(DAILY, REPORT, EXPORT, ("exp-1", 1, "ABORTED", 1), (("3",), ())),
    dataset_edge(SCD, SCD, SCD_JOB, ("scd-1", 1, "RUNNING", 1)),  # a cycle
    dataset_edge(CUSTOMERS, SCD, SCD_JOB, ("scd-1", 1, "RUNNING", 1)),
    dataset_edge(LANDING, SALES_RAW, SALES, ("jr_sales1", 1, "INCOMPLETE", 1)),
    dataset_edge(
        SALES_RAW, SALES_DAILY, ("lost-job", "lost_job", "load", "execution"), ("lost-1", 1, "INCOMPLETE", 1)
    ),
    column_edge(RAW.column("order_total"), DAILY.column("revenue"), "rename", ORDERS, NOW, RAW_7_8),
    column_edge(RAW.column("customer_id"), DAILY.column("customer_region"), "join", ORDERS, NOW, RAW_7_8),
    column_edge(CUSTOMERS.column("region"), DAILY.column("customer_region"), "join", ORDERS, NOW, DAILY_3),
    column_edge(
        RAW.column("discount"),
        DAILY.column("discount"),
        "identity",
        ORDERS,
        ("run-2", 2, "COMPLETE", 2),
        RAW_8,
    ),
    column_edge(
        DAILY.column("revenue"),
        REPORT.column("revenue"),
        "identity",
        EXPORT,
        ("exp-1", 1, "ABORTED", 1),
        (("3",), ()),
    ),
    column_edge(
        LANDING.column("amount"),
        SALES_RAW.column("amount"),
        "identity",
        SALES,
        ("jr_sales1", 1, "INCOMPLETE", 1),
    ),
}
THEN = ("run-1", 1, "COMPLETE", 1)
RAW_7 = (("7",), ("3",))
EDGES_BEFORE_SCHEMA_CHANGE = {
    dataset_edge(RAW, DAILY, ORDERS, THEN, RAW_7),
    dataset_edge(CUSTOMERS, DAILY, ORDERS, THEN, DAILY_3),
    column_edge(RAW.column("order_total"), DAILY.column("revenue"), "rename", ORDERS, THEN, RAW_7),
    column_edge(RAW.column("customer_id"), DAILY.column("customer_region"), "join", ORDERS, THEN, RAW_7),
    column_edge(CUSTOMERS.column("region"), DAILY.column("customer_region"), "join", ORDERS, THEN, DAILY_3),
}


def test_lineage_edges_now_is_the_exact_edge_set(source: QuerySource) -> None:
    rows = source.run("lineage_edges", PARAMETERS["lineage_edges"])
    assert len(rows) == len(EDGES_NOW)  # one row per edge, job and observer
    assert edge_set(rows) == EDGES_NOW


def test_lineage_edges_before_the_schema_change_is_the_graph_as_it_stood(source: QuerySource) -> None:
    rows = source.run("lineage_edges", [*WINDOW, known.BEFORE_SCHEMA_CHANGE])
    assert edge_set(rows) == EDGES_BEFORE_SCHEMA_CHANGE
    raw = next(r for r in rows if r["edge_kind"] == "dataset" and r["source_dataset"] == RAW.id)
    assert (raw["first_seen"], raw["last_seen"]) == ("2026-11-19T02:00:03Z", "2026-11-19T02:00:03Z")


def test_lineage_edges_while_the_second_run_had_failed(source: QuerySource) -> None:
    rows = source.run("lineage_edges", [*WINDOW, "2026-11-20T02:30:00Z"])
    raw = next(r for r in rows if r["edge_kind"] == "dataset" and r["source_dataset"] == RAW.id)
    assert (raw["last_run_id"], raw["last_attempt"], raw["last_run_status"], raw["runs"]) == (
        "run-2",
        1,
        "FAILED",
        2,
    )
    assert raw["source_schema_versions"] == "7, 8"  # sorted, distinct, as text


def test_lineage_edges_first_and_last_seen_order_as_time_does(source: QuerySource) -> None:
    rows = source.run("lineage_edges", PARAMETERS["lineage_edges"])
    raw = next(r for r in rows if r["edge_kind"] == "dataset" and r["source_dataset"] == RAW.id)
    assert (raw["first_seen"], raw["last_seen"]) == ("2026-11-19T02:00:03Z", "2026-11-20T03:00:03.5Z")


def test_only_the_days_asked_are_read(source: QuerySource) -> None:
    rows = source.run("lineage_edges", [known.LAST_DAY, known.LAST_DAY, known.AFTER_EVERYTHING])
    assert {r["pipeline_id"] for r in rows} == {"customer-scd", "glue-sales", "lost-job"}


# --- Empty and odd archives ---------------------------------------------------------------------------


def test_an_empty_archive_answers_every_query_with_no_rows(tmp_path: Path) -> None:
    empty = open_source(str(tmp_path), athena_workgroup=None)
    assert empty.dates() is None
    for name, parameters in PARAMETERS.items():
        assert empty.run(name, parameters) == [], name


def test_an_archive_with_only_a_quarantine_answers_the_event_questions_with_no_rows(tmp_path: Path) -> None:
    known.write_quarantine(tmp_path, [known.QUARANTINED_TRUNCATED], logged_at="2026-11-21T07:00:00Z")
    only = open_source(str(tmp_path), athena_workgroup=None)
    assert only.dates() is None
    assert only.run("lineage_edges", PARAMETERS["lineage_edges"]) == []
    assert only.run("quarantined_by_reason", PARAMETERS["quarantined_by_reason"])[0]["lines"] == 1


def test_a_folder_that_is_not_an_archive_is_refused_with_what_to_pass(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("not an archive")
    with pytest.raises(ArchiveNotFoundError, match="neither events/ nor quarantine/"):
        open_source(str(tmp_path), athena_workgroup=None)
    with pytest.raises(ArchiveNotFoundError, match="does not exist"):
        open_source(str(tmp_path / "missing"), athena_workgroup=None)
    with pytest.raises(SourceError, match="--archive DIR"):
        open_source(None, athena_workgroup=None)


def test_unknown_queries_and_wrong_parameters_say_what_exists(source: QuerySource) -> None:
    with pytest.raises(UnknownQueryError, match="lineage_edges"):
        source.run("lineage_edge", [])
    with pytest.raises(SourceError, match=r"takes 3 parameters \(1\. first event_date"):
        source.run("lineage_edges", WINDOW)


def test_describe_and_dates(source: QuerySource, archive: Path) -> None:
    assert source.describe() == f"local archive {archive} (10 objects)"
    assert source.dates() == (known.FIRST_DAY, known.LAST_DAY)


def test_progress_is_reported_and_ends_at_the_total(archive: Path) -> None:
    seen: list[tuple[float, float, str]] = []
    source = open_source(str(archive), athena_workgroup=None, progress=lambda *report: seen.append(report))
    source.run("lineage_edges", PARAMETERS["lineage_edges"])
    assert seen[-1] == (100.0, 100.0, f"lineage_edges on local archive {archive}")
    assert all(0 <= done <= total for done, total, _ in seen)
