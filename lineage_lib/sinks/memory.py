from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any


class MemorySink:
    """Keeps events in memory, exactly as they would have been written (parsed back from the line)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def emit(self, line: str, event: Mapping[str, Any]) -> None:
        with self._lock:
            self.lines.append(line)

    @property
    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(line) for line in self.lines]

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None
