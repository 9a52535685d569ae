"""Run state as a fold of a run's events: the same state whatever order the events arrive in."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lineage_lib as lineage
from lineage_lib import contract
from lineage_lib.testing import capture
from lineage_plane.run_state import (
    MAX_DATASET_ID_BYTES,
    MAX_DATASETS_PER_ITEM,
    MAX_STACK_CHARS,
    ItemKey,
    Progress,
    apply_event,
    fold,
    new_progress,
)
from lineage_plane.run_table import RunStatus, attempt_sk, run_pk, step_sk

PIPELINE = "orders-daily"
RUN = "jr_5f1c0e9b2a7d4c3e8f6a1b2c3d4e5f60"
PK = run_pk(PIPELINE, RUN)
GLUE = {"platform": "glue", "job_name": PIPELINE, "job_run_id": RUN, "region": "eu-west-1"}
DATASETS = [f"s3://acme-raw/table_{n:02d}" for n in range(8)]
_serial = itertools.count(1)


def at(offset_ms: int) -> str:
    """An event time ``offset_ms`` after 03:00:00.000 UTC, with milliseconds as lineage_lib writes."""
    seconds, ms = divmod(offset_ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    return f"2026-11-21T03:{minutes:02d}:{seconds:02d}.{ms:03d}Z"


def ev(
    event_type: str,
    time: str,
    *,
    attempt: int = 0,
    step: str | None = None,
    source: str | None = None,
    target: str | None = None,
    error: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One schema-valid event of the run (each with its own event id)."""
    event: dict[str, Any] = {
        "schema_version": "1.0",
        "event_id": f"0f8fad5b-d9cb-469f-a165-{next(_serial):012d}",
        "event_time": time,
        "event_type": event_type,
        "producer": {"name": "lineage_lib", "version": "0.1.0"},
        "pipeline_id": PIPELINE,
        "run_id": RUN,
        "attempt": attempt,
        "context": context or GLUE,
    }
    optional = {"step": step, "error": error}
    optional["source"] = {"id": source} if source else None
    optional["target"] = {"id": target} if target else None
    event.update({k: v for k, v in optional.items() if v is not None})
    contract.validate(event)
    return event


def err(kind: str, message: str = "boom", **more: Any) -> dict[str, Any]:
    return {"type": kind, "message": message, **more}


def attempt_of(state: dict[ItemKey, Progress], attempt: int = 0) -> Progress:
    return state[ItemKey(PK, attempt_sk(attempt))]


def step_of(state: dict[ItemKey, Progress], step: str, attempt: int = 0) -> Progress:
    return state[ItemKey(PK, step_sk(attempt, step))]


# --- order independence, on realistic runs --------------------------------------------------------

RUN_TERMINALS = {
    "RUN_COMPLETE": RunStatus.COMPLETE,
    "RUN_FAIL": RunStatus.FAILED,
    "RUN_ABORT": RunStatus.ABORTED,
}
STEP_TERMINALS = {"STEP_COMPLETE": RunStatus.COMPLETE, "STEP_FAIL": RunStatus.FAILED}


