"""The lineage graph in memory, built from the rows of ``queries/lineage_edges.sql``, and its closures.

A dataset node is its id (``glue://default/analytics_db.orders_daily``); a column node is the tuple
``(dataset id, column)``. Both kinds share one adjacency per direction (a str never equals a tuple, so a
dataset question only reaches datasets and a column question only columns). The BFS reads only the
adjacency's keys, like a plain dict-of-sets BFS (the issue's target: at most 2x its time); what states
each edge (every job and observer) sits beside it and is read only when a closure's edges are listed.
"""

from __future__ import annotations

import difflib
import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from lineage_cli.closure import Closure, Direction, Link
from lineage_cli.edges import (
    CLOSEST,
    EDGE_COLUMNS,
    AmbiguousNameError,
    ColumnNode,
    Edge,
    Node,
    UnknownNameError,
    dataset_of,
    node_of,
)

__all__ = [
    "EDGE_COLUMNS",
    "AmbiguousNameError",
    "Closure",
    "ColumnNode",
    "Direction",
    "Edge",
    "LineageGraph",
    "Link",
    "Node",
    "UnknownNameError",
    "dataset_of",
    "gc_paused",
    "short_name",
]


@contextmanager
def gc_paused() -> Iterator[None]:
    """For bulk building (graph, listing, rendering): ~1M new containers, none in a cycle, over a heap
    of as many; the collector would walk the heap again and again for nothing (measured: up to 2x)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def short_name(dataset_id: str) -> str:
    """What users type: the id's path after ``scheme://authority/``; an S3 id is typed whole."""
    scheme, sep, rest = dataset_id.partition("://")
    path = rest.partition("/")[2] if sep and scheme != "s3" else ""
    return path or dataset_id


