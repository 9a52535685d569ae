"""The run-state table as a local file: what ``lineage demo --archive-out DIR`` keeps beside the archive,
and what ``lineage runs --archive DIR`` reads.

``DIR/run-state.json`` holds one item a line in DynamoDB's own JSON (``{"Item": {"pk": {"S": ...}}}``),
the format of the lines of a DynamoDB export to S3 (DYNAMODB_JSON), so the file of a real table's
export, gunzipped and concatenated, is read the same way. (It is named ``.json`` as the export's files
are, and so that ``lineage validate DIR``, which reads ``*.jsonl``, never takes table items for events.)

``LocalRunStateReader`` answers what lineage_cli.runs.RunStateReader answers, with the table's two
sparse indexes applied to the items as DynamoDB applies them: ``active-runs`` holds the items that
carry ``active_pk`` (and its sort key), in ``active_sk`` order; ``pipeline-runs`` the items that carry
``pipeline_id`` and ``run_order``, in ``run_order`` order. Both sort strings by code point, which is
DynamoDB's order of their UTF-8 bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from lineage_cli.exits import UsageError
from lineage_cli.runs import SCAN_FILTERS, attempt_row, silent_minutes
from lineage_plane.run_table import RunStateTable

T = RunStateTable
FILE_NAME: Final = "run-state.json"
ITEM: Final = "Item"  # the key of each line, as in a DynamoDB export


def write_items(path: Path, items: Iterable[Mapping[str, Any]]) -> int:
    """Write DynamoDB items (as Scan returns them) one a line, in key order; how many."""
    ordered = sorted(items, key=lambda item: (item[T.PK]["S"], item[T.SK]["S"]))
    with path.open("w", encoding="utf-8") as file:
        for item in ordered:
            file.write(json.dumps({ITEM: item}, sort_keys=True, separators=(",", ":")) + "\n")
    return len(ordered)


def read_items(path: Path) -> list[dict[str, Any]]:
    """The items of a run-state file; UsageError naming the line that is not one."""
    items = []
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)[ITEM]
                if not isinstance(item, dict) or not all(isinstance(v, dict) for v in item.values()):
                    raise TypeError("not a DynamoDB item")
            except (ValueError, KeyError, TypeError) as err:
                raise UsageError(
                    f'{path}:{number}: not a run-state item ({{"Item": {{...}}}} in DynamoDB JSON, one a '
                    f"line): {err}"
                ) from err
            items.append(item)
    return items


class LocalRunStateReader:
    """lineage_cli.runs.RunStateReader's answers, from the items of a run-state file."""

    def __init__(self, items: Sequence[Mapping[str, Any]], describe: str) -> None:
        self._items = items
        self.describe = describe

    @classmethod
    def open(cls, folder: str | Path) -> LocalRunStateReader:
        root = Path(folder).expanduser()
        path = root / FILE_NAME
        if str(folder).startswith("s3://"):
            raise UsageError(
                f"{folder}: an S3 archive holds no run state; ask the table (--table, the stack's "
                "RunStateTable output), or a folder lineage demo --archive-out left (--archive DIR)"
            )
        if not path.is_file():
            why = "no such folder" if not root.is_dir() else f"no {FILE_NAME} in it"
            raise UsageError(
                f"{folder}: {why}. lineage runs --archive reads the folder lineage demo --archive-out "
                f"writes (the table's items in {FILE_NAME}); for a deployed stack pass --table"
            )
        return cls(read_items(path), str(path))

    def active(self, limit: int, now: datetime) -> list[dict[str, Any]]:
        """Running attempts, the longest silent first, each with ``silent_minutes``."""
        running = [i for i in self._items if _s(i, T.ACTIVE_PK) == T.ACTIVE_PARTITION and _s(i, T.ACTIVE_SK)]
        rows = [attempt_row(item) for item in sorted(running, key=lambda i: _s(i, T.ACTIVE_SK))[:limit]]
        for row in rows:
            row["silent_minutes"] = silent_minutes(row.get(T.LAST_EVENT_TIME), now)
        return rows

    def pipeline(self, pipeline_id: str, limit: int) -> list[dict[str, Any]]:
        """One pipeline's attempts, the latest started first."""
        own = [i for i in self._pipeline_index() if _s(i, T.PIPELINE_PK) == pipeline_id]
        return [attempt_row(i) for i in sorted(own, key=lambda i: _s(i, T.PIPELINE_SK), reverse=True)[:limit]]

    def scan(self, view: str | None = None, projection: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Every attempt (of a scan view, when named), as the Scan of the pipeline-runs index finds it."""
        kept = [i for i in self._pipeline_index() if _s(i, T.KIND) == T.KIND_ATTEMPT]
        if view is not None:
            attribute, values = SCAN_FILTERS[view]
            kept = [item for item in kept if _s(item, attribute) in values]
        if projection:
            kept = [{k: v for k, v in item.items() if k in projection} for item in kept]
        return [attempt_row(item) for item in kept]

    def _pipeline_index(self) -> list[Mapping[str, Any]]:
        return [i for i in self._items if _s(i, T.PIPELINE_PK) and _s(i, T.PIPELINE_SK)]


def _s(item: Mapping[str, Any], attribute: str) -> str:
    """A string attribute's value ('' when absent or not a string)."""
    value = item.get(attribute)
    return str(value["S"]) if isinstance(value, Mapping) and "S" in value else ""
