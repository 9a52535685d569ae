from __future__ import annotations

import contextlib
import os
import sys
import threading
import weakref
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
        _sinks.add(self)

    def emit(self, line: str, event: Mapping[str, Any]) -> None:
        stream = self._stream or sys.stdout
        text = line + "\n"
        with self._lock:
            try:  # write_text's body, inlined: this is the hot path of every event
                stream.write(text)
                stream.flush()
            except RuntimeError:
                os.write(stream.fileno(), text.encode("utf-8", "backslashreplace"))

    def flush(self) -> None:
        stream = self._stream or sys.stdout
        with contextlib.suppress(OSError, ValueError, RuntimeError):  # closed or broken stdout at exit
            stream.flush()

    def close(self) -> None:
        self.flush()

    def _forget_parent_lock(self) -> None:
        self._lock = threading.RLock()  # another thread of the parent may have held it at the fork


def write_text(stream: IO[str], text: str) -> None:
    """Write and flush ``text``, even from a signal handler that interrupted a write to ``stream``."""
    try:
        stream.write(text)
        stream.flush()
    except RuntimeError:
        # Re-entrant write from a signal handler that interrupted a write of the same buffered
        # stream: bypass the buffer rather than lose the terminal event.
        os.write(stream.fileno(), text.encode("utf-8", "backslashreplace"))


_sinks: weakref.WeakSet[StdoutSink] = weakref.WeakSet()


def _forget_parent_locks() -> None:
    for sink in list(_sinks):
        sink._forget_parent_lock()


os.register_at_fork(after_in_child=_forget_parent_locks)
