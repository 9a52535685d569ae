from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Mapping
from typing import IO, Any


class StdoutSink:
    """One JSON line per event on standard output, flushed at once.

    Glue, EMR Serverless and Lambda ship standard output to CloudWatch Logs line by line, so an
    event written here becomes one log event. Flushing each line keeps events from sitting in a
    buffer that a killed process would lose; lineage events are few per job, so it costs little.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream  # None: whatever sys.stdout is at emit time (redirections, pytest)
        self._lock = threading.RLock()  # re-entrant: a SIGTERM handler may emit mid-write

    def emit(self, line: str, event: Mapping[str, Any]) -> None:
        stream = self._stream or sys.stdout
        text = line + "\n"
        with self._lock:
            try:
                stream.write(text)
                stream.flush()
            except RuntimeError:
                # Re-entrant write from a signal handler that interrupted a write of the same
                # buffered stream: bypass the buffer rather than lose the terminal event.
                os.write(stream.fileno(), text.encode("utf-8"))

    def flush(self) -> None:
        stream = self._stream or sys.stdout
        with contextlib.suppress(OSError, ValueError, RuntimeError):  # closed or broken stdout at exit
            stream.flush()

    def close(self) -> None:
        self.flush()
