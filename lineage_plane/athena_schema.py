"""The archive as Athena sees it: table names, columns, partitions and the saved queries.

Pure (no ``aws_cdk``), so the unit tests read the same facts the construct (``infra/query.py``)
deploys. Columns come from the event contract (``lineage_lib.contract.schema``), the ``ingest``
object and the quarantine lines from ``lineage_plane.layout``: a field added to the schema becomes a
column at the next deployment, and nothing here repeats a field name.

Type strings are the Glue Data Catalog's (Hive's) spelling, ``struct<id:string,...>``, without
spaces or quotes: the Glue API stores them as they are and Athena reads them with Hive's type parser,
which has no reserved words. Only Athena *DDL* (``CREATE TABLE``) needs backticks around reserved
words used as names; of the contract's names, ``column`` (in ``columns`` and its ``sources``) is one.
``schema`` is reserved neither in DDL nor in SELECT, so queries write ``target.schema.version`` as is.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from lineage_lib.contract import CURRENT_VERSION, schema
from lineage_plane.layout import Archive, Ingest, Quarantine

# --- Tables ----------------------------------------------------------------------------------------

EVENTS_TABLE: Final = "events"  # partitioned by event_date and pipeline_id, as the archive is
EVENTS_ALL_PIPELINES_TABLE: Final = "events_all_pipelines"  # the same objects, by event_date only
QUARANTINE_TABLE: Final = "quarantine"
TABLES: Final = (EVENTS_TABLE, EVENTS_ALL_PIPELINES_TABLE, QUARANTINE_TABLE)

# Partition projection: the first day the date partitions can hold (the last is today, UTC).
PROJECTION_START: Final = "2024-01-01"
STRING: Final = "string"

# Athena accepts only letters, digits and underscores in the field names of complex types.
_FIELD_NAME: Final = re.compile(r"^[a-z_][a-z0-9_]*$")
_COMMENT_LIMIT: Final = 255  # Glue's limit on a column comment
_PRIMITIVES: Final = {"string": STRING, "integer": "bigint", "number": "double", "boolean": "boolean"}


class UnsupportedSchemaError(ValueError):
    """A part of the JSON Schema has no Hive type; the message names where it is."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str = ""


# --- JSON Schema -> Hive types ---------------------------------------------------------------------


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    seen: set[str] = set()
    while "$ref" in node:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/$defs/") or ref in seen:
            raise UnsupportedSchemaError(f"{path}: cannot resolve $ref {ref!r}")
        seen.add(ref)
        node = root["$defs"][ref.removeprefix("#/$defs/")]
    return node


def _literal_type(values: Sequence[Any], path: str) -> str:
    if all(isinstance(v, str) for v in values):
        return STRING
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "bigint"
    raise UnsupportedSchemaError(f"{path}: enum/const of mixed or non-scalar values {values!r}")


def _field_name(name: str, path: str) -> str:
    if not _FIELD_NAME.match(name):
        raise UnsupportedSchemaError(
            f"{path}.{name}: Athena allows only lower-case letters, digits and '_' in column and field names"
        )
    return name


def hive_type(node: Mapping[str, Any], root: Mapping[str, Any], path: str = "$") -> str:
    """The Hive type of one JSON Schema node (``$ref``s into ``$defs`` resolved)."""
    node = _resolve(node, root, path)
    if "const" in node:
        return _literal_type([node["const"]], path)
    if "enum" in node:
        return _literal_type(node["enum"], path)
    kind = node.get("type")
    if isinstance(kind, list):  # ["string", "null"]: Hive columns are nullable anyway
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    if kind in _PRIMITIVES:
        return _PRIMITIVES[kind]
    if kind == "array" and isinstance(node.get("items"), Mapping):
        return f"array<{hive_type(node['items'], root, f'{path}[]')}>"
    if kind == "object":
        properties = node.get("properties")
        extra = node.get("additionalProperties")
        if properties:
            fields = ",".join(
                f"{_field_name(name, path)}:{hive_type(sub, root, f'{path}.{name}')}"
                for name, sub in properties.items()
            )
            return f"struct<{fields}>"
        if isinstance(extra, Mapping):  # free keys (tags): any key, values of one type
            return f"map<string,{hive_type(extra, root, f'{path}.*')}>"
    raise UnsupportedSchemaError(f"{path}: no Hive type for {dict(node)!r}")


