"""A one-line progress report for long scans: on a terminal only, never in a pipe or a log file.

``Progress.for_stream(sys.stderr)`` is enabled when the stream is a terminal (``isatty()``) and
``TERM`` is not ``dumb`` (a terminal that cannot return to the start of a line); otherwise every call
is a no-op, so output piped into a file or another program stays clean. An enabled reporter redraws
one line with ``\\r``, at most ``MAX_UPDATES_PER_SECOND`` times a second (a scan of a million objects
must not spend its time writing to the terminal), and erases it when closed::

    with Progress.for_stream(sys.stderr) as progress:
        for done, key in enumerate(keys, start=1):
            ...
            progress(done, len(keys), "downloading archive")

A ``total`` of 0 or less means "unknown": the line shows the count alone.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from types import TracebackType
from typing import Final, Protocol, TextIO

MAX_UPDATES_PER_SECOND: Final = 10
BAR_WIDTH: Final = 24
DUMB_TERMINAL: Final = "dumb"


class ProgressCallback(Protocol):
    """What long operations accept: ``progress(done, total, label)``."""

    def __call__(self, done: float, total: float, label: str) -> None: ...


class Progress:
    """Draws ``label [#####.....]  42% (420/1000)`` on one line of ``stream``, or nothing at all."""

    def __init__(
        self,
        stream: TextIO | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        width: Callable[[], int] | None = None,
    ) -> None:
        self._stream = stream
        self._clock = clock
        self._width = width or (lambda: terminal_width(stream))
        self._last_draw: float | None = None
        self._drawn = 0  # characters on the line now (what close() erases)

    @classmethod
    def for_stream(cls, stream: TextIO) -> Progress:
        """A reporter on ``stream`` if it is a terminal that can redraw a line, else a silent one."""
        return cls(stream if is_terminal(stream) else None)

    @classmethod
    def disabled(cls) -> Progress:
        return cls(None)

    @property
    def enabled(self) -> bool:
        return self._stream is not None

    def __call__(self, done: float, total: float, label: str) -> None:
        if self._stream is None:
            return
        now = self._clock()
        if self._last_draw is not None and now - self._last_draw < 1 / MAX_UPDATES_PER_SECOND:
            return
        self._last_draw = now
        line = progress_line(done, total, label)[: max(self._width() - 1, 1)]
        # pad over what the previous line left, so a shorter line leaves no tail behind
        self._stream.write("\r" + line.ljust(self._drawn))
        self._stream.flush()
        self._drawn = len(line)

    def close(self) -> None:
        """Erase the line (the cursor ends where the line began); safe to call twice."""
        if self._stream is not None and self._drawn:
            self._stream.write("\r" + " " * self._drawn + "\r")
            self._stream.flush()
        self._drawn = 0
        self._last_draw = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def is_terminal(stream: TextIO) -> bool:
    """True when ``stream`` is an interactive terminal that understands ``\\r``."""
    if os.environ.get("TERM") == DUMB_TERMINAL:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def terminal_width(stream: TextIO | None) -> int:
    """Columns of the terminal ``stream`` writes to (that of standard output, or 80, when unknown)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns if stream is not None else 80
    except (AttributeError, OSError, ValueError):  # not a file descriptor, or not a terminal
        return shutil.get_terminal_size().columns


def progress_line(done: float, total: float, label: str) -> str:
    """The text of one progress line (pure: tested without a terminal)."""
    if total <= 0:
        return f"{label} {_number(done)}"
    fraction = min(max(done / total, 0.0), 1.0)
    filled = int(fraction * BAR_WIDTH)
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    return f"{label} [{bar}] {fraction:4.0%} ({_number(done)}/{_number(total)})"


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"
