"""The run/step API: what a job records, and how failures and bad input are handled."""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

import lineage_lib as lineage
from lineage_lib import contract
from lineage_lib.sinks import MemorySink, StdoutSink
from lineage_lib.testing import capture

RAW = lineage.glue_table("raw_db", "orders_raw")
DAILY = lineage.glue_table("analytics_db", "orders_daily")


def test_a_run_records_its_lifecycle_and_operations_in_order() -> None:
    with capture() as captured:
        with lineage.run("orders-daily") as run, run.step("aggregate") as step:
            step.read(RAW, records=10)
            step.write(
                DAILY,
                records=2,
                columns=[lineage.ColumnLineage("revenue", RAW.column("order_total"), "rename")],
            )
        events = captured.events
    assert captured.types() == ["RUN_START", "STEP_START", "READ", "WRITE", "STEP_COMPLETE", "RUN_COMPLETE"]
    assert {(e["pipeline_id"], e["run_id"], e["attempt"]) for e in events} == {
        ("orders-daily", run.run_id, 0)
    }
    assert len({e["event_id"] for e in events}) == len(events)
    assert [e["event_time"] for e in events] == sorted(e["event_time"] for e in events)
    for event in events:
        contract.validate(event)
    assert captured.column_lineage() == {
        (DAILY.id, "revenue"): [(RAW.id, "order_total", "rename")],
    }


def test_an_exception_in_a_step_fails_step_and_run_then_propagates() -> None:
    def job() -> lineage.Run:
        with lineage.run("orders-daily") as run, run.step("aggregate") as step:
            step.read(RAW)
            raise KeyError("order_total")

    with capture() as captured, pytest.raises(KeyError, match="order_total"):
        job()
    run = captured.events[0]
    fail = captured.of_type("STEP_FAIL", "RUN_FAIL")
    assert [e["event_type"] for e in fail] == ["STEP_FAIL", "RUN_FAIL"]
    assert all(e["error"]["type"] == "KeyError" and "order_total" in e["error"]["message"] for e in fail)
    assert "Traceback" in fail[-1]["error"]["stack"]
    assert fail[-1]["run_id"] == run["run_id"]


def test_sys_exit_inside_a_run_records_the_exit_code_and_keeps_it() -> None:
    with capture() as captured, pytest.raises(SystemExit) as exited, lineage.run("p"):
        raise SystemExit(3)
    assert exited.value.code == 3
    assert captured.of_type("RUN_FAIL")[0]["error"]["exit_code"] == 3


def test_sys_exit_zero_completes_the_run() -> None:
    with capture() as captured, pytest.raises(SystemExit), lineage.run("p"):
        raise SystemExit(0)
    assert captured.types()[-1] == "RUN_COMPLETE"


def test_closing_twice_is_harmless_and_closed_scopes_refuse_operations() -> None:
    with capture() as captured:
        run = lineage.run("p")
        step = run.step("s")
        step.complete()
        step.complete()
        with pytest.raises(lineage.LineageStateError, match="closed"):
            step.read(RAW)
        run.complete()
        run.fail(RuntimeError("late"))
        with pytest.raises(lineage.LineageStateError, match="new run"):
            run.step("again")
    assert captured.types() == ["RUN_START", "STEP_START", "STEP_COMPLETE", "RUN_COMPLETE"]


def test_open_steps_are_closed_with_the_run_and_names_are_unique_while_open() -> None:
    with capture() as captured:
        run = lineage.run("p")
        run.step("s")
        with pytest.raises(lineage.LineageStateError, match="already open"):
            run.step("s")
        run.abort("operator stopped it", signal_name="SIGTERM")
    assert captured.types() == ["RUN_START", "STEP_START", "STEP_FAIL", "RUN_ABORT"]
    assert captured.events[-1]["error"] == {
        "type": "Aborted",
        "message": "operator stopped it",
        "signal": "SIGTERM",
    }


def test_strict_mode_refuses_an_invalid_event_and_emits_nothing_for_it() -> None:
    with capture() as captured:
        run = lineage.run("p")
        with pytest.raises(lineage.LineageValidationError) as caught:
            run.step("bad\nname")
        run.complete()
    assert caught.value.path == "step"
    assert "STEP_START" not in captured.types()


