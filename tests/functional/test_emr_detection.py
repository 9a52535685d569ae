"""EMR detection in a real process, steered only by the environment (no patching): the job-flow file
named by LINEAGE_EMR_JOB_FLOW_FILE, the step folder as the working directory, as EMR runs a step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lineage_lib import contract, env
from tests.conftest import REPO
from tests.functional.test_supported_pythons import find_python

JOB = """\
import lineage_lib
with lineage_lib.run() as run, run.step("sessionize") as step:
    step.read(lineage_lib.s3("s3://clicks/raw/"), records=3)
"""


@pytest.mark.parametrize("version", ["3.11", "3.9"])
def test_an_emr_step_is_detected_through_the_job_flow_setting(tmp_path: Path, version: str) -> None:
    python = sys.executable if version == "3.11" else find_python(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine")
    job_flow = tmp_path / "info" / "job-flow.json"
    job_flow.parent.mkdir()
    job_flow.write_text(json.dumps({"jobFlowId": "j-2AXXXXXXGAPLF", "jobFlowCreationInstant": 1}))
    step_dir = tmp_path / "hadoop" / "steps" / "s-1JXXXXXXXXW4N"
    step_dir.mkdir(parents=True)
    (step_dir / "sessionize.py").write_text(JOB)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(env.PREFIX)}
    child_env.update({"PYTHONPATH": str(REPO), env.EMR_JOB_FLOW_FILE_PATH: str(job_flow)})
    done = subprocess.run(
        [python, "sessionize.py"],
        cwd=step_dir,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    for event in events:
        contract.validate(event)
    start = events[0]
    context = start["context"]
    assert (context["platform"], context["cluster_id"], context["step_id"]) == (
        "emr",
        "j-2AXXXXXXGAPLF",
        "s-1JXXXXXXXXW4N",
    )
    assert (start["pipeline_id"], start["run_id"]) == ("sessionize", "j-2AXXXXXXGAPLF/s-1JXXXXXXXXW4N")
