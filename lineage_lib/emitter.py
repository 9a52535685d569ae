"""Validate, serialise, size-check and hand each event to a sink: the hot path of the library."""

from __future__ import annotations

import json
import logging
import os
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Final

from lineage_lib import env
from lineage_lib._schema_compiler import SchemaViolation
from lineage_lib.contract import (
    CURRENT_VERSION,
    GENERATED_FIELDS,
    MAX_EVENT_BYTES,
    Field,
    compiled_validator,
    validation_error,
)
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


# Compact, UTF-8 as is; made once (json.dumps with these options would build an encoder per call).
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class SharedFields:
    """Fields every event of a run carries unchanged (producer, run, context).

    Serialised once: each event's line is its own fields' JSON with this fragment spliced in, which
    saves a third of the serialisation. Validated once: after an event carrying them has passed the
    full schema, the emitter checks only the other fields of later events (the values are this
    object's own snapshot, which nothing hands out for mutation), and trusts the fields lineage_lib
    generates itself (contract.GENERATED_FIELDS). Events must not repeat these keys.
    """

    __slots__ = ("checked", "fields", "json", "trusted")

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.json = _dumps(fields)[1:-1]
        self.fields: Mapping[str, Any] = json.loads("{" + self.json + "}")  # a private deep copy
        self.trusted = frozenset(self.fields) | GENERATED_FIELDS
        self.checked = False


class Emitter:
    """Turns event dicts into validated JSON lines on a sink.

    Strict (the default): an invalid or oversize event raises, so the job fails rather than run
    without lineage. Lenient (opt-in, announced loudly): an invalid event is still emitted (the
    validator quarantines it, nothing is lost) and an oversize one is dropped with an error log.
    """

    def __init__(self, sink: Sink, *, mode: str | None = None, version: str = CURRENT_VERSION) -> None:
        self.sink = sink
        self.mode = resolve_mode(mode)
        self.version = version
        self._validate = compiled_validator(version)
        self._trusted_keys: frozenset[str] = frozenset()
        self._trusting = self._validate
        if self.mode == LENIENT:
            log.warning(_LENIENT_WARNING, env.MODE)
        _live_sinks.add(sink)

    def emit(self, event: Mapping[str, Any], shared: SharedFields | None = None) -> None:
        """Validate and emit ``event``, completed by the ``shared`` fields of its run if given."""
        validate = self._validate
        full = event
        if shared is not None:
            full = {**event, **shared.fields}
            if shared.checked:
                validate = self._validator_trusting(shared.trusted)
        try:
            validate(full)
        except SchemaViolation as err:
            error = validation_error(err)
            if self.mode == STRICT:
                raise error from err
            log.error("emitting an INVALID lineage event (lenient mode): %s", error)
        else:
            if shared is not None:
                shared.checked = True
        line = _dumps(event)
        if shared is not None:
            line = f"{line[:-1]},{shared.json}}}"
        # A character is at most 4 UTF-8 bytes: encode only when the line could be near the limit.
        if len(line) * 4 > MAX_EVENT_BYTES:
            size = len(line.encode("utf-8"))
            if size > MAX_EVENT_BYTES:
                too_large = EventTooLargeError(size, MAX_EVENT_BYTES, str(full.get(Field.EVENT_TYPE, "")))
                if self.mode == STRICT:
                    raise too_large
                log.error("dropping a lineage event (lenient mode): %s", too_large)
                return
        try:  # sinks are thread-safe themselves
            self.sink.emit(line, full)
        except LineageError as err:
            self._sink_failed(err)
        except Exception as err:
            self._sink_failed(
                LineageEmitError(f"{type(self.sink).__name__} could not emit an event: {err}"), err
            )

    def _validator_trusting(self, keys: frozenset[str]) -> Callable[[Any], None]:
        if self._trusted_keys != keys:
            self._trusted_keys, self._trusting = keys, compiled_validator(self.version, keys)
        return self._trusting

    def flush(self) -> None:
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