def test_lenient_mode_says_so_loudly_and_emits_the_invalid_event_for_quarantine(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="lineage_lib")
    with capture() as captured:
        run = lineage.run("p", mode="lenient")
        run.step("bad\nname")
        run.complete()
    assert "LENIENT mode" in caplog.text
    assert "INVALID lineage event" in caplog.text
    assert "STEP_START" in captured.types()


def test_lineage_mode_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAGE_MODE", "sometimes")
    with pytest.raises(lineage.LineageConfigError, match="LINEAGE_MODE"):
        lineage.run("p", sink=MemorySink())


def _many_columns(count: int) -> list[lineage.ColumnLineage]:
    return [
        lineage.ColumnLineage(f"column_{i:04d}_" + "x" * 100, RAW.column(f"source_{i:04d}_" + "y" * 100))
        for i in range(count)
    ]


def test_an_event_over_the_cloudwatch_limit_is_refused_never_truncated() -> None:
    with capture() as captured:
        run = lineage.run("p")
        step = run.step("s")
        step.write(DAILY, columns=_many_columns(100))  # well under the limit
        with pytest.raises(lineage.EventTooLargeError) as caught:
            step.write(DAILY, columns=_many_columns(1500))
        run.complete()
    assert caught.value.limit == contract.MAX_EVENT_BYTES
    assert caught.value.size > caught.value.limit
    assert all(len(line.encode()) <= contract.MAX_EVENT_BYTES for line in captured.lines)
    assert captured.types().count("WRITE") == 1


def test_lenient_mode_replaces_an_oversize_write_by_a_reduced_one_that_keeps_the_edge(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with capture() as captured:
        run = lineage.run("p", mode="lenient", tags={"team": "finance"})
        run.step("s").write(DAILY, records=31, columns=_many_columns(1500))
        run.complete()
    (write,) = captured.of_type("WRITE")
    contract.validate(write)  # valid: the plane archives it and the table keeps its lineage
    assert (write["target"], write["metrics"]) == ({"id": DAILY.id}, {"records": 31})
    assert "columns" not in write
    assert write["tags"]["team"] == "finance"
    assert write["tags"]["lineage_lib.omitted"].startswith("columns: the event was ")
    assert "over the 262118-byte limit" in write["tags"]["lineage_lib.omitted"]
    assert all(len(line.encode()) <= contract.MAX_EVENT_BYTES for line in captured.lines)
    assert "emitted without its optional details" in caplog.text


def test_stdout_sink_writes_one_json_line_per_event(capsys: pytest.CaptureFixture[str]) -> None:
    with lineage.run("p", sink=StdoutSink()) as run, run.step("s") as step:
        step.read(lineage.s3("s3a://acme-raw/orders/"))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    assert json.loads(lines[2])["source"] == {"id": "s3://acme-raw/orders"}


def test_a_retry_is_a_new_attempt_of_the_same_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAGE_RUN_ID", "nightly-2026-11-21")
    with capture() as captured:
        lineage.run("p").complete()
        lineage.run("p", attempt=1).complete()
    assert {(e["run_id"], e["attempt"]) for e in captured.events} == {
        ("nightly-2026-11-21", 0),
        ("nightly-2026-11-21", 1),
    }


def test_lambda_handler_usage_takes_request_id_from_the_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "orders-notify")
    context = SimpleNamespace(
        function_name="orders-notify", function_version="$LATEST", aws_request_id="req-1"
    )
    with capture() as captured, lineage.run(lambda_context=context):
        pass
    start = captured.events[0]
    assert (start["pipeline_id"], start["run_id"]) == ("orders-notify", "req-1")
    assert start["context"]["platform"] == "lambda"


def test_run_tags_travel_on_every_event() -> None:
    with capture() as captured, lineage.run("p", tags={"team": "finance"}):
        pass
    assert all(e["tags"] == {"team": "finance"} for e in captured.events)


