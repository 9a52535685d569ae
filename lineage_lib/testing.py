"""Helpers for users' own tests: capture the lineage a job emits, without touching stdout or AWS.

from lineage_lib.testing import capture

def test_my_job_lineage():
    with capture() as lineage:
        my_job.main()
    assert lineage.datasets_written() == {"glue://default/analytics_db.orders_daily"}
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lineage_lib.contract import EventType, Field
from lineage_lib.runs import swap_sink_override
from lineage_lib.sinks.memory import MemorySink


class Captured(MemorySink):
    """A memory sink with the questions tests ask of it."""

    def of_type(self, *event_types: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e[Field.EVENT_TYPE] in event_types]

    def types(self) -> list[str]:
        return [e[Field.EVENT_TYPE] for e in self.events]

    def datasets_read(self) -> set[str]:
        return {e[Field.SOURCE][Field.DATASET_ID] for e in self.of_type(EventType.READ, EventType.TRANSFORM)}

    def datasets_written(self) -> set[str]:
        return {e[Field.TARGET][Field.DATASET_ID] for e in self.of_type(EventType.WRITE, EventType.TRANSFORM)}

    def column_lineage(self) -> dict[tuple[str, str], list[tuple[str, str, str]]]:
        """``{(target dataset, column): [(source dataset, source column, transformation), ...]}``."""
        out: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        for event in self.of_type(EventType.WRITE, EventType.TRANSFORM):
            for col in event.get(Field.COLUMNS, []):
                key = (event[Field.TARGET][Field.DATASET_ID], col[Field.COLUMN])
                out.setdefault(key, []).extend(
                    (src[Field.DATASET], src[Field.COLUMN], col[Field.TRANSFORMATION])
                    for src in col[Field.SOURCES]
                )
        return out


@contextmanager
def capture() -> Iterator[Captured]:
    """Send the lineage of every run started inside the block to memory instead of stdout."""
    sink = Captured()
    previous = swap_sink_override(sink)
    try:
        yield sink
    finally:
        swap_sink_override(previous)
