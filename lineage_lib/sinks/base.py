from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Sink(Protocol):
    """Receives each event once it is valid: ``line`` is its JSON text (no newline), ``event`` the dict.

    emit() may buffer; flush() must deliver everything buffered before it returns (it is called when
    a run ends, at interpreter exit and on SIGTERM); close() flushes and releases resources.

    A buffering sink may also have ``hold()`` (the process is stopping: buffer only, from now on)
    and ``flush_within(seconds)`` (the stop's one flush, within the time left, never raising, writing
    what it could not deliver to standard error): lineage_lib then bounds the stop with them. In a
    forked child, a sink the parent used is no longer flushed by the library.
    """

    def emit(self, line: str, event: Mapping[str, Any]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...