def test_unknown_sink_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAGE_SINK", "kafka")
    with pytest.raises(lineage.LineageConfigError, match="LINEAGE_SINK"):
        lineage.run("p")


def test_steps_and_runs_complete_with_metrics() -> None:
    with capture() as captured:
        run = lineage.run("p")
        run.step("s").complete(records=2, size_bytes=10)
        run.complete(records=2)
    assert captured.events[2]["metrics"] == {"records": 2, "bytes": 10}
    assert captured.events[-1]["metrics"] == {"records": 2}


class _BrokenSink(MemorySink):
    def emit(self, line: str, event: object) -> None:
        raise OSError("disk full")


def test_a_sink_failure_fails_the_job_in_strict_mode_only(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(lineage.LineageEmitError, match="disk full"):
        lineage.run("p", sink=_BrokenSink())
    run = lineage.run("p", sink=_BrokenSink(), mode="lenient")
    run.complete()
    assert "lineage sink failure (lenient mode" in caplog.text


def test_operation_tags_add_to_the_run_tags() -> None:
    with capture() as captured, lineage.run("p", tags={"team": "finance", "tier": "1"}) as run:
        run.step("s").read(RAW, tags={"tier": "2", "pii": "yes"})
    read = captured.of_type("READ")[0]
    assert read["tags"] == {"team": "finance", "tier": "2", "pii": "yes"}


def test_each_line_is_one_json_object_with_every_field_once() -> None:
    with capture() as captured, lineage.run("p") as run:
        run.step("s").write(DAILY, columns=[lineage.ColumnLineage("revenue", RAW.column("order_total"))])
    for line in captured.lines:
        pairs = json.loads(line, object_pairs_hook=lambda kv: kv)
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), keys
        assert {"producer", "pipeline_id", "run_id", "attempt", "context"} <= set(keys)


def test_run_fields_are_checked_once_and_every_other_field_on_every_event() -> None:
    with pytest.raises(lineage.LineageValidationError) as caught:
        lineage.run("bad\npipeline", sink=MemorySink())  # RUN_START carries the run's fields
    assert caught.value.path == "pipeline_id"
    with capture() as captured:
        run = lineage.run("p")
        step = run.step("s")
        step.read(RAW)
        with pytest.raises(lineage.LineageValidationError) as late:
            step.read(RAW, records=-1)  # after the run's fields were trusted
        run.complete()
    assert late.value.path == "metrics.records"
    for event in captured.events:
        contract.validate(event)  # what went out passes the full schema


def test_a_validator_trusting_run_fields_still_requires_them() -> None:
    trusting = contract.compiled_validator("1.0", frozenset({"context", "producer"}))
    event = json.loads(json.dumps(load_valid_event()))
    event["context"] = {"platform": "k8s"}  # content not checked: it was checked once per run
    trusting(event)
    del event["context"]
    with pytest.raises(Exception, match="required"):
        trusting(event)


def load_valid_event() -> dict[str, object]:
    from tests.conftest import load_examples

    return dict(load_examples("valid")[0][1])


def test_transform_records_source_target_and_column_lineage_in_one_event() -> None:
    customers = lineage.s3("s3a://acme-raw/customers/")
    enriched = lineage.s3("acme-curated", "orders_enriched")
    region = lineage.ColumnLineage(
        "customer_region",
        [customers.column("region"), RAW.column("customer_id")],
        lineage.Transformation.JOIN,
    )
    with capture() as captured, lineage.run("p") as run, run.step("enrich") as step:
        step.transform(customers, enriched, records=7, columns=[region])
    (event,) = captured.of_type("TRANSFORM")
    assert event["source"] == {"id": "s3://acme-raw/customers"}
    assert event["target"] == {"id": "s3://acme-curated/orders_enriched"}
    assert event["metrics"] == {"records": 7}
    assert captured.column_lineage()[("s3://acme-curated/orders_enriched", "customer_region")] == [
        ("s3://acme-raw/customers", "region", "join"),
        (RAW.id, "customer_id", "join"),
    ]
    assert captured.datasets_read() == {"s3://acme-raw/customers"}


