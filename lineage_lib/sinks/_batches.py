"""What the CloudWatch sink buffers, and how it cuts it into PutLogEvents calls (pure)."""

from __future__ import annotations

import calendar
import datetime
import socket
import time
import uuid
from typing import Final, NamedTuple

# PutLogEvents' own limits: events and bytes (UTF-8 message + 26 bytes each) per call, time span.
MAX_BATCH_EVENTS: Final = 10_000
MAX_BATCH_BYTES: Final = 1_048_576
MAX_BATCH_SPAN_MS: Final = 24 * 60 * 60 * 1000


class Pending(NamedTuple):
    timestamp: int  # first, then seq: sorting pending events gives chronological, then emission order
    seq: int
    message: str
    size: int  # what the event counts against a batch: UTF-8 bytes + the per-event overhead
    arrived: float  # time.monotonic() when emitted, for the flush interval


def default_log_stream() -> str:
    """``lineage/<yyyy>/<mm>/<dd>/<host>/<uuid4 hex>``: unique per process, easy to find by day and host."""
    host = socket.gethostname().replace(":", "-").replace("*", "-") or "unknown-host"  # ':' '*' refused
    return f"lineage/{time.strftime('%Y/%m/%d', time.gmtime())}/{host}/{uuid.uuid4().hex}"


def epoch_millis(event_time: object) -> int:
    """Milliseconds since the epoch of an event_time (RFC 3339 UTC, ``2024-05-01T12:00:00.123Z``)."""
    if isinstance(event_time, str) and len(event_time) >= 20 and event_time.endswith("Z"):
        try:
            whole = datetime.datetime.strptime(event_time[:19], "%Y-%m-%dT%H:%M:%S")
            fraction = event_time[20:-1] if event_time[19] == "." else ""
            return calendar.timegm(whole.timetuple()) * 1000 + int((fraction + "000")[:3])
        except ValueError:
            pass
    # Lenient mode may emit an event without a usable time: it still needs a timestamp to be sent.
    return int(time.time() * 1000)


def batches(pending: list[Pending], max_events: int, max_bytes: int) -> list[list[Pending]]:
    """Chronological batches within PutLogEvents' limits (count, bytes, 24-hour span)."""
    out: list[list[Pending]] = []
    batch: list[Pending] = []
    size = 0
    for entry in pending:
        if batch and (
            len(batch) >= max_events
            or size + entry.size > max_bytes
            or entry.timestamp - batch[0].timestamp >= MAX_BATCH_SPAN_MS
        ):
            out.append(batch)
            batch, size = [], 0
        batch.append(entry)  # an event over the byte limit on its own still goes: no endless loop
        size += entry.size
    if batch:
        out.append(batch)
    return out
