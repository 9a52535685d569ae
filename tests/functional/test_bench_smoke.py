"""The benchmark keeps running (figures are printed, never asserted: see bench/README.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import REPO


def quick_report(script: str) -> dict[str, Any]:
    """A benchmark's --quick run, as JSON; it must exit 0 whatever its figures."""
    done = subprocess.run(
        [sys.executable, f"bench/{script}", "--quick", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.mark.slow
def test_emit_benchmark_runs_and_reports_every_case_and_ratio() -> None:
    report = quick_report("emit_bench.py")
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
    report = quick_report("validator_bench.py")
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


@pytest.mark.slow
def test_lineage_benchmark_runs_and_reports_its_figures_and_targets() -> None:
    report = quick_report("lineage_bench.py")
    assert report["archive"]["events"] == 20_000
    assert report["cold_cli"]["seconds"] > 0
    assert report["cold_cli"]["nodes"] > 0
    assert {"LINEAGE_GRAPH", "PLAIN_DICT"} <= set(report["closure"]["seconds"])
    assert (
        report["closure"]["closure_nodes"]["LINEAGE_GRAPH"]
        == report["closure"]["closure_nodes"]["PLAIN_DICT"]
    )
    assert report["closure"]["closure_nodes"]["LINEAGE_GRAPH"] == report["cold_cli"]["nodes"] + 1
    pruning = report["pruning"]
    assert 0 < pruning["one_day_one_pipeline"]["bytes"] <= pruning["all"]["bytes"]
    assert set(report["targets"]) == {"cold", "closure"}
    assert all(isinstance(target["met"], bool) for target in report["targets"].values())
