"""Validate, serialise, size-check and hand each event to a sink: the hot path of the library.

Also the process's registry of sinks: what the exit hook and SIGTERM flush (``flush_all_sinks``),
hold while runs close (``hold_all_sinks``), and forget in a forked child (``forget_inherited_sinks``).
"""

from __future__ import annotations

import json
import logging
import os
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Final

from lineage_lib import _refusals, env
from lineage_lib._schema_compiler import SchemaViolation
from lineage_lib.contract import (
    CURRENT_VERSION,
    GENERATED_FIELDS,
    MAX_EVENT_BYTES,
    Field,
    Refusal,
    compiled_validator,
    validation_error,
)
from lineage_lib.errors import (
    EventTooLargeError,
    LineageConfigError,
    LineageEmitError,
    LineageError,
    LineageValidationError,
)
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


# Compact, UTF-8 as is, no NaN or Infinity (not JSON); made once (json.dumps would build one per call).
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
# For a line holding a lone surrogate (no UTF-8 form): escaped, the line is still valid JSON.
_dumps_ascii = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode


class SharedFields:
    """Fields every event of a run carries unchanged (producer, run, context).

    Serialised once: each event's line is its own fields' JSON with this fragment spliced in, which
    saves a third of the serialisation. Validated once: after an event carrying them has passed the
    full schema, the emitter checks only the other fields of later events (the values are this
    object's own snapshot, which nothing hands out for mutation), and trusts the fields lineage_lib
    generates itself (contract.GENERATED_FIELDS). Events must not repeat these keys.
    """

    __slots__ = ("checked", "fields", "json", "problems", "trusted")

    def __init__(self, fields: Mapping[str, Any]) -> None:
        # A value JSON cannot carry (run_id=uuid.uuid4()) is replaced by its repr here, and every
        # event of the run is refused for it (strict: raised; lenient: a refusal line).
        self.problems = _refusals.problems_in(fields)
        self.json = _dumps(_refusals.sanitised(fields) if self.problems else fields)[1:-1]
        self.fields: Mapping[str, Any] = json.loads("{" + self.json + "}")  # a private deep copy
        self.trusted = frozenset(self.fields) | GENERATED_FIELDS
        self.checked = False