def _description(node: Mapping[str, Any], root: Mapping[str, Any]) -> str:
    text = node.get("description") or _resolve(node, root, "$").get("description", "")
    return str(text)[:_COMMENT_LIMIT]


def event_columns(version: str = CURRENT_VERSION) -> tuple[Column, ...]:
    """Every top-level property of the schema, in schema order, then the validator's ``ingest``."""
    root = schema(version)
    columns = [
        Column(_field_name(name, "$"), hive_type(node, root, f"$.{name}"), _description(node, root))
        for name, node in root["properties"].items()
    ]
    columns.append(
        Column(Ingest.KEY, ingest_type(), "added by the validator: where and when it was received")
    )
    return tuple(columns)


def ingest_fields() -> tuple[str, ...]:
    """The ``ingest`` object's fields, in the order lineage_plane.layout.Ingest declares them."""
    return tuple(
        value
        for name, value in vars(Ingest).items()
        if name.isupper() and name != "KEY" and isinstance(value, str)
    )


def ingest_type() -> str:
    # CloudWatch's epoch milliseconds, and the event's place in its log message; the rest are text
    types = {Ingest.LOG_TIMESTAMP: "bigint", Ingest.EVENT_INDEX: "bigint"}
    return "struct<" + ",".join(f"{name}:{types.get(name, STRING)}" for name in ingest_fields()) + ">"


def quarantine_columns() -> tuple[Column, ...]:
    reason = (Quarantine.CODE, Quarantine.DETAIL, Quarantine.PATH, Quarantine.RULE)
    return (
        Column(Quarantine.EVENT_ID, STRING, "the event's id, when the line could be read"),
        Column(Quarantine.SCHEMA_VERSION, STRING, "the version the line declared, when readable"),
        Column(
            Quarantine.REASON,
            "struct<" + ",".join(f"{f}:{STRING}" for f in reason) + ">",
            "why it was refused",
        ),
        Column(Quarantine.MESSAGE, STRING, "the CloudWatch log message exactly as delivered"),
        Column(Ingest.KEY, ingest_type(), "where and when it was received"),
    )


def event_partitions() -> tuple[Column, ...]:
    return tuple(Column(name, STRING) for name in Archive.EVENT_PARTITIONS)


def quarantine_partitions() -> tuple[Column, ...]:
    return tuple(Column(name, STRING) for name in Archive.QUARANTINE_PARTITIONS)


def without(columns: Sequence[Column], partitions: Sequence[Column]) -> tuple[Column, ...]:
    """Data columns of a table partitioned by ``partitions``: Hive refuses a name that is both (the
    events carry ``pipeline_id``, which is also a folder of the archive)."""
    names = {p.name for p in partitions}
    return tuple(c for c in columns if c.name not in names)


# --- The tables ------------------------------------------------------------------------------------


def date_projection(name: str) -> dict[str, str]:
    """Project a ``yyyy-MM-dd`` partition over every day from PROJECTION_START to today (UTC)."""
    return {
        f"projection.{name}.type": "date",
        f"projection.{name}.format": Archive.DATE_FORMAT,
        f"projection.{name}.range": f"{PROJECTION_START},NOW",
        f"projection.{name}.interval": "1",
        f"projection.{name}.interval.unit": "DAYS",
    }


@dataclass(frozen=True)
class TableSpec:
    """One Glue table over an archive prefix. ``located_by`` are the partitions in its
    ``storage.location.template`` (Hive-style folders, as lineage_plane.layout builds the keys)."""

    name: str
    description: str
    prefix: str
    columns: tuple[Column, ...]
    partitions: tuple[Column, ...]
    projection: Mapping[str, str]
    located_by: tuple[str, ...]

    def location(self, bucket_name: str) -> str:
        return f"s3://{bucket_name}/{self.prefix}"

    def parameters(self, bucket_name: str) -> dict[str, str]:
        template = self.location(bucket_name) + "".join(f"{p}=${{{p}}}/" for p in self.located_by)
        return {"projection.enabled": "true", **self.projection, "storage.location.template": template}


