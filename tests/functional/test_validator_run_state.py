"""The run state a user queries: active runs, a run's attempts and steps, a pipeline's history."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from lambdas.validator import handler
from lineage_lib.contract import Field
from lineage_lib.sinks.cloudwatch import epoch_millis
from lineage_local.local_plane import (
    deliver,
)
from lineage_plane.layout import sortable_time
from lineage_plane.run_table import RunStateTable, run_pk
from tests.functional.validator_support import (
    GLUE_OUTPUT,
    Plane,
    completed_glue_run,
    crashed_glue_run,
    glue_payload,
    log_events,
    retried_glue_run,
)

# An invocation that records no metric (a control message, one that raises) makes Powertools warn.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
T = RunStateTable


def put_log_lines(plane: Plane, stream: str, lines: list[str]) -> None:
    """Lines into the Glue output log group, as the job's stdout gets there."""
    if stream not in {
        s["logStreamName"] for s in plane.logs.describe_log_streams(logGroupName=GLUE_OUTPUT)["logStreams"]
    }:
        plane.logs.create_log_stream(logGroupName=GLUE_OUTPUT, logStreamName=stream)
    plane.logs.put_log_events(
        logGroupName=GLUE_OUTPUT,
        logStreamName=stream,
        logEvents=[
            {"timestamp": epoch_millis(json.loads(line)[Field.EVENT_TIME]), "message": line} for line in lines
        ],
    )


def active_runs(plane: Plane) -> list[dict[str, Any]]:
    return plane.query(
        IndexName=T.ACTIVE_INDEX,
        KeyConditionExpression="#pk = :active",
        ExpressionAttributeNames={"#pk": T.ACTIVE_PK},
        ExpressionAttributeValues={":active": {"S": T.ACTIVE_PARTITION}},
    )


def test_a_crashed_run_stays_in_the_active_index_until_a_terminal_event_arrives(plane: Plane) -> None:
    emitted, run = crashed_glue_run()
    crashed = list(emitted.lines)
    completed = completed_glue_run("orders-daily", "jr_1a2b3c4d5e6f7a8b")
    plane.logs.create_log_group(logGroupName=GLUE_OUTPUT)
    put_log_lines(plane, "jr_0b9e4f7a21c34d58", crashed)
    put_log_lines(plane, "jr_1a2b3c4d5e6f7a8b", completed)
    # the Glue driver's own output, which the subscription's filter pattern leaves out
    plane.logs.put_log_events(
        logGroupName=GLUE_OUTPUT,
        logStreamName="jr_0b9e4f7a21c34d58",
        logEvents=[
            {
                "timestamp": epoch_millis(json.loads(crashed[-1])[Field.EVENT_TIME]) + 1,
                "message": "INFO processing",
            }
        ],
    )

    results = deliver(plane.logs, GLUE_OUTPUT, handler.handler)

    assert sorted(r["archived"] for r in results) == sorted([len(crashed), len(completed)])
    assert sum(r["ignored"] for r in results) == 0  # the filter pattern kept the noise out
    [active] = active_runs(plane)
    last = json.loads(crashed[-1])
    assert (active[T.PK], active[T.SK], active[T.STATUS]) == (
        run_pk("sessionize", "jr_0b9e4f7a21c34d58"),
        "ATTEMPT#00000",
        "RUNNING",
    )
    assert active[T.ACTIVE_SK].startswith(f"{sortable_time(last[Field.EVENT_TIME])}#")
    assert (active[T.EVENT_COUNT], active[T.READ_COUNT]) == (4, 2)

    # Glue stops the hung job: the library's SIGTERM handler fails the open step and aborts the run.
    run.abort("stopped by Glue", signal_name="SIGTERM")
    late = emitted.lines[len(crashed) :]
    assert [json.loads(line)[Field.EVENT_TYPE] for line in late] == ["STEP_FAIL", "RUN_ABORT"]
    plane.invoke(glue_payload(log_events(late), "jr_0b9e4f7a21c34d58"))

    assert active_runs(plane) == []
    items = plane.run_items()
    attempt = items[(run_pk("sessionize", "jr_0b9e4f7a21c34d58"), "ATTEMPT#00000")]
    assert (attempt[T.STATUS], attempt[T.ERROR]["signal"]) == ("ABORTED", "SIGTERM")
    assert not {T.ACTIVE_PK, T.ACTIVE_SK} & set(attempt)


def test_a_retried_glue_run_is_one_query_and_its_pipeline_lists_attempts_in_start_order(plane: Plane) -> None:
    # run ids that sort against time: the index must order by start, not by id
    earlier = completed_glue_run("orders-daily", "jr_fffffffffffffff9")
    time.sleep(0.002)
    retried = retried_glue_run()
    time.sleep(0.002)
    later = completed_glue_run("orders-daily", "jr_0000000000000001")
    for lines in (later, retried, earlier):
        plane.invoke(glue_payload(log_events(lines), "jr"))

    items = plane.query(
        KeyConditionExpression="#pk = :pk",
        ExpressionAttributeNames={"#pk": T.PK},
        ExpressionAttributeValues={":pk": {"S": run_pk("orders-daily", "jr_7d41c2e09a6b4f35")}},
        ConsistentRead=True,
    )
    assert [(i[T.SK], i[T.STATUS]) for i in items] == [
        ("ATTEMPT#00000", "FAILED"),
        ("ATTEMPT#00000#STEP#aggregate", "FAILED"),
        ("ATTEMPT#00000#STEP#extract", "COMPLETE"),
        ("ATTEMPT#00001", "COMPLETE"),
        ("ATTEMPT#00001#STEP#aggregate", "COMPLETE"),
        ("ATTEMPT#00001#STEP#extract", "COMPLETE"),
        ("ATTEMPT#00001#STEP#publish", "COMPLETE"),
    ]
    assert items[0][T.ERROR][Field.TYPE] == "KeyError"
    assert T.ERROR not in items[3]
    assert {i[T.KIND] for i in items} == {T.KIND_ATTEMPT, T.KIND_STEP}

    history = plane.query(
        IndexName=T.PIPELINE_INDEX,
        KeyConditionExpression="#p = :p",
        ExpressionAttributeNames={"#p": T.PIPELINE_PK},
        ExpressionAttributeValues={":p": {"S": "orders-daily"}},
    )
    assert [(i[T.RUN_ID], i[T.ATTEMPT]) for i in history] == [
        ("jr_fffffffffffffff9", 0),
        ("jr_7d41c2e09a6b4f35", 0),
        ("jr_7d41c2e09a6b4f35", 1),
        ("jr_0000000000000001", 0),
    ]
    assert [i[T.STARTED_AT] for i in history] == sorted(i[T.STARTED_AT] for i in history)
    assert {i[T.KIND] for i in history} == {T.KIND_ATTEMPT}


# --- the edges of the trigger -----------------------------------------------------------------------