class Emitter:
    """Turns event dicts into validated JSON lines on a sink.

    Strict (the default): an invalid or oversize event, or one holding a value JSON cannot carry,
    raises (naming the field), so the job fails rather than run without lineage. Lenient (opt-in,
    announced loudly) never raises for an event and never drops one silently: an invalid event is
    still emitted for the validator to quarantine, a value JSON cannot carry makes a refusal line, and
    an oversize event is replaced by a reduced one or a refusal line (lineage_lib._refusals).
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
            if shared.problems:
                self._refuse(full, shared.problems + _refusals.problems_in(event))
                return
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
        try:
            line = _dumps(event)
        except (TypeError, ValueError) as err:  # a value JSON cannot carry, that the schema let through
            problems = _refusals.problems_in(full)
            self._refuse(full, problems or [_refusals.Problem("", Refusal.NOT_JSON, err)])
            return
        if shared is not None:
            line = f"{line[:-1]},{shared.json}}}"
        if not line.isascii() and _refusals.has_lone_surrogate(line):
            line = self._escaped(full)
        # A character is at most 4 UTF-8 bytes: encode only when the line could be near the limit.
        if len(line) * 4 > MAX_EVENT_BYTES:
            size = len(line.encode("utf-8"))
            if size > MAX_EVENT_BYTES:
                line = self._too_large(full, size)
        try:  # sinks are thread-safe themselves (as in _send: inlined on the hot path)
            self.sink.emit(line, full)
        except LineageError as err:
            self._sink_failed(err)
        except Exception as err:
            self._sink_failed(
                LineageEmitError(f"{type(self.sink).__name__} could not emit an event: {err}"), err
            )

    def _send(self, line: str, full: Mapping[str, Any]) -> None:
        try:  # sinks are thread-safe themselves
            self.sink.emit(line, full)
        except LineageError as err:
            self._sink_failed(err)
        except Exception as err:
            self._sink_failed(
                LineageEmitError(f"{type(self.sink).__name__} could not emit an event: {err}"), err
            )

    def _refuse(self, full: Mapping[str, Any], problems: list[_refusals.Problem]) -> None:
        """Values JSON cannot carry: strict raises naming the first; lenient emits a refusal line."""
        first = problems[0]
        if self.mode == STRICT:
            raise LineageValidationError(
                _refusals.explain(first), path=first.path, rule=first.code, value=first.value
            )
        kind = str(full.get(Field.EVENT_TYPE, ""))
        refusal = _refusals.refusal(kind, problems)
        log.error("lineage_lib (lenient mode): emitting a refusal line instead: %s", refusal[Refusal.DETAIL])
        line = _writable({**_refusals.sanitised(full), Refusal.KEY: refusal})
        if len(line) * 4 > MAX_EVENT_BYTES and len(line.encode("utf-8")) > MAX_EVENT_BYTES:
            line = _writable(_refusals.minimal_refusal(full, first.code, refusal[Refusal.DETAIL]))
        self._send(line, full)

    def _escaped(self, full: Mapping[str, Any]) -> str:
        """A line holding a lone surrogate, which has no UTF-8 form: strict refuses it naming the field;
        lenient escapes it (ensure_ascii), so that the line is JSON the validator can quarantine."""
        if self.mode == STRICT:
            path = _surrogate_path(full)
            raise LineageValidationError(
                "the text holds a lone surrogate (no UTF-8 form, a decoding error upstream?): "
                "decode the bytes it came from with the right encoding",
                path=path,
                rule="utf-8",
            )
        return _dumps_ascii(full)

    def _too_large(self, full: Mapping[str, Any], size: int) -> str:
        """Strict raises EventTooLargeError; lenient returns a reduced event, or a refusal line."""
        kind = str(full.get(Field.EVENT_TYPE, ""))
        if self.mode == STRICT:
            raise EventTooLargeError(size, MAX_EVENT_BYTES, kind)
        line = _refusals.reduced(full, size, _writable)
        if line is not None:
            log.error(
                "lineage_lib (lenient mode): a %s event of %s bytes is over the %s-byte limit; emitted "
                "without its optional details (tag %s says which)",
                kind,
                size,
                MAX_EVENT_BYTES,
                _refusals.OMITTED_TAG,
            )
            return line
        detail = _refusals.oversize_detail(full, size)
        log.error("lineage_lib (lenient mode): emitting a refusal line instead: %s", detail)
        return _writable(_refusals.minimal_refusal(full, Refusal.OVERSIZE, detail))

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


def _writable(value: Any) -> str:
    """A line of JSON values: UTF-8 as is, escaped (ensure_ascii) when it holds a lone surrogate."""
    line = _dumps(value)
    if not line.isascii() and _refusals.has_lone_surrogate(line):
        return _dumps_ascii(value)
    return line


def _surrogate_path(value: Any, path: str = "") -> str:
    """The dotted path of the first string (or key) holding a lone surrogate under ``value``."""
    if isinstance(value, str):
        return path if _refusals.has_lone_surrogate(value) else ""
    items: Any = ()
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, item in items:
        here = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and _refusals.has_lone_surrogate(key):
            return here
        found = _surrogate_path(item, here)
        if found:
            return found
    return ""


def flush_all_sinks(*, deadline: float | None = None) -> None:
    """Flush every sink that received events; never raises (used at exit and on signals).

    With a ``deadline`` (time.monotonic()), a sink that has ``flush_within(seconds)`` (the CloudWatch
    sink) is given the time left; others are flushed as they flush.
    """
    for sink in list(_live_sinks):
        try:
            within = getattr(sink, "flush_within", None)
            if deadline is not None and within is not None:
                within(max(0.0, deadline - time.monotonic()))
            else:
                sink.flush()
        except Exception as err:  # at exit there is no caller left to raise to: say it and go on
            log.error("could not flush lineage sink %s at exit: %s", type(sink).__name__, err)


def hold_all_sinks() -> None:
    """The process is stopping: sinks that can (``hold()``) keep what runs emit from now on for the
    one flush that follows, instead of sending on their own schedule."""
    for sink in list(_live_sinks):
        hold = getattr(sink, "hold", None)
        if hold is not None:
            hold()


def forget_inherited_sinks() -> None:
    """In a forked child: the sinks of the parent's runs are no longer this process's to flush (the
    CloudWatch sink also empties its own buffer there); sinks the child uses register again."""
    _live_sinks.clear()
