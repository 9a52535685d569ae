"""What a lineage question found: the nodes a breadth-first search reached from its root, and the edges
between them (lineage_cli.graph computes it; lineage_cli.render prints it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NamedTuple, TypeAlias

from lineage_cli.edges import Edge, Node, dataset_of

if TYPE_CHECKING:
    from lineage_cli.graph import LineageGraph

Direction: TypeAlias = Literal["upstream", "downstream"]


class Link(NamedTuple):
    """One traversed pair, in data-flow order (source -> target), with every Edge stating it."""

    source: Node
    target: Node
    edges: list[Edge]


@dataclass(slots=True)
class Closure:
    """What a BFS reached from ``root``: ``nodes`` maps each node (root included, at 0) to its hop
    distance. ``edges`` (listed on first use, so the BFS itself stays lean) holds every edge from a node
    short of the ``depth`` limit, cycles and self-edges included, in data-flow order, by hop."""

    graph: LineageGraph
    root: Node
    direction: Direction
    nodes: dict[Node, int]
    depth: int | None
    parents: dict[Node, Node] = field(default_factory=dict, repr=False)
    _links: list[Link] | None = field(default=None, repr=False)

    def link_count(self) -> int:
        """How many pairs ``edges`` lists, without listing them (a count over the adjacency)."""
        adjacency = self.graph.forward if self.direction == "downstream" else self.graph.backward
        limit = self.depth
        return sum(
            len(adjacency.get(node, ()))
            for node, level in self.nodes.items()
            if limit is None or level < limit
        )

    def tree(self) -> Iterator[Link]:
        """One Link per reached node, the one the BFS reached it by, in BFS order (hop, then node)."""
        downstream = self.direction == "downstream"
        by_hop: dict[int, list[Node]] = {}
        for node, level in self.nodes.items():
            if level:
                by_hop.setdefault(level, []).append(node)
        # within a hop: datasets (str) by id, columns (tuples) by dataset and column; never mixed
        reached = [node for level in sorted(by_hop) for node in sorted(by_hop[level])]
        for node in reached:
            near = self.parents[node]
            source, target = (near, node) if downstream else (node, near)
            yield Link(source, target, self.graph.stated(source, target))

    @property
    def edges(self) -> list[Link]:
        if self._links is None:
            self._links = self.graph._links(self)
        return self._links

    def hop(self, link: Link) -> int:
        """The BFS step that traversed ``link``: one more than the depth of the node it was reached from.
        A self-edge (a job reading and writing the same dataset) reaches no new node: it is listed with
        the edges that reached its node, at that node's depth (the root's, at hop 1)."""
        if link.source == link.target:
            return max(self.nodes[link.source], 1)
        return self.nodes[link.source if self.direction == "downstream" else link.target] + 1

    def label(self, node: Node) -> str:
        return self.graph.label(node)

    @property
    def counts(self) -> dict[str, int]:
        """What the JSON form lists: nodes (the root included, at depth 0), the distinct datasets of
        those nodes, edges, and the distinct jobs stating them."""
        jobs = {(e.pipeline_id, e.job_name) for link in self.edges for e in link.edges}
        return {
            "nodes": len(self.nodes),
            "datasets": len({dataset_of(node) for node in self.nodes}),
            "edges": len(self.edges),
            "jobs": len(jobs),
        }

    def reached(self) -> tuple[int, int]:
        """Nodes reached, the root excluded, and their distinct datasets (the text summary's figures)."""
        others = [node for node in self.nodes if node != self.root]
        return len(others), len({dataset_of(node) for node in others})
