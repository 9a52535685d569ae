"""One edge of the lineage graph as ``queries/lineage_edges.sql`` states it, the node names, and the
errors of a name that is no node. Pure: the graph (lineage_cli.graph) and the renderers build on it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from lineage_lib.errors import LineageError

ColumnNode: TypeAlias = tuple[str, str]
Node: TypeAlias = str | ColumnNode

CLOSEST: Final = 5  # closest names offered for an unknown one
_HINT: Final = "list names with --format json on a known dataset, or check --since/--as-of"


class UnknownNameError(LineageError):
    """NAME is no dataset or column of the graph; ``closest`` holds up to 5 names that are."""

    def __init__(self, name: str, closest: list[str], *, empty: bool = False) -> None:
        self.name, self.closest = name, closest
        if empty:
            hint = "the archive states no lineage edges in this window: widen --since or check --as-of"
        else:
            hint = f"did you mean {', '.join(closest)}? {_HINT}" if closest else f"no similar name; {_HINT}"
        super().__init__(f"unknown dataset or column {name!r}: {hint}")


class AmbiguousNameError(UnknownNameError):
    """NAME reads as several datasets (a short name in several catalogs or accounts) or columns:
    ``closest`` lists them all, any of which can be typed instead."""

    def __init__(self, name: str, candidates: list[str]) -> None:
        self.name, self.closest = name, candidates
        LineageError.__init__(self, f"{name!r} is ambiguous: it names {', '.join(candidates)}; type one")


def _versions(value: Any) -> tuple[str, ...]:
    """An array column: a list (the local engine), or Athena's text forms ``[1.0, 2.0]`` and JSON."""
    if type(value) is list or not value:
        return tuple(value or ())
    text = str(value).strip()
    if text.startswith('["'):
        return tuple(str(item) for item in json.loads(text))
    parts = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    return tuple(part.strip() for part in parts.split(",") if part.strip())


# Not frozen: a frozen dataclass's __init__ costs ~9x as much, and a large closure makes ~100,000
# Edges. Nothing hashes or changes an Edge once made (eq compares fields, for tests).
@dataclass(slots=True, eq=True)
class Edge:
    """One row of ``queries/lineage_edges.sql``: an edge as one job stated it, seen by one observer."""

    edge_kind: str  # 'dataset' | 'column'
    source_dataset: str
    source_column: str | None
    target_dataset: str
    target_column: str | None
    transformation: str | None
    pipeline_id: str
    job_name: str
    step: str
    observed: str  # 'execution' | 'platform'
    first_seen: str
    last_seen: str
    last_run_id: str
    last_attempt: int
    last_run_status: str  # COMPLETE | FAILED | ABORTED | INCOMPLETE | RUNNING
    runs: int
    source_schema_versions: tuple[str, ...] = ()
    target_schema_versions: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Edge:
        """Every column of the query, NULL as None or ''; Athena's forms too (numbers as text, arrays as
        text or lists). Positional, in field order, converting only what needs it: this runs once a row."""
        pipeline_id, attempt, runs = row["pipeline_id"], row["last_attempt"], row["runs"]
        return cls(
            row["edge_kind"],
            row["source_dataset"],
            row["source_column"] or None,
            row["target_dataset"],
            row["target_column"] or None,
            row["transformation"] or None,
            pipeline_id,
            row["job_name"] or pipeline_id,
            row["step"] or "",
            row["observed"] or "execution",
            row["first_seen"] or "",
            row["last_seen"] or "",
            row["last_run_id"] or "",
            attempt if type(attempt) is int else int(attempt or 0),
            row["last_run_status"] or "RUNNING",
            runs if type(runs) is int else int(runs or 0),
            _versions(row["source_schema_versions"]),
            _versions(row["target_schema_versions"]),
        )

    @classmethod
    def from_values(cls, values: tuple[Any, ...]) -> Edge:
        """``from_row`` for a row tuple whose values are in the fields' order (the query's columns)."""
        (kind, source, source_column, target, target_column, transformation, pipeline_id, job_name, step,
         observed, first_seen, last_seen, run_id, attempt, status, runs, source_versions,
         target_versions) = values  # fmt: skip
        return cls(
            kind, source, source_column or None, target, target_column or None, transformation or None,
            pipeline_id, job_name or pipeline_id, step or "", observed or "execution", first_seen or "",
            last_seen or "", run_id or "", attempt if type(attempt) is int else int(attempt or 0),
            status or "RUNNING", runs if type(runs) is int else int(runs or 0), _versions(source_versions),
            _versions(target_versions),
        )  # fmt: skip

    @property
    def source(self) -> Node:
        return node_of(self.source_dataset, self.source_column)

    @property
    def target(self) -> Node:
        return node_of(self.target_dataset, self.target_column)

    @property
    def job(self) -> str:
        """``pipeline_id/job_name``, or the pipeline id alone when the job has no other name."""
        pipeline, name = self.pipeline_id, self.job_name
        return pipeline if name == pipeline else f"{pipeline}/{name}"

    def order(self) -> tuple[str, ...]:
        """Execution-observed first, then by job: the stable order of the Edges of one pair."""
        first = "0" if self.observed == "execution" else "1"
        return (first, self.pipeline_id, self.job_name, self.step, self.transformation or "", self.last_seen)


EDGE_COLUMNS: Final = tuple(Edge.__dataclass_fields__)  # the query's columns, in the fields' order


def node_of(dataset: str, column: str | None) -> Node:
    return (dataset, column) if column else dataset


def dataset_of(node: Node) -> str:
    return node if isinstance(node, str) else node[0]
