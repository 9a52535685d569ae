"""The platform's account beside lineage's: the verdict derived from both, whatever order they arrive in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lineage_lib import contract
from lineage_lib.context import detect, glue_run_identity
from lineage_plane.observation import (
    GlueRun,
    RunKey,
    event_id_of,
    glue_run_event,
    lost_run_event,
    timestamp,
)
from lineage_plane.run_state import ItemKey, fold, reconcile, state_view
from lineage_plane.run_table import (
    ObservedTag,
    Observer,
    PlatformState,
    Reconciliation,
    RunStatus,
    attempt_sk,
    run_pk,
)
from tests.unit.test_run_state import at, ev

PIPELINE, RUN = "orders-daily", "jr_5f1c0e9b2a7d4c3e8f6a1b2c3d4e5f60"
ATTEMPT_KEY = ItemKey(run_pk(PIPELINE, RUN), attempt_sk(0))
ENDED = datetime(2026, 11, 21, 3, 12, 1, 125000, tzinfo=UTC)


def glue_end(
    state: str, *, job_run_id: str = RUN, attempt: int = 0, previous: str | None = None
) -> dict[str, Any]:
    run = GlueRun(
        job_name=PIPELINE,
        job_run_id=job_run_id,
        state=state,
        attempt=attempt,
        previous_run_id=previous,
        started_on=ENDED - timedelta(minutes=12),
        completed_on=ENDED,
        error_message=None if state == PlatformState.SUCCEEDED else f"Glue: {state}",
    )
    return glue_run_event(run, observer=Observer.GLUE_BRIDGE, region="eu-west-1", ended_at=ENDED)


def verdict_of(events: list[dict[str, Any]]) -> tuple[str, str | None]:
    progress = fold(state_view(e) for e in events)[ATTEMPT_KEY]
    return progress.final_status, progress.reconciliation


# --- the verdict -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lineage", "glue", "expected"),
    [
        ("RUN_COMPLETE", PlatformState.SUCCEEDED, (RunStatus.COMPLETE, Reconciliation.CONSISTENT)),
        ("RUN_FAIL", PlatformState.FAILED, (RunStatus.FAILED, Reconciliation.CONSISTENT)),
        ("RUN_COMPLETE", PlatformState.FAILED, (RunStatus.FAILED, Reconciliation.DISAGREEMENT)),
        ("RUN_COMPLETE", PlatformState.TIMEOUT, (RunStatus.FAILED, Reconciliation.DISAGREEMENT)),
        ("RUN_COMPLETE", PlatformState.STOPPED, (RunStatus.ABORTED, Reconciliation.DISAGREEMENT)),
        ("RUN_FAIL", PlatformState.SUCCEEDED, (RunStatus.COMPLETE, Reconciliation.DISAGREEMENT)),
        (None, PlatformState.SUCCEEDED, (RunStatus.INCOMPLETE, Reconciliation.INCOMPLETE)),
        (None, PlatformState.FAILED, (RunStatus.INCOMPLETE, Reconciliation.INCOMPLETE)),
    ],
)
def test_the_verdict_of_lineage_and_glue(lineage: str | None, glue: str, expected: tuple[str, str]) -> None:
    events = [ev("RUN_START", at(0)), ev("STEP_START", at(10), step="load")]
    if lineage:
        error = {"type": "KeyError", "message": "x"} if lineage == "RUN_FAIL" else None
        events.append(ev(lineage, at(500), error=error))
    assert verdict_of([*events, glue_end(glue)]) == expected


def test_a_run_without_lineage_of_its_own_is_a_gap() -> None:
    assert verdict_of([glue_end(PlatformState.SUCCEEDED)]) == (RunStatus.INCOMPLETE, Reconciliation.GAP)
    assert reconcile(RunStatus.RUNNING, 0, RunStatus.COMPLETE) == Reconciliation.GAP


def test_without_the_platform_s_account_the_verdict_is_lineage_s() -> None:
    progress = fold([state_view(ev("RUN_START", at(0))), state_view(ev("RUN_COMPLETE", at(9)))])[ATTEMPT_KEY]
    assert (progress.final_status, progress.reconciliation, progress.platform) == (
        RunStatus.COMPLETE,
        None,
        None,
    )


def test_observed_events_are_counted_apart_from_the_job_s_own() -> None:
    progress = fold(state_view(e) for e in [ev("RUN_START", at(0)), glue_end(PlatformState.FAILED)])[
        ATTEMPT_KEY
    ]
    assert (progress.events, progress.observed_events, progress.lineage_events) == (2, 1, 1)
    assert progress.status == RunStatus.RUNNING  # the platform's end is not lineage's


@settings(max_examples=150, deadline=None)
@given(
    lineage_end=st.sampled_from([None, "RUN_COMPLETE", "RUN_FAIL", "RUN_ABORT"]),
    glue_states=st.lists(st.sampled_from(PlatformState.GLUE_TERMINAL), min_size=1, max_size=3),
    seed=st.randoms(use_true_random=False),
)
def test_the_verdict_does_not_depend_on_arrival_order(
    lineage_end: str | None, glue_states: list[str], seed: Any
) -> None:
    events = [ev("RUN_START", at(0)), ev("READ", at(20), step="load", source="s3://acme-raw/orders")]
    if lineage_end:
        error = None if lineage_end == "RUN_COMPLETE" else {"type": "E", "message": "m"}
        events.append(ev(lineage_end, at(900), error=error))
    events += [glue_end(state) for state in glue_states]
    expected = fold(state_view(e) for e in events)[ATTEMPT_KEY]
    shuffled = list(events)
    seed.shuffle(shuffled)
    got = fold(state_view(e) for e in shuffled)[ATTEMPT_KEY]
    assert (got.final_status, got.reconciliation, got.platform) == (
        expected.final_status,
        expected.reconciliation,
        expected.platform,
    )


# --- observed events -----------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [*PlatformState.GLUE_TERMINAL])
def test_glue_s_account_is_a_valid_event_of_the_contract(state: str) -> None:
    event = glue_end(state, job_run_id=f"{RUN}_attempt_1", attempt=1, previous=RUN)
    contract.validate(event)
    assert event["producer"]["name"] == Observer.PRODUCER
    assert (event["run_id"], event["attempt"]) == (RUN, 1)
    assert event["tags"][ObservedTag.PREVIOUS_RUN_ID] == RUN
    assert event["tags"][ObservedTag.PLATFORM_STATE] == state
    assert event["event_time"] == "2026-11-21T03:12:01.125Z"
    assert ("error" in event) == (state != PlatformState.SUCCEEDED)


def test_the_same_observation_is_always_the_same_event() -> None:
    assert glue_end(PlatformState.FAILED) == glue_end(PlatformState.FAILED)
    assert glue_end(PlatformState.FAILED)["event_id"] != glue_end(PlatformState.TIMEOUT)["event_id"]
    assert event_id_of("a", "b") == event_id_of("a", "b") != event_id_of("a/b", "")


def test_a_very_long_error_or_script_location_is_cut_to_the_contract_s_limits() -> None:
    run = GlueRun(
        PIPELINE,
        RUN,
        PlatformState.FAILED,
        error_message="x" * 20_000,
        script_location="s3://b/" + "k" * 3000,
    )
    event = glue_run_event(run, observer=Observer.GLUE_BRIDGE, region=None, ended_at=ENDED)
    contract.validate(event)
    assert "region" not in event["context"]


def test_a_lost_run_s_close_is_timed_by_its_last_event_and_its_limit() -> None:
    def close() -> dict[str, Any]:
        return lost_run_event(
            RunKey(PIPELINE, RUN, 0),
            state=PlatformState.EXPIRED,
            context={"platform": "lambda", "function_name": "f", "request_id": "r"},
            last_event_time="2026-11-21T03:00:00.5Z",
            limit=timedelta(minutes=15),
            message="silent",
        )

    contract.validate(close())
    assert close()["event_time"] == "2026-11-21T03:15:00.500Z"
    assert close() == close()  # a retried sweep writes the same event


def test_timestamps_are_utc_with_milliseconds() -> None:
    assert timestamp(datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)) == "2026-01-02T03:04:05.678Z"
    assert timestamp(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000Z"


# --- the run a Glue job run is, as lineage_lib names it ----------------------------------------------


@pytest.mark.parametrize(
    ("job_run_id", "arguments", "expected"),
    [
        ("jr_abc", {}, ("orders", "jr_abc", 0)),
        ("jr_abc_attempt_2", {}, ("orders", "jr_abc", 2)),
        ("jr_abc", {"--LINEAGE_PIPELINE_ID": "orders-daily"}, ("orders-daily", "jr_abc", 0)),
        ("jr_abc_attempt_1", {"--LINEAGE_RUN_ID": "2026-11-21"}, ("orders", "2026-11-21", 1)),
        ("jr_abc", {"--LINEAGE_ATTEMPT": "3", "--other": "x"}, ("orders", "jr_abc", 3)),
    ],
)
def test_glue_run_identity_is_lineage_lib_s(
    job_run_id: str, arguments: dict[str, str], expected: tuple[str, str, int]
) -> None:
    assert glue_run_identity("orders", job_run_id, arguments) == expected


@pytest.mark.parametrize(
    "arguments",
    [{}, {"--LINEAGE_PIPELINE_ID": "p"}, {"--LINEAGE_RUN_ID": "r", "--LINEAGE_ATTEMPT": "4"}, {"--x": "1"}],
)
@pytest.mark.parametrize("job_run_id", ["jr_abc", "jr_abc_attempt_1", "jr_abc_attempt_12"])
def test_glue_run_identity_agrees_with_what_lineage_lib_detects_inside_the_job(
    job_run_id: str, arguments: dict[str, str]
) -> None:
    argv = ["job.py", "--JOB_NAME", "orders", "--JOB_RUN_ID", job_run_id]
    argv += [part for key, value in arguments.items() for part in (key, value)]
    inside = detect(argv=argv, environ={}, emr_job_flow_file="/nonexistent")
    assert glue_run_identity("orders", job_run_id, arguments) == (
        inside.pipeline_id,
        inside.run_id,
        inside.attempt,
    )
