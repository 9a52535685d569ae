"""A generator that wraps a step or a run, closed early by the code iterating over it (GeneratorExit),
in a real process on 3.11 and 3.9: the step completes (its consumer stopped, it did not fail), the run
is aborted with a reason (from inside the generator, a consumer that stopped on purpose and one that
failed look the same), and nothing records GeneratorExit as a failure with a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.functional.job_support import PYTHONS, by_run, python_for, run_job

JOB = """\
import lineage_lib

RAW = lineage_lib.glue_table("raw_db", "orders_raw")


def rows(run):
    with run.step("read_rows") as step:
        step.read(RAW)
        yield from range(10)


def whole_job():
    with lineage_lib.run("generator-job", run_id="run-in-a-generator") as run, run.step("s"):
        yield from range(10)


with lineage_lib.run("generator-job", run_id="step-in-a-generator") as run:
    for row in rows(run):
        if row == 2:
            break

for row in whole_job():
    if row == 2:
        break

try:
    with lineage_lib.run("generator-job", run_id="consumer-fails") as run:
        for row in rows(run):
            raise ValueError("bad row")
except ValueError:
    pass
"""


@pytest.mark.parametrize("version", PYTHONS)
def test_generators_closed_early_complete_their_steps_and_abort_their_runs(
    tmp_path: Path, version: str
) -> None:
    done = run_job(tmp_path, JOB, python=python_for(version))
    assert done.returncode == 0, done.stderr
    events = done.events()
    assert by_run(events) == {
        "step-in-a-generator": ["RUN_START", "STEP_START", "READ", "STEP_COMPLETE", "RUN_COMPLETE"],
        "run-in-a-generator": ["RUN_START", "STEP_START", "STEP_COMPLETE", "RUN_ABORT"],
        "consumer-fails": ["RUN_START", "STEP_START", "READ", "STEP_COMPLETE", "RUN_FAIL"],
    }
    assert not any("GeneratorExit" in str(e.get("error")) for e in events if e["event_type"] != "RUN_ABORT")
    (abort,) = [e for e in events if e["event_type"] == "RUN_ABORT"]
    assert "its generator was closed before the run finished" in abort["error"]["message"]
    (fail,) = [e for e in events if e["event_type"] == "RUN_FAIL"]
    assert (fail["error"]["type"], fail["error"]["message"]) == ("ValueError", "bad row")
