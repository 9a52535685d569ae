"""Closures rendered as text, JSON, Mermaid, dot and Markdown, and the change-review report."""

from __future__ import annotations

import json
import re
from dataclasses import fields

import pytest

from lineage_cli.graph import Edge, LineageGraph
from lineage_cli.impact import impact_markdown
from lineage_cli.render import as_json, mermaid, render
from tests.unit.test_graph import DAILY, LANDING, RAW, REGIONS, edge, graph_of, orders_edges

GRAPH = LineageGraph.from_edges(orders_edges())
MERMAID_NODE = re.compile(r'^  (n\d+)\["([^"\[\]<>|{}`]*)"\]$')
MERMAID_EDGE = re.compile(r'^  (n\d+) (-->|-\.->)\|"([^"\[\]<>|{}`]*)"\| (n\d+)$')
DOT_STRING = r'"(?:[^"\\\n]|\\.)*"'
DOT_NODE = re.compile(rf"^  (n\d+) \[label={DOT_STRING}(, [a-z]+=(?:\d+|{DOT_STRING}))*\];$")
DOT_EDGE = re.compile(rf"^  (n\d+) -> (n\d+) \[label={DOT_STRING}(, style=dashed)?\];$")


def test_text_upstream_shows_each_edge_with_its_job_last_run_and_observer() -> None:
    output = render(GRAPH.upstream(GRAPH.resolve("analytics_db.revenue_by_region.total")), "text")
    assert output.splitlines() == [
        "upstream of analytics_db.revenue_by_region.total: 2 columns in 2 datasets, 2 edges, 2 jobs",
        "hop 1",
        "  analytics_db.revenue_by_region.total <- analytics_db.orders_daily.revenue  (aggregation; "
        "job reporting, step agg; last run jr_r attempt 1 COMPLETE; execution-observed)",
        "hop 2",
        "  analytics_db.orders_daily.revenue <- raw_db.orders_raw.order_total  (rename; job "
        "orders-daily/build_orders_daily, step build; last run jr_x attempt 1 COMPLETE; execution-observed)",
    ]


def test_text_downstream_lists_every_statement_by_hop_with_schema_versions() -> None:
    graph = LineageGraph.from_edges(
        [*orders_edges(), edge(RAW, DAILY, pipeline_id="backfill", source_schema_versions=["1", "2"])]
    )
    lines = render(graph.downstream(RAW, 1), "text").splitlines()
    assert lines[0] == "downstream of raw_db.orders_raw within 1 hop: 1 dataset, 1 edge, 3 jobs"
    assert lines[1] == "hop 1"
    assert [line.split("(")[1].split(";")[0] for line in lines[2:]] == [
        "job backfill/build_orders_daily, step build",
        "job orders-daily/build_orders_daily, step build",
        "job glue/build_orders_daily",
    ]
    assert "schema 1,2 -> ?; execution-observed" in lines[2]
    assert lines[-1].endswith("platform-observed)")


def test_text_says_when_nothing_is_found() -> None:
    assert render(GRAPH.downstream(REGIONS), "text") == "nothing downstream of analytics_db.revenue_by_region"


def test_json_round_trips_with_every_edge_field() -> None:
    closure = GRAPH.downstream(LANDING)
    document = json.loads(render(closure, "json"))
    assert document["format"] == "lineage-closure/2"
    assert document["root"] == {"dataset": LANDING, "column": None, "name": LANDING}
    assert (document["direction"], document["depth_limit"]) == ("downstream", None)
    assert document["counts"] == {"nodes": 4, "datasets": 4, "edges": 3, "jobs": 4}
    assert (document["counts"]["nodes"], document["counts"]["edges"]) == (
        len(document["nodes"]),
        len(document["edges"]),
    )
    assert [(n["name"], n["depth"]) for n in document["nodes"]] == [
        (LANDING, 0),
        ("raw_db.orders_raw", 1),
        ("analytics_db.orders_daily", 2),
        ("analytics_db.revenue_by_region", 3),
    ]
    first = document["edges"][0]
    assert (first["hop"], first["source"], first["target"]) == (
        1,
        {"dataset": LANDING, "column": None},
        {"dataset": RAW, "column": None},
    )
    assert set(first["via"][0]) == {f.name for f in fields(Edge)}
    stated = [Edge.from_row(via) for e in document["edges"] for via in e["via"]]
    assert stated == [e for link in closure.edges for e in link.edges]


def test_json_of_a_column_closure_names_the_columns() -> None:
    document = json.loads(as_json(GRAPH.upstream((DAILY, "revenue"))))
    assert document["nodes"][1] == {
        "dataset": RAW,
        "column": "order_total",
        "name": "raw_db.orders_raw.order_total",
        "depth": 1,
    }


