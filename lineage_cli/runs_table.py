"""``lineage runs``'s attempts as an aligned text table (the JSON form needs no help)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from lineage_lib.contract import Field
from lineage_plane.run_table import RunStateTable

T = RunStateTable

_COLUMNS: Final = (
    ("PIPELINE", T.PIPELINE_ID), ("RUN", T.RUN_ID), ("ATTEMPT", T.ATTEMPT), ("STATUS", T.STATUS),
    ("LINEAGE", T.LINEAGE_STATUS), ("PLATFORM STATE", T.PLATFORM_STATE),
    ("RECONCILIATION", T.RECONCILIATION), ("STARTED", T.STARTED_AT), ("LAST EVENT", T.LAST_EVENT_TIME),
    ("ERROR", T.ERROR),
)  # fmt: skip
_ACTIVE_COLUMNS: Final = (
    ("PIPELINE", T.PIPELINE_ID), ("RUN", T.RUN_ID), ("ATTEMPT", T.ATTEMPT), ("PLATFORM", T.PLATFORM),
    ("STARTED", T.STARTED_AT), ("LAST EVENT", T.LAST_EVENT_TIME), ("SILENT MIN", "silent_minutes"),
    ("EVENTS", T.EVENT_COUNT),
)  # fmt: skip
_TIMES: Final = frozenset({T.STARTED_AT, T.LAST_EVENT_TIME})


def table_text(rows: Sequence[Mapping[str, Any]], *, active: bool = False) -> str:
    """Rows as an aligned text table (empty cells as '-')."""
    columns = _ACTIVE_COLUMNS if active else _COLUMNS
    cells = [[title for title, _ in columns]]
    cells += [[_cell(row, attribute) for _, attribute in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells
    )


def error_summary(row: Mapping[str, Any], width: int = 60) -> str:
    """``type: message`` of the job's error, else the platform's, on one line of at most ``width``."""
    error = row.get(T.ERROR) or row.get(T.PLATFORM_ERROR)
    if not isinstance(error, Mapping):
        return ""
    text = f"{error.get(Field.TYPE, 'error')}: {error.get(Field.MESSAGE, '')}".splitlines()[0]
    return text if len(text) <= width else text[: width - 1] + "…"


def _cell(row: Mapping[str, Any], attribute: str) -> str:
    value = error_summary(row) if attribute == T.ERROR else row.get(attribute)
    if attribute in _TIMES and isinstance(value, str) and len(value) >= 19:
        value = f"{value[:10]} {value[11:19]}Z"  # to the second: the table stays narrow
    return "-" if value is None or value == "" else str(value)
