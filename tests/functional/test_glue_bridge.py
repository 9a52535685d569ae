"""The Glue bridge on moto: Glue's account of each ended run, reconciled with the lineage, recorded once."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from lineage_lib import contract
from lineage_plane.functions import BridgeMetrics
from lineage_plane.run_table import (
    ObservedTag,
    Observer,
    PlatformState,
    Reconciliation,
    RunStateTable,
    RunStatus,
)
from tests.functional.bridge_support import BridgePlane, bridge_plane, metric_total, state_change
from tests.functional.validator_support import completed_glue_run, crashed_glue_run

T = RunStateTable
JOB = "orders-daily"


@pytest.fixture
def bp() -> Iterator[BridgePlane]:
    with bridge_plane() as plane:
        plane.job(JOB)
        yield plane


def gaps_counted(stdout: str) -> float:
    return metric_total(stdout, BridgeMetrics.LINEAGE_GAPS)


def test_lineage_complete_and_glue_succeeded_agree(bp: BridgePlane) -> None:
    run_id = bp.run(JOB, PlatformState.SUCCEEDED)
    bp.lineage(completed_glue_run(JOB, run_id))

    result = bp.bridge(state_change(JOB, run_id, PlatformState.SUCCEEDED))

    item = bp.attempt(JOB, run_id, 0)
    assert result["verdict"] == item[T.RECONCILIATION] == Reconciliation.CONSISTENT
    assert (item[T.STATUS], item[T.LINEAGE_STATUS]) == (RunStatus.COMPLETE, RunStatus.COMPLETE)
    assert (item[T.PLATFORM_STATE], item[T.OBSERVED_BY]) == (PlatformState.SUCCEEDED, Observer.GLUE_BRIDGE)
    assert T.ACTIVE_PK not in item


@pytest.mark.parametrize("glue_state", [PlatformState.FAILED, PlatformState.SUCCEEDED])
def test_a_run_glue_ended_without_a_terminal_lineage_event_is_incomplete(
    bp: BridgePlane, glue_state: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = bp.run(JOB, glue_state, error_message="Container killed: exit code 137")
    captured, _open_run = crashed_glue_run(JOB, run_id)
    bp.lineage(captured.lines)

    bp.bridge(state_change(JOB, run_id, glue_state))

    item = bp.attempt(JOB, run_id, 0)
    assert item[T.STATUS] == RunStatus.INCOMPLETE  # never COMPLETE, even when Glue succeeded
    assert item[T.LINEAGE_STATUS] == RunStatus.RUNNING
    assert item[T.RECONCILIATION] == Reconciliation.INCOMPLETE
    assert item[T.PLATFORM_STATE] == glue_state
    if glue_state == PlatformState.FAILED:
        assert item[T.PLATFORM_ERROR]["message"] == "Container killed: exit code 137"
    assert T.ACTIVE_PK not in item  # no longer swept as running
    assert metric_total(capsys.readouterr().out, BridgeMetrics.INCOMPLETE_RUNS) == 1


@pytest.mark.parametrize(
    ("glue_state", "final"),
    [
        (PlatformState.FAILED, RunStatus.FAILED),
        (PlatformState.TIMEOUT, RunStatus.FAILED),
        (PlatformState.ERROR, RunStatus.FAILED),
        (PlatformState.STOPPED, RunStatus.ABORTED),
    ],
)
def test_when_lineage_says_complete_and_glue_says_otherwise_glue_wins_and_the_disagreement_is_kept(
    bp: BridgePlane, glue_state: str, final: str
) -> None:
    run_id = bp.run(JOB, glue_state, error_message=f"Glue says {glue_state}")
    bp.lineage(completed_glue_run(JOB, run_id))

    bp.bridge(state_change(JOB, run_id, glue_state))

    item = bp.attempt(JOB, run_id, 0)
    assert (item[T.STATUS], item[T.LINEAGE_STATUS], item[T.PLATFORM_STATE]) == (
        final,
        RunStatus.COMPLETE,
        glue_state,
    )
    assert item[T.RECONCILIATION] == Reconciliation.DISAGREEMENT
    assert item[T.PLATFORM_ERROR]["message"] == f"Glue says {glue_state}"


def test_a_run_without_any_lineage_is_a_gap_in_the_state_the_archive_and_the_metric(
    bp: BridgePlane, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = bp.run(JOB, PlatformState.SUCCEEDED)

    result = bp.bridge(state_change(JOB, run_id, PlatformState.SUCCEEDED))

    item = bp.attempt(JOB, run_id, 0)
    assert item[T.RECONCILIATION] == Reconciliation.GAP == result["verdict"]
    assert item[T.STATUS] == RunStatus.INCOMPLETE
    assert (item[T.EVENT_COUNT], item[T.OBSERVED_EVENT_COUNT]) == (1, 1)
    [archived] = bp.observed_lines()
    tags = archived["tags"]
    assert tags[ObservedTag.OBSERVED_BY] == Observer.GLUE_BRIDGE
    assert tags[ObservedTag.RECONCILIATION] == Reconciliation.GAP
    assert tags[ObservedTag.LINEAGE_GAP]
    assert (archived["pipeline_id"], archived["run_id"], archived["attempt"]) == (JOB, run_id, 0)
    assert gaps_counted(capsys.readouterr().out) == 1


def test_a_replayed_state_change_changes_nothing_and_counts_nothing(
    bp: BridgePlane, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = bp.run(JOB, PlatformState.FAILED)
    event = state_change(JOB, run_id, PlatformState.FAILED)
    first = bp.bridge(event)
    scan, archive = bp.plane.scan(), bp.plane.archive_text()
    assert gaps_counted(capsys.readouterr().out) == 1

    again = bp.bridge(event)

    assert (first["new"], again["new"]) == (True, False)
    assert bp.plane.scan() == scan
    assert bp.plane.archive_text() == archive
    assert gaps_counted(capsys.readouterr().out) == 0


def test_a_terminal_lineage_event_arriving_after_glue_settles_the_run_the_same_way(bp: BridgePlane) -> None:
    before_id = bp.run(JOB, PlatformState.SUCCEEDED)
    after_id = bp.run(JOB, PlatformState.SUCCEEDED)
    lines = {run: completed_glue_run(JOB, run) for run in (before_id, after_id)}
    bp.lineage(lines[before_id], stream="a")
    bp.bridge(state_change(JOB, before_id, PlatformState.SUCCEEDED))
    *body, end = lines[after_id]
    bp.lineage(body, stream="b")
    bp.bridge(state_change(JOB, after_id, PlatformState.SUCCEEDED))
    assert bp.attempt(JOB, after_id, 0)[T.STATUS] == RunStatus.INCOMPLETE

    bp.lineage([end], stream="b")  # the log delivery came after Glue's event

    settled = [bp.attempt(JOB, run, 0) for run in (before_id, after_id)]
    for item in settled:
        assert (item[T.STATUS], item[T.RECONCILIATION]) == (RunStatus.COMPLETE, Reconciliation.CONSISTENT)


def test_a_retry_chain_of_three_attempts_is_three_linked_attempts(bp: BridgePlane) -> None:
    first = bp.run(JOB, PlatformState.FAILED, error_message="attempt 0 failed")
    second = bp.run(JOB, PlatformState.FAILED, attempt=1, retry_of=first, error_message="attempt 1 failed")
    third = bp.run(JOB, PlatformState.SUCCEEDED, attempt=2, retry_of=second, first_run_id=first)
    assert (second, third) == (f"{first}_attempt_1", f"{first}_attempt_2")
    for run_id in (first, second, third):
        bp.lineage(completed_glue_run(JOB, run_id), stream=run_id)
        bp.bridge(state_change(JOB, run_id, "SUCCEEDED" if run_id == third else "FAILED"))

    attempts = [bp.attempt(JOB, first, n) for n in range(3)]

    assert [a[T.ATTEMPT] for a in attempts] == [0, 1, 2]
    assert [a.get(T.PREVIOUS_RUN_ID) for a in attempts] == [None, first, second]
    assert [a[T.PLATFORM_RUN_ID] for a in attempts] == [first, second, third]
    assert [a[T.STATUS] for a in attempts] == [RunStatus.FAILED, RunStatus.FAILED, RunStatus.COMPLETE]
    assert {a[T.RUN_ID] for a in attempts} == {first}  # one run, three attempts: linked, never merged


def test_a_run_glue_does_not_know_is_recorded_from_the_event_with_a_clear_error(
    bp: BridgePlane, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = "jr_0000000000000000000000000000000000000000000000000000000000000000"
    with caplog.at_level(logging.ERROR):
        result = bp.bridge(state_change(JOB, unknown, PlatformState.FAILED))

    assert result["found"] is False
    assert f"Glue has no job run {unknown!r} of job {JOB!r}" in caplog.text
    item = bp.attempt(JOB, unknown, 0)
    assert item[T.PLATFORM_STATE] == PlatformState.FAILED
    assert "ZeroDivisionError" in item[T.PLATFORM_ERROR]["message"]  # the event's own message
    assert metric_total(capsys.readouterr().out, BridgeMetrics.RUNS_NOT_FOUND) == 1


def test_a_state_that_is_not_an_end_is_ignored(bp: BridgePlane) -> None:
    run_id = bp.run(JOB, "RUNNING")
    result = bp.bridge(state_change(JOB, run_id, "RUNNING"))
    assert result["verdict"] is None
    assert not bp.plane.run_items()


def test_the_bridge_s_events_pass_the_contract_and_every_line_is_accounted_for(bp: BridgePlane) -> None:
    results = []
    for state in (*PlatformState.GLUE_TERMINAL, PlatformState.FAILED):
        results.append(bp.bridge(state_change(JOB, bp.run(JOB, state, error_message="x"), state)))

    for result in results:
        assert result["events_received"] == (
            result["events_archived"] + result["events_quarantined"] + result["events_ignored"]
        )
        assert result["events_quarantined"] == 0
    observed = bp.observed_lines()
    assert len(observed) == len(results)
    for line in observed:
        line.pop("ingest")
        contract.validate(line)  # the same check lineage_lib applies before an event leaves a job


def test_the_job_s_lineage_pipeline_argument_names_the_run_as_lineage_lib_does(bp: BridgePlane) -> None:
    bp.job("orders-v2", {"--LINEAGE_PIPELINE_ID": "orders"})
    run_id = bp.run("orders-v2", PlatformState.SUCCEEDED)

    result = bp.bridge(state_change("orders-v2", run_id, PlatformState.SUCCEEDED))

    assert (result["pipeline_id"], result["run_id"], result["attempt"]) == ("orders", run_id, 0)
    assert bp.attempt("orders", run_id, 0)[T.PLATFORM_STATE] == PlatformState.SUCCEEDED
