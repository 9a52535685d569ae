"""Event ids and timestamps, made cheaply: they are made for every event a job emits."""

from __future__ import annotations

import os
import time
from typing import Final

# RFC 4122 variant bits (10xx) on the first hex digit of the fourth group, as uuid.uuid4() sets them.
_VARIANT: Final = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
_second_prefix: tuple[int, str] = (-1, "")


def new_event_id() -> str:
    """A random (version 4) UUID in its canonical lowercase form, about twice as fast as
    ``str(uuid.uuid4())``."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def utc_now() -> str:
    """The current time as RFC 3339 UTC with milliseconds and a Z (``2026-11-21T03:12:01.125Z``);
    the part up to the second is formatted once per second."""
    global _second_prefix  # noqa: PLW0603 - a per-process cache; a (second, text) tuple swaps atomically
    now = time.time()
    second = int(now)
    cached = _second_prefix
    if cached[0] != second:
        cached = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        _second_prefix = cached
    return f"{cached[1]}.{int((now - second) * 1000):03d}Z"
