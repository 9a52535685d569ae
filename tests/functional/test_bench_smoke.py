"""The benchmark keeps running (figures are printed, never asserted: see bench/README.md)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_emit_benchmark_runs_and_reports_every_case_and_ratio() -> None:
    done = subprocess.run(
        [sys.executable, "bench/emit_bench.py", "--quick", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["cases"]) == {
        "FLOOR",
        "LINEAGE_EMIT",
        "LINEAGE_API",
        "JSONSCHEMA_EMIT",
        "OPENLINEAGE_API",
    }
    assert all(case["us_per_event"] > 0 for case in report["cases"].values())
    assert {"LINEAGE_EMIT / FLOOR", "LINEAGE_API / OPENLINEAGE_API"} <= set(report["ratios"])


@pytest.mark.slow
def test_validator_benchmark_runs_and_reports_every_case_ratio_and_target() -> None:
    done = subprocess.run(
        [sys.executable, "bench/validator_bench.py", "--quick", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["cases"]) == {"DECODE", "VALIDATOR", "JSONSCHEMA"}
    assert all(case["us_per_event"] > 0 for case in report["cases"].values())
    assert all(case["events_per_s"] > 0 for case in report["cases"].values())
    assert {
        "VALIDATOR / JSONSCHEMA events/s",
        "import HANDLER / BOTO3",
        "DynamoDB requests / event",
        "S3 requests / event",
    } <= set(report["ratios"])
    assert all(ratio["value"] > 0 for ratio in report["ratios"].values())
    assert set(report["targets"]) == {"throughput", "memory", "cold start"}
    assert all(isinstance(target["met"], bool) for target in report["targets"].values())
    batch = report["batch"]
    assert batch["archived"] + batch["quarantined"] + batch["ignored"] == batch["log_events"]
    assert report["memory"]["peak_mib"] >= report["memory"]["before_mib"] > 0
