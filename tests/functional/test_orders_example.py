"""The seed example: a Glue job reading raw_db.orders_raw and writing analytics_db.orders_daily."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
from pathlib import Path
from types import ModuleType

import pytest

from lineage_cli.main import main as lineage_main
from lineage_lib.testing import capture
from lineage_local import demo
from tests.conftest import REPO, load_examples

JOB = REPO / "examples" / "orders_daily" / "glue_job.py"
RAW = "glue://default/raw_db.orders_raw"
DAILY = "glue://default/analytics_db.orders_daily"


@pytest.fixture(autouse=True)
def _in_a_fresh_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """lineage demo keeps its archive in the working directory (./lineage-demo): each test has its own."""
    monkeypatch.chdir(tmp_path)


def load_job() -> ModuleType:
    spec = importlib.util.spec_from_file_location("orders_daily_job", JOB)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_job_records_the_seed_column_lineage(tmp_path: Path) -> None:
    job = load_job()
    output = tmp_path / "daily.jsonl"
    with capture() as lineage:
        job.main(["--JOB_NAME", "orders-daily", "--output", str(output)])
    assert lineage.datasets_read() == {RAW}
    assert lineage.datasets_written() == {DAILY}
    assert lineage.column_lineage()[(DAILY, "revenue")] == [(RAW, "order_total", "rename")]
    assert lineage.types()[-1] == "RUN_COMPLETE"
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert {"order_id", "order_date", "revenue"} == set(rows[0])
    assert lineage.of_type("WRITE")[0]["metrics"] == {"records": len(rows)}


def test_run_as_glue_runs_it_the_events_carry_the_glue_run_and_attempt(tmp_path: Path) -> None:
    args = ["--JOB_NAME", "orders-daily", "--JOB_RUN_ID", "jr_0a1b2c_attempt_1"]
    code, lines, _ = demo.run_job(JOB, args, tmp_path)
    events = demo.lineage_events(lines)
    assert code == 0
    assert {(e["pipeline_id"], e["run_id"], e["attempt"]) for e in events} == {
        ("orders-daily", "jr_0a1b2c", 1)
    }
    assert events[0]["context"]["job_run_id"] == "jr_0a1b2c_attempt_1"
    assert events[0]["context"]["platform"] == "glue"


def test_a_failing_attempt_leaves_a_failed_run_and_keeps_its_exit_code(tmp_path: Path) -> None:
    args = ["--JOB_NAME", "orders-daily", "--JOB_RUN_ID", "jr_x", "--fail_after_read", "boom"]
    code, lines, stderr = demo.run_job(JOB, args, tmp_path)
    events = demo.lineage_events(lines)
    assert code == 1
    assert "RuntimeError: simulated failure: boom" in stderr
    assert [e["event_type"] for e in events][-2:] == ["STEP_FAIL", "RUN_FAIL"]
    assert "WRITE" not in [e["event_type"] for e in events]


def test_demo_shows_both_attempts_and_the_column_lineage(tmp_path: Path) -> None:
    out = io.StringIO()
    events_file = tmp_path / "events.jsonl"
    args = demo_args(events_out=events_file)
    assert demo.run(args, out) == 0
    text = out.getvalue()
    assert "attempt 0: RUN_FAIL" in text
    assert "attempt 1: RUN_COMPLETE" in text
    assert "analytics_db.orders_daily.revenue" in text
    assert "raw_db.orders_raw.order_total  (rename)" in text
    # 11 events of the two attempts, and 3 of the run killed mid-step (no terminal event)
    assert len(events_file.read_text().splitlines()) == 14


def test_demo_runs_the_ingestion_path_and_accounts_for_every_delivered_line(tmp_path: Path) -> None:
    out = io.StringIO()
    assert demo.run(demo_args(), out) == 0
    text = out.getvalue()
    # 14 events of the three orders-daily runs archived; the old producer's two lines quarantined;
    # Glue's catalog line that mentions schema_version, in each of the four runs' streams, passed the
    # filter but is not lineage.
    assert "validator: 14 archived, 2 quarantined, 4 ignored (received 20 = 14 + 2 + 4)" in text
    assert "EventsQuarantined=2" in text
    assert "1 invalid_json, 1 unknown_schema_version" in text
    assert re.search(r"attempt 0 +FAILED .*Glue FAILED, consistent .*simulated failure", text)
    assert re.search(r"attempt 1 +COMPLETE .*Glue SUCCEEDED, consistent", text)
    # a redelivery leaves out the events the run state already holds: only the quarantine object is rebuilt
    assert "0 new objects, 1 already present, 14 events already applied" in text


def test_demo_joins_glue_s_account_and_shows_the_incomplete_run_and_the_lineage_gap(tmp_path: Path) -> None:
    out = io.StringIO()
    assert demo.run(demo_args(), out) == 0
    text = out.getvalue()
    assert re.search(r"orders-export jr_\w+ attempt 0: Glue SUCCEEDED -> LINEAGE GAP", text)
    assert "its state-change event was lost" in text
    assert "Run reconciler, an hour later (a schedule): 1 attempt silent" in text
    assert re.search(r"attempt 0 +INCOMPLETE .*Glue FAILED, incomplete .*exit code 137", text)
    assert re.search(r"orders-export jr_\w+ attempt 0 +INCOMPLETE .*Glue SUCCEEDED, gap", text)
    assert "LineageGaps=1" in text
    assert "IncompleteRuns=1" in text
    assert "active runs (index active-runs): 0" in text


def test_demo_ends_by_asking_its_archive_where_revenue_came_from_and_what_is_downstream() -> None:
    out = io.StringIO()
    assert demo.run(demo_args(), out) == 0
    text = out.getvalue()
    ending = text[text.index("Asking the archive") :]
    assert "lineage upstream analytics_db.orders_daily.revenue --archive s3://" in ending
    assert "analytics_db.orders_daily.revenue <- raw_db.orders_raw.order_total  (rename;" in ending
    assert "downstream of raw_db.orders_raw: 1 dataset" in ending
    assert "raw_db.orders_raw -> analytics_db.orders_daily  (job orders-daily" in ending
    assert "--athena lineage" in ending  # and how to ask a deployed stack


def test_demo_leaves_no_plane_settings_behind() -> None:
    from lineage_plane.functions import FunctionEnv

    before = {
        name: os.environ.get(name) for name in (FunctionEnv.ARCHIVE_BUCKET, FunctionEnv.RUN_STATE_TABLE)
    }
    assert demo.run(demo_args(), io.StringIO()) == 0
    assert {name: os.environ.get(name) for name in before} == before


def demo_args(**overrides: object) -> object:
    parsed = demo_parser().parse_args(["demo"])
    for key, value in overrides.items():
        setattr(parsed, key, value)
    return parsed


def demo_parser():  # type: ignore[no-untyped-def]
    from lineage_cli.main import build_parser

    return build_parser()


def test_demo_with_a_missing_job_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert lineage_main(["demo", "--job", "/nonexistent/job.py"]) == 2
    assert "not found" in capsys.readouterr().err


def test_validate_accepts_the_valid_examples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "valid.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for _, e in load_examples("valid")))
    assert lineage_main(["validate", str(events)]) == 0
    assert "10 valid, 0 invalid" in capsys.readouterr().out


def test_validate_reports_each_invalid_line_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    invalid = [example["event"] for _, example in load_examples("invalid")]
    events = tmp_path / "mixed.jsonl"
    lines = [
        json.dumps(load_examples("valid")[0][1]),
        "not json",
        "[1, 2]",
        *(json.dumps(e) for e in invalid),
    ]
    events.write_text("\n".join(lines) + "\n")
    assert lineage_main(["validate", str(events)]) == 1
    out = capsys.readouterr().out
    assert f"1 valid, {len(invalid) + 2} invalid" in out
    assert f"{events}:2: not JSON" in out
    assert f"{events}:3: not a JSON object" in out
    assert "event_time:" in out
