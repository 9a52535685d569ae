"""The Athena tables' columns are the contract's fields, typed so Hive and the JSON SerDe read them."""

from __future__ import annotations

from typing import Any

import pytest

from lineage_lib.contract import Field, schema
from lineage_plane import athena_schema
from lineage_plane.athena_schema import UnsupportedSchemaError, hive_type
from lineage_plane.layout import (
    Archive,
    Ingest,
    Quarantine,
    event_object_key,
    partition_value,
    quarantine_object_key,
)
from tests.conftest import load_examples

PRIMITIVES = {"string", "bigint", "double", "boolean"}


def parse_hive_type(text: str) -> Any:
    """Parse a Glue/Hive type string into ("struct", [(name, type)]), ("array", t), ("map", k, v) or a
    primitive name; raise ValueError unless the whole string is one well-formed type."""
    parsed, end = _parse(text, 0)
    if end != len(text):
        raise ValueError(f"trailing text at {end}: {text[end:]!r}")
    return parsed


def _expect(text: str, at: int, token: str) -> int:
    if not text.startswith(token, at):
        raise ValueError(f"expected {token!r} at {at} in {text!r}")
    return at + len(token)


def _name(text: str, at: int, stops: str) -> tuple[str, int]:
    end = at
    while end < len(text) and text[end] not in stops:
        end += 1
    if end == at:
        raise ValueError(f"empty name at {at} in {text!r}")
    return text[at:end], end


def _parse(text: str, at: int) -> tuple[Any, int]:
    if text.startswith("struct<", at):
        at, fields = at + len("struct<"), []
        while True:
            name, at = _name(text, at, ":<>,")
            sub, at = _parse(text, _expect(text, at, ":"))
            fields.append((name, sub))
            if text.startswith(">", at):
                return ("struct", fields), at + 1
            at = _expect(text, at, ",")
    if text.startswith("array<", at):
        item, at = _parse(text, at + len("array<"))
        return ("array", item), _expect(text, at, ">")
    if text.startswith("map<", at):
        key, at = _parse(text, at + len("map<"))
        value, at = _parse(text, _expect(text, at, ","))
        return ("map", key, value), _expect(text, at, ">")
    name, end = _name(text, at, "<>,:")
    if name not in PRIMITIVES:
        raise ValueError(f"unknown type {name!r} at {at} in {text!r}")
    return name, end


