"""The lineage graph: name resolution, and closures that match a plain BFS, end on cycles and keep
every job's statement of an edge."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lineage_cli.graph import AmbiguousNameError, Edge, LineageGraph, UnknownNameError, short_name

RAW = "glue://default/raw_db.orders_raw"
CUSTOMERS = "glue://default/raw_db.customers"
DAILY = "glue://default/analytics_db.orders_daily"
REGIONS = "glue://default/analytics_db.revenue_by_region"
LANDING = "s3://landing-bucket/orders/2026"


def edge(source: str, target: str, **fields: Any) -> Edge:
    """An Edge with plausible defaults; ``source``/``target`` are ``dataset`` or ``dataset#column``."""
    source_dataset, _, source_column = source.partition("#")
    target_dataset, _, target_column = target.partition("#")
    row: dict[str, Any] = {
        "edge_kind": "column" if source_column else "dataset",
        "source_dataset": source_dataset,
        "source_column": source_column or None,
        "target_dataset": target_dataset,
        "target_column": target_column or None,
        "transformation": None,
        "pipeline_id": "orders-daily",
        "job_name": "build_orders_daily",
        "step": "build",
        "observed": "execution",
        "first_seen": "2026-11-20T03:00:00Z",
        "last_seen": "2026-11-21T03:00:00Z",
        "last_run_id": "jr_x",
        "last_attempt": 1,
        "last_run_status": "COMPLETE",
        "runs": 2,
        "source_schema_versions": [],
        "target_schema_versions": [],
    }
    return Edge.from_row(row | fields)


def orders_edges() -> list[Edge]:
    """The seed's example: orders_daily.revenue is a rename of orders_raw.order_total; its region comes
    from a join of orders_raw and customers; revenue_by_region aggregates orders_daily."""
    report = {"pipeline_id": "reporting", "job_name": "reporting", "last_run_id": "jr_r", "step": "agg"}
    return [
        edge(LANDING, RAW, pipeline_id="ingest", job_name="ingest", step="load", last_run_id="jr_i"),
        edge(RAW, DAILY),
        edge(RAW, DAILY, observed="platform", pipeline_id="glue", job_name="build_orders_daily", step=""),
        edge(CUSTOMERS, DAILY),
        edge(DAILY, REGIONS, **report),
        edge(f"{RAW}#order_total", f"{DAILY}#revenue", transformation="rename"),
        *(
            edge(source, f"{DAILY}#region", transformation="join")
            for source in (f"{CUSTOMERS}#region", f"{RAW}#customer_id", f"{CUSTOMERS}#customer_id")
        ),
        edge(f"{DAILY}#revenue", f"{REGIONS}#total", transformation="aggregation", **report),
        edge(f"{DAILY}#region", f"{REGIONS}#region", transformation="group_by", **report),
    ]


def graph_of(pairs: Iterable[tuple[str, str]]) -> LineageGraph:
    return LineageGraph.from_edges(edge(source, target) for source, target in pairs)


def test_rows_from_athena_are_read_like_rows_from_the_local_engine() -> None:
    local = edge(RAW, DAILY, last_attempt=2, runs=3, source_schema_versions=["1", "2"])
    athena = edge(RAW, DAILY, last_attempt="2", runs="3", source_schema_versions="[1, 2]", source_column="")
    as_json_text = edge(RAW, DAILY, last_attempt=2, runs=3, source_schema_versions='["1", "2"]')
    assert local == athena == as_json_text
    assert local.source_schema_versions == ("1", "2")
    assert local.target_schema_versions == ()
    assert edge(RAW, DAILY, job_name=None).job == "orders-daily"
    assert edge(RAW, DAILY).job == "orders-daily/build_orders_daily"


def test_short_names_are_the_path_after_the_authority_and_s3_ids_are_typed_whole() -> None:
    assert short_name(DAILY) == "analytics_db.orders_daily"
    assert short_name("redshift://cluster:5439/dev.public.sales") == "dev.public.sales"
    assert short_name(LANDING) == LANDING


