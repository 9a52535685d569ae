"""The schema is the contract: examples, both validators, and their agreement."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lineage_lib import contract
from lineage_lib.errors import LineageValidationError, UnknownSchemaVersionError
from tests.conftest import SCHEMAS, load_examples

VALID = load_examples("valid")
INVALID = load_examples("invalid")


def reference_accepts(event: Any) -> bool:
    version = event.get("schema_version") if isinstance(event, dict) else None
    if version not in contract.known_versions():
        return False
    return jsonschema.Draft202012Validator(contract.schema(version)).is_valid(event)


def compiled_accepts(event: Any) -> bool:
    try:
        contract.validate(event)
    except LineageValidationError:
        return False
    return True


def all_errors(errors: Any) -> list[tuple[str, str]]:
    out = []
    for error in errors:
        out.append((str(error.validator), ".".join(str(p) for p in error.absolute_path)))
        out.extend(all_errors(error.context or []))
    return out


@pytest.mark.parametrize("version", contract.known_versions())
def test_each_schema_is_a_valid_2020_12_schema_named_by_its_version(version: str) -> None:
    schema = contract.schema(version)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == contract.SCHEMA_ID_PREFIX + version
    assert schema["properties"]["schema_version"] == {"const": version}


def test_every_version_has_valid_and_invalid_examples() -> None:
    for version in contract.known_versions():
        assert list((SCHEMAS / version / "examples" / "valid").glob("*.json"))
        assert list((SCHEMAS / version / "examples" / "invalid").glob("*.json"))


@pytest.mark.parametrize(("name", "event"), VALID, ids=[n for n, _ in VALID])
def test_valid_examples_pass_both_validators(name: str, event: dict[str, Any]) -> None:
    assert reference_accepts(event), contract.explain(event)
    contract.validate(event)


@pytest.mark.parametrize(("name", "example"), INVALID, ids=[n for n, _ in INVALID])
def test_invalid_examples_fail_both_validators_for_their_stated_reason(
    name: str, example: dict[str, Any]
) -> None:
    event, expect = example["event"], example["expect"]
    assert example["reason"], "every invalid example says why it must fail"
    version = event["schema_version"] if event["schema_version"] in contract.known_versions() else "1.0"
    errors = all_errors(jsonschema.Draft202012Validator(contract.schema(version)).iter_errors(event))
    assert (expect["rule"], expect["path"]) in errors, errors
    assert not compiled_accepts(event)


def test_validation_error_names_path_rule_and_what_to_do() -> None:
    event = dict(VALID[0][1], attempt=-1)
    with pytest.raises(LineageValidationError) as caught:
        contract.validate(event)
    assert caught.value.path == "attempt"
    assert caught.value.rule == "minimum"
    assert caught.value.value == -1
    assert "LINEAGE_MODE=lenient" in str(caught.value)


@pytest.mark.parametrize("version", [None, "", "0.9", "1.99", 1.0])
def test_missing_or_unknown_versions_are_rejected_with_the_known_ones(version: Any) -> None:
    event = dict(VALID[0][1])
    if version is None:
        event.pop("schema_version")
    else:
        event["schema_version"] = version
    with pytest.raises(UnknownSchemaVersionError, match=r"1\.0"):
        contract.validate(event)
    assert isinstance(contract.explain(event), UnknownSchemaVersionError)


def test_explain_gives_the_reference_message_or_none() -> None:
    assert contract.explain(VALID[0][1]) is None
    bad = dict(VALID[0][1], event_time="yesterday")
    explained = contract.explain(bad)
    assert explained is not None
    assert explained.path == "event_time"


# --- agreement: the compiled validator must accept exactly what jsonschema accepts -----------------

_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    # the bounds of the run state (int64) and beyond them
    st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**45 + 1, 9.3e18, -9.3e18, 1e300]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " x",
            "x ",
            "a\nb",
            "RUN_START",
            "WRITE",
            "READ",
            "STEP_FAIL",
            "rename",
            "glue",
            "local",
            "1.0",
            "2026-11-21T03:12:01Z",
            "2026-11-21T03:12:01.123456Z",
            "2026-11-21T03:12:01.1234567Z",
            "2026-11-21T03:12:01Z\n",
            "0f8fad5b-d9cb-469f-a165-708677280001\n",
            "s3://bucket/key",
            "s3://",
            "raw_db.orders_raw",
            # lone surrogates (not Unicode text; hypothesis' text() never makes them) and a valid pair
            "step_\ud800",
            "\udcff",
            "a\udc80b",
            "s3://b/caf\udcff.csv",
            "\ude00\ud83d",
            "\U0001f600 ok",
        ]
    ),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["id", "column", "dataset", "x"]), st.text(max_size=5), max_size=2),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(_paths(value, (*prefix, index)))
    return out


@st.composite
def mutated_events(draw: st.DrawFn) -> Any:
    event = copy.deepcopy(draw(st.sampled_from([e for _, e in VALID])))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = [p for p in _paths(event) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = event
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "step", "columns", "error", "source", "tags"]))] = draw(
                _values
            )
        else:
            parent[path[-1]] = draw(_values)
    return event


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_events())
def test_compiled_validator_agrees_with_jsonschema_on_mutated_events(event: Any) -> None:
    assert compiled_accepts(event) == reference_accepts(event), json.dumps(event, default=str)[:400]


# --- what the run state must hold: int64 integers, Unicode text (issue 11) -------------------------

INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)
_INTEGERS = ["error.exit_code", "metrics.records", "metrics.bytes", "metrics.files"]
_TEXTS = [
    "pipeline_id", "run_id", "step", "producer.name", "producer.version", "context.job_name",
    "context.sfn_execution_arn", "error.type", "error.message", "error.stack", "error.signal",
    "source.id", "source.location", "source.version", "source.schema.version", "source.schema.fields.0.name",
    "target.id", "columns.0.column", "columns.0.description", "columns.0.sources.0.dataset",
    "columns.0.sources.0.column", "tags.team",
]  # fmt: skip


def event_with(path: str, value: Any) -> dict[str, Any]:
    """A valid event that has ``path``, with the value there replaced (text: appended to)."""
    for _, example in VALID:
        event = copy.deepcopy(example)
        parent: Any = event
        parts = [int(p) if p.isdigit() else p for p in path.split(".")]
        try:
            for part in parts[:-1]:
                parent = parent[part]
            current = parent[parts[-1]] if path != "error.exit_code" or "exit_code" in parent else 0
        except (KeyError, IndexError, TypeError):
            continue
        parent[parts[-1]] = current + value if isinstance(value, str) else value
        return event
    raise AssertionError(f"no valid example has {path}")


@pytest.mark.parametrize("path", _INTEGERS)
@pytest.mark.parametrize(
    ("value", "valid"),
    [(INT64_MAX, True), (INT64_MAX + 1, False), (10**45 + 1, False), (9.3e18, False), (1e300, False)],
)
def test_integers_are_bounded_to_int64_by_both_validators(path: str, value: Any, valid: bool) -> None:
    event = event_with(path, value)
    assert compiled_accepts(event) is reference_accepts(event) is valid


@pytest.mark.parametrize("value", [INT64_MIN, INT64_MIN - 1, -(10**45)])
def test_an_exit_code_may_be_negative_down_to_int64s_minimum(value: int) -> None:
    event = event_with("error.exit_code", value)
    assert compiled_accepts(event) is reference_accepts(event) is (value >= INT64_MIN)


@pytest.mark.parametrize("path", _TEXTS)
@pytest.mark.parametrize(
    ("suffix", "valid"),
    [
        ("_\ud800", False),
        ("_\udcff_", False),
        ("\ude00\ud83d", False),
        ("_\U0001f600", True),
        ("_caf\u00e9", True),
    ],
    ids=["high", "low", "reversed pair", "astral", "accent"],
)
def test_text_with_a_lone_surrogate_is_refused_by_both_validators(
    path: str, suffix: str, valid: bool
) -> None:
    event = event_with(path, suffix)
    assert compiled_accepts(event) is reference_accepts(event) is valid
