"""How ``lineage upstream|downstream`` print an answer (--format text|json|mermaid|dot|markdown) and the
``lineage impact`` report, on the archive with known answers (tests/archive_support.py): each edge's
job, last run and status, and whether the job itself or the platform (here DataZone) observed it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lineage_cli.exits import EXIT_FINDINGS, EXIT_OK
from lineage_lib import Dataset
from tests import archive_support as known
from tests.archive_support import DAILY, LANDING, RAW, REPORT, SALES_DAILY, SALES_RAW, SCD
from tests.functional.test_cli_questions import ORDERS_JOB, closure, ds, lineage, via

# upstream of analytics_db.sales_daily: lost-job (never ended by its own events; Glue said FAILED) read
# raw_db.sales_raw, which only the platform saw glue-sales write from the landing bucket (DataZone)
SALES_QUESTION = ("upstream", "analytics_db.sales_daily")
LOST = "job lost-job/lost_job, step load; last run lost-1 attempt 1 INCOMPLETE; execution-observed"
GAP = "job glue-sales/sales_etl, step sales_etl; last run jr_sales1 attempt 1 INCOMPLETE; platform-observed"
DIAGRAM = f"""graph LR
  n0["analytics_db.sales_daily"]
  n1["raw_db.sales_raw"]
  n2["{LANDING.id}"]
  n1 -->|"lost-job/lost_job"| n0
  n2 -.->|"glue-sales/sales_etl"| n1
  classDef root stroke-width:3px
  class n0 root
  classDef problem fill:#fdd,stroke:#c00
  class n0,n1 problem"""
EXPECTED = {
    "text": f"""upstream of analytics_db.sales_daily: 2 datasets, 2 edges, 2 jobs
hop 1
  analytics_db.sales_daily <- raw_db.sales_raw  ({LOST})
hop 2
  raw_db.sales_raw <- {LANDING.id}  ({GAP})""",
    "mermaid": DIAGRAM,
    "dot": f"""digraph lineage {{
  rankdir=LR;
  labelloc=t;
  label="upstream of analytics_db.sales_daily";
  node [shape=box];
  n0 [label="analytics_db.sales_daily", penwidth=3, color="#cc0000"];
  n1 [label="raw_db.sales_raw", color="#cc0000"];
  n2 [label="{LANDING.id}"];
  n1 -> n0 [label="lost-job/lost_job"];
  n2 -> n1 [label="glue-sales/sales_etl", style=dashed];
}}""",
    "markdown": f"""### Upstream of analytics_db.sales_daily

2 datasets, 2 edges, 2 jobs.

| Hop | Source | Target | Transformation | Job | Step | Last run | Status | Observed | Schemas |
|---|---|---|---|---|---|---|---|---|---|
| 1 | `raw_db.sales_raw` | `analytics_db.sales_daily` |  | lost-job/lost_job | load | lost-1 attempt 1 \
| **INCOMPLETE** | execution |  |
| 2 | `{LANDING.id}` | `raw_db.sales_raw` |  | glue-sales/sales_etl | sales_etl | jr_sales1 attempt 1 \
| **INCOMPLETE** | platform |  |