def test_names_resolve_as_datasets_or_columns_in_short_or_full_form() -> None:
    graph = LineageGraph.from_edges(orders_edges())
    assert graph.resolve("analytics_db.orders_daily") == DAILY
    assert graph.resolve(DAILY) == DAILY
    assert graph.resolve(LANDING) == LANDING
    assert graph.resolve("analytics_db.orders_daily.revenue") == (DAILY, "revenue")
    assert graph.resolve(f"{DAILY}.revenue") == (DAILY, "revenue")
    with pytest.raises(UnknownNameError):
        graph.resolve(f"{RAW}.region")  # a column of another dataset


def test_a_name_that_reads_as_a_dataset_and_as_a_column_is_the_dataset() -> None:
    graph = LineageGraph.from_edges(
        [
            edge("glue://default/db.t#x", "glue://default/db.u#x"),
            edge("glue://default/db.t.x", "glue://default/db.u"),
        ]
    )
    assert graph.resolve("db.t.x") == "glue://default/db.t.x"
    assert graph.resolve("db.u.x") == ("glue://default/db.u", "x")


def test_column_upstream_goes_through_a_rename_and_a_join() -> None:
    graph = LineageGraph.from_edges(orders_edges())
    total = graph.upstream(graph.resolve("analytics_db.revenue_by_region.total"))
    assert total.nodes == {(REGIONS, "total"): 0, (DAILY, "revenue"): 1, (RAW, "order_total"): 2}
    rename = total.edges[-1]
    assert (rename.source, rename.target) == ((RAW, "order_total"), (DAILY, "revenue"))
    assert [e.transformation for e in rename.edges] == ["rename"]
    region = graph.upstream((DAILY, "region"))
    assert region.nodes == {
        (DAILY, "region"): 0,
        (CUSTOMERS, "region"): 1,
        (CUSTOMERS, "customer_id"): 1,
        (RAW, "customer_id"): 1,
    }
    assert {e.transformation for link in region.edges for e in link.edges} == {"join"}


def test_dataset_downstream_respects_the_depth_limit() -> None:
    graph = LineageGraph.from_edges(orders_edges())
    assert graph.downstream(LANDING).nodes == {LANDING: 0, RAW: 1, DAILY: 2, REGIONS: 3}
    one = graph.downstream(LANDING, 1)
    assert one.nodes == {LANDING: 0, RAW: 1}
    assert [(link.source, link.target) for link in one.edges] == [(LANDING, RAW)]
    two = graph.downstream(LANDING, 2)
    assert two.nodes == {LANDING: 0, RAW: 1, DAILY: 2}
    assert [two.hop(link) for link in two.edges] == [1, 2]
    zero = graph.downstream(LANDING, 0)
    assert (zero.nodes, zero.edges) == ({LANDING: 0}, [])
    with pytest.raises(ValueError, match="depth"):
        graph.downstream(LANDING, -1)


def test_several_statements_of_one_edge_are_all_kept_execution_observed_first() -> None:
    graph = LineageGraph.from_edges(orders_edges())
    closure = graph.upstream(DAILY, 1)
    (from_raw,) = [link for link in closure.edges if link.source == RAW]
    assert [(e.observed, e.pipeline_id) for e in from_raw.edges] == [
        ("execution", "orders-daily"),
        ("platform", "glue"),
    ]
    assert closure.counts == {"nodes": 3, "datasets": 3, "edges": 2, "jobs": 2}


def test_a_graph_from_query_rows_answers_like_one_from_edges() -> None:
    edges = orders_edges()
    rows = [
        {name: getattr(e, name) for name in Edge.__dataclass_fields__}
        | {"last_attempt": str(e.last_attempt), "source_column": e.source_column or ""}  # Athena's forms
        for e in edges
    ]
    from_rows, from_edges = LineageGraph.from_rows(reversed(rows)), LineageGraph.from_edges(edges)
    for node in (RAW, LANDING, (RAW, "order_total"), (REGIONS, "region")):
        for direction in ("upstream", "downstream"):
            expected = getattr(from_edges, direction)(node)
            answer = getattr(from_rows, direction)(node)
            assert answer.nodes == expected.nodes
            assert answer.edges == expected.edges  # the same Edges, made from rows on first listing


