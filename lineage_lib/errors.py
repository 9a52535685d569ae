"""Typed errors. Every message says what happened and what to do about it."""

from __future__ import annotations

from typing import Any

from lineage_lib import env

__all__ = [
    "EventTooLargeError",
    "LineageConfigError",
    "LineageEmitError",
    "LineageError",
    "LineageStateError",
    "LineageValidationError",
    "UnknownSchemaVersionError",
]


class LineageError(Exception):
    """Root of every error lineage_lib raises."""


class LineageConfigError(LineageError):
    """A setting (argument, LINEAGE_* variable or job argument) has a value the library cannot use."""


class LineageValidationError(LineageError):
    """An event does not satisfy the schema of the version it declares.

    ``path`` is the dotted location in the event (``source.id``), ``rule`` the schema keyword that
    failed (``pattern``, ``required``...), ``value`` the offending value.
    """

    def __init__(self, message: str, *, path: str = "", rule: str = "", value: Any = None) -> None:
        self.path = path
        self.rule = rule
        self.value = value
        self.reason = message
        where = f" at {path}" if path else ""
        super().__init__(
            f"invalid lineage event{where}: {message} (schema rule: {rule or 'n/a'}). "
            "Fix the call that built this event; lineage emission is not optional "
            f"({env.MODE}=lenient emits it anyway, for the validator to quarantine)."
        )


class UnknownSchemaVersionError(LineageValidationError):
    """The event declares no schema version, or one this installation does not know."""

    def __init__(self, version: Any, known: tuple[str, ...]) -> None:
        super().__init__(
            f"{version!r} is not a schema version this installation knows ({', '.join(known)}); "
            "upgrade lineage-plane where the event is read before the producers that write it",
            path="schema_version",
            rule="version",
            value=version,
        )


class EventTooLargeError(LineageError):
    """The serialised event exceeds what CloudWatch Logs accepts without truncating it."""

    def __init__(self, size: int, limit: int, event_type: str = "") -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"{event_type or 'lineage'} event is {size} bytes, over the {limit}-byte CloudWatch Logs "
            "event limit; it would be truncated and corrupted. Record fewer column mappings or schema "
            "fields per event (for example one write event per target table or column group)."
        )


class LineageEmitError(LineageError):
    """A sink could not deliver events (for example CloudWatch Logs refused PutLogEvents)."""


class LineageStateError(LineageError):
    """An operation on a run or step that is already closed."""
