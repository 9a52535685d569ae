"""``lineage runs`` against moto: a run-state table filled by the real store (RunStateStore.apply) with
real runs (lineage_lib's own events) and Glue's account of their end (the bridge's observed events),
so that every FAILED, INCOMPLETE and gap attempt below is one the plane itself would have written."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.common.state_store import RunStateStore
from lineage_cli import runs
from lineage_cli.exits import EXIT_OK, EXIT_USAGE
from lineage_lib.contract import Field
from lineage_local.local_plane import LOCAL_REGION, run_state_table_spec
from lineage_plane.observation import GlueRun, glue_run_event
from lineage_plane.run_state import state_view
from lineage_plane.run_table import Observer
from tests.functional.validator_support import (
    TABLE,
    completed_glue_run,
    crashed_glue_run,
    fail_call,
    retried_glue_run,
)

NOW = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
Row = dict[str, Any]


def timed(lines: Sequence[str], start: datetime) -> list[dict[str, Any]]:
    """A run's events, one second apart from ``start`` (fixed times: silences and orders are exact)."""
    events = [json.loads(line) for line in lines]
    for i, event in enumerate(events):
        event[Field.EVENT_TIME] = (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return events


def glue_says(job: str, job_run_id: str, state: str, completed: datetime) -> dict[str, Any]:
    run = GlueRun(job_name=job, job_run_id=job_run_id, state=state, completed_on=completed)
    return glue_run_event(run, observer=Observer.GLUE_BRIDGE, region=LOCAL_REGION, ended_at=completed)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 21, hour, minute, tzinfo=UTC)


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The table, holding seven attempts of six runs, as the validator and the Glue bridge left them."""
    monkeypatch.delenv(runs.TABLE_ENV, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", LOCAL_REGION)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=LOCAL_REGION)
        client.create_table(**run_state_table_spec(TABLE))
        events = [
            # attempt 0 fails in its second step (FAILED), Glue's retry completes (COMPLETE)
            *timed(retried_glue_run("orders-daily", "jr_7d41c2e09a6b4f35"), at(1)),
            # hangs, then Glue says it timed out: no terminal lineage event → INCOMPLETE, incomplete
            *timed(crashed_glue_run("sessionize", "jr_0b9e4f7a21c34d58")[0].lines, at(2)),
            glue_says("sessionize", "jr_0b9e4f7a21c34d58", "TIMEOUT", at(4)),
            # Glue ran it, not one event of its own lineage arrived → INCOMPLETE, gap
            glue_says("nightly-export", "jr_5c2d7e8f9a0b1c2d", "SUCCEEDED", at(3)),
            # its lineage completed, but Glue says it was stopped → ABORTED, disagreement
            *timed(completed_glue_run("load-dim", "jr_1a2b3c4d5e6f7a8b"), at(2, 30)),
            glue_says("load-dim", "jr_1a2b3c4d5e6f7a8b", "STOPPED", at(2, 40)),
            # still running: silent since 04:00 and since 05:30
            *timed(crashed_glue_run("clickstream", "jr_aaaa000011112222")[0].lines, at(5, 30)),
            *timed(crashed_glue_run("sessions-hourly", "jr_bbbb000011112222")[0].lines, at(4)),
        ]
        store = RunStateStore(client, TABLE, dedup_ttl_seconds=86_400)
        store.apply([state_view(event) for event in events])
        monkeypatch.setattr(runs, "_now", lambda: NOW)
        yield client


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lineage")
    runs.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["runs", *argv])


def lineage_runs(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = runs.run(parse("--table", TABLE, *argv), out)
    return code, out.getvalue()


def as_json(*argv: str) -> Any:
    code, text = lineage_runs(*argv, "--format", "json")
    assert code == EXIT_OK
    return json.loads(text)


def attempts(rows: list[Row]) -> list[tuple[str, int, str]]:
    return [(row["pipeline_id"], row["attempt"], row["status"]) for row in rows]


def test_the_summary_counts_attempts_per_status_and_lists_the_active(dynamodb: Any) -> None:
    summary = as_json()
    assert summary["attempts"] == 7
    assert summary["status"] == {"RUNNING": 2, "COMPLETE": 1, "FAILED": 1, "ABORTED": 1, "INCOMPLETE": 2}
    assert summary["reconciliation"] == {"consistent": 0, "disagreement": 1, "incomplete": 1, "gap": 1}
    assert [row["pipeline_id"] for row in summary["active"]] == ["sessions-hourly", "clickstream"]

    code, text = lineage_runs()
    assert code == EXIT_OK
    assert "7 attempts: RUNNING 2, COMPLETE 1, FAILED 1, ABORTED 1, INCOMPLETE 2" in text
    assert "disagreement 1, incomplete 1, gap 1" in text
    assert text.index("sessions-hourly") < text.index("clickstream")


def test_active_lists_running_attempts_longest_silent_first(dynamodb: Any) -> None:
    rows = as_json("--active")
    assert [(r["pipeline_id"], r["run_id"], r["silent_minutes"]) for r in rows] == [
        ("sessions-hourly", "jr_bbbb000011112222", 119),  # last event 04:00:03, now 06:00: whole minutes
        ("clickstream", "jr_aaaa000011112222", 29),
    ]
    assert all(r["status"] == "RUNNING" and r["platform"] == "glue" for r in rows)
    assert not {"pk", "sk", "version", "kind", "active_pk", "active_sk", "run_order"} & set(rows[0])

    code, text = lineage_runs("--active", "--limit", "1")
    title, header, first, *rest = text.splitlines()
    assert (code, title) == (EXIT_OK, "active attempts, the longest silent first:")
    assert header.split() == [
        "PIPELINE", "RUN", "ATTEMPT", "PLATFORM", "STARTED", "LAST", "EVENT", "SILENT", "MIN", "EVENTS"
    ]  # fmt: skip
    assert first.split() == [
        "sessions-hourly", "jr_bbbb000011112222", "0", "glue", "2026-11-21", "04:00:00Z", "2026-11-21",
        "04:00:03Z", "119", "4",
    ]  # fmt: skip
    assert rest == []


def test_incomplete_lists_what_the_platform_ended_without_a_lineage_end(dynamodb: Any) -> None:
    rows = as_json("--incomplete")  # newest first: the gap has no start, its first event is at 03:00
    assert attempts(rows) == [("nightly-export", 0, "INCOMPLETE"), ("sessionize", 0, "INCOMPLETE")]
    gap, sessionize = rows
    assert (sessionize["lineage_status"], sessionize["platform_state"]) == ("RUNNING", "TIMEOUT")
    assert sessionize["reconciliation"] == "incomplete"
    assert sessionize["inputs"] == ["s3://acme-raw/clicks", "s3://acme-raw/sessions"]
    assert (gap["reconciliation"], gap["event_count"], gap["observed_event_count"]) == ("gap", 1, 1)


def test_failed_lists_failed_and_aborted_attempts_with_their_error(dynamodb: Any) -> None:
    rows = as_json("--failed")
    assert attempts(rows) == [("load-dim", 0, "ABORTED"), ("orders-daily", 0, "FAILED")]
    assert rows[0]["platform_error"]["type"] == "GlueJobRunStopped"
    assert rows[1]["error"]["type"] == "KeyError"

    code, text = lineage_runs("--failed")
    assert code == EXIT_OK
    # the job's own error, else the platform's, cut to one line of 60 characters
    assert "  GlueJobRunStopped: Glue reports job run jr_1a2b3c4d5e6f7a8b…\n" in text
    assert "KeyError: 'order_total'" in text


def test_gaps_lists_only_runs_that_sent_no_lineage(dynamodb: Any) -> None:
    rows = as_json("--gaps")
    assert attempts(rows) == [("nightly-export", 0, "INCOMPLETE")]
    assert rows[0]["platform_state"] == "SUCCEEDED"
    code, text = lineage_runs("--gaps")
    assert (code, text.splitlines()[0]) == (EXIT_OK, "attempts with a lineage gap:")


def test_pipeline_lists_one_pipelines_attempts_newest_first(dynamodb: Any) -> None:
    assert attempts(as_json("--pipeline", "orders-daily")) == [
        ("orders-daily", 1, "COMPLETE"),
        ("orders-daily", 0, "FAILED"),
    ]
    assert attempts(as_json("--pipeline", "orders-daily", "--limit", "1")) == [
        ("orders-daily", 1, "COMPLETE")
    ]
    assert lineage_runs("--pipeline", "no-such-pipeline") == (EXIT_OK, "no attempts of no-such-pipeline\n")


def test_a_scan_view_past_its_limit_says_how_many_it_left_out(dynamodb: Any) -> None:
    code, text = lineage_runs("--failed", "--limit", "1")
    assert code == EXIT_OK
    assert text.splitlines()[0] == "failed or aborted attempts (the latest 1 of 2; --limit N for more):"
    assert "load-dim" in text
    assert "orders-daily" not in text


def test_the_table_name_comes_from_the_environment(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runs.TABLE_ENV, TABLE)
    out = io.StringIO()
    assert runs.run(parse("--gaps", "--format", "json"), out) == EXIT_OK
    assert attempts(json.loads(out.getvalue())) == [("nightly-export", 0, "INCOMPLETE")]


def test_no_table_name_is_a_usage_error(dynamodb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert runs.run(parse(), io.StringIO()) == EXIT_USAGE
    assert f"pass --table NAME or set {runs.TABLE_ENV}" in capsys.readouterr().err


def test_a_missing_table_says_how_to_name_the_right_one(
    dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    assert runs.run(parse("--table", "lineage-run-stat"), out) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "no run-state table 'lineage-run-stat'" in err
    assert runs.TABLE_ENV in err
    assert out.getvalue() == ""


@pytest.mark.parametrize("code", ["AccessDeniedException", "KMSAccessDeniedException"])
@pytest.mark.parametrize(("view", "operation"), [(None, "Scan"), ("active", "Query")])
def test_access_denied_names_the_permissions_needed(
    dynamodb: Any, code: str, view: str | None, operation: str
) -> None:
    dynamodb.meta.events.register(f"before-call.dynamodb.{operation}", fail_call(1, code, 400))
    reader = runs.RunStateReader(dynamodb, TABLE)
    with pytest.raises(runs.RunStateUnavailable) as refused:
        runs.answer(reader, view=view, now=NOW)
    message = str(refused.value)
    assert code in message
    for permission in ("dynamodb:Query", "dynamodb:Scan", "kms:Decrypt", "active-runs", "pipeline-runs"):
        assert permission in message


def test_help_teaches_the_views_and_the_permissions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("--help")
    text = capsys.readouterr().out
    for expected in ("--active", "--incomplete", "--failed", "--gaps", "--pipeline", "examples:", "Scan"):
        assert expected in text
    assert "kms:Decrypt" in text
    assert "exit codes" in text


def test_an_empty_table_answers_with_nothing_to_list(dynamodb: Any) -> None:
    dynamodb.create_table(**run_state_table_spec("empty"))
    for argv, expected in (
        ((), "0 attempts: RUNNING 0, COMPLETE 0, FAILED 0, ABORTED 0, INCOMPLETE 0"),
        (("--active",), "no active attempts"),
        (("--gaps",), "no attempts with a lineage gap"),
    ):
        out = io.StringIO()
        assert runs.run(parse("--table", "empty", *argv), out) == EXIT_OK
        assert out.getvalue().splitlines()[0] == expected
