"""Several lineage events in one log message (a job printed them in one write): every one is found,
archived or quarantined on its own, and counted; the conservation invariant counts events, not
messages."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from lineage_plane.layout import Ingest, Quarantine, QuarantineCode
from tests.unit.log_shapes import lambda_record, lambda_text, spark_driver
from tests.unit.test_ingest import (
    archived_lines,
    compact,
    delivery,
    example,
    log_event_id,
    quarantined_lines,
    run_ingest,
)

ARCHIVED = "archived"


def event_line(kind: str, serial: int) -> tuple[str, str]:
    """One event's text (before any prefix) and where it must land."""
    event = example("read-glue-table-with-schema-version", serial)
    text = compact(event)
    made = {
        "valid": (text, ARCHIVED),
        "wrong type": (compact({**event, "attempt": "one"}), QuarantineCode.SCHEMA_VIOLATION),
        "unknown version": (
            compact({**event, "schema_version": "2.0"}),
            QuarantineCode.UNKNOWN_SCHEMA_VERSION,
        ),
        "missing version": (
            compact({k: v for k, v in event.items() if k != "schema_version"}),
            QuarantineCode.MISSING_SCHEMA_VERSION,
        ),
        "truncated": (text[: 20 + serial % 300], QuarantineCode.INVALID_JSON),
    }
    return made[kind]


EVENT_KINDS = ["valid", "wrong type", "unknown version", "missing version", "truncated"]
WRAPS = {"bare": lambda t: t, "lambda text": lambda_text, "spark": spark_driver}
NOISE = ["INFO processed 12 rows", '{"level":"INFO","msg":"x"}', ""]


@st.composite
def messages(draw: st.DrawFn) -> list[tuple[list[str], str]]:
    """Messages of 1 to 5 events each (and a few without any), every event line bare or behind its own
    prefix, noise lines between them, sometimes all inside a Lambda JSON record: (expected landings of
    its events in order, the message)."""
    made = []
    serial = 0
    for _ in range(draw(st.integers(1, 8))):
        lines: list[str] = []
        landings: list[str] = []
        for _ in range(draw(st.integers(0, 5))):
            if draw(st.booleans()):
                lines.append(draw(st.sampled_from(NOISE)))
            serial += 1
            text, landing = event_line(draw(st.sampled_from(EVENT_KINDS)), serial)
            lines.append(WRAPS[draw(st.sampled_from(list(WRAPS)))](text))
            landings.append(landing)
        if not landings:
            lines.append("INFO nothing to report")
        message = "\n".join(lines)
        if draw(st.booleans()):
            message = lambda_record(message)
        made.append((landings, message))
    return made


@settings(max_examples=150, deadline=None)
@given(messages())
def test_every_event_of_every_message_lands_in_exactly_one_place(made: list[tuple[list[str], str]]) -> None:
    outcome = run_ingest(delivery([message for _, message in made]))

    counts = outcome.counts
    events = sum(len(landings) for landings, _ in made)
    without = sum(not landings for landings, _ in made)
    assert (counts.log_events, counts.received) == (len(made), events + without)
    assert counts.received == counts.archived + counts.quarantined + counts.ignored
    assert counts.ignored == without
    expected = {
        (log_event_id(m), index): landing
        for m, (landings, _) in enumerate(made)
        for index, landing in enumerate(landings)
    }
    landed = {}
    for line in archived_lines(outcome):
        landed[(line[Ingest.KEY][Ingest.LOG_EVENT_ID], line[Ingest.KEY][Ingest.EVENT_INDEX])] = ARCHIVED
    for line in quarantined_lines(outcome):
        where = (line[Ingest.KEY][Ingest.LOG_EVENT_ID], line[Ingest.KEY][Ingest.EVENT_INDEX])
        assert where not in landed
        landed[where] = line[Quarantine.REASON][Quarantine.CODE]
    assert landed == expected
    assert Counter(outcome.reasons) == Counter(v for v in expected.values() if v != ARCHIVED)
    assert outcome.ignored_ids == [log_event_id(m) for m, (landings, _) in enumerate(made) if not landings]


def test_two_events_in_one_message_are_both_archived_each_with_its_index() -> None:
    first, second = (example("step-start", n) for n in (1, 2))
    message = f"{compact(first)}\n{lambda_text(compact(second))}\n"

    outcome = run_ingest(delivery([message]))

    assert (outcome.counts.received, outcome.counts.archived) == (2, 2)
    lines = archived_lines(outcome)
    assert [line["event_id"] for line in lines] == [first["event_id"], second["event_id"]]
    assert [line[Ingest.KEY][Ingest.LOG_EVENT_ID] for line in lines] == [log_event_id(0)] * 2
    assert [line[Ingest.KEY][Ingest.EVENT_INDEX] for line in lines] == [0, 1]


def test_a_refused_event_beside_a_valid_one_is_quarantined_with_the_whole_message_and_its_index() -> None:
    good, bad = example("step-start", 1), example("step-start", 2, attempt="one")
    message = f"{compact(good)}\n{compact(bad)}"

    outcome = run_ingest(delivery([message]))

    assert [line["event_id"] for line in archived_lines(outcome)] == [good["event_id"]]
    [quarantined] = quarantined_lines(outcome)
    assert quarantined[Quarantine.EVENT_ID] == bad["event_id"]
    assert quarantined[Quarantine.MESSAGE] == message  # as delivered: the log message is the evidence
    assert quarantined[Ingest.KEY][Ingest.EVENT_INDEX] == 1


def test_a_replayed_quarantine_line_reads_only_its_own_event_of_the_message() -> None:
    """lineage replay hands back the whole message with the index of the event it quarantined: the
    valid sibling, archived the first time, is not read again."""
    from lineage_plane.ingest import Delivery, LogEvent

    good, bad = example("step-start", 1), example("step-start", 2, attempt="one")
    fixed = {**bad, "attempt": 0}
    message = f"{compact(good)}\n{compact(fixed)}"
    batch = delivery([message])
    replayed = Delivery(
        batch.owner, batch.log_group, batch.log_stream, [LogEvent(log_event_id(0), 1, message, only_event=1)]
    )

    outcome = run_ingest(replayed)

    assert (outcome.counts.received, outcome.counts.archived) == (1, 1)
    [line] = archived_lines(outcome)
    assert (line["event_id"], line[Ingest.KEY][Ingest.EVENT_INDEX]) == (fixed["event_id"], 1)
