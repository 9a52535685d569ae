"""The Athena tables as DuckDB views, and the saved queries' Trino SQL as DuckDB SQL.

Views: each Athena table (``lineage_plane/athena_schema.py``) becomes a view over ``read_json`` of the
archive's objects, with the table's columns typed from its Hive types. Partition columns are read
from each object's path, not by DuckDB's ``hive_partitioning``: that option would replace the
events' own ``pipeline_id`` field with the folder's value, where Athena's ``events_all_pipelines``
reads the field. ``events`` exposes the folder's (percent-encoded) ``pipeline_id``, as Athena does.
Only the objects of the days a query names are listed in its views: the days are pruned here,
whatever DuckDB could push down, and no file at all reads as an empty table (not an error).

SQL: sqlglot transpiles Trino to DuckDB; one construct it leaves to DuckDB's own meaning is
rewritten first (``UNNEST`` of rows, see ``_unnest_rows``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import sqlglot
from sqlglot import exp

_PRIMITIVE: Final = {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "double": "DOUBLE"}
_PRIMITIVE_MORE: Final = {"boolean": "BOOLEAN", "date": "DATE", "float": "FLOAT"}
_ROW: Final = "_lineage_row"
# A quarantined line holds a whole CloudWatch message (256 KiB at most) and its reason: room to spare.
_MAX_LINE_BYTES: Final = 4 * 1024 * 1024


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def utc_wall_time(columns: list[str], aware: list[bool]) -> str:
    """A select list of ``columns`` with each TIMESTAMPTZ one (``aware``) as UTC wall time: Python's
    DuckDB client converts TIMESTAMPTZ only with pytz installed, and UTC is all the queries produce.
    A projection keeps the order of the ORDER BY beneath it (DuckDB preserves insertion order)."""
    return ", ".join(
        f"timezone('UTC', {quote(c)}) AS {quote(c)}" if tz else quote(c)
        for c, tz in zip(columns, aware, strict=True)
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_type(hive: str) -> str:
    """A Glue (Hive) type string, ``struct<id:string,fields:array<struct<name:string>>>``, in DuckDB's
    spelling, ``STRUCT("id" VARCHAR, "fields" STRUCT("name" VARCHAR)[])``."""
    parsed, rest = _parse(hive.replace(" ", ""))
    if rest:
        raise ValueError(f"unexpected {rest!r} after a Hive type in {hive!r}")
    return parsed


def _split_top(body: str) -> tuple[list[str], str]:
    """Split ``a:int,b:struct<...>>rest`` at top-level commas up to the closing '>'; return the rest."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(body):
        if char == "<":
            depth += 1
        elif char == ">":
            if depth == 0:
                parts.append(body[start:i])
                return parts, body[i + 1 :]
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    raise ValueError(f"unbalanced '<' in Hive type {body!r}")


def _parse(text: str) -> tuple[str, str]:
    head, sep, body = text.partition("<")
    if not sep:
        name = re.split("[,>]", text, maxsplit=1)[0]
        known = {**_PRIMITIVE, **_PRIMITIVE_MORE}
        if name not in known:
            raise ValueError(f"no DuckDB type for Hive type {name!r}")
        return known[name], text[len(name) :]
    parts, rest = _split_top(body)
    if head == "array" and len(parts) == 1:
        return _parse_whole(parts[0]) + "[]", rest
    if head == "map" and len(parts) == 2:
        return f"MAP({_parse_whole(parts[0])}, {_parse_whole(parts[1])})", rest
    if head == "struct":
        fields = [part.partition(":") for part in parts]
        return "STRUCT(" + ", ".join(f"{quote(n)} {_parse_whole(t)}" for n, _, t in fields) + ")", rest
    raise ValueError(f"no DuckDB type for Hive type {text!r}")


def _parse_whole(text: str) -> str:
    parsed, rest = _parse(text)
    if rest:
        raise ValueError(f"unexpected {rest!r} in Hive type {text!r}")
    return parsed


# --- Views ----------------------------------------------------------------------------------------

ListFiles = Callable[[Path, str, tuple[str, str] | None], list[Path]]


