"""Finding the lineage event in a CloudWatch log message, whatever shape the job's logging gave it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lineage_plane.extract import find_event, find_events
from tests.conftest import load_examples
from tests.unit.log_shapes import lambda_record, lambda_text, spark_driver

EVENT: dict[str, Any] = dict(load_examples("valid"))["1.0/run-start-glue-from-step-functions"]
TEXT = json.dumps(EVENT, separators=(",", ":"))  # what lineage_lib writes: compact
SPACED = json.dumps(EVENT)  # what json.dumps writes by default: ", " and ": "


# message shape -> (message, the JSON text the producer wrote)
SHAPES = {
    "bare compact": (TEXT, TEXT),
    "bare with spaces": (SPACED, SPACED),
    "lambda text format": (lambda_text(TEXT), TEXT),
    "spark driver log4j": (spark_driver(TEXT), TEXT),
    "lambda json record, message string": (lambda_record(TEXT), TEXT),
    "lambda json record, message string with print's newline": (lambda_record(TEXT + "\n"), TEXT),
    "lambda json record, message string after a prefix": (lambda_record(spark_driver(TEXT)), TEXT),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_each_shape_yields_the_event_and_the_producers_exact_text(shape: str) -> None:
    message, producer_text = SHAPES[shape]
    found = find_event(message)
    assert found is not None
    assert found.event == EVENT
    assert found.text == producer_text
    assert found.parse_error == ""


def test_a_lambda_json_record_with_the_event_as_an_object_yields_it_as_compact_json() -> None:
    found = find_event(lambda_record(EVENT))
    assert found is not None
    assert found.event == EVENT
    # no producer text exists for an object: the event is re-serialised, compact
    assert found.text == TEXT
    assert json.loads(found.text) == EVENT


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("before", "after"), [("  ", ""), ("", "\n"), ("\t ", "\r\n"), ("\n", "  \n")])
def test_surrounding_whitespace_is_ignored(shape: str, before: str, after: str) -> None:
    message, producer_text = SHAPES[shape]
    found = find_event(f"{before}{message}{after}")
    assert found is not None
    assert found.event == EVENT
    assert found.text == producer_text


@pytest.mark.parametrize(
    "garbage",
    [" trailing words", "}", " {", ",", "\t[extra]", " " + TEXT.replace("RUN_START", "RUN_COMPLETE")],
)
@pytest.mark.parametrize("wrap", [lambda t: t, lambda_text, spark_driver], ids=["bare", "lambda", "spark"])
def test_text_after_the_object_is_not_part_of_the_event(garbage: str, wrap: Any) -> None:
    found = find_event(wrap(TEXT + garbage))
    assert found is not None
    assert found.event == EVENT
    assert found.text == TEXT


@pytest.mark.parametrize(
    "event",
    [
        {"event_type": "READ", "run_id": "jr_1", "pipeline_id": "orders-daily"},
        {"event_type": "RUN_START", "event_id": "0f8fad5b-d9cb-469f-a165-708677280001"},
        {k: v for k, v in EVENT.items() if k != "schema_version"},
        {"schema_version": "9.9"},  # a version alone: lineage (to be quarantined as unknown)
        {"schema_version": None, "anything": 1},
    ],
    ids=["type+run", "type+id", "example without version", "version only", "null version"],
)
def test_an_object_with_a_version_or_a_type_and_an_id_is_lineage(event: dict[str, Any]) -> None:
    for message in (json.dumps(event), lambda_text(json.dumps(event)), lambda_record(json.dumps(event))):
        found = find_event(message)
        assert found is not None, message
        assert found.event == event


@pytest.mark.parametrize(
    "message",
    [
        '{"level":"INFO","msg":"x"}',
        '{"event_type":"click","user":"u1"}',  # a type alone is an application's event, not lineage
        '{"run_id":"jr_1","status":"ok"}',
        '{"event_id":"e1","run_id":"jr_1"}',
        lambda_record("START RequestId: 8f5f1c2e Version: $LATEST"),
        lambda_record({"orderId": 7, "status": "shipped"}),
        lambda_record('{"level":"DEBUG","msg":"x"}'),
        lambda_text('{"level":"INFO","msg":"x"}'),
        spark_driver('{"stage":3,"tasks":200}'),
    ],
)
def test_json_that_is_not_lineage_is_ignored(message: str) -> None:
    assert find_event(message) is None


@pytest.mark.parametrize(
    "message",
    ["[1, 2, 3]", '"schema_version"', "42", "null", "true", '[{"level":"INFO"}]', '["event_type"]'],
)
def test_json_that_is_not_an_object_is_ignored(message: str) -> None:
    assert find_event(message) is None


@pytest.mark.parametrize(
    "message",
    [
        "",
        "   \n",
        "START RequestId: 8f5f1c2e-1b7a-4d0e-9c4b-2e6f0a1d3c55 Version: $LATEST",
        "26/11/21 05:00:01 INFO SparkContext: Running Spark version 3.5.1",
        "REPORT RequestId: 8f5f1c2e Duration: 12.3 ms",
        "the job logs the words schema_version and event_type in prose",
        "a brace { but no JSON }",
    ],
)
def test_plain_text_is_ignored(message: str) -> None:
    assert find_event(message) is None


def test_an_array_around_an_event_is_read_as_a_prefix_before_it() -> None:
    # Documents the behaviour: the search for '{"' after a prefix also finds an event inside an array
    # (the rest of the array is trailing text); the event is then handled like any other.
    found = find_event(f"[{TEXT}]")
    assert found is not None
    assert found.event == EVENT
    assert found.text == TEXT


@pytest.mark.parametrize("cut", [len('{"schema_version"'), 40, len(TEXT) // 2, len(TEXT) - 1])
@pytest.mark.parametrize("wrap", [lambda t: t, lambda_text, spark_driver], ids=["bare", "lambda", "spark"])
def test_truncated_lineage_is_a_broken_event_not_ignored(cut: int, wrap: Any) -> None:
    # every cut keeps the first field name, "schema_version", whole: the message names a lineage field
    truncated = TEXT[:cut]
    found = find_event(wrap(truncated))
    assert found is not None
    assert found.event is None
    assert found.text == truncated
    assert found.parse_error  # the decoder's message, for the quarantine's reason


def test_a_truncated_event_without_a_version_but_with_a_type_is_broken() -> None:
    truncated = '{"event_type":"READ","run_id":"jr_1","source":{"id":"s3://bu'
    found = find_event(truncated)
    assert found is not None
    assert found.event is None
    assert found.text == truncated


def test_truncated_json_without_a_lineage_field_is_ignored() -> None:
    assert find_event('{"level":"INFO","msg":"the request ti') is None


def test_a_lambda_record_whose_message_string_is_truncated_lineage_is_broken() -> None:
    # the record is whole; the text the function logged inside it was cut by the function
    found = find_event(lambda_record(TEXT[:80]))
    assert found is not None
    assert found.event is None
    assert found.text == TEXT[:80]


def test_a_truncated_lambda_json_record_holding_lineage_is_broken_not_ignored() -> None:
    # CloudWatch Logs cuts a log event over 256 KiB: a record whose message string holds a large event
    # (every quote escaped, so bigger than the event itself) arrives cut, and is not valid JSON.
    record = lambda_record(TEXT)
    truncated = record[: record.index("RUN_START")]
    assert '\\"schema_version\\"' in truncated
    found = find_event(truncated)
    assert found is not None
    assert found.event is None


def test_a_lambda_record_is_unwrapped_once_only() -> None:
    # The message of a record is searched like a log line (bare or after a prefix), but a record in
    # the message of a record is not unwrapped again: nothing logs that way, and the depth is bounded.
    inner_record = lambda_record(TEXT)
    assert find_event(lambda_record(inner_record)) is None
    assert find_event(lambda_record(json.loads(inner_record))) is None
    # one level, whatever the inner shape: a bare line, a prefixed line
    for inner in (TEXT, lambda_text(TEXT), spark_driver(TEXT)):
        found = find_event(lambda_record(inner))
        assert found is not None
        assert found.event == EVENT


def test_a_prefixed_line_holding_a_lambda_record_is_not_unwrapped() -> None:
    # Unwrapping applies to a record that is the whole message, not to one after a prefix.
    assert find_event(spark_driver(lambda_record(TEXT))) is None


def test_a_record_that_is_itself_lineage_is_taken_as_the_event() -> None:
    # An object with lineage fields at its top level is the event, even if it has a "message" field:
    # it is not a Lambda record around another event.
    event = {**EVENT, "message": TEXT}
    found = find_event(json.dumps(event))
    assert found is not None
    assert found.event == event


# --- several events in one message ----------------------------------------------------------------

OTHER = {**EVENT, "event_id": "0f8fad5b-d9cb-469f-a165-708677280099", "event_type": "RUN_COMPLETE"}
OTHER_TEXT = json.dumps(OTHER, separators=(",", ":"))
WRAPS = {"bare": lambda t: t, "lambda text": lambda_text, "spark": spark_driver}


@pytest.mark.parametrize("second", WRAPS)
@pytest.mark.parametrize("first", WRAPS)
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_two_events_printed_in_one_write_are_both_found_in_order(
    first: str, second: str, newline: str
) -> None:
    message = WRAPS[first](TEXT) + newline + WRAPS[second](OTHER_TEXT) + newline
    found = find_events(message)
    assert [(f.event, f.text) for f in found] == [(EVENT, TEXT), (OTHER, OTHER_TEXT)]
    assert find_event(message) == found[0]


def test_lines_that_are_not_lineage_between_events_are_skipped() -> None:
    message = "\n".join(
        ["INFO starting", TEXT, '{"level":"INFO","msg":"x"}', "", spark_driver(OTHER_TEXT), "done {"]
    )
    assert [f.event for f in find_events(message)] == [EVENT, OTHER]


def test_a_second_event_on_the_same_line_is_found_too() -> None:
    assert [f.event for f in find_events(f"{TEXT} {OTHER_TEXT}")] == [EVENT, OTHER]


def test_a_lambda_json_record_whose_message_holds_two_lines_yields_both() -> None:
    found = find_events(lambda_record(f"{TEXT}\n{lambda_text(OTHER_TEXT)}\n"))
    assert [(f.event, f.text) for f in found] == [(EVENT, TEXT), (OTHER, OTHER_TEXT)]


@pytest.mark.parametrize("cut", [40, len(TEXT) // 2, TEXT.index('"event_type":') + len('"event_type":')])
def test_a_truncated_line_is_one_broken_event_and_the_next_line_is_still_found(cut: int) -> None:
    # cut inside a string, after a comma, after a colon: the parser may read on into the next line,
    # but a broken candidate is only the rest of its own line
    found = find_events(f"{TEXT[:cut]}\n{OTHER_TEXT}")
    assert [(f.event, f.text) for f in found] == [(None, TEXT[:cut]), (OTHER, OTHER_TEXT)]
    assert found[0].parse_error


def test_a_pretty_printed_event_is_one_event_whole_or_broken() -> None:
    pretty = json.dumps(EVENT, indent=2)
    [found] = find_events(pretty)
    assert found.event == EVENT
    cut = pretty[: pretty.index('"run_id"')]  # its first lines hold no lineage field of their own
    [broken] = find_events(cut)
    assert (broken.event, broken.text) == (None, cut.strip())


@pytest.mark.parametrize(
    "hostile",
    ['{"a' * 50_000, '{"a":[\n' * 20_000, "{\n" * 50_000, '{"a":"{"\n' * 20_000],
    ids=["braces", "nested lines", "brace lines", "open strings"],
)
def test_a_hostile_message_of_braces_holds_no_event(hostile: str) -> None:
    # each line is decoded on its own (but the first object, which may span lines): read in one pass
    assert find_events(hostile) == []