def table_specs() -> tuple[TableSpec, ...]:
    """``events`` (by day and pipeline, pipeline injected), ``events_all_pipelines`` (by day; a day's
    location holds every pipeline's folder, which Athena reads recursively) and ``quarantine``."""
    events, partitions = event_columns(), event_partitions()
    by_day = tuple(p for p in partitions if p.name == Archive.EVENT_DATE)
    return (
        TableSpec(
            name=EVENTS_TABLE,
            description="Valid lineage events by day and pipeline; name the pipeline_id (injected)",
            prefix=Archive.EVENTS_PREFIX,
            columns=without(events, partitions),
            partitions=partitions,
            projection={
                **date_projection(Archive.EVENT_DATE),
                f"projection.{Archive.PIPELINE_ID}.type": "injected",
            },
            located_by=Archive.EVENT_PARTITIONS,
        ),
        TableSpec(
            name=EVENTS_ALL_PIPELINES_TABLE,
            description="The same events, by day only: the questions that cross pipelines",
            prefix=Archive.EVENTS_PREFIX,
            columns=events,
            partitions=by_day,
            projection=date_projection(Archive.EVENT_DATE),
            located_by=tuple(p.name for p in by_day),
        ),
        TableSpec(
            name=QUARANTINE_TABLE,
            description="Lines the validator refused: the reason, the original message, where it came from",
            prefix=Archive.QUARANTINE_PREFIX,
            columns=quarantine_columns(),
            partitions=quarantine_partitions(),
            projection=date_projection(Archive.LOG_DATE),
            located_by=Archive.QUARANTINE_PARTITIONS,
        ),
    )


# --- Saved queries ----------------------------------------------------------------------------------

# Package data of the core: the same files in a clone, an editable install and the tool wheel.
QUERIES_DIR: Final = Path(str(resources.files("lineage_plane") / "queries"))
_PARAMETER: Final = re.compile(r"^(\d+)\. (.+)$")


@dataclass(frozen=True)
class SavedQuery:
    """One ``queries/<name>.sql`` and what its header says: the question and the parameters."""

    name: str
    question: str
    parameters: tuple[str, ...]
    sql: str


def header(sql: str) -> list[str]:
    """The leading block of ``--`` comment lines, as written."""
    return list(itertools.takewhile(lambda line: line.startswith("--"), sql.splitlines()))


def header_paragraphs(sql: str) -> dict[str, list[str]]:
    """The header's paragraphs (separated by bare ``--`` lines), by their first word: ``Question``,
    ``Parameters``, ``Example``, ``Notes``."""
    paragraphs: list[list[str]] = [[]]
    for line in header(sql):
        text = line[2:].strip()
        if text:
            paragraphs[-1].append(text)
        elif paragraphs[-1]:
            paragraphs.append([])
    return {p[0].split(":", 1)[0].split(" ", 1)[0]: p for p in paragraphs if p}


def read_saved_query(path: Path) -> SavedQuery:
    """Header layout: a ``Question:`` paragraph, a ``Parameters`` paragraph (``1. ...`` in order) and
    an ``Example`` paragraph, separated by bare ``--`` lines; ``Notes`` may follow."""
    sql = path.read_text(encoding="utf-8")
    paragraphs = header_paragraphs(sql)
    missing = {"Question", "Parameters", "Example"} - paragraphs.keys()
    if missing:
        raise ValueError(f"{path}: the header comment has no {', '.join(sorted(missing))} paragraph")
    question = " ".join(paragraphs["Question"]).removeprefix("Question:").strip()
    parameters: list[str] = []
    for line in paragraphs["Parameters"][1:]:
        match = _PARAMETER.match(line)
        if match:
            parameters.append(match.group(2))
        elif parameters:  # a parameter's description continued on the next line
            parameters[-1] += " " + line
    return SavedQuery(path.stem, question, tuple(parameters), sql)


def saved_queries(directory: Path = QUERIES_DIR) -> tuple[SavedQuery, ...]:
    """Every ``*.sql`` of ``queries/``, by name."""
    return tuple(read_saved_query(path) for path in sorted(directory.glob("*.sql")))
