"""A closure as text, JSON, Mermaid, Graphviz dot or Markdown (the change review: lineage_cli.impact).

Every output is sorted (nodes by hop then name, edges by hop then source then target, the Edges of one
pair execution-observed first then by job), so the same archive always prints the same answer.

The JSON form (``format: "lineage-closure/2"``; within a version, fields are only ever added):
  root, direction ('upstream' | 'downstream'), depth_limit (null: none),
  counts {nodes, datasets, edges, jobs}: of what the document lists (nodes, the root included; the
    distinct datasets of those nodes; edges; the distinct jobs stating them),
  nodes [{dataset, column (null for a dataset), name (short form), depth}] (the root at depth 0),
  edges [{hop, source {dataset, column}, target {dataset, column},
          via [every field of one queries/lineage_edges.sql row: job, last run, observer, ...]}]
Edges always read in data-flow order (source -> target), whatever the direction asked; a self-edge (a
job reading and writing one dataset) has the hop of the edges that reached its node (the root's: 1).
Version 1 counted nodes and datasets without the root, while ``nodes`` listed it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import Any, Final

from lineage_cli.graph import Closure, Edge, Link, Node, dataset_of, gc_paused

FORMATS: Final = ("text", "json", "mermaid", "dot", "markdown")
JSON_FORMAT: Final = "lineage-closure/2"
PROBLEMS: Final = frozenset({"FAILED", "INCOMPLETE", "ABORTED"})  # statuses a reviewer must see
# GitHub renders a Mermaid block of up to 500 edges and 50,000 characters: the Markdown forms keep under
DIAGRAM_NODES: Final = 100
DIAGRAM_EDGES: Final = 300
DIAGRAM_CHARS: Final = 40_000
_MERMAID_ESCAPES: Final = str.maketrans(
    {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "[": "#91;", "]": "#93;", "|": "#124;"}
    | {"{": "#123;", "}": "#125;", "`": "#96;", "\n": " ", "\r": " "}
)


def render(closure: Closure, fmt: str) -> str:
    renderers: dict[str, Callable[[Closure], str]] = {
        "text": text,
        "json": as_json,
        "mermaid": lambda c: mermaid(c)[0],
        "dot": dot,
        "markdown": markdown,
    }
    if fmt not in renderers:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    with gc_paused():
        return renderers[fmt](closure)


def describe(edge: Edge) -> str:
    """The facts of one Edge: transformation, job, last run, schema versions, observer."""
    parts = [edge.transformation] if edge.transformation else []
    parts.append(f"job {edge.job}" + (f", step {edge.step}" if edge.step else ""))
    parts.append(f"last run {edge.last_run_id} attempt {edge.last_attempt} {edge.last_run_status}")
    if edge.source_schema_versions or edge.target_schema_versions:
        source = ",".join(edge.source_schema_versions) or "?"
        parts.append(f"schema {source} -> {','.join(edge.target_schema_versions) or '?'}")
    parts.append(f"{edge.observed}-observed")
    return "; ".join(parts)


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'s' * (number != 1)}"


def _title(closure: Closure) -> str:
    within = f" within {_count(closure.depth, 'hop')}" if closure.depth is not None else ""
    return f"{closure.direction} of {closure.label(closure.root)}{within}"


def _summary(closure: Closure) -> str:
    counts = closure.counts
    nodes, datasets = closure.reached()
    if isinstance(closure.root, str):
        found = _count(nodes, "dataset")
    else:
        found = f"{_count(nodes, 'column')} in {_count(datasets, 'dataset')}"
    return f"{found}, {_count(counts['edges'], 'edge')}, {_count(counts['jobs'], 'job')}"


# Above this many edges, text shows how each node was reached (one line a node), not every edge.
TEXT_EDGES_IN_FULL: Final = 5_000


def text(closure: Closure) -> str:
    """One line per Edge, grouped by hop: ``target <- source (facts)`` upstream, ``source -> target`` down.

    A large closure (over TEXT_EDGES_IN_FULL edges) is shown as its BFS tree instead: one line per node
    reached, by the edge that reached it first, and a count of the others (``--format json`` lists
    every edge)."""
    count = closure.link_count()
    if count > TEXT_EDGES_IN_FULL:
        return _tree_text(closure, count)
    if not closure.edges:
        return f"nothing {_title(closure)}"
    lines = [f"{_title(closure)}: {_summary(closure)}"]
    hop = 0
    for link in closure.edges:
        if closure.hop(link) != hop:
            hop = closure.hop(link)
            lines.append(f"hop {hop}")
        source, target = closure.label(link.source), closure.label(link.target)
        arrow = f"{source} -> {target}" if closure.direction == "downstream" else f"{target} <- {source}"
        lines.extend(f"  {arrow}  ({describe(edge)})" for edge in link.edges)
    return "\n".join(lines)


def _tree_text(closure: Closure, count: int) -> str:
    reached = len(closure.nodes) - 1
    lines = [
        f"{_title(closure)}: {reached} {'datasets' if isinstance(closure.root, str) else 'columns'}, "
        f"{count} edges; each shown by the edge that reached it first (--format json lists every edge)"
    ]
    hop = 0
    downstream = closure.direction == "downstream"
    with gc_paused():
        for link in closure.tree():
            if closure.hop(link) != hop:
                hop = closure.hop(link)
                lines.append(f"hop {hop}")
            source, target = closure.label(link.source), closure.label(link.target)
            arrow = f"{source} -> {target}" if downstream else f"{target} <- {source}"
            more = f"; +{len(link.edges) - 1} more" if len(link.edges) > 1 else ""
            lines.append(f"  {arrow}  ({describe(link.edges[0])}{more})")
    return "\n".join(lines)


EDGE_FIELDS: Final = tuple(field.name for field in fields(Edge))


def _node(node: Node) -> dict[str, Any]:
    return {"dataset": dataset_of(node), "column": None if isinstance(node, str) else node[1]}


def _json_list(items: Iterable[Any]) -> str:
    """One item a line: readable, greppable, and each line from the C encoder (indent= is pure Python)."""
    lines = ",\n    ".join(map(json.dumps, items))
    return f"[\n    {lines}\n  ]" if lines else "[]"


def as_json(closure: Closure) -> str:
    head = {
        "format": JSON_FORMAT,
        "root": {**_node(closure.root), "name": closure.label(closure.root)},
        "direction": closure.direction,
        "depth_limit": closure.depth,
        "counts": closure.counts,
    }
    nodes = (
        {**_node(node), "name": closure.label(node), "depth": depth} for node, depth in _sorted_nodes(closure)
    )
    edges = (
        {
            "hop": closure.hop(link),
            "source": _node(link.source),
            "target": _node(link.target),
            "via": [{name: getattr(edge, name) for name in EDGE_FIELDS} for edge in link.edges],
        }
        for link in closure.edges
    )
    document = json.dumps(head, indent=2)[:-2]  # without its closing "\n}"
    return f'{document},\n  "nodes": {_json_list(nodes)},\n  "edges": {_json_list(edges)}\n}}'


def _sorted_nodes(closure: Closure) -> list[tuple[Node, int]]:
    return sorted(closure.nodes.items(), key=lambda item: (item[1], closure.label(item[0]), item[0]))


def _jobs_label(link: Link) -> str:
    jobs = sorted({(f"{e.transformation}: " if e.transformation else "") + e.job for e in link.edges})
    return ", ".join(jobs) if len(jobs) <= 3 else f"{', '.join(jobs[:2])} +{len(jobs) - 2} more"


def _troubled(closure: Closure) -> set[Node]:
    """Nodes whose latest write (an edge into them) ran FAILED, INCOMPLETE or ABORTED."""
    return {link.target for link in closure.edges if any(e.last_run_status in PROBLEMS for e in link.edges)}


def mermaid(
    closure: Closure, max_nodes: int | None = None, max_edges: int | None = None, max_chars: int | None = None
) -> tuple[str, int, int]:
    """``graph LR``: node ids n0.. in (hop, name) order, labels the short names; dotted arrows for
    edges only platform-observed. Returns the text and how many nodes and edges the caps left out."""
    ranked = _sorted_nodes(closure)
    kept = ranked if max_nodes is None else ranked[:max_nodes]
    ids = {node: f"n{index}" for index, (node, _) in enumerate(kept)}
    links = [link for link in closure.edges if link.source in ids and link.target in ids]
    tail = ["  classDef root stroke-width:3px", f"  class {ids[closure.root]} root"]
    troubled = sorted(ids[node] for node in _troubled(closure) if node in ids)
    if troubled:
        tail += ["  classDef problem fill:#fdd,stroke:#c00", f"  class {','.join(troubled)} problem"]
    lines = ["graph LR", *(f'  {ids[node]}["{_mermaid_text(closure.label(node))}"]' for node, _ in kept)]
    size, drawn = sum(len(line) + 1 for line in (*lines, *tail)), 0
    for link in links[:max_edges]:
        arrow = "-.->" if all(e.observed == "platform" for e in link.edges) else "-->"
        line = f'  {ids[link.source]} {arrow}|"{_mermaid_text(_jobs_label(link))}"| {ids[link.target]}'
        size += len(line) + 1
        if max_chars is not None and size > max_chars:
            break
        lines.append(line)
        drawn += 1
    return "\n".join([*lines, *tail]), len(ranked) - len(kept), len(closure.edges) - drawn


def _mermaid_text(value: str) -> str:
    return value.translate(_MERMAID_ESCAPES)


def _dot_text(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(closure: Closure) -> str:
    """Graphviz: ``dot -Tsvg``. Dashed edges are only platform-observed; red nodes' last write failed."""
    ranked = _sorted_nodes(closure)
    ids = {node: f"n{index}" for index, (node, _) in enumerate(ranked)}
    troubled = _troubled(closure)
    lines = ["digraph lineage {", "  rankdir=LR;", "  labelloc=t;", f"  label={_dot_text(_title(closure))};"]
    lines.append("  node [shape=box];")
    for node, _ in ranked:
        style = ", penwidth=3" if node == closure.root else ""
        style += ', color="#cc0000"' if node in troubled else ""
        lines.append(f"  {ids[node]} [label={_dot_text(closure.label(node))}{style}];")
    for link in closure.edges:
        style = ", style=dashed" if all(e.observed == "platform" for e in link.edges) else ""
        lines.append(
            f"  {ids[link.source]} -> {ids[link.target]} [label={_dot_text(_jobs_label(link))}{style}];"
        )
    lines.append("}")
    return "\n".join(lines)


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _name(value: str) -> str:
    return f"`{_cell(value)}`" if "`" not in value else _cell(value)