def test_run_takes_pipeline_id_and_pipeline_as_another_name_of_it() -> None:
    with capture() as captured:
        lineage.run(pipeline_id="by-keyword").complete()
        lineage.run(pipeline="by-old-keyword").complete()
        lineage.run("by-position").complete()
        lineage.run(pipeline_id="same", pipeline="same").complete()
    starts = captured.of_type("RUN_START")
    assert [e["pipeline_id"] for e in starts] == ["by-keyword", "by-old-keyword", "by-position", "same"]
    with pytest.raises(
        lineage.LineageConfigError, match=r"pipeline_id='a' and pipeline='b'.*pass pipeline_id only"
    ):
        lineage.run(pipeline_id="a", pipeline="b")
    assert len(captured.of_type("RUN_START")) == 4


def _rows(run: lineage.Run) -> Iterator[int]:
    with run.step("read_rows") as step:
        step.read(RAW)
        yield from range(10)


def test_a_step_in_a_generator_its_consumer_stops_early_completes() -> None:
    with capture() as captured, lineage.run("p") as run:
        for row in _rows(run):
            if row == 2:
                break
    assert captured.types() == ["RUN_START", "STEP_START", "READ", "STEP_COMPLETE", "RUN_COMPLETE"]


def test_a_run_in_a_generator_its_consumer_stops_early_is_aborted_not_failed() -> None:
    def job() -> Iterator[int]:
        with lineage.run("p") as run, run.step("s"):
            yield from range(10)

    with capture() as captured:
        for row in job():
            if row == 2:
                break
    assert captured.types() == ["RUN_START", "STEP_START", "STEP_COMPLETE", "RUN_ABORT"]
    error = captured.events[-1]["error"]
    assert error["type"] == "Aborted"
    assert "generator was closed before the run finished" in error["message"]
    assert "stack" not in error


def test_a_child_process_joins_a_run_through_its_ref_which_pickles() -> None:
    with capture() as captured, lineage.run("p", tags={"team": "finance"}) as run:
        ref = pickle.loads(pickle.dumps(run.ref()))
        assert (ref.pipeline_id, ref.run_id, ref.attempt) == (run.pipeline_id, run.run_id, run.attempt)
        with lineage.join_run(ref) as joined, joined.step("load-1") as step:
            step.write(DAILY, records=1)
        assert joined.joined
        assert joined.closed
        assert not run.closed
    assert captured.types() == ["RUN_START", "STEP_START", "WRITE", "STEP_COMPLETE", "RUN_COMPLETE"]
    assert {(e["run_id"], e["tags"]["team"]) for e in captured.events} == {(run.run_id, "finance")}


def test_a_joined_run_fails_its_own_steps_but_records_no_end_of_the_run() -> None:
    with (
        capture() as captured,
        lineage.run("p") as run,
        pytest.raises(KeyError),
        lineage.join_run(run.ref()) as joined,
        joined.step("load-1"),
    ):
        raise KeyError("order_total")
    assert captured.types() == ["RUN_START", "STEP_START", "STEP_FAIL", "RUN_COMPLETE"]


def test_the_stop_timeout_is_the_variable_then_the_glue_job_argument_then_3_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lineage_lib import _lifecycle

    monkeypatch.setattr("sys.argv", ["job.py", "--JOB_NAME", "orders-daily", "--LINEAGE_STOP_TIMEOUT", "7"])
    assert _lifecycle.stop_timeout() == 7.0
    monkeypatch.setenv("LINEAGE_STOP_TIMEOUT", "0.5")
    assert _lifecycle.stop_timeout() == 0.5
    monkeypatch.delenv("LINEAGE_STOP_TIMEOUT")
    monkeypatch.setattr("sys.argv", ["job.py"])
    assert _lifecycle.stop_timeout() == 3.0
    for bad in ("-1", "nan", "inf", "soon"):
        monkeypatch.setenv("LINEAGE_STOP_TIMEOUT", bad)
        with pytest.raises(lineage.LineageConfigError, match="LINEAGE_STOP_TIMEOUT"):
            lineage.run("p", sink=MemorySink())
