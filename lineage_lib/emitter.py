"""Validate, serialise, size-check and hand each event to a sink: the hot path of the library."""

from __future__ import annotations

import json
import logging
import os
import threading
import weakref
from collections.abc import Mapping
from typing import Any, Final

from lineage_lib import env
from lineage_lib._schema_compiler import SchemaViolation
from lineage_lib.contract import CURRENT_VERSION, MAX_EVENT_BYTES, Field, compiled_validator, validation_error
from lineage_lib.errors import EventTooLargeError, LineageConfigError, LineageEmitError, LineageError
from lineage_lib.sinks.base import Sink

log = logging.getLogger(__name__)

STRICT: Final = "strict"
LENIENT: Final = "lenient"
_LENIENT_WARNING = (
    "lineage_lib is in LENIENT mode (%s=lenient): invalid lineage events are emitted anyway for the "
    "validator to quarantine, and the job goes on. Lineage of this run may be incomplete."
)

# Every sink that ever received an event, so that interpreter exit and SIGTERM can flush them all.
_live_sinks: weakref.WeakSet[Any] = weakref.WeakSet()


def resolve_mode(mode: str | None) -> str:
    value = (mode or os.environ.get(env.MODE) or STRICT).lower()
    if value not in (STRICT, LENIENT):
        raise LineageConfigError(f"{env.MODE}={value!r}: choose {STRICT!r} (default) or {LENIENT!r}")
    return value


class Emitter:
    """Turns event dicts into validated JSON lines on a sink.

    Strict (the default): an invalid or oversize event raises, so the job fails rather than run
    without lineage. Lenient (opt-in, announced loudly): an invalid event is still emitted (the
    validator quarantines it, nothing is lost) and an oversize one is dropped with an error log.
    """

    def __init__(self, sink: Sink, *, mode: str | None = None, version: str = CURRENT_VERSION) -> None:
        self.sink = sink
        self.mode = resolve_mode(mode)
        self._validate = compiled_validator(version)
        self._lock = threading.RLock()
        if self.mode == LENIENT:
            log.warning(_LENIENT_WARNING, env.MODE)
        _live_sinks.add(sink)

    def emit(self, event: Mapping[str, Any]) -> None:
        try:
            self._validate(event)
        except SchemaViolation as err:
            error = validation_error(err)
            if self.mode == STRICT:
                raise error from err
            log.error("emitting an INVALID lineage event (lenient mode): %s", error)
        line = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        # A character is at most 4 UTF-8 bytes: encode only when the line could be near the limit.
        if len(line) * 4 > MAX_EVENT_BYTES:
            size = len(line.encode("utf-8"))
            if size > MAX_EVENT_BYTES:
                too_large = EventTooLargeError(size, MAX_EVENT_BYTES, str(event.get(Field.EVENT_TYPE, "")))
                if self.mode == STRICT:
                    raise too_large
                log.error("dropping a lineage event (lenient mode): %s", too_large)
                return
        with self._lock:
            try:
                self.sink.emit(line, event)
            except LineageError as err:
                self._sink_failed(err)
            except Exception as err:
                self._sink_failed(
                    LineageEmitError(f"{type(self.sink).__name__} could not emit an event: {err}"), err
                )

    def flush(self) -> None:
        with self._lock:
            try:
                self.sink.flush()
            except LineageError as err:
                self._sink_failed(err)

    def _sink_failed(self, failure: LineageError, cause: BaseException | None = None) -> None:
        if self.mode == STRICT:
            if cause is None:
                raise failure
            raise failure from cause
        # Lenient: the job goes on; a buffering sink keeps the event for a later flush (at exit, at last).
        log.error("lineage sink failure (lenient mode, the job goes on): %s", failure)


def flush_all_sinks() -> None:
    """Flush every sink that received events; never raises (used at exit and on signals)."""
    for sink in list(_live_sinks):
        try:
            sink.flush()
        except Exception as err:  # at exit there is no caller left to raise to: say it and go on
            log.error("could not flush lineage sink %s at exit: %s", type(sink).__name__, err)
