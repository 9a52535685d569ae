"""The Athena tables as DuckDB views, Hive types in DuckDB's spelling, and the Trino constructs the
transpiler rewrites (lineage_cli/duckdb_sql.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from lineage_cli import duckdb_sql
from lineage_cli.archive import archive_files
from lineage_plane import athena_schema
from lineage_plane.layout import partition_value
from tests import archive_support as known


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    known.write_known_archive(root)
    return root


def test_events_has_the_folder_s_pipeline_id_and_events_all_pipelines_the_event_s(archive: Path) -> None:
    connection = duckdb.connect()
    for view in duckdb_sql.views(archive, None, archive_files):
        connection.execute(view)
    folder = partition_value(known.EXPORT_PIPELINE)
    assert folder == "reports%2Fdaily%20export"
    by_folder = "SELECT DISTINCT pipeline_id FROM events WHERE event_date = '2026-11-20' ORDER BY 1"
    assert connection.sql(by_folder).fetchall() == [("orders-daily",), (folder,)]
    by_field = (
        "SELECT DISTINCT pipeline_id FROM events_all_pipelines WHERE event_date = '2026-11-20' ORDER BY 1"
    )
    assert connection.sql(by_field).fetchall() == [("orders-daily",), (known.EXPORT_PIPELINE,)]
    columns = {row[0] for row in connection.sql("DESCRIBE events_all_pipelines").fetchall()}
    spec = next(s for s in athena_schema.table_specs() if s.name == athena_schema.EVENTS_ALL_PIPELINES_TABLE)
    assert columns == {c.name for c in (*spec.columns, *spec.partitions)}


@pytest.mark.parametrize(
    ("hive", "duck"),
    [
        ("string", "VARCHAR"),
        ("array<string>", "VARCHAR[]"),
        ("map<string,string>", "MAP(VARCHAR, VARCHAR)"),
        (
            "struct<column:string,sources:array<struct<dataset:string,column:string>>,n:bigint>",
            'STRUCT("column" VARCHAR, "sources" STRUCT("dataset" VARCHAR, "column" VARCHAR)[], "n" BIGINT)',
        ),
    ],
)
def test_hive_types_in_duckdb_spelling(hive: str, duck: str) -> None:
    assert duckdb_sql.duckdb_type(hive) == duck


def test_every_column_of_every_table_has_a_duckdb_type() -> None:
    for spec in athena_schema.table_specs():
        for column in spec.columns:
            duckdb.sql(f"SELECT CAST(NULL AS {duckdb_sql.duckdb_type(column.type)})")


def test_an_unnest_of_rows_with_column_names_reads_each_field_in_place() -> None:
    sql = duckdb_sql.to_duckdb(
        "SELECT u.role, u.id FROM (SELECT 'a' AS x) AS d "
        "CROSS JOIN UNNEST(ARRAY[ROW('read', d.x), ROW('write', NULL)]) AS u (role, id) ORDER BY 1"
    )
    assert duckdb.sql(sql).fetchall() == [("read", "a"), ("write", None)]
