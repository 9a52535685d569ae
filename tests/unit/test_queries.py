"""The saved queries in queries/ are valid Athena (Trino) SQL over the tables the construct creates:
they parse, say what they answer and take, prune by date and read only columns that exist."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel
from sqlglot.optimizer.qualify import qualify

from lineage_lib.contract import EventType
from lineage_plane import athena_schema
from lineage_plane.athena_schema import SavedQuery
from lineage_plane.layout import Archive
from lineage_plane.run_table import ObservedTag
from tests.unit.test_athena_schema import parse_hive_type

QUERIES = athena_schema.saved_queries()
DATE_PARTITION = {
    athena_schema.EVENTS_TABLE: Archive.EVENT_DATE,
    athena_schema.EVENTS_ALL_PIPELINES_TABLE: Archive.EVENT_DATE,
    athena_schema.QUARANTINE_TABLE: Archive.LOG_DATE,
}


def table_columns() -> dict[str, dict[str, str]]:
    """Each table's columns and partitions with their Hive types, as infra/query.py deploys them."""
    return {
        spec.name: {c.name: c.type for c in (*spec.columns, *spec.partitions)}
        for spec in athena_schema.table_specs()
    }


def parsed(query: SavedQuery) -> exp.Expression:
    return sqlglot.parse_one(query.sql, read="trino", error_level=ErrorLevel.RAISE)


def by_name(query: SavedQuery) -> str:
    return query.name


def test_there_is_one_query_per_question() -> None:
    assert {q.name for q in QUERIES} == {
        "downstream_of_dataset",
        "column_origin",
        "incomplete_runs",
        "lineage_gaps",
        "schema_versions_per_dataset",
        "quarantined_by_reason",
        "lineage_edges",
    }


@pytest.mark.parametrize("query", QUERIES, ids=by_name)
def test_each_file_is_one_statement_that_parses_as_trino_strictly(query: SavedQuery) -> None:
    statements = sqlglot.parse(query.sql, read="trino", error_level=ErrorLevel.RAISE)
    assert len([s for s in statements if s is not None]) == 1  # Athena runs one statement per query
    assert isinstance(statements[0], exp.Select | exp.Union)


@pytest.mark.parametrize("query", QUERIES, ids=by_name)
def test_the_header_says_the_question_the_parameters_and_an_example(query: SavedQuery) -> None:
    assert query.sql.startswith("-- Question: ")
    assert len(query.question) > 20
    placeholders = list(parsed(query).find_all(exp.Placeholder))
    assert len(placeholders) == len(query.parameters), "every ? is documented, in order"
    assert all(p.this is None for p in placeholders)  # positional '?', what ExecutionParameters binds
    example = " ".join(athena_schema.header_paragraphs(query.sql)["Example"])
    assert "--work-group" in example
    assert "--query-execution-context Database=" in example
    assert f"file://lineage_plane/queries/{query.name}.sql" in example
    assert len(re.findall(r"\"'[^']*'\"", example)) == len(query.parameters), "the example passes each one"


@pytest.mark.parametrize("query", QUERIES, ids=by_name)
def test_no_question_mark_outside_the_parameters(query: SavedQuery) -> None:
    # Keep '?' for parameters: the Athena console looks for them in the text to ask for values.
    assert "?" not in "\n".join(athena_schema.header(query.sql))
    assert query.sql.count("?") == len(query.parameters)


def tables_read(tree: exp.Expression) -> set[str]:
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    return {
        t.name for t in tree.find_all(exp.Table) if t.name not in ctes and not isinstance(t.this, exp.Unnest)
    }


@pytest.mark.parametrize("query", QUERIES, ids=by_name)
def test_only_tables_the_construct_creates_are_read(query: SavedQuery) -> None:
    read = tables_read(parsed(query))
    assert read
    assert read <= set(athena_schema.TABLES)
    assert not any(t.db for t in parsed(query).find_all(exp.Table)), (
        "unqualified: the database is the context"
    )


@pytest.mark.parametrize("query", QUERIES, ids=by_name)
def test_every_read_of_a_table_filters_on_its_date_partition_with_parameters(query: SavedQuery) -> None:
    ctes = {cte.alias for cte in parsed(query).find_all(exp.CTE)}
    for table in parsed(query).find_all(exp.Table):
        if table.name in ctes:
            continue
        select = table.find_ancestor(exp.Select)
        assert select is not None
        where = select.args.get("where")
        assert where is not None, f"{table.name} is read without a WHERE"
        partition = DATE_PARTITION[table.name]
        bounded = [
            condition
            for condition in where.find_all(exp.Between, exp.EQ, exp.GTE, exp.LTE, exp.GT, exp.LT)
            if any(c.name == partition for c in condition.find_all(exp.Column))
            and any(True for _ in condition.find_all(exp.Placeholder))
        ]
        assert bounded, f"{table.name} is read without a {partition} condition on the parameters"
        if table.name == athena_schema.EVENTS_TABLE:  # injected projection: Athena requires equality
            assert any(
                c.name == Archive.PIPELINE_ID
                for eq in where.find_all(exp.EQ, exp.In)
                for c in eq.find_all(exp.Column)
            )