class LineageGraph:
    """Dataset- and column-level adjacency: ``forward[source][target]`` holds what states that edge
    (an Edge or a query row, or a list of them when several jobs or observers do), ``backward[target]``
    the sources. ``from_rows`` makes an Edge of a row only when a closure lists its pair."""

    def __init__(self) -> None:
        self.forward: dict[Node, dict[Node, Any]] = {}
        self._backward: dict[Node, set[Node]] | None = {}
        self._by_short: dict[str, list[str]] = {}  # short name -> dataset ids (several: ambiguous)
        self._columns: dict[str, set[str]] = {}  # dataset id -> its columns that are nodes
        self._labels: dict[Node, str] = {}
        self._columns_of_rows: tuple[str, ...] = ()  # from_table: the order of a row tuple's values

    @classmethod
    def from_edges(cls, edges: Iterable[Edge]) -> LineageGraph:
        return cls()._add((edge.source, edge.target, edge) for edge in edges)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> LineageGraph:
        """The fast way from the query's rows: as fast as building a plain dict-of-sets adjacency."""
        return cls()._add(
            (
                node_of(row["source_dataset"], row["source_column"]),
                node_of(row["target_dataset"], row["target_column"]),
                row,
            )
            for row in rows
        )

    @classmethod
    def from_table(cls, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> LineageGraph:
        """``from_rows`` for rows as tuples in ``columns`` order (the engine's fast path): a row becomes
        a mapping, then an Edge, only when a closure lists its pair."""
        if not columns:  # no rows, no columns: an empty graph
            return cls()
        at = {name: index for index, name in enumerate(columns)}
        source, source_column = at["source_dataset"], at["source_column"]
        target, target_column = at["target_dataset"], at["target_column"]
        graph = cls()
        graph._columns_of_rows = tuple(columns)
        # node_of() inlined: a call per row and side is a fifth of the build on 300,000 rows
        return graph._add(
            (
                (row[source], row[source_column]) if row[source_column] else row[source],
                (row[target], row[target_column]) if row[target_column] else row[target],
                row,
            )
            for row in rows
        )

    def _edge(self, statement: Any) -> Edge:
        if type(statement) is Edge:
            return statement
        if type(statement) is tuple:
            if self._columns_of_rows == EDGE_COLUMNS:
                return Edge.from_values(statement)
            return Edge.from_row(dict(zip(self._columns_of_rows, statement, strict=True)))
        return Edge.from_row(statement)

    def _add(self, statements: Iterable[tuple[Node, Node, Any]]) -> LineageGraph:
        forward = self.forward
        canonical: dict[Node, Node] = {}  # one object per node: lookups then match by identity, not value
        intern = canonical.setdefault
        with gc_paused():
            for stated_source, stated_target, statement in statements:
                source, target = intern(stated_source, stated_source), intern(stated_target, stated_target)
                targets = forward.get(source)
                if targets is None:
                    forward[source] = {target: statement}
                elif target in targets:  # one more job or observer stating a known edge
                    stated = targets[target]
                    targets[target] = [*stated, statement] if type(stated) is list else [stated, statement]
                    continue
                else:
                    targets[target] = statement
        self._backward = None
        return self

    @property
    def backward(self) -> dict[Node, set[Node]]:
        """The sources of each node: made from ``forward`` when first asked (a downstream question on
        datasets typed whole never needs it)."""
        if self._backward is None:
            backward: dict[Node, set[Node]] = {}
            with gc_paused():
                for source, targets in self.forward.items():
                    for target in targets:
                        sources = backward.get(target)
                        if sources is None:
                            backward[target] = {source}
                        else:
                            sources.add(source)
            self._backward = backward
        return self._backward

    def stated(self, source: Node, target: Node) -> list[Edge]:
        """Every Edge of the pair (KeyError if none), execution-observed first then by job."""
        targets = self.forward[source]
        stated = targets[target]
        if type(stated) is not list:
            edge = targets[target] = self._edge(stated)
            return [edge]
        edges = targets[target] = sorted(map(self._edge, stated), key=Edge.order)
        return list(edges)

    def _index(self) -> dict[str, list[str]]:
        """Short names and columns, on first use (resolve, label): a closure alone never needs them."""
        if self._by_short or not self.forward:
            return self._by_short
        datasets = set()
        with gc_paused():
            for node in (*self.forward, *self.backward):
                if isinstance(node, str):
                    datasets.add(node)
                else:
                    self._columns.setdefault(node[0], set()).add(node[1])
            for dataset_id in sorted(datasets | self._columns.keys()):
                self._by_short.setdefault(short_name(dataset_id), []).append(dataset_id)
        return self._by_short

    def label(self, node: Node) -> str:
        """The short name when it names one dataset only, else the full id; columns as ``label.column``."""
        label = self._labels.get(node)
        if label is None:
            dataset_id = dataset_of(node)
            short = short_name(dataset_id)
            # an id typed whole (S3) is its own label: no other dataset can share it
            unique = short == dataset_id or len(self._index().get(short, ())) <= 1
            label = short if unique else dataset_id
            label = self._labels[node] = label if isinstance(node, str) else f"{label}.{node[1]}"
        return label

    def resolve(self, name: str) -> Node:
        """A dataset (full id or short name; preferred when NAME reads both ways) or a column
        (``dataset.column``, either form of dataset); UnknownNameError with the closest names otherwise."""
        name = name.strip()
        datasets = self._datasets_named(name)
        if len(datasets) == 1:
            return datasets[0]
        if len(datasets) > 1:
            raise AmbiguousNameError(name, datasets)
        columns = [(ds, column) for ds, column in self._splits(name) if column in self._columns.get(ds, ())]
        if len(columns) == 1:
            return columns[0]
        if columns:
            raise AmbiguousNameError(name, sorted(f"{ds}.{column}" for ds, column in columns))
        raise UnknownNameError(name, self.closest(name), empty=not self.forward)

    def _datasets_named(self, name: str) -> list[str]:
        if name in self.forward or name in self.backward:  # only datasets are str keys
            return [name]
        return list(self._index().get(name, ()))

    def _splits(self, name: str) -> list[ColumnNode]:
        """(dataset, rest) for each dot after a known dataset name: dataset and column names hold dots."""
        dots = [index for index, char in enumerate(name) if char == "."]
        return [(ds, name[dot + 1 :]) for dot in dots for ds in self._datasets_named(name[:dot])]

    def closest(self, name: str) -> list[str]:
        """Up to 5 known names like NAME, best first, from the first of these that has any: the columns
        of the dataset NAME starts with; names that start like NAME (up to its first dot); all names.
        Case is ignored when comparing (``RAW_DB.ORDERS_RAW``), never in what is offered: a name that
        differs from NAME only in case comes first, as it is written."""
        self._index()
        own = {
            self.label((ds, column)) for ds, _ in self._splits(name) for column in self._columns.get(ds, ())
        }
        every = {self.label(node) for node in {*self.forward, *self.backward, *self._columns}}
        folded = name.casefold()
        start = folded.split(".", 1)[0] + "."
        for names in (own, {label for label in every if label.casefold().startswith(start)}, every):
            by_fold: dict[str, list[str]] = {}
            for label in sorted(names):
                by_fold.setdefault(label.casefold(), []).append(label)
            # an exact match scores 1.0: a name that differs only in case comes first
            if found := difflib.get_close_matches(folded, sorted(by_fold), n=CLOSEST, cutoff=0.6):
                return [label for fold in found for label in by_fold[fold]][:CLOSEST]
        return []

    def upstream(self, node: Node, depth: int | None = None) -> Closure:
        """Everything ``node`` was derived from, within ``depth`` hops (None: all)."""
        return self._closure(node, "upstream", self.backward, depth)

    def downstream(self, node: Node, depth: int | None = None) -> Closure:
        """Everything derived from ``node``, within ``depth`` hops (None: all)."""
        return self._closure(node, "downstream", self.forward, depth)

    def _closure(
        self, root: Node, direction: Direction, adjacency: Mapping[Node, Iterable[Node]], depth: int | None
    ) -> Closure:
        if depth is not None and depth < 0:
            raise ValueError(f"depth must be 0 or more (None: no limit), got {depth}")
        nodes: dict[Node, int] = {root: 0}
        parents: dict[Node, Node] = {}  # the node each was first reached from: the closure's BFS tree
        frontier, level, neighbours = [root], 0, adjacency.get
        while frontier and (depth is None or level < depth):
            level += 1
            reached = []
            for node in frontier:
                for near in neighbours(node, ()):
                    if near not in nodes:  # visited: cycles and self-edges end here
                        nodes[near] = level
                        parents[near] = node
                        reached.append(near)
            frontier = reached
        return Closure(self, root, direction, nodes, depth, parents)

    def _links(self, closure: Closure) -> list[Link]:
        """Every edge leaving a node short of the depth limit, in data-flow order: by the depth of the
        node it leaves, that node, then the node it reaches (a sort per node: cheaper than one of all)."""
        downstream = closure.direction == "downstream"
        adjacency: Mapping[Node, Iterable[Node]] = self.forward if downstream else self.backward
        nodes, limit = closure.nodes, closure.depth
        order = sorted(node for node, level in nodes.items() if limit is None or level < limit)
        order.sort(key=nodes.__getitem__)
        links, self_edges = [], False
        with gc_paused():
            for node in order:
                for near in sorted(adjacency.get(node, ())):
                    source, target = (node, near) if downstream else (near, node)
                    links.append(Link(source, target, self.stated(source, target)))
                    self_edges = self_edges or near == node
        if self_edges:  # each is listed at its node's own hop (Closure.hop), not one further
            links.sort(key=closure.hop)  # stable: the order within a hop stays
        return links
