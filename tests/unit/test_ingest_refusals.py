"""Refusals the contract's schema alone does not make: a producer's own refusal line (lineage_lib in
lenient mode) and a valid event whose run-state items DynamoDB would refuse (lineage_plane.state_limits).
Both are quarantined with a precise reason before anything is written; the rest of the batch goes on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lineage_lib import contract
from lineage_lib.contract import Refusal
from lineage_plane.layout import Quarantine, QuarantineCode
from lineage_plane.run_state import state_view
from lineage_plane.state_limits import MAX_SORT_KEY_BYTES, StateRule, state_refusal
from tests.unit.log_shapes import lambda_text
from tests.unit.test_ingest import (
    archived_lines,
    compact,
    delivery,
    example,
    quarantined_lines,
    run_ingest,
)

# --- a producer's refusal -------------------------------------------------------------------------


def refusal_line(serial: int, code: str, path: str, detail: str) -> dict[str, Any]:
    """What lineage_lib writes in lenient mode instead of an event it cannot emit (contract.Refusal):
    the event's fields, the offending value as its repr, and the producer_refusal object."""
    event = example(
        "write-seed-column-lineage-rename", serial, tags={"when": "datetime.datetime(2026, 11, 21)"}
    )
    return {**event, Refusal.KEY: {Refusal.CODE: code, Refusal.PATH: path, Refusal.DETAIL: detail}}


@pytest.mark.parametrize("code", Refusal.ALL)
def test_a_producer_refusal_is_quarantined_with_the_producers_reason_beside_valid_events(code: str) -> None:
    line = refusal_line(1, code, "tags.when", "datetime is not JSON: pass its isoformat()")
    valid = example("step-start", 2)

    outcome = run_ingest(delivery([lambda_text(compact(line)), compact(valid)]))

    assert (outcome.counts.archived, outcome.counts.quarantined) == (1, 1)
    [quarantined] = quarantined_lines(outcome)
    assert quarantined[Quarantine.REASON] == {
        Quarantine.CODE: QuarantineCode.PRODUCER_REFUSED,
        Quarantine.DETAIL: "datetime is not JSON: pass its isoformat()",
        Quarantine.PATH: "tags.when",
        Quarantine.RULE: code,
    }
    assert quarantined[Quarantine.EVENT_ID] == line["event_id"]  # found again by its id


def test_a_producer_refusal_is_named_before_any_other_reason() -> None:
    # no schema_version, and a field the schema does not allow: the producer's reason still wins
    line = {
        k: v for k, v in refusal_line(1, Refusal.OVERSIZE, "", "too large").items() if k != "schema_version"
    }
    [quarantined] = quarantined_lines(run_ingest(delivery([compact(line)])))
    assert quarantined[Quarantine.REASON][Quarantine.CODE] == QuarantineCode.PRODUCER_REFUSED


@pytest.mark.parametrize(
    "refusal",
    [
        "not an object",
        {Refusal.CODE: ["x"] * 10_000, Refusal.DETAIL: "d" * 200_000, Refusal.PATH: {"a": 1}},
        {},
    ],
    ids=["string", "huge and odd", "empty"],
)
def test_a_refusal_line_anyone_could_write_is_only_quarantined_its_reason_bounded(refusal: Any) -> None:
    line = {**example("step-start", 1), Refusal.KEY: refusal}

    outcome = run_ingest(delivery([json.dumps(line)]))

    [quarantined] = quarantined_lines(outcome)
    reason = quarantined[Quarantine.REASON]
    assert reason[Quarantine.CODE] == QuarantineCode.PRODUCER_REFUSED
    assert 0 < len(reason[Quarantine.DETAIL]) <= 1024
    assert len(reason.get(Quarantine.PATH, "")) <= 256
    assert len(reason.get(Quarantine.RULE, "")) <= 256
    assert outcome.counts.archived == 0


