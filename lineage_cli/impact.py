"""``lineage impact``'s change review: every downstream dataset (or column) with the jobs that write
it and their last run, problems in bold, runs still going flagged, and a Mermaid diagram capped to
render on GitHub (lineage_cli.render's Markdown pieces)."""

from __future__ import annotations

from typing import Final

from lineage_cli.graph import Closure, Edge, Node, dataset_of, gc_paused
from lineage_cli.render import (
    DIAGRAM_EDGES,
    DIAGRAM_NODES,
    PROBLEMS,
    _cell,
    _count,
    _diagram,
    _name,
    _status,
)

RUNNING: Final = "RUNNING"  # a run not ended yet: what it writes may still change


def impact_markdown(closure: Closure, max_nodes: int = DIAGRAM_NODES, max_edges: int = DIAGRAM_EDGES) -> str:
    """The change review for a pull request: every downstream dataset (or column) with the jobs that
    write it and their last run, problems in bold, and a Mermaid diagram capped to render on GitHub."""
    with gc_paused():
        return _impact(closure, max_nodes, max_edges)


def _impact(closure: Closure, max_nodes: int, max_edges: int) -> str:
    root = closure.label(closure.root)
    kind = "Dataset" if isinstance(closure.root, str) else "Column"
    lines = [f"## Impact of changing {_name(root)}", ""]
    latest: dict[tuple[Node, str], list[Edge]] = {}
    for link in closure.edges:
        if link.target != closure.root:
            for edge in link.edges:
                latest.setdefault((link.target, edge.job), []).append(edge)
    if not latest:
        within = f" within {_count(closure.depth, 'hop')}" if closure.depth is not None else ""
        return "\n".join([*lines, f"Nothing is downstream of {_name(root)}{within} in the lineage archive."])
    rows = []
    for (node, job), edges in latest.items():
        last = max(edges, key=lambda e: (e.last_seen, e.last_attempt, e.last_run_id))
        steps = ", ".join(sorted({e.step for e in edges if e.step}))
        observed = ", ".join(sorted({e.observed for e in edges}))
        rows.append((closure.nodes[node], closure.label(node), job, steps, last, observed))
    rows.sort(key=lambda row: row[:3])
    datasets = {dataset_of(node) for node, _ in latest}
    jobs = {job for _, job in latest}
    troubled = sorted({row[1] for row in rows if row[4].last_run_status in PROBLEMS})
    within = f" (within {_count(closure.depth, 'hop')})" if closure.depth is not None else ""
    lines.append(f"**{_count(len(datasets), 'dataset')}, {_count(len(jobs), 'job')} downstream**{within}.")
    if troubled:
        lines.append(f"{len(troubled)} of them last ran FAILED, ABORTED or INCOMPLETE: check them first.")
    running = sorted({row[1] for row in rows if row[4].last_run_status == RUNNING})
    if running:
        one = len(running) == 1
        lines.append(
            f"{len(running)} of them {'is' if one else 'are'} being written by a run still RUNNING "
            f"({', '.join(_name(name) for name in running)}): what {'it holds' if one else 'they hold'} "
            "may still change."
        )
    lines += [
        "",
        f"| {kind} | Hops | Job | Step | Last run | Status | Observed |",
        "|---|---|---|---|---|---|---|",
    ]
    for depth, name, job, steps, last, observed in rows:
        run = f"{last.last_run_id} attempt {last.last_attempt}"
        cells = " | ".join(_cell(c) for c in (depth, job, steps, run))
        lines.append(f"| {_name(name)} | {cells} | {_status(last.last_run_status)} | {observed} |")
    return "\n".join([*lines, "", *_diagram(closure, max_nodes, max_edges)])