def test_cycles_and_self_edges_terminate_and_are_listed() -> None:
    graph = graph_of(
        [("a://x/a", "a://x/a"), ("a://x/a", "a://x/b"), ("a://x/b", "a://x/a"), ("a://x/b", "a://x/c")]
    )
    down = graph.downstream("a://x/a")
    assert down.nodes == {"a://x/a": 0, "a://x/b": 1, "a://x/c": 2}
    pairs = [(link.source, link.target) for link in down.edges]
    assert pairs == [
        ("a://x/a", "a://x/a"),
        ("a://x/a", "a://x/b"),
        ("a://x/b", "a://x/a"),
        ("a://x/b", "a://x/c"),
    ]
    assert graph.upstream("a://x/a").nodes == {"a://x/a": 0, "a://x/b": 1}


def test_an_unknown_name_fails_with_the_closest_names() -> None:
    graph = LineageGraph.from_edges(orders_edges())
    with pytest.raises(UnknownNameError) as raised:
        graph.resolve("raw_db.order_raw")
    assert raised.value.closest[0] == "raw_db.orders_raw"
    assert "did you mean raw_db.orders_raw" in str(raised.value)
    assert "--since" in str(raised.value)
    with pytest.raises(UnknownNameError) as column:
        graph.resolve("analytics_db.orders_daily.revenu")
    assert column.value.closest[0] == "analytics_db.orders_daily.revenue"
    with pytest.raises(UnknownNameError, match="no similar name"):
        graph.resolve("zzzzzzzz")


def test_an_empty_graph_says_the_window_holds_no_edges() -> None:
    with pytest.raises(UnknownNameError, match="no lineage edges in this window") as raised:
        LineageGraph.from_edges([]).resolve("raw_db.orders_raw")
    assert raised.value.closest == []


def test_a_short_name_in_two_catalogs_is_ambiguous_and_labelled_in_full() -> None:
    other = "glue://111122223333/raw_db.orders_raw"
    graph = LineageGraph.from_edges([*orders_edges(), edge(other, DAILY)])
    with pytest.raises(AmbiguousNameError) as raised:
        graph.resolve("raw_db.orders_raw")
    assert raised.value.closest == [other, RAW]
    assert isinstance(raised.value, UnknownNameError)  # the CLI's "not found" exit, with the candidates
    assert graph.resolve(other) == other
    assert graph.label(other) == other
    assert graph.label((RAW, "order_total")) == f"{RAW}.order_total"
    assert graph.label(DAILY) == "analytics_db.orders_daily"


def reference_depths(pairs: Iterable[tuple[int, int]], root: int, depth: int | None) -> dict[int, int]:
    """A plain dict-of-sets BFS, the reference the graph's closures must agree with."""
    adjacency: dict[int, set[int]] = {}
    for source, target in pairs:
        adjacency.setdefault(source, set()).add(target)
    found = {root: 0}
    frontier = [root]
    while frontier:
        nearer = []
        for node in frontier:
            if depth is not None and found[node] >= depth:
                continue
            for near in adjacency.get(node, set()):
                if near not in found:
                    found[near] = found[node] + 1
                    nearer.append(near)
        frontier = nearer
    return found


def node(number: int) -> str:
    return f"glue://default/db.t{number}"


pairs_strategy = st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15)), max_size=60)


@given(pairs=pairs_strategy, root=st.integers(0, 15), depth=st.none() | st.integers(0, 5))
def test_downstream_is_a_plain_bfs_and_upstream_is_downstream_reversed(
    pairs: list[tuple[int, int]], root: int, depth: int | None
) -> None:
    graph = graph_of((node(s), node(t)) for s, t in pairs)
    reversed_graph = graph_of((node(t), node(s)) for s, t in pairs)
    expected = {node(n): d for n, d in reference_depths(pairs, root, depth).items()}
    down = graph.downstream(node(root), depth)
    assert down.nodes == expected
    assert graph.upstream(node(root), depth).nodes == reversed_graph.downstream(node(root), depth).nodes
    short = {n for n, d in expected.items() if depth is None or d < depth}
    assert {(link.source, link.target) for link in down.edges} == {
        (node(s), node(t)) for s, t in pairs if node(s) in short
    }