# --- valid, but the run state cannot hold it --------------------------------------------------------

TWO_BYTES, FOUR_BYTES = "\u00e9", "\U0001f600"


@pytest.mark.parametrize(
    ("changes", "path", "detail"),
    [
        # 256 + 256 two-byte characters: a 1029-byte partition key, within DynamoDB's 2048, but the
        # attempt's index sort keys repeat it after a time: over 1024
        ({"pipeline_id": TWO_BYTES * 256, "run_id": TWO_BYTES * 256}, "run_id", "index sort key"),
        ({"pipeline_id": FOUR_BYTES * 256, "run_id": FOUR_BYTES * 256}, "run_id", "partition key"),
        # '#' is escaped as %23 in keys: 768 bytes of run id for 256 characters
        ({"pipeline_id": "#" * 256, "run_id": "#" * 256}, "run_id", "index sort key"),
        ({"step": FOUR_BYTES * 256}, "step", "sort key"),
    ],
    ids=["2-byte ids", "4-byte ids", "escaped ids", "4-byte step"],
)
def test_a_valid_event_whose_keys_dynamodb_refuses_is_quarantined_before_the_archive(
    changes: dict[str, str], path: str, detail: str
) -> None:
    poison = example("step-start", 1, **changes)
    contract.validate(poison)  # the contract cannot say it: its lengths count characters, not bytes
    innocent = example("step-start", 2)

    outcome = run_ingest(delivery([compact(poison), compact(innocent)]))

    assert [line["event_id"] for line in archived_lines(outcome)] == [innocent["event_id"]]
    assert [e["event_id"] for e in outcome.events] == [innocent["event_id"]]
    [quarantined] = quarantined_lines(outcome)
    reason = quarantined[Quarantine.REASON]
    assert (reason[Quarantine.CODE], reason[Quarantine.RULE], reason[Quarantine.PATH]) == (
        QuarantineCode.RUN_STATE_REFUSED,
        StateRule.KEY_SIZE,
        path,
    )
    assert detail in reason[Quarantine.DETAIL]
    assert "bytes" in reason[Quarantine.DETAIL]
    assert outcome.counts.balanced


def test_long_ids_within_the_keys_limits_are_archived() -> None:
    # 982 bytes of partition key is the most an attempt's index sort key (27 + 1 + pk + 1 + 13) holds
    event = example("step-start", 1, pipeline_id="p" * 256, run_id="r" * 256, step=TWO_BYTES * 250)
    outcome = run_ingest(delivery([compact(event)]))
    assert outcome.counts.archived == 1


@pytest.mark.parametrize(
    ("field", "value", "path", "rule"),
    [
        (
            "error",
            {"type": "X", "message": "m", "exit_code": 10**45 + 1},
            "error.exit_code",
            StateRule.NUMBER,
        ),
        ("error", {"type": "X", "message": "m", "exit_code": 2.5}, "error.exit_code", StateRule.NUMBER),
        ("step", "step_\ud800", "step", StateRule.UNICODE),
        ("context", {"platform": "glue", "job_name": "j\udc80"}, "context.job_name", StateRule.UNICODE),
        ("error", {"type": "X", "message": "m", "\ud800": "x"}, "error.\ud800", StateRule.UNICODE),
    ],
)
def test_the_state_check_finds_what_dynamodb_refuses_in_any_value_of_the_view(
    field: str, value: Any, path: str, rule: str
) -> None:
    # events a future schema might let through: the check does not rely on the schema
    view = state_view({**example("step-fail-with-error", 1), field: value})
    refusal = state_refusal(view)
    assert refusal is not None
    assert (refusal.path, refusal.rule) == (path, rule)


def test_the_state_check_passes_every_valid_example() -> None:
    from tests.unit.test_ingest import VALID

    for event in VALID.values():
        assert state_refusal(state_view(event)) is None
    assert MAX_SORT_KEY_BYTES == 1024
