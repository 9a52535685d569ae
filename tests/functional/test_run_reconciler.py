"""The run reconciler on moto: silent running attempts, asked about and closed once, by whoever is first."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest

from lineage_plane.run_table import (
    ObservedTag,
    Observer,
    PlatformState,
    Reconciliation,
    RunStateTable,
    RunStatus,
)
from tests.functional.bridge_support import BridgePlane, bridge_plane, later, state_change
from tests.functional.validator_support import completed_glue_run, crashed_glue_run

T = RunStateTable
JOB = "sessionize"


@pytest.fixture
def bp() -> Iterator[BridgePlane]:
    with bridge_plane() as plane:
        plane.job(JOB)
        yield plane


def crashed(bp: BridgePlane, glue_state: str, **kwargs: object) -> str:
    """A Glue run whose lineage stopped mid-step; Glue holds it in ``glue_state``."""
    run_id = bp.run(JOB, glue_state, **kwargs)
    captured, _run = crashed_glue_run(JOB, run_id)
    bp.lineage(captured.lines, stream=run_id)
    return run_id


def test_a_silent_glue_run_that_glue_says_ended_is_closed_as_the_bridge_would(bp: BridgePlane) -> None:
    run_id = crashed(bp, PlatformState.FAILED, error_message="Lost executor 3")

    report = bp.sweep(later(61))

    assert (report["swept"], report["glue_ended"], report["glue_ended_new"]) == (1, 1, 1)
    item = bp.attempt(JOB, run_id, 0)
    assert (item[T.STATUS], item[T.RECONCILIATION]) == (RunStatus.INCOMPLETE, Reconciliation.INCOMPLETE)
    assert (item[T.PLATFORM_STATE], item[T.OBSERVED_BY]) == (PlatformState.FAILED, Observer.RUN_RECONCILER)
    assert item[T.PLATFORM_ERROR]["message"] == "Lost executor 3"


def test_runs_silent_for_less_than_the_bound_are_not_asked_about(bp: BridgePlane) -> None:
    crashed(bp, PlatformState.FAILED)
    assert bp.sweep(later(30))["swept"] == 0


def test_a_glue_run_still_running_is_left_running(bp: BridgePlane) -> None:
    run_id = crashed(bp, "RUNNING")

    report = bp.sweep(later(120))

    assert (report["swept"], report["still_running"]) == (1, 1)
    assert bp.attempt(JOB, run_id, 0)[T.STATUS] == RunStatus.RUNNING


def test_a_glue_run_glue_has_no_record_of_is_closed_as_not_found_with_a_logged_error(
    bp: BridgePlane, caplog: pytest.LogCaptureFixture
) -> None:
    unknown = "jr_ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
    captured, _run = crashed_glue_run(JOB, unknown)
    bp.lineage(captured.lines)

    with caplog.at_level(logging.ERROR):
        report = bp.sweep(later(61))
        again = bp.sweep(later(62))  # closed: not asked about again, no crash loop

    assert (report["not_found"], again["swept"]) == (1, 0)
    assert f"Glue has no job run {unknown!r}" in caplog.text
    item = bp.attempt(JOB, unknown, 0)
    assert (item[T.STATUS], item[T.PLATFORM_STATE]) == (RunStatus.INCOMPLETE, PlatformState.NOT_FOUND)


def test_a_lambda_run_silent_past_lambda_s_limit_is_closed_as_expired(bp: BridgePlane) -> None:
    lines = [
        line.replace('"platform":"glue"', '"platform":"lambda"')
        for line in crashed_glue_run(JOB, "r1")[0].lines
    ]
    bp.lineage(lines)

    report = bp.sweep(later(61))

    assert report["expired"] == 1
    item = bp.attempt(JOB, "r1", 0)
    assert (item[T.STATUS], item[T.PLATFORM_STATE]) == (RunStatus.INCOMPLETE, PlatformState.EXPIRED)
    assert "15 min" in item[T.PLATFORM_ERROR]["message"]


def test_an_emr_run_is_closed_only_past_the_longest_run_configured(bp: BridgePlane) -> None:
    lines = [
        line.replace('"platform":"glue"', '"platform":"emr"') for line in crashed_glue_run(JOB, "s1")[0].lines
    ]
    bp.lineage(lines)

    assert bp.sweep(later(120))["still_running"] == 1  # default longest run: 1440 minutes
    assert bp.sweep(later(1441))["expired"] == 1
    assert bp.attempt(JOB, "s1", 0)[T.PLATFORM_STATE] == PlatformState.EXPIRED
    assert bp.sweep(later(1500))["swept"] == 0


def test_the_bridge_and_the_reconciler_record_one_end_whoever_comes_first(bp: BridgePlane) -> None:
    run_id = crashed(bp, PlatformState.TIMEOUT)
    report = bp.sweep(later(61))
    scan = bp.plane.scan()

    replay = bp.bridge(state_change(JOB, run_id, PlatformState.TIMEOUT))  # EventBridge, late

    assert report["glue_ended_new"] == 1
    assert replay["new"] is False
    assert bp.plane.scan() == scan
    [end] = [line for line in bp.observed_lines() if line["tags"][ObservedTag.PLATFORM_RUN_ID] == run_id]
    assert end["tags"][ObservedTag.OBSERVED_BY] == Observer.RUN_RECONCILER


def test_a_finished_run_is_never_swept(bp: BridgePlane) -> None:
    run_id = bp.run(JOB, PlatformState.SUCCEEDED)
    bp.lineage(completed_glue_run(JOB, run_id))
    assert bp.sweep(later(24 * 60 * 2))["swept"] == 0


def test_a_sweep_retried_after_it_closed_runs_changes_nothing(bp: BridgePlane) -> None:
    lines = [
        line.replace('"platform":"glue"', '"platform":"lambda"')
        for line in crashed_glue_run(JOB, "r2")[0].lines
    ]
    bp.lineage(lines)
    moment = later(61)
    bp.sweep(moment)
    scan, archive = bp.plane.scan(), bp.plane.archive_text()

    # the same sweep again, as if its first invocation had timed out after writing: the run is
    # closed, and the index no longer lists it
    assert bp.sweep(moment + timedelta(seconds=1))["swept"] == 0
    assert (bp.plane.scan(), bp.plane.archive_text()) == (scan, archive)