@st.composite
def runs(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A run's events: one or two attempts, each a RUN_START, steps with operations and an outcome,
    and zero, one or two (disagreeing) terminal events. Times may tie and may be out of order, as
    when a driver's and an executor's clocks differ."""
    time = st.integers(min_value=0, max_value=120_000).map(at)
    host = st.sampled_from([None, "ip-10-0-1-17.ec2.internal", "ip-10-0-1-18.ec2.internal"])

    def context() -> dict[str, Any]:
        chosen = draw(host)
        return {**GLUE, "host": chosen} if chosen else GLUE

    events = []
    for attempt in range(draw(st.integers(min_value=1, max_value=2))):
        events.append(ev("RUN_START", draw(time), attempt=attempt, context=context()))
        for step in [f"step_{n}" for n in range(draw(st.integers(min_value=0, max_value=3)))]:
            events.append(ev("STEP_START", draw(time), attempt=attempt, step=step))
            for op in draw(st.lists(st.sampled_from(["READ", "WRITE", "TRANSFORM"]), max_size=4)):
                source = draw(st.sampled_from(DATASETS)) if op != "WRITE" else None
                target = draw(st.sampled_from(DATASETS)) if op != "READ" else None
                events.append(ev(op, draw(time), attempt=attempt, step=step, source=source, target=target))
            for end in draw(st.lists(st.sampled_from(sorted(STEP_TERMINALS)), max_size=2)):
                error = err("ValueError", draw(st.sampled_from(["a", "b"]))) if end == "STEP_FAIL" else None
                events.append(ev(end, draw(time), attempt=attempt, step=step, error=error))
        for end in draw(st.lists(st.sampled_from(sorted(RUN_TERMINALS)), max_size=2)):
            error = (
                err("Aborted" if end == "RUN_ABORT" else "RuntimeError") if end != "RUN_COMPLETE" else None
            )
            events.append(ev(end, draw(time), attempt=attempt, context=context(), error=error))
    return events


def expected_status(events: list[dict[str, Any]], terminals: dict[str, str]) -> tuple[str, Any]:
    """The status and error an item must end with: the highest-ranked terminal event's, and among
    equal ranks the latest (event_time, event_id)'s."""
    ends = [e for e in events if e["event_type"] in terminals]
    if not ends:
        return RunStatus.RUNNING, None
    winner = max(
        ends, key=lambda e: (RunStatus.RANK[terminals[e["event_type"]]], e["event_time"], e["event_id"])
    )
    return terminals[winner["event_type"]], winner.get("error")


@settings(max_examples=100, deadline=None)
@given(runs(), st.data())
def test_folding_a_run_in_any_order_gives_the_same_state(
    events: list[dict[str, Any]], data: st.DataObject
) -> None:
    state = fold(events)
    shuffled = data.draw(st.permutations(events))
    assert fold(shuffled) == state
    assert fold(reversed(events)) == state

    # ... and that state is the right one
    for attempt in {e["attempt"] for e in events}:
        mine = [e for e in events if e["attempt"] == attempt]
        item = attempt_of(state, attempt)
        assert (item.status, item.error) == expected_status(mine, RUN_TERMINALS)
        assert item.active == (item.status == RunStatus.RUNNING)
        assert item.events == len(mine)
        assert item.first_event_time == min(e["event_time"] for e in mine)
        assert item.last_event_time == max(e["event_time"] for e in mine)
        assert item.started_at == min(e["event_time"] for e in mine if e["event_type"] == "RUN_START")
        assert item.reads == sum(e["event_type"] == "READ" for e in mine)
        assert item.writes == sum(e["event_type"] == "WRITE" for e in mine)
        assert item.transforms == sum(e["event_type"] == "TRANSFORM" for e in mine)
        assert item.inputs == {e["source"]["id"] for e in mine if "source" in e}
        assert item.outputs == {e["target"]["id"] for e in mine if "target" in e}
        hosts = sorted(e["context"]["host"] for e in mine if "host" in e["context"])
        assert item.context.get("host") == (hosts[0] if hosts else None)
        for step in {e["step"] for e in mine if "step" in e}:
            of_step = [e for e in mine if e.get("step") == step]
            step_item = step_of(state, step, attempt)
            assert (step_item.status, step_item.error) == expected_status(of_step, STEP_TERMINALS)
            assert step_item.events == len(of_step)
            assert step_item.started_at == min(
                e["event_time"] for e in of_step if e["event_type"] == "STEP_START"
            )
    steps = {(e["attempt"], e["step"]) for e in events if "step" in e}
    assert len(state) == len({e["attempt"] for e in events}) + len(steps)


# --- status -----------------------------------------------------------------------------------------


def test_a_terminal_status_is_not_overwritten_by_late_start_or_operation_events() -> None:
    complete = ev("RUN_COMPLETE", at(2_000))
    events = [
        ev("RUN_START", at(0)),
        complete,
        ev("READ", at(3_000), step="late", source=DATASETS[0]),  # an executor's clock ahead
        ev("RUN_START", at(4_000)),  # a late start: the same attempt reported again
        ev("STEP_START", at(5_000), step="late"),
    ]
    for order in itertools.permutations(events):
        state = fold(order)
        item = attempt_of(state)
        assert item.status == RunStatus.COMPLETE
        assert item.status_event == (complete["event_time"], complete["event_id"])
        assert not item.active
        assert item.started_at == at(0)
        assert item.last_event_time == at(5_000)
        assert step_of(state, "late").status == RunStatus.RUNNING


@pytest.mark.parametrize(
    ("first", "second", "winner"),
    [
        ("RUN_COMPLETE", "RUN_FAIL", RunStatus.FAILED),
        ("RUN_COMPLETE", "RUN_ABORT", RunStatus.ABORTED),
        ("RUN_ABORT", "RUN_FAIL", RunStatus.FAILED),
    ],
)
@pytest.mark.parametrize("lower_is_later", [False, True])
def test_disagreeing_terminal_events_resolve_by_rank_in_either_order(
    first: str, second: str, winner: str, lower_is_later: bool
) -> None:
    errors = {"RUN_FAIL": err("RuntimeError", "disk full"), "RUN_ABORT": err("Aborted", "SIGTERM")}
    times = (at(9_000), at(8_000)) if lower_is_later else (at(8_000), at(9_000))
    low = ev(first, times[0], error=errors.get(first))
    high = ev(second, times[1], error=errors.get(second))
    start = ev("RUN_START", at(0))
    for order in ([start, low, high], [start, high, low], [high, low, start]):
        item = attempt_of(fold(order))
        assert item.status == winner
        assert item.error == high["error"]
        assert item.status_event == (high["event_time"], high["event_id"])
    assert RunStatus.RANK[winner] > RunStatus.RANK[RUN_TERMINALS[first]]


def test_two_failures_keep_the_latest_ones_error_in_either_order() -> None:
    early = ev("RUN_FAIL", at(1_000), error=err("KeyError", "order_total"))
    late = ev("RUN_FAIL", at(2_000), error=err("SystemExit", "1", exit_code=1))
    for order in ([early, late], [late, early]):
        assert attempt_of(fold(order)).error == late["error"]


def test_the_error_of_a_failed_step_is_kept_and_its_stack_cut_to_the_failing_end() -> None:
    stack = "Traceback (most recent call last):\n" + "  frame\n" * 3_000 + "KeyError: 'order_total'"
    fail = ev("STEP_FAIL", at(3_000), step="aggregate", error=err("KeyError", "'order_total'", stack=stack))
    events = [
        ev("RUN_START", at(0)),
        ev("STEP_START", at(1_000), step="aggregate"),
        ev("READ", at(2_000), step="aggregate", source=DATASETS[0]),
        fail,
        ev("STEP_COMPLETE", at(4_000), step="aggregate"),  # disagrees; lower rank
        ev("RUN_FAIL", at(5_000), error=err("KeyError", "'order_total'")),
    ]
    for order in (events, events[::-1]):
        state = fold(order)
        step = step_of(state, "aggregate")
        assert step.status == RunStatus.FAILED
        assert step.error is not None
        assert step.error["type"] == "KeyError"
        assert step.error["message"] == "'order_total'"
        assert len(step.error["stack"]) == MAX_STACK_CHARS
        assert step.error["stack"].endswith("KeyError: 'order_total'")
        assert fail["error"]["stack"] == stack  # the event itself is not changed
        assert attempt_of(state).error == {"type": "KeyError", "message": "'order_total'"}


def test_a_completed_item_has_no_error() -> None:
    state = fold([ev("RUN_START", at(0)), ev("RUN_COMPLETE", at(1))])
    assert attempt_of(state).error is None


# --- what an item knows ---------------------------------------------------------------------------


def test_inputs_outputs_counts_and_times() -> None:
    raw, customers, daily, enriched = DATASETS[:4]
    events = [
        ev("RUN_START", at(1_000)),
        ev("READ", at(500), step="aggregate", source=raw),  # before RUN_START: a skewed clock
        ev("STEP_START", at(2_000), step="aggregate"),
        ev("READ", at(3_000), step="aggregate", source=customers),
        ev("READ", at(3_500), step="aggregate", source=raw),  # read twice: counted twice, listed once
        ev("TRANSFORM", at(4_000), step="aggregate", source=customers, target=enriched),
        ev("WRITE", at(5_000), step="aggregate", target=daily),
        ev("STEP_COMPLETE", at(6_000), step="aggregate"),
        ev("RUN_COMPLETE", at(7_000)),
    ]
    state = fold(events)
    assert set(state) == {ItemKey(PK, "ATTEMPT#00000"), ItemKey(PK, "ATTEMPT#00000#STEP#aggregate")}
    for item, started, count in (
        (attempt_of(state), at(1_000), 9),
        (step_of(state, "aggregate"), at(2_000), 7),
    ):
        assert (item.reads, item.writes, item.transforms) == (3, 1, 1)
        assert item.inputs == {raw, customers}
        assert item.outputs == {enriched, daily}
        assert item.events == count
        assert item.started_at == started
        assert item.first_event_time == at(500)
        assert item.status == RunStatus.COMPLETE
    assert attempt_of(state).last_event_time == at(7_000)
    assert step_of(state, "aggregate").last_event_time == at(6_000)
    assert attempt_of(state).context == GLUE
    assert step_of(state, "aggregate").context == {}


def test_disagreeing_contexts_keep_the_smaller_value_in_either_order() -> None:
    one = ev("RUN_START", at(0), context={**GLUE, "host": "ip-10-0-1-18"})
    two = ev("READ", at(1), step="s", source=DATASETS[0], context={**GLUE, "host": "ip-10-0-1-17"})
    for order in ([one, two], [two, one]):
        assert attempt_of(fold(order)).context == {**GLUE, "host": "ip-10-0-1-17"}


def test_the_dataset_cap_keeps_the_smallest_ids_whatever_the_order() -> None:
    ids = [f"s3://acme-raw/part-{n:04d}" for n in range(MAX_DATASETS_PER_ITEM + 60)]
    events = [ev("READ", at(n), step="load", source=i) for n, i in enumerate(ids)]
    events += [ev("WRITE", at(n), step="load", target=i) for n, i in enumerate(ids)]
    smallest = set(sorted(ids)[:MAX_DATASETS_PER_ITEM])
    orders = [events, events[::-1], sorted(events, key=lambda e: e["event_id"][::-1])]
    for seed in range(5):
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        orders.append(shuffled)
    for order in orders:
        for item in (attempt_of(fold(order)), step_of(fold(order), "load")):
            assert item.inputs == smallest
            assert item.outputs == smallest
            assert item.reads == item.writes == len(ids)


def test_an_evicted_dataset_read_again_stays_out() -> None:
    ids = [f"s3://acme-raw/part-{n:04d}" for n in range(MAX_DATASETS_PER_ITEM + 1)]
    largest = ids[-1]
    progress: Progress | None = None
    for n, dataset in enumerate([largest, *ids[:-1], largest]):
        event = ev("READ", at(n), step="load", source=dataset)
        progress = progress or new_progress(event, of_step=False)
        apply_event(progress, event)
    assert progress is not None
    assert largest not in progress.inputs
    assert len(progress.inputs) == MAX_DATASETS_PER_ITEM


def test_a_crash_shaped_run_stays_running_and_active() -> None:
    # The process died: a start and some reads, no terminal event from the job.
    events = [
        ev("RUN_START", at(0)),
        ev("STEP_START", at(1_000), step="aggregate"),
        ev("READ", at(2_000), step="aggregate", source=DATASETS[0]),
        ev("READ", at(3_000), step="aggregate", source=DATASETS[1]),
    ]
    state = fold(events)
    for item in (attempt_of(state), step_of(state, "aggregate")):
        assert item.status == RunStatus.RUNNING
        assert item.active
        assert item.status_event is None
        assert item.error is None
        assert item.last_event_time == at(3_000)


def test_a_retried_job_gives_one_item_per_attempt() -> None:
    raw = lineage.glue_table("raw_db", "orders_raw")

    def job(attempt: int) -> None:
        with lineage.run(PIPELINE, run_id=RUN, attempt=attempt) as run, run.step("aggregate") as step:
            step.read(raw)
            if attempt == 0:
                raise KeyError("order_total")

    with capture() as captured:
        with pytest.raises(KeyError):
            job(0)
        job(1)
    state = fold(captured.events)
    assert sorted(state, key=lambda k: k.sk) == [
        ItemKey(PK, "ATTEMPT#00000"),
        ItemKey(PK, "ATTEMPT#00000#STEP#aggregate"),
        ItemKey(PK, "ATTEMPT#00001"),
        ItemKey(PK, "ATTEMPT#00001#STEP#aggregate"),
    ]
    first, retry = attempt_of(state, 0), attempt_of(state, 1)
    assert (first.status, retry.status) == (RunStatus.FAILED, RunStatus.COMPLETE)
    assert first.error is not None
    assert first.error["type"] == "KeyError"
    assert retry.error is None
    assert step_of(state, "aggregate", 0).status == RunStatus.FAILED
    assert step_of(state, "aggregate", 1).status == RunStatus.COMPLETE
    assert first.inputs == retry.inputs == {raw.id}
    assert (first.attempt, retry.attempt) == (0, 1)
    assert all(p.key == k for k, p in state.items())


def test_first_and_last_times_are_chronological_across_fractional_precisions() -> None:
    # A JVM producer writing Instant.toString() drops a zero fraction: 03:12:01Z, then 03:12:01.500Z.
    events = [
        ev("RUN_START", "2026-11-21T03:12:01Z"),
        ev("READ", "2026-11-21T03:12:01.500Z", step="s", source=DATASETS[0]),
        ev("READ", "2026-11-21T03:12:01.5001Z", step="s", source=DATASETS[1]),
    ]
    item = attempt_of(fold(events))
    assert item.first_event_time == "2026-11-21T03:12:01Z"
    assert item.last_event_time == "2026-11-21T03:12:01.5001Z"


def test_a_dataset_id_too_long_for_the_state_is_counted_but_not_listed() -> None:
    long_id = "s3://acme-raw/" + "é" * MAX_DATASET_ID_BYTES  # 2 bytes a character in UTF-8
    short_id = "s3://acme-raw/orders/"
    events = [ev("READ", at(0), step="load", source=long_id), ev("READ", at(1), step="load", source=short_id)]
    for order in (events, events[::-1]):
        (attempt,) = [p for p in fold(order).values() if p.step is None]
        assert attempt.reads == 2
        assert attempt.inputs == {short_id}
