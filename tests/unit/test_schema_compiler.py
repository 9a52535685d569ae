"""The hot-path schema compiler: exactly jsonschema's verdicts, on the keyword subset it accepts."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lineage_lib._schema_compiler import (
    SchemaCompileError,
    SchemaViolation,
    compile_source,
    compile_validator,
)

# Every supported keyword, including the ones lineage-event 1.0 does not use yet.
KITCHEN_SINK: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["kind"],
    "additionalProperties": False,
    "minProperties": 1,
    "maxProperties": 5,
    "properties": {
        "kind": {"enum": ["a", "b"]},
        "version": {"const": "1"},
        "count": {"type": "integer", "minimum": 0, "maximum": 10},
        "ratio": {"type": "number", "minimum": -1.5, "maximum": 1.5},
        "flag": {"type": "boolean"},
        "nothing": {"type": "null"},
        "name": {"$ref": "#/$defs/name"},
        "items": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"$ref": "#/$defs/name"}},
        "labels": {
            "type": "object",
            "propertyNames": {"pattern": "^[a-z]+$"},
            "additionalProperties": {"type": "string", "maxLength": 3},
        },
        "loose": {"minLength": 2, "minimum": 3, "minItems": 1, "required": ["x"]},
        # patterns that only exclude non-ASCII characters: ASCII strings skip the regex
        "text": {"type": "string", "maxLength": 4, "pattern": "^[^\\u00e9-\\u00ef\\ud800-\\udfff]*$"},
        "blob": {"type": "string", "pattern": "^[^\\ud800-\\udfff]*$"},
    },
    "allOf": [
        {
            "if": {"properties": {"kind": {"const": "a"}}},
            "then": {"required": ["count"]},
            "else": {"required": ["name"]},
        },
    ],
    "$defs": {"name": {"type": "string", "minLength": 1, "maxLength": 4, "pattern": "^[a-z]"}},
}

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=12),
    st.sampled_from([0.0, 1.0, 2.5, -1.5, 1e300, -0.0, 10.0, 11.0]),
    st.sampled_from(["", "a", "b", "ab", "abcd", "abcde", "A", "1", "a\n", "x"]),
    st.sampled_from(["\u00e9", "a\u00ea", "\u00f0", "\ud800", "a\udfff", "\U0001f600", "\u00ef\n"]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["x", "ab", "A", "a1", "kind", "count"]), inner, max_size=3),
    ),
    max_leaves=8,
)
_instances = st.one_of(
    _values,
    st.dictionaries(
        st.sampled_from(
            [
                "kind",
                "version",
                "count",
                "ratio",
                "flag",
                "nothing",
                "name",
                "items",
                "labels",
                "loose",
                "text",
                "blob",
                "other",
            ]
        ),
        _values,
        max_size=6,
    ),
)


def accepts(validator: Any, instance: Any) -> bool:
    try:
        validator(instance)
    except SchemaViolation:
        return False
    return True


@settings(max_examples=1500, deadline=None)
@given(_instances)
def test_agrees_with_jsonschema_on_every_supported_keyword(instance: Any) -> None:
    compiled = compile_validator(KITCHEN_SINK)
    reference = jsonschema.Draft202012Validator(KITCHEN_SINK)
    assert accepts(compiled, instance) == reference.is_valid(instance)


@pytest.mark.parametrize(
    ("schema", "complaint"),
    [
        ({"type": "string", "format": "date-time"}, "format"),
        ({"oneOf": [{"type": "string"}]}, "oneOf"),
        ({"type": "array", "uniqueItems": True}, "uniqueItems"),
        ({"type": ["string", "null"]}, "type must be one of"),
        ({"enum": [1, 2]}, "string values only"),
        ({"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a"}}}, "recursive"),
        ({"$ref": "other.json#/x"}, "local \\$ref"),
        ({"properties": {"a": True}}, "boolean schemas"),
    ],
)
def test_refuses_what_it_cannot_compile_instead_of_ignoring_it(
    schema: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(SchemaCompileError, match=complaint):
        compile_source(schema)


def test_a_violation_says_where_which_rule_and_what_value() -> None:
    validator = compile_validator(KITCHEN_SINK)
    with pytest.raises(SchemaViolation) as caught:
        validator({"kind": "a", "count": 3, "items": ["ok", "BAD"]})
    assert (caught.value.path, caught.value.rule, caught.value.value) == (("items", 1), "pattern", "BAD")
    assert "does not match" in caught.value.message


def test_remembered_matches_never_let_a_bad_string_through() -> None:
    validator = compile_validator({"type": "array", "items": {"type": "string", "pattern": "^ok"}})
    validator([f"ok{i}" for i in range(5000)])  # more than the memo holds
    validator(["ok1", "ok1"])
    with pytest.raises(SchemaViolation):
        validator(["ok1", "nope"])
    with pytest.raises(SchemaViolation):
        validator(["nope"])


def test_a_pattern_that_excludes_only_non_ascii_characters_skips_the_regex_for_ascii_strings() -> None:
    source, _ = compile_source({"type": "string", "pattern": "^[^\\ud800-\\udfff]*$"})
    assert ".isascii()" in source
    # a class with an ASCII member, or any other shape, keeps the plain search
    for pattern in ("^[^\\x00-\\x1f\\ud800-\\udfff]*$", "^[^\\ud800]+$", "^x[^\\ud800]*$"):
        assert ".isascii()" not in compile_source({"type": "string", "pattern": pattern})[0], pattern


def test_long_strings_are_never_remembered() -> None:
    source, constants = compile_source(
        {"type": "string", "maxLength": 8192, "pattern": "^[^\\ud800-\\udfff]*$"}
    )
    assert not any(name.startswith("_M") for name in constants)  # no memo: stacks do not repeat
    assert "_M" not in source
