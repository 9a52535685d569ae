"""Steps, and what runs and steps share: closing once, closing on ``with`` exit, the error object.

An exception inside a step's ``with`` block records STEP_FAIL with the error, then propagates; a
generator wrapping a step that its consumer stops early (GeneratorExit) completes the step.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from lineage_lib.contract import EventType, Field
from lineage_lib.datasets import ColumnLineage, DatasetLike, as_dataset
from lineage_lib.errors import LineageStateError

if TYPE_CHECKING:
    from lineage_lib.runs import Run

_MAX_MESSAGE = 8192
_MAX_STACK = 32768


def metrics_of(records: int | None, size_bytes: int | None, files: int | None) -> dict[str, int] | None:
    counts = ((Field.RECORDS, records), (Field.BYTES, size_bytes), (Field.FILES, files))
    out = {k: v for k, v in counts if v is not None}
    return out or None


def error_object(
    error: BaseException | str, *, exit_code: int | None = None, signal_name: str | None = None
) -> dict[str, Any]:
    """The event's ``error`` object for an exception (type, message, stack) or a plain reason."""
    if isinstance(error, BaseException):
        out: dict[str, Any] = {
            Field.TYPE: type(error).__name__,
            Field.MESSAGE: (str(error) or type(error).__name__)[:_MAX_MESSAGE],
        }
        if error.__traceback__ is not None:
            stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            out[Field.STACK] = stack[-_MAX_STACK:]
    else:
        out = {Field.TYPE: "Aborted", Field.MESSAGE: str(error)[:_MAX_MESSAGE]}
    if exit_code is not None:
        out[Field.EXIT_CODE] = exit_code
    if signal_name is not None:
        out[Field.SIGNAL] = signal_name
    return out


class Scope:
    """What runs and steps share: being closed once, and closing on ``with`` exit."""

    _closed: bool  # set by each subclass's __init__

    def _close_from_exit(self, exc: BaseException | None) -> None:
        if self._closed:
            return
        if exc is None:
            self.complete()
        elif isinstance(exc, GeneratorExit):
            self._close_from_generator()
        elif isinstance(exc, SystemExit):
            code = exc.code
            if code is None or code == 0:
                self.complete()
            else:
                self.fail(exc, exit_code=code if isinstance(code, int) else 1)
        elif isinstance(exc, KeyboardInterrupt):
            self.abort("interrupted (SIGINT)", signal_name="SIGINT")
        else:
            self.fail(exc)

    def _close_from_generator(self) -> None:
        """The ``with`` block was in a generator that was closed before it ended (GeneratorExit)."""
        raise NotImplementedError

    def complete(
        self, *, records: int | None = None, size_bytes: int | None = None, files: int | None = None
    ) -> None:
        raise NotImplementedError

    def fail(self, error: BaseException | str, *, exit_code: int | None = None) -> None:
        raise NotImplementedError

    def abort(self, reason: str, *, signal_name: str | None = None) -> None:
        raise NotImplementedError


class Step(Scope):
    """A named stage of a run; records reads, writes and transforms. Started when created."""

    def __init__(self, run: Run, name: str) -> None:
        self.run = run
        self.name = name
        self._closed = False
        run._emit(EventType.STEP_START, step=name)

    def __enter__(self) -> Step:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close_from_exit(exc)

    def read(
        self,
        dataset: DatasetLike,
        *,
        records: int | None = None,
        size_bytes: int | None = None,
        files: int | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Record that this step read ``dataset`` (with its schema/version if the Dataset says so)."""
        self._operation(
            EventType.READ, source=dataset, metrics=metrics_of(records, size_bytes, files), tags=tags
        )

    def write(
        self,
        dataset: DatasetLike,
        *,
        records: int | None = None,
        size_bytes: int | None = None,
        files: int | None = None,
        columns: Iterable[ColumnLineage] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Record that this step wrote ``dataset``; ``columns`` maps its columns to their sources."""
        metrics = metrics_of(records, size_bytes, files)
        self._operation(EventType.WRITE, target=dataset, columns=columns, metrics=metrics, tags=tags)

    def transform(
        self,
        source: DatasetLike,
        target: DatasetLike,
        *,
        records: int | None = None,
        size_bytes: int | None = None,
        files: int | None = None,
        columns: Iterable[ColumnLineage] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Record a derivation of ``target`` from ``source`` in one operation (e.g. CTAS, a copy)."""
        metrics = metrics_of(records, size_bytes, files)
        self._operation(
            EventType.TRANSFORM, source=source, target=target, columns=columns, metrics=metrics, tags=tags
        )

    def _operation(
        self,
        event_type: str,
        *,
        source: DatasetLike | None = None,
        target: DatasetLike | None = None,
        columns: Iterable[ColumnLineage] | None = None,
        metrics: dict[str, int] | None,
        tags: Mapping[str, str] | None,
    ) -> None:
        if self._closed:
            raise LineageStateError(f"step {self.name!r} is closed; open a new step with run.step()")
        self.run._emit(
            event_type,
            step=self.name,
            source=None if source is None else as_dataset(source).event_form,
            target=None if target is None else as_dataset(target).event_form,
            columns=[c.event_form for c in columns] if columns else None,
            metrics=metrics,
            tags=tags,
        )

    def _close(self, event_type: str, **fields: Any) -> None:
        if self._closed or not self.run.here:  # a forked child's copy: the step is its opener's to close
            return
        self._closed = True
        self.run._steps.pop(self.name, None)
        self.run._emit(event_type, step=self.name, **fields)

    def _close_from_generator(self) -> None:
        # The consumer stopped iterating: what the step recorded up to there happened, it did not fail.
        self.complete()

    def complete(
        self, *, records: int | None = None, size_bytes: int | None = None, files: int | None = None
    ) -> None:
        self._close(EventType.STEP_COMPLETE, metrics=metrics_of(records, size_bytes, files))

    def fail(self, error: BaseException | str, *, exit_code: int | None = None) -> None:
        self._close(EventType.STEP_FAIL, error=error_object(error, exit_code=exit_code))

    def abort(self, reason: str, *, signal_name: str | None = None) -> None:
        self._close(EventType.STEP_FAIL, error=error_object(reason, signal_name=signal_name))
