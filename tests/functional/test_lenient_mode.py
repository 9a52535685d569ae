"""Lenient mode never crashes a job and never hides a loss, proved on a real process and the plane's
own ingest: a datetime, a NaN, an oversize write and a lone surrogate, and the job exits 0 with
every line it printed either archived or quarantined with a reason.

Before the fix, the datetime raised TypeError out of the emitter (the job died), NaN was written as
``NaN`` (not JSON: the validator saw invalid JSON instead of a reason), and the oversize write was
dropped with only a line on stderr (the table lost its lineage, invisibly to the plane).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lineage_lib import contract
from lineage_lib.contract import Refusal
from lineage_plane.ingest import Delivery, LogEvent, ingest
from lineage_plane.layout import QuarantineCode
from tests.functional.job_support import PYTHONS, python_for, run_job

JOB = """\
import datetime, math, sys
import lineage_lib

RAW = lineage_lib.glue_table("raw_db", "orders_raw")
DAILY = lineage_lib.glue_table("analytics_db", "orders_daily")
COLUMNS = [
    lineage_lib.ColumnLineage(f"column_{i:04d}_" + "x" * 100, RAW.column(f"source_{i:04d}_" + "y" * 100))
    for i in range(1500)
]

with lineage_lib.run("lenient-job", mode="lenient") as run, run.step("aggregate") as step:
    step.read(RAW, records=1200, tags={"loaded_at": datetime.datetime(2026, 11, 21, 5, 0)})
    step.write(DAILY, records=float("nan"))
    step.write(DAILY, records=31, columns=COLUMNS)
    step.read(lineage_lib.s3("raw-bucket", "caf\\udce9"), records=1)
print("the job went on to its end", file=sys.stderr)
"""


def _no_constants(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _ingested(lines: list[str]) -> tuple[Any, list[str]]:
    delivery = Delivery(
        "123456789012",
        "/aws-glue/jobs/output",
        "jr_lenient",
        [LogEvent(str(i), 1_796_000_000_000 + i, line) for i, line in enumerate(lines)],
    )
    outcome = ingest(delivery, region="eu-west-1", received_at=datetime.now(UTC), validator_version="test")
    quarantined = [
        json.loads(line) for obj in outcome.objects if obj.key.startswith("quarantine/") for line in obj.lines
    ]
    return outcome, quarantined


@pytest.mark.parametrize("version", PYTHONS)
def test_lenient_mode_goes_on_and_every_line_is_archived_or_quarantined_with_a_reason(
    tmp_path: Path, version: str
) -> None:
    done = run_job(tmp_path, JOB, python=python_for(version))
    assert done.returncode == 0, done.stderr
    assert "the job went on to its end" in done.stderr
    lines = done.stdout.splitlines()
    parsed = [json.loads(line, parse_constant=_no_constants) for line in lines]  # all JSON, no NaN
    assert [p["event_type"] for p in parsed] == [
        *("RUN_START", "STEP_START", "READ", "WRITE", "WRITE", "READ", "STEP_COMPLETE", "RUN_COMPLETE")
    ]
    refused = {p[Refusal.KEY][Refusal.PATH]: p[Refusal.KEY] for p in parsed if Refusal.KEY in p}
    assert {path: r[Refusal.CODE] for path, r in refused.items()} == {
        "tags.loaded_at": Refusal.NOT_JSON,
        "metrics.records": Refusal.NON_FINITE,
    }
    reduced = parsed[4]
    contract.validate(reduced)  # the oversize write, kept as an edge without its column lineage
    assert reduced["target"]["id"] == "glue://default/analytics_db.orders_daily"
    assert reduced["tags"]["lineage_lib.omitted"].startswith("columns: the event was ")

    outcome, quarantined = _ingested(lines)
    assert outcome.counts.received == len(lines)
    assert outcome.counts.ignored == 0  # every line is lineage: archived or quarantined
    assert outcome.counts.archived + outcome.counts.quarantined == len(lines)
    archived = [line for obj in outcome.objects if obj.key.startswith("events/") for line in obj.lines]
    assert any(line.startswith(lines[4][:-1]) for line in archived)  # the reduced write: the table's edge
    by_message = {q["message"]: q["reason"] for q in quarantined}
    for line, event in zip(lines, parsed, strict=True):
        if Refusal.KEY in event:  # quarantined with the producer's own reason, word for word
            refusal = event[Refusal.KEY]
            assert by_message[line] == {
                "code": QuarantineCode.PRODUCER_REFUSED,
                "detail": refusal[Refusal.DETAIL],
                "path": refusal[Refusal.PATH],
                "rule": refusal[Refusal.CODE],
            }
    # The read of a dataset id holding a lone surrogate, escaped so that the line is JSON: the
    # contract refuses such text, and the validator says where.
    assert "\\udce9" in lines[5]
    surrogate = by_message[lines[5]]
    assert (surrogate["code"], surrogate["path"]) == (QuarantineCode.SCHEMA_VIOLATION, "source.id")
    assert outcome.counts.archived == 5  # the run, the step, the reduced write and their ends