def _status(status: str) -> str:
    return f"**{status}**" if status in PROBLEMS else status


def _diagram(closure: Closure, max_nodes: int, max_edges: int) -> list[str]:
    diagram, left_nodes, left_edges = mermaid(closure, max_nodes, max_edges, DIAGRAM_CHARS)
    lines = ["```mermaid", diagram, "```"]
    if left_nodes or left_edges:
        lines.append(
            f"\n_The diagram leaves out {left_nodes} nodes and {left_edges} edges (the farthest) to stay "
            "within what GitHub renders; the table lists them all._"
        )
    return lines


def markdown(closure: Closure) -> str:
    """A heading, the summary, a table of every Edge, and the Mermaid diagram (capped for GitHub)."""
    lines = [f"### {_title(closure).capitalize()}", ""]
    if not closure.edges:
        return "\n".join([*lines, f"Nothing {_title(closure)}."])
    lines += [
        f"{_summary(closure)}.",
        "",
        "| Hop | Source | Target | Transformation | Job | Step | Last run | Status | Observed | Schemas |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for link in closure.edges:
        source, target = _name(closure.label(link.source)), _name(closure.label(link.target))
        for e in link.edges:
            versions = (
                f"{','.join(e.source_schema_versions) or '?'} -> {','.join(e.target_schema_versions) or '?'}"
            )
            versions = versions if e.source_schema_versions or e.target_schema_versions else ""
            cells = (e.transformation or "", e.job, e.step, f"{e.last_run_id} attempt {e.last_attempt}")
            lines.append(
                f"| {closure.hop(link)} | {source} | {target} | {' | '.join(_cell(c) for c in cells)} | "
                f"{_status(e.last_run_status)} | {e.observed} | {_cell(versions)} |"
            )
    return "\n".join([*lines, "", *_diagram(closure, DIAGRAM_NODES, DIAGRAM_EDGES)])