def test_mermaid_ids_are_unique_and_labels_escaped() -> None:
    weird = 's3://bucket/we"ird[1]|<x>{y}`'  # and '#' in a job name
    graph = LineageGraph.from_edges([*orders_edges(), edge(weird, RAW, pipeline_id="p#1", job_name='j"[|]')])
    text = render(graph.downstream(weird), "mermaid")
    lines = text.splitlines()
    assert lines[0] == "graph LR"
    nodes = [MERMAID_NODE.match(line) for line in lines if "[" in line and "|" not in line]
    assert all(nodes), text
    ids = [match.group(1) for match in nodes if match]
    assert len(ids) == len(set(ids)) == 4
    assert '["s3://bucket/we#quot;ird#91;1#93;#124;#lt;x#gt;#123;y#125;#96;"]' in text
    assert '-->|"p#35;1/j#quot;#91;#124;#93;"|' in text
    edges = [MERMAID_EDGE.match(line) for line in lines if "->" in line]
    assert len(edges) == 3
    assert all(edges), text
    assert all(m.group(1) in ids and m.group(4) in ids for m in edges if m)
    assert "  class n0 root" in lines
    assert '-.->|"glue/build_orders_daily, orders-daily/build_orders_daily"|' not in text  # one is execution
    platform_only = LineageGraph.from_edges([edge(RAW, DAILY, observed="platform")])
    assert "-.->" in render(platform_only.downstream(RAW), "mermaid")


def test_dot_is_valid_graphviz_at_the_regex_level() -> None:
    graph = LineageGraph.from_edges([*orders_edges(), edge('s3://b/back\\slash"quote', RAW)])
    text = render(graph.downstream('s3://b/back\\slash"quote'), "dot")
    title = r'"downstream of s3://b/back\\slash\"quote"'
    lines = text.splitlines()
    assert lines[:4] == ["digraph lineage {", "  rankdir=LR;", "  labelloc=t;", f"  label={title};"]
    assert lines[4] == "  node [shape=box];"
    assert lines[-1] == "}"
    assert text.count("{") == text.count("}") == 1
    declared = {m.group(1) for line in lines if (m := DOT_NODE.match(line))}
    edges = [DOT_EDGE.match(line) for line in lines if " -> " in line]
    assert len(declared) == 4
    assert len(edges) == 3
    assert all(m and {m.group(1), m.group(2)} <= declared for m in edges), text
    assert len(lines) == 5 + len(declared) + len(edges) + 1
    assert r'label="s3://b/back\\slash\"quote", penwidth=3' in text
    assert "style=dashed" not in text  # every edge here has an execution-observed statement


def test_markdown_has_a_row_per_statement_and_the_diagram() -> None:
    text = render(GRAPH.downstream(RAW), "markdown")
    lines = text.splitlines()
    assert lines[0] == "### Downstream of raw_db.orders_raw"
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| Hop")]
    assert len(rows) == 3  # orders_daily twice (execution and platform), revenue_by_region once
    assert rows[0].startswith(
        "| 1 | `raw_db.orders_raw` | `analytics_db.orders_daily` |  | orders-daily/build"
    )
    assert "```mermaid\ngraph LR\n" in text
    assert text.endswith("```")


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text, json"):
        render(GRAPH.downstream(RAW), "yaml")


def test_impact_lists_every_downstream_dataset_with_its_jobs_last_runs_and_problems() -> None:
    failed = {"last_run_id": "jr_f", "last_seen": "2026-11-22T03:00:00Z", "last_run_status": "FAILED"}
    report = {"pipeline_id": "reporting", "job_name": "reporting", "step": "agg"}
    graph = LineageGraph.from_edges([*orders_edges(), edge(DAILY, REGIONS, **report, **failed)])
    text = impact_markdown(graph.downstream(RAW))
    lines = text.splitlines()
    assert lines[0] == "## Impact of changing `raw_db.orders_raw`"
    assert lines[2] == "**2 datasets, 3 jobs downstream**."
    assert lines[3] == "1 of them last ran FAILED, ABORTED or INCOMPLETE: check them first."
    table = [line for line in lines if line.startswith("| `")]
    assert table == [
        "| `analytics_db.orders_daily` | 1 | glue/build_orders_daily |  | jr_x attempt 1 | COMPLETE "
        "| platform |",
        "| `analytics_db.orders_daily` | 1 | orders-daily/build_orders_daily | build | jr_x attempt 1 "
        "| COMPLETE | execution |",
        "| `analytics_db.revenue_by_region` | 2 | reporting | agg | jr_f attempt 1 | **FAILED** "
        "| execution |",
    ]
    assert "```mermaid\ngraph LR\n" in text
    assert "classDef problem" in text


def test_impact_of_a_leaf_says_nothing_is_downstream() -> None:
    text = impact_markdown(GRAPH.downstream(REGIONS, 2))
    assert text.endswith(
        "Nothing is downstream of `analytics_db.revenue_by_region` within 2 hops in the lineage archive."
    )


def test_impact_caps_the_diagram_for_github_and_says_what_it_left_out() -> None:
    graph = graph_of([("glue://default/db.root", f"glue://default/db.leaf{i:03}") for i in range(150)])
    text = impact_markdown(graph.downstream("glue://default/db.root"))
    assert "**150 datasets, 1 job downstream**." in text
    assert sum(line.startswith("| `db.leaf") for line in text.splitlines()) == 150
    diagram = text.split("```mermaid\n")[1].split("```")[0]
    assert sum(bool(MERMAID_NODE.match(line)) for line in diagram.splitlines()) == 100
    assert "leaves out 51 nodes and 51 edges" in text
    _, left_nodes, left_edges = mermaid(graph.downstream("glue://default/db.root"), 200, 20)
    assert (left_nodes, left_edges) == (0, 130)
    small, _, left_edges = mermaid(graph.downstream("glue://default/db.root"), None, None, 6000)
    assert len(small) <= 6000
    assert 0 < left_edges == 150 - small.count(" -->|")
