"""The same log events delivered again, batched otherwise (issue 11, P3), against moto: the archive stores
each log event's event once, per (log event id, event index), whatever the batching; the run state's
markers say what an earlier delivery applied. A retry of the same batch after a crash between its
archive and run-state writes still rebuilds identical keys and content."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lineage_lib.contract import Field
from lineage_plane.layout import Archive, Ingest, Quarantine
from tests.functional.validator_support import (
    GLUE_OUTPUT,
    MIXED,
    Plane,
    fail_call,
    load_data,
    local_plane,
    log_events,
    retried_glue_run,
    subscription_payload,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
STREAM = "jr_7d41c2e09a6b4f35"


def deliver(plane: Plane, events: list[dict[str, Any]], cuts: list[int]) -> list[dict[str, int]]:
    """The log events delivered in batches cut at ``cuts`` (indexes), in order."""
    bounds = [0, *cuts, len(events)]
    return [
        plane.invoke(subscription_payload(events[a:b], log_group=GLUE_OUTPUT, log_stream=STREAM))
        for a, b in itertools.pairwise(bounds)
    ]


def stored_lines(plane: Plane, prefix: str) -> list[tuple[str, int]]:
    """(log event id, event index) of every line under a prefix, repeats included."""
    return sorted(
        (line[Ingest.KEY][Ingest.LOG_EVENT_ID], line[Ingest.KEY][Ingest.EVENT_INDEX])
        for key, lines in plane.archive().items()
        if key.startswith(prefix)
        for line in lines
    )


def test_log_events_redelivered_in_another_batching_are_archived_once(plane: Plane) -> None:
    events = log_events(retried_glue_run())
    deliver(plane, events, [8])
    archive, items = plane.archive_text(), plane.run_items()

    again = deliver(plane, events, [3, 14])  # the same log events, cut otherwise: new batch ids

    assert plane.archive_text() == archive  # not one object more
    assert plane.run_items() == items
    assert stored_lines(plane, Archive.EVENTS_PREFIX) == sorted((e["id"], 0) for e in events)
    assert [r["already_archived"] for r in again] == [3, 11, len(events) - 14]
    assert [r["objects_written"] for r in again] == [0, 0, 0]
    assert sum(r["archived"] for r in again) == len(events)  # counted as archived: they are


def test_a_batch_mixing_new_and_redelivered_log_events_archives_only_the_new(plane: Plane) -> None:
    events = log_events(retried_glue_run())
    deliver(plane, events[:10], [])

    [result] = deliver(plane, events, [])  # the first ten again, and the rest

    assert (result["archived"], result["already_archived"]) == (len(events), 10)
    assert stored_lines(plane, Archive.EVENTS_PREFIX) == sorted((e["id"], 0) for e in events)


def test_a_repeated_line_is_still_archived_as_a_second_delivery_of_its_event_id(plane: Plane) -> None:
    """Another log event with the same event_id is not the same log event: a line's claims are not its
    identity, so it is archived (the queries count each event_id once) and the run state ignores it."""
    lines = retried_glue_run()
    events = log_events([*lines, lines[3]])  # the job printed one line twice: two log event ids

    [result] = deliver(plane, events, [])

    assert (result["archived"], result["already_archived"], result["duplicates"]) == (len(events), 0, 1)
    archived_ids = [line[Field.EVENT_ID] for lines_ in plane.archive().values() for line in lines_]
    assert archived_ids.count(json.loads(lines[3])[Field.EVENT_ID]) == 2


def test_quarantined_lines_of_a_redelivery_batched_otherwise_are_quarantined_again(plane: Plane) -> None:
    """Where duplicates still exist (documented, README): refusals leave no marker, so a delivery
    batched otherwise quarantines them again, in its own object; quarantined_by_reason.sql counts each
    once. The archived events are still stored once."""
    data = load_data(MIXED)
    events = data["logEvents"]

    def mixed(part: list[dict[str, Any]]) -> dict[str, Any]:
        return subscription_payload(part, log_group=data["logGroup"], log_stream=data["logStream"])

    plane.invoke(mixed(events))
    first_quarantine = stored_lines(plane, Archive.QUARANTINE_PREFIX)
    plane.invoke(mixed(events[:9]))
    plane.invoke(mixed(events[9:]))

    assert len(set(stored_lines(plane, Archive.EVENTS_PREFIX))) == len(
        stored_lines(plane, Archive.EVENTS_PREFIX)
    )
    assert stored_lines(plane, Archive.QUARANTINE_PREFIX) == sorted(first_quarantine * 2)


def test_a_retry_after_a_crash_between_the_run_state_transactions_rebuilds_identical_keys_and_content() -> (
    None
):
    events = log_events(retried_glue_run())  # two attempts: two transactions
    payload = subscription_payload(events, log_group=GLUE_OUTPUT, log_stream=STREAM)
    with local_plane() as clean:
        clean.invoke(payload)
        expected_items = clean.run_items()
    hooks = {"before-call.dynamodb.TransactWriteItems": fail_call(2, "InternalServerError", 500)}
    with local_plane(hooks=hooks) as plane:
        with pytest.raises(ClientError, match="InternalServerError"):
            plane.invoke(payload)  # the archive is written, the first attempt applied, then a crash
        archive = plane.archive_text()
        assert stored_lines(plane, Archive.EVENTS_PREFIX) == sorted((e["id"], 0) for e in events)

        retry = plane.invoke(payload)

        assert plane.archive_text() == archive
        assert plane.run_items() == expected_items
        first_attempt = sum(json.loads(e["message"])[Field.ATTEMPT] == 0 for e in events)
        assert retry["already_archived"] == first_attempt
        assert retry["objects_written"] == 0


def test_the_quarantine_line_keeps_the_index_of_its_event_in_the_message(plane: Plane) -> None:
    lines = retried_glue_run()
    bad = json.dumps({**json.loads(lines[1]), "attempt": "one"})
    events = log_events([lines[0]])
    events[0]["message"] = f"{lines[0]}\n{bad}\n{lines[2]}"  # a job printed three events in one write

    [result] = deliver(plane, events, [])

    assert (result["log_events"], result["received"], result["archived"], result["quarantined"]) == (
        1,
        3,
        2,
        1,
    )
    quarantined = [line for k, ls in plane.archive().items() if k.startswith("quarantine/") for line in ls]
    assert [(q[Ingest.KEY][Ingest.EVENT_INDEX], q[Quarantine.MESSAGE]) for q in quarantined] == [
        (1, events[0]["message"])
    ]
    assert stored_lines(plane, Archive.EVENTS_PREFIX) == [(events[0]["id"], 0), (events[0]["id"], 2)]
