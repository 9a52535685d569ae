"""The README's example is real code: it runs and records what it says it records."""

from __future__ import annotations

import re

from lineage_lib.testing import capture
from tests.conftest import REPO


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.DOTALL)


def test_the_readme_example_runs_and_records_the_seed_column_lineage() -> None:
    with capture() as lineage:
        exec(compile(python_blocks()[0], "README.md", "exec"), {})
    assert lineage.types() == ["RUN_START", "STEP_START", "READ", "WRITE", "STEP_COMPLETE", "RUN_COMPLETE"]
    daily, raw = "glue://default/analytics_db.orders_daily", "glue://default/raw_db.orders_raw"
    assert lineage.column_lineage()[(daily, "revenue")] == [(raw, "order_total", "rename")]
    assert lineage.of_type("READ")[0]["source"]["schema"] == {"version": "7"}