def conforms(value: Any, parsed: Any, path: str = "$") -> list[str]:
    """Where a JSON value does not fit a parsed Hive type (what the JSON SerDe would drop or refuse)."""
    if value is None:
        return []
    if parsed == "string":
        return [] if isinstance(value, str) else [f"{path}: {value!r} is not a string"]
    if parsed == "bigint":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: {value!r} is not an integer"]
    if parsed == "double":
        return [] if isinstance(value, int | float) else [f"{path}: {value!r} is not a number"]
    if parsed == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: {value!r} is not a boolean"]
    kind = parsed[0]
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: not an array"]
        return [p for i, item in enumerate(value) for p in conforms(item, parsed[1], f"{path}[{i}]")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: not an object"]
        return [p for k, v in value.items() for p in conforms(v, parsed[2], f"{path}.{k}")]
    fields = dict(parsed[1])
    if not isinstance(value, dict):
        return [f"{path}: not an object"]
    problems = [f"{path}.{k}: no such field in the table" for k in value if k not in fields]
    return problems + [
        p for k, v in value.items() if k in fields for p in conforms(v, fields[k], f"{path}.{k}")
    ]


def columns_by_name() -> dict[str, athena_schema.Column]:
    return {column.name: column for column in athena_schema.event_columns()}


def test_every_top_level_property_is_a_column_in_schema_order_then_ingest() -> None:
    names = [column.name for column in athena_schema.event_columns()]
    assert names == [*schema("1.0")["properties"], Ingest.KEY]


@pytest.mark.parametrize("column", athena_schema.event_columns(), ids=lambda c: c.name)
def test_every_event_column_type_is_one_well_formed_hive_type(column: athena_schema.Column) -> None:
    parse_hive_type(column.type)  # raises on unbalanced brackets, stray text or unknown names
    assert " " not in column.type  # Glue's spelling: no spaces


def test_known_fields_have_the_types_the_queries_rely_on() -> None:
    columns = columns_by_name()
    assert columns[Field.ATTEMPT].type == "bigint"
    assert columns[Field.EVENT_TIME].type == "string"
    assert columns[Field.EVENT_TYPE].type == "string"  # an enum of strings
    assert columns[Field.SCHEMA_VERSION].type == "string"  # a const
    assert columns[Field.TAGS].type == "map<string,string>"
    assert columns[Field.METRICS].type == "struct<records:bigint,bytes:bigint,files:bigint>"
    dataset = parse_hive_type(columns[Field.SOURCE].type)
    assert dataset[0] == "struct"
    fields = dict(dataset[1])
    assert list(fields) == [Field.DATASET_ID, Field.LOCATION, Field.VERSION, Field.SCHEMA]
    assert fields[Field.SCHEMA] == (
        "struct",
        [
            (Field.VERSION, "string"),
            (Field.FIELDS, ("array", ("struct", [("name", "string"), ("type", "string")]))),
        ],
    )
    assert columns[Field.TARGET].type == columns[Field.SOURCE].type
    lineage = parse_hive_type(columns[Field.COLUMNS].type)
    assert lineage[0] == "array"
    assert lineage[1][0] == "struct"
    item = dict(lineage[1][1])
    assert item[Field.COLUMN] == "string"
    assert item[Field.SOURCES] == ("array", ("struct", [(Field.DATASET, "string"), (Field.COLUMN, "string")]))
    assert item[Field.TRANSFORMATION] == "string"
    error = dict(parse_hive_type(columns[Field.ERROR].type)[1])
    assert error[Field.EXIT_CODE] == "bigint"


def test_the_ingest_struct_has_exactly_the_fields_of_plane_ingest() -> None:
    declared = [v for k, v in vars(Ingest).items() if k.isupper() and k != "KEY"]
    parsed = parse_hive_type(athena_schema.ingest_type())
    assert [name for name, _ in parsed[1]] == declared
    numbers = (Ingest.LOG_TIMESTAMP, Ingest.EVENT_INDEX)
    assert {dict(parsed[1])[name] for name in numbers} == {"bigint"}
    assert {t for name, t in parsed[1] if name not in numbers} == {"string"}
    assert columns_by_name()[Ingest.KEY].type == athena_schema.ingest_type()


def test_quarantine_columns() -> None:
    columns = {c.name: c.type for c in athena_schema.quarantine_columns()}
    assert columns == {
        Quarantine.EVENT_ID: "string",
        Quarantine.SCHEMA_VERSION: "string",
        Quarantine.REASON: "struct<code:string,detail:string,path:string,rule:string>",
        Quarantine.MESSAGE: "string",
        Ingest.KEY: athena_schema.ingest_type(),
    }
    for column in athena_schema.quarantine_columns():
        parse_hive_type(column.type)


def test_partitions_come_from_the_archive_layout() -> None:
    assert [(c.name, c.type) for c in athena_schema.event_partitions()] == [
        (Archive.EVENT_DATE, "string"),
        (Archive.PIPELINE_ID, "string"),
    ]
    assert [(c.name, c.type) for c in athena_schema.quarantine_partitions()] == [(Archive.LOG_DATE, "string")]


def test_a_partition_column_is_not_also_a_data_column() -> None:
    # Hive refuses a table whose partition key repeats a column; events carry pipeline_id themselves.
    data = athena_schema.without(athena_schema.event_columns(), athena_schema.event_partitions())
    assert Field.PIPELINE_ID not in {c.name for c in data}
    assert len(data) == len(athena_schema.event_columns()) - 1


@pytest.mark.parametrize(
    ("name", "event"), load_examples("valid"), ids=[n for n, _ in load_examples("valid")]
)
def test_every_valid_example_fits_the_table(name: str, event: dict[str, Any]) -> None:
    archived = {
        **event,
        Ingest.KEY: {f: "x" for f in athena_schema.ingest_fields()}
        | {Ingest.LOG_TIMESTAMP: 1, Ingest.EVENT_INDEX: 0},
    }
    table = ("struct", [(c.name, parse_hive_type(c.type)) for c in athena_schema.event_columns()])
    assert conforms(archived, table) == []


def test_json_schema_constructs_map_to_hive_types() -> None:
    root = {"$defs": {"n": {"type": "integer"}, "r": {"$ref": "#/$defs/n"}}}
    assert hive_type({"$ref": "#/$defs/r"}, root) == "bigint"
    assert hive_type({"type": "number"}, root) == "double"
    assert hive_type({"type": "boolean"}, root) == "boolean"
    assert hive_type({"type": ["string", "null"]}, root) == "string"
    assert hive_type({"enum": [1, 2]}, root) == "bigint"
    assert hive_type({"const": True}, root) == "boolean"
    assert hive_type({"type": "array", "items": {"type": "array", "items": {"type": "string"}}}, root) == (
        "array<array<string>>"
    )
    assert (
        hive_type({"type": "object", "additionalProperties": {"type": "integer"}}, root)
        == "map<string,bigint>"
    )


@pytest.mark.parametrize(
    ("node", "where"),
    [
        ({"type": "object", "properties": {"detail-type": {"type": "string"}}}, "detail-type"),
        ({"type": "object", "properties": {"Upper": {"type": "string"}}}, "Upper"),
        ({"enum": ["a", 1]}, "mixed"),
        ({"$ref": "#/$defs/missing_loop"}, "$ref"),
        ({"type": "object"}, "no Hive type"),
        ({"oneOf": [{"type": "string"}]}, "no Hive type"),
    ],
)
def test_what_athena_cannot_read_fails_at_synthesis_with_its_place(node: dict[str, Any], where: str) -> None:
    root = {"$defs": {"missing_loop": {"$ref": "#/$defs/missing_loop"}}}
    with pytest.raises(UnsupportedSchemaError, match=where.replace("$", r"\$")):
        hive_type({"type": "object", "properties": {"field": node}}, root)


@pytest.mark.parametrize("pipeline", ["orders-daily", "sales/daily", "orders daily"])
def test_each_tables_storage_template_is_where_the_validator_writes(pipeline: str) -> None:
    specs = {spec.name: spec for spec in athena_schema.table_specs()}
    assert set(specs) == set(athena_schema.TABLES)
    key = event_object_key("2026-11-21", pipeline, "batch")
    folder = "s3://b/" + key.rsplit("/", 1)[0] + "/"
    values = {Archive.EVENT_DATE: "2026-11-21", Archive.PIPELINE_ID: partition_value(pipeline)}

    def located(name: str, values: dict[str, str]) -> str:
        template = specs[name].parameters("b")["storage.location.template"]
        for partition, value in values.items():
            template = template.replace("${" + partition + "}", value)
        return template

    assert located(athena_schema.EVENTS_TABLE, values) == folder
    assert folder.startswith(located(athena_schema.EVENTS_ALL_PIPELINES_TABLE, values))
    quarantine = quarantine_object_key("2026-11-21", "batch")
    assert located(athena_schema.QUARANTINE_TABLE, {Archive.LOG_DATE: "2026-11-21"}) == (
        "s3://b/" + quarantine.rsplit("/", 1)[0] + "/"
    )
    for spec in specs.values():  # each template names every partition of its table, and only those
        assert set(spec.located_by) == {p.name for p in spec.partitions}
        assert spec.location("b") == f"s3://b/{spec.prefix}"
