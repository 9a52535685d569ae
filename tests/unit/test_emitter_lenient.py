"""Values JSON cannot carry, and lines too large: strict mode refuses them naming the field; lenient
mode never raises and never hides a loss (a refusal line, or a reduced event the plane archives)."""

from __future__ import annotations

import datetime
import json
import logging
import math
import uuid
from typing import Any

import pytest

import lineage_lib as lineage
from lineage_lib import contract
from lineage_lib.contract import MAX_EVENT_BYTES, Refusal
from lineage_lib.testing import capture

RAW = lineage.glue_table("raw_db", "orders_raw")
DAILY = lineage.glue_table("analytics_db", "orders_daily")
WHEN = datetime.datetime(2026, 11, 21, 5, 0, tzinfo=datetime.UTC)


def strict_json(line: str) -> Any:
    """json.loads that refuses NaN and Infinity, which Python's json would otherwise accept."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(line, parse_constant=refuse)


def _many_columns(count: int) -> list[lineage.ColumnLineage]:
    return [
        lineage.ColumnLineage(f"column_{i:04d}_" + "x" * 100, RAW.column(f"source_{i:04d}_" + "y" * 100))
        for i in range(count)
    ]


def _lenient_lines(record: Any, **run_kwargs: Any) -> list[Any]:
    with capture() as captured, lineage.run("p", mode="lenient", **run_kwargs) as run, run.step("s") as step:
        record(step)
    return [strict_json(line) for line in captured.lines]


@pytest.mark.parametrize(
    ("record", "path", "rule"),
    [
        (lambda step: step.read(RAW, tags={"loaded_at": WHEN}), "tags.loaded_at", "type"),
        (lambda step: step.read(RAW, records=math.nan), "metrics.records", "type"),
        (lambda step: step.write(DAILY, size_bytes=math.inf), "metrics.bytes", "type"),
        (lambda step: step.read(RAW, tags={("a", "b"): "tuple key"}), "tags", Refusal.NOT_JSON),
    ],
)
def test_strict_mode_refuses_what_json_cannot_carry_naming_the_field(
    record: Any, path: str, rule: str
) -> None:
    with capture() as captured:
        run = lineage.run("p")
        step = run.step("s")
        with pytest.raises(lineage.LineageValidationError) as refused:
            record(step)
        run.complete()
    assert (refused.value.path, refused.value.rule) == (path, rule)
    assert captured.types() == ["RUN_START", "STEP_START", "STEP_COMPLETE", "RUN_COMPLETE"]


def test_strict_mode_refuses_a_run_id_json_cannot_carry_before_anything_is_emitted() -> None:
    with capture() as captured, pytest.raises(lineage.LineageValidationError) as refused:
        lineage.run("p", run_id=uuid.UUID(int=7))  # type: ignore[arg-type]
    assert (refused.value.path, refused.value.rule) == ("run_id", Refusal.NOT_JSON)
    assert "uuid.UUID" in str(refused.value)
    assert captured.lines == []


@pytest.mark.parametrize(
    ("record", "code", "path", "shown"),
    [
        (
            lambda step: step.read(RAW, tags={"loaded_at": WHEN}),
            Refusal.NOT_JSON,
            "tags.loaded_at",
            repr(WHEN),
        ),
        (lambda step: step.read(RAW, records=math.nan), Refusal.NON_FINITE, "metrics.records", "nan"),
        (lambda step: step.read(RAW, records=-math.inf), Refusal.NON_FINITE, "metrics.records", "-inf"),
        (lambda step: step.read(RAW, tags={("a", "b"): "x"}), Refusal.NOT_JSON, "tags", None),
    ],
)
def test_lenient_mode_emits_a_refusal_line_in_place_of_the_event(
    record: Any, code: str, path: str, shown: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    lines = _lenient_lines(record)
    assert [line["event_type"] for line in lines] == [
        "RUN_START",
        "STEP_START",
        "READ",
        "STEP_COMPLETE",
        "RUN_COMPLETE",
    ]
    refusal_line = lines[2]
    refusal = refusal_line[Refusal.KEY]
    assert (refusal[Refusal.CODE], refusal[Refusal.PATH]) == (code, path)
    assert refusal[Refusal.DETAIL].startswith(
        "lineage_lib (lenient mode) could not emit this READ event as JSON: "
    )
    assert "fix the call that recorded it" in refusal[Refusal.DETAIL]
    assert refusal_line["source"] == {"id": RAW.id}  # the rest of the event is kept
    if shown is not None:  # the value itself, replaced by its repr
        holder = refusal_line
        for part in path.split("."):
            holder = holder[part]
        assert holder == shown
    with pytest.raises(lineage.LineageValidationError, match="producer_refusal"):
        contract.validate(refusal_line)  # never archived: the plane quarantines it
    assert "emitting a refusal line instead" in caplog.text


def test_a_refusal_detail_says_what_to_pass_instead() -> None:
    (line,) = [x for x in _lenient_lines(lambda s: s.read(RAW, tags={"loaded_at": WHEN})) if Refusal.KEY in x]
    detail = line[Refusal.KEY][Refusal.DETAIL]
    assert "tags.loaded_at holds a datetime.datetime" in detail
    assert "its isoformat()" in detail
    (nan,) = [x for x in _lenient_lines(lambda s: s.read(RAW, records=math.nan)) if Refusal.KEY in x]
    assert (
        "metrics.records is nan, not a finite number (JSON has no NaN or Infinity)"
        in nan[Refusal.KEY][Refusal.DETAIL]
    )


def test_lenient_mode_refuses_every_event_of_a_run_whose_own_fields_json_cannot_carry() -> None:
    lines = _lenient_lines(lambda step: step.read(RAW), run_id=uuid.UUID(int=7))
    assert len(lines) == 5
    assert {line[Refusal.KEY][Refusal.PATH] for line in lines} == {"run_id"}
    assert {line["run_id"] for line in lines} == {repr(uuid.UUID(int=7))}


def test_lenient_mode_escapes_a_lone_surrogate_so_the_line_is_json_and_utf_8() -> None:
    lines: list[str] = []
    with capture() as captured:
        with lineage.run("p", mode="lenient") as run, run.step("s") as step:
            step.read(lineage.s3("raw-bucket", "caf\udce9"))
        lines = captured.lines
    read = lines[2]
    assert read.isascii()
    read.encode("utf-8")  # writable to any sink
    assert "\\udce9" in read
    assert strict_json(read)["source"]["id"] == "s3://raw-bucket/caf\udce9"


def test_strict_mode_refuses_a_lone_surrogate_naming_the_field() -> None:
    with (
        capture(),
        lineage.run("p") as run,
        run.step("s") as step,
        pytest.raises(lineage.LineageValidationError) as refused,
    ):
        step.read(lineage.s3("raw-bucket", "caf\udce9"))
    assert refused.value.path == "source.id"


def test_an_oversize_event_loses_its_details_largest_first_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    schema = [(f"field_{i:05d}_" + "z" * 60, "string") for i in range(4000)]  # ~300 KB of schema alone
    target = DAILY.with_schema("7", schema)
    lines = _lenient_lines(lambda step: step.write(target, records=31, columns=_many_columns(10)))
    write = lines[2]
    contract.validate(write)
    assert write["target"] == {"id": DAILY.id}
    assert "columns" not in write
    omitted = write["tags"]["lineage_lib.omitted"]
    assert omitted.startswith("columns, target.schema: the event was ")
    assert f"over the {MAX_EVENT_BYTES}-byte limit" in omitted


def test_a_huge_tag_is_dropped_with_the_other_details() -> None:
    lines = _lenient_lines(lambda step: step.write(DAILY, records=1, tags={"huge": "h" * 300_000}))
    contract.validate(lines[2])
    assert list(lines[2]["tags"]) == ["lineage_lib.omitted"]
    assert lines[2]["tags"]["lineage_lib.omitted"].startswith("tags: the event was ")


def test_an_event_too_large_even_without_its_details_becomes_an_oversize_refusal() -> None:
    # Lenient mode emits invalid events too: a step name far over the schema's length is one, and
    # it is part of the event's identity, which a reduced event keeps.
    with capture() as captured:
        run = lineage.run("p", mode="lenient")
        step = run.step("s" * 300_000)
        step.write(DAILY, records=1)
        run.complete()
    lines = [strict_json(line) for line in captured.lines]
    assert [line["event_type"] for line in lines] == [
        "RUN_START",
        "STEP_START",
        "WRITE",
        "STEP_COMPLETE",
        "RUN_COMPLETE",
    ]
    refusals = [line for line in lines if Refusal.KEY in line]
    assert [line["event_type"] for line in refusals] == ["STEP_START", "WRITE", "STEP_COMPLETE"]
    for line in refusals:
        assert len(json.dumps(line)) < 10_000
        assert line[Refusal.KEY][Refusal.CODE] == Refusal.OVERSIZE
    (write,) = [line for line in refusals if line["event_type"] == "WRITE"]
    assert write["target"] == {"id": DAILY.id}
    assert f"could not emit this WRITE event of {DAILY.id}: it was " in write[Refusal.KEY][Refusal.DETAIL]


def test_lenient_mode_never_raises_for_an_event(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    circular: dict[str, Any] = {}
    circular["self"] = circular
    lines = _lenient_lines(lambda step: step.read(RAW, tags={"c": circular, "s": {1, 2}}))  # type: ignore[dict-item]
    assert lines[2][Refusal.KEY][Refusal.CODE] == Refusal.NOT_JSON


def test_the_plane_quarantines_every_kind_of_refusal_line_with_the_producers_reason() -> None:
    from lineage_plane.ingest import Delivery, LogEvent, ingest
    from lineage_plane.layout import QuarantineCode

    with capture() as captured:
        with lineage.run("p", mode="lenient") as run, run.step("s") as step:
            step.read(RAW, tags={"loaded_at": WHEN})
            step.read(RAW, records=math.nan)
            step.read(RAW, tags={("a", "b"): "x"})
        with lineage.run("p", mode="lenient", run_id=uuid.UUID(int=7)):  # type: ignore[arg-type]
            pass
        with lineage.run("p", mode="lenient") as run, run.step("s" * 300_000):
            pass
    refusals = [line for line in captured.lines if Refusal.KEY in line]
    assert len(refusals) == 3 + 2 + 2
    delivery = Delivery(
        "123456789012",
        "/aws-glue/jobs/output",
        "jr_refusals",
        [LogEvent(str(i), 1_796_000_000_000 + i, line) for i, line in enumerate(refusals)],
    )
    now = datetime.datetime.now(datetime.UTC)
    outcome = ingest(delivery, region="eu-west-1", received_at=now, validator_version="test")
    assert outcome.counts.quarantined == len(refusals)
    assert outcome.reasons == {QuarantineCode.PRODUCER_REFUSED: len(refusals)}