```mermaid
{DIAGRAM}
```""",
}


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_each_format_prints_the_answer_exactly(
    fmt: str, archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = lineage(capsys, *SALES_QUESTION, "--archive", str(archive), "--format", fmt)
    assert (code, err) == (EXIT_OK, "")
    assert out == EXPECTED[fmt] + "\n"
    assert out.startswith({"mermaid": "graph LR\n", "dot": "digraph "}.get(fmt, ""))
    if fmt == "text":  # the default
        assert lineage(capsys, *SALES_QUESTION, "--archive", str(archive))[1] == out


def test_json_has_root_nodes_and_edges_with_each_observer(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = closure(capsys, archive, *SALES_QUESTION)
    assert answer["format"] == "lineage-closure/2"
    assert answer["root"] == {"dataset": SALES_DAILY.id, "column": None, "name": "analytics_db.sales_daily"}
    assert [(n["name"], n["depth"]) for n in answer["nodes"]] == [
        ("analytics_db.sales_daily", 0),
        ("raw_db.sales_raw", 1),
        (LANDING.id, 2),
    ]
    observed = {
        pair: [(v["pipeline_id"], v["observed"]) for v in stated] for pair, stated in via(answer).items()
    }
    assert observed == {
        (ds(SALES_RAW), ds(SALES_DAILY)): [("lost-job", "execution")],
        (ds(LANDING), ds(SALES_RAW)): [("glue-sales", "platform")],  # tagged observed_by=datazone
    }


@pytest.mark.parametrize(
    ("question", "edge", "last_run"),
    [
        (("downstream", "analytics_db.orders_daily"), (DAILY, REPORT), ("exp-1", 1, "ABORTED")),
        (  # between run-2's failed first attempt and its retry
            ("upstream", "analytics_db.orders_daily", "--as-of", "2026-11-20T04:30:00+02:00"),
            (RAW, DAILY),
            ("run-2", 1, "FAILED"),
        ),
        (("upstream", "analytics_db.orders_daily"), (RAW, DAILY), ("run-2", 2, "COMPLETE")),
        (("upstream", "analytics_db.sales_daily"), (SALES_RAW, SALES_DAILY), ("lost-1", 1, "INCOMPLETE")),
        (("upstream", "raw_db.sales_raw"), (LANDING, SALES_RAW), ("jr_sales1", 1, "INCOMPLETE")),
        (("upstream", "analytics_db.customers_scd"), (SCD, SCD), ("scd-1", 1, "RUNNING")),
    ],
)
def test_each_edge_shows_the_last_run_that_exercised_it_and_its_status(
    question: tuple[str, ...],
    edge: tuple[Dataset, Dataset],
    last_run: tuple[str, int, str],
    archive: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    [stated] = via(closure(capsys, archive, *question))[ds(edge[0]), ds(edge[1])]
    assert (stated["last_run_id"], stated["last_attempt"], stated["last_run_status"]) == last_run
    run_id, attempt, status = last_run
    text = lineage(capsys, *question, "--archive", str(archive))[1]
    assert f"last run {run_id} attempt {attempt} {status};" in text
    markdown = lineage(capsys, *question, "--archive", str(archive), "--format", "markdown")[1]
    problem = status in {"FAILED", "ABORTED", "INCOMPLETE"}
    assert f"| {run_id} attempt {attempt} | {f'**{status}**' if problem else status} |" in markdown


def impact_rows(report: str) -> list[tuple[str, ...]]:
    """The cells of the impact table's rows (after its header and separator)."""
    lines = [line for line in report.splitlines() if line.startswith("| ")]
    return [tuple(cell.strip() for cell in line.strip("|").split(" | ")) for line in lines[1:]]


def test_impact_is_markdown_with_a_mermaid_diagram_and_gates_ci(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = ("--archive", str(archive), "--fail-if-downstream")
    code, report, err = lineage(capsys, "impact", "raw_db.orders_raw", *gate)
    assert (code, err) == (EXIT_FINDINGS, "")
    assert report.startswith("## Impact of changing `raw_db.orders_raw`\n\n**2 datasets, 2 jobs downstream**")
    assert "1 of them last ran FAILED, ABORTED or INCOMPLETE" in report
    assert impact_rows(report) == [
        (
            "`analytics_db.orders_daily`",
            "1",
            ORDERS_JOB,
            "aggregate",
            "run-2 attempt 2",
            "COMPLETE",
            "execution",
        ),
        (
            f"`{REPORT.id}`",
            "2",
            known.EXPORT_PIPELINE,
            "export",
            "exp-1 attempt 1",
            "**ABORTED**",
            "execution",
        ),
    ]
    diagram = report.split("\n```mermaid\n", 1)[1]
    assert diagram.startswith("graph LR\n")
    assert diagram.endswith("\n```\n")
    assert lineage(capsys, "impact", "raw_db.orders_raw", "--archive", str(archive))[0] == EXIT_OK
    code, report, _ = lineage(capsys, "impact", REPORT.id, *gate)  # nothing reads the export's output
    assert (code, report) == (
        EXIT_OK,
        f"## Impact of changing `{REPORT.id}`\n\n"
        f"Nothing is downstream of `{REPORT.id}` in the lineage archive.\n",
    )


def test_impact_shows_the_failed_attempt_as_it_stood(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report, _ = lineage(
        capsys, "impact", "raw_db.orders_raw", "--archive", str(archive), "--as-of", "2026-11-20T02:30:00Z"
    )
    assert code == EXIT_OK
    assert impact_rows(report) == [
        (
            "`analytics_db.orders_daily`",
            "1",
            ORDERS_JOB,
            "aggregate",
            "run-2 attempt 1",
            "**FAILED**",
            "execution",
        )
    ]