@pytest.mark.parametrize("query", QUERIES, ids=by_name)
def test_every_column_read_exists_in_the_table(query: SavedQuery) -> None:
    # sqlglot resolves every top-level column against the tables (and the CTEs built from them)
    qualify(parsed(query), schema=table_columns(), dialect="trino", validate_qualify_columns=True)


def _field(hive: Any, name: str) -> Any:
    if isinstance(hive, tuple) and hive[0] == "struct":
        fields = dict(hive[1])
        if name in fields:
            return fields[name]
    raise KeyError(name)


@pytest.mark.parametrize("query", QUERIES, ids=by_name)
def test_every_struct_field_read_exists(query: SavedQuery) -> None:
    """``target.schema.version``, ``c.sources``, ``s.dataset``: each step names a field of the type.

    Paths start at a table column (column names are unique across the tables), at the alias of an
    UNNEST of an array of structs (its rows are the struct's fields) or at a lambda's parameter
    (``transform(columns, c -> c.sources)``: an element of the array)."""
    types = {name: parse_hive_type(t) for cols in table_columns().values() for name, t in cols.items()}
    tree = qualify(parsed(query), schema=table_columns(), dialect="trino")
    rows: dict[str, Any] = {}  # UNNEST alias -> the struct type of its rows
    params: dict[str, Any] = {}  # lambda parameter -> the type of the array's elements

    def resolve(node: exp.Expression) -> Any:
        if isinstance(node, exp.Dot):
            return _field(resolve(node.this), node.expression.name)
        if isinstance(node, exp.Column) and node.table:
            return _field(rows[node.table], node.name) if node.table in rows else types.get(node.name)
        if isinstance(node, exp.Column | exp.Identifier):
            return params.get(node.name, types.get(node.name))
        return None

    def element(array: exp.Expression) -> Any:
        hive = resolve(array)
        return hive[1] if isinstance(hive, tuple) and hive[0] == "array" else None

    for _ in range(5):  # bindings can depend on each other (s from c.sources): settle them
        for node in tree.find_all(exp.Unnest):
            alias = node.args.get("alias")
            unnamed_rows = alias is not None and not alias.columns and len(node.expressions) == 1
            if unnamed_rows and (item := element(node.expressions[0])) is not None:
                rows[node.alias] = item
        for node in tree.find_all(exp.Lambda):
            over = node.parent.this if node.parent is not None else None
            if len(node.expressions) == 1 and over is not None and (item := element(over)) is not None:
                params[node.expressions[0].name] = item
    checked = 0
    for node in tree.find_all(exp.Dot, exp.Column):
        if isinstance(node, exp.Dot) and not isinstance(node.parent, exp.Dot):
            assert resolve(node) is not None, node.sql("trino")
            checked += 1
        elif isinstance(node, exp.Column) and node.table in rows:
            resolve(node)  # raises KeyError for a field the struct does not have
            checked += 1
    assert checked


@pytest.mark.parametrize("query", QUERIES, ids=by_name)
def test_event_types_named_are_the_contracts(query: SavedQuery) -> None:
    known = {v for k, v in vars(EventType).items() if k.isupper() and isinstance(v, str)}
    for column in parsed(query).find_all(exp.Column):
        if column.name != "event_type":
            continue
        comparison = column.parent
        if isinstance(comparison, exp.In | exp.EQ):
            literals = {lit.this for lit in comparison.find_all(exp.Literal) if lit.is_string}
            assert literals <= known, literals - known


def tags_read(query: SavedQuery) -> set[str]:
    """The keys of ``tags`` a query reads (``element_at(tags, 'key')``, parsed as a Bracket)."""
    return {
        literal.this
        for bracket in parsed(query).find_all(exp.Bracket)
        if isinstance(bracket.this, exp.Column) and bracket.this.name == "tags"
        for literal in bracket.expressions
        if isinstance(literal, exp.Literal) and literal.is_string
    }


@pytest.mark.parametrize("query", QUERIES, ids=by_name)
def test_the_tags_read_are_the_ones_the_plane_s_observers_write(query: SavedQuery) -> None:
    known = {v for k, v in vars(ObservedTag).items() if k.isupper() and isinstance(v, str)}
    assert tags_read(query) <= known, tags_read(query) - known


def test_the_gap_and_incomplete_questions_read_the_observers_tags() -> None:
    by_file = {query.name: query for query in QUERIES}
    for name in ("lineage_gaps", "incomplete_runs"):
        assert tags_read(by_file[name]) == {ObservedTag.OBSERVED_BY, ObservedTag.PLATFORM_STATE}
