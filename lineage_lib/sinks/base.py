from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Sink(Protocol):
    """Receives each event once it is valid: ``line`` is its JSON text (no newline), ``event`` the dict.

    emit() may buffer; flush() must deliver everything buffered before it returns (it is called when
    a run ends, at interpreter exit and on SIGTERM); close() flushes and releases resources.
    """

    def emit(self, line: str, event: Mapping[str, Any]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...