def views(root: Path, window: tuple[str, str, str] | None, list_files: ListFiles) -> Iterator[str]:
    """``CREATE OR REPLACE VIEW`` statements of the three tables over ``root``'s objects; ``window``
    (partition, first day, last day) limits the objects of that partition to those days."""
    from lineage_plane import athena_schema

    for spec in athena_schema.table_specs():
        partition = spec.partitions[0].name  # the date partition: event_date or log_date
        days = (window[1], window[2]) if window is not None and window[0] == partition else None
        files = [path.as_posix() for path in list_files(root, partition, days)]
        select = [quote(c.name) for c in spec.columns]
        for part in spec.partitions:  # read from the object's key, as Athena reads its folder
            pattern = _literal(f"/{part.name}=([^/]*)/")
            select.append(f"regexp_extract(filename, {pattern}, 1) AS {quote(part.name)}")
        columns = (
            "{"
            + ", ".join(f"{_literal(c.name)}: {_literal(duckdb_type(c.type))}" for c in spec.columns)
            + "}"
        )
        if files:
            source = (
                f"read_json([{', '.join(_literal(f) for f in files)}], format = 'newline_delimited', "
                f"columns = {columns}, filename = true, hive_partitioning = false, "
                f"maximum_object_size = {_MAX_LINE_BYTES})"
            )
            body = f"SELECT {', '.join(select)} FROM {source}"
        else:
            typed = [f"CAST(NULL AS {duckdb_type(c.type)}) AS {quote(c.name)}" for c in spec.columns]
            typed += [f"CAST(NULL AS VARCHAR) AS {quote(p.name)}" for p in spec.partitions]
            body = f"SELECT {', '.join(typed)} WHERE false"
        yield f"CREATE OR REPLACE TEMP VIEW {quote(spec.name)} AS {body}"


# --- Trino -> DuckDB ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def to_duckdb(trino_sql: str) -> str:
    """A saved query's text in DuckDB's dialect (once per text: sqlglot costs milliseconds)."""
    tree = sqlglot.parse_one(trino_sql, read="trino")
    for unnest in list(tree.find_all(exp.Unnest)):
        _unnest_rows(unnest)
    return tree.sql(dialect="duckdb", comments=False)


def _unnest_rows(unnest: exp.Unnest) -> None:
    """Trino's ``UNNEST(array_of_rows) AS t`` yields the rows' fields, read as ``t.field``: in
    DuckDB, ``AS t (t)`` names its one struct column like the table, and ``t.field`` reads its field.
    ``UNNEST(array_of_rows) AS t (a, b, c)`` yields one column per field of the rows.
    DuckDB's UNNEST of a list of structs yields one struct column, and builds a list of unnamed
    ROWs as structs named after their expressions, which differ row to row. So: name each row's
    fields after the aliases, and unnest twice (the list, then the struct) in a subquery."""
    alias = unnest.args.get("alias")
    if not isinstance(alias, exp.TableAlias) or len(unnest.expressions) != 1:
        return
    if not alias.columns:  # rows read as c.field: one column named like the table (DuckDB < 2 needs it)
        alias.set("columns", [exp.to_identifier(alias.name)])
        return
    if len(alias.columns) < 2:
        return
    names = [c.name for c in alias.columns]
    array = unnest.expressions[0]
    if isinstance(array, exp.Array):
        for row in array.expressions:
            if isinstance(row, exp.Struct) and len(row.expressions) == len(names):
                values = [e.expression if isinstance(e, exp.PropertyEQ) else e for e in row.expressions]
                row.set(
                    "expressions",
                    [
                        exp.PropertyEQ(this=exp.to_identifier(n), expression=v.copy())
                        for n, v in zip(names, values, strict=True)
                    ],
                )
    rows = exp.select(exp.Unnest(expressions=[array.copy()]).as_(_ROW))
    fields = exp.select(exp.Unnest(expressions=[exp.column(_ROW)])).from_(rows.subquery())
    unnest.replace(exp.Subquery(this=fields, alias=alias.copy()))
