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
