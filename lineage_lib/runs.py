"""Runs and steps: the API a job uses to record what it does.

    with lineage_lib.run() as run:          # pipeline, run id, attempt: detected
        with run.step("aggregate") as step:
            step.read(RAW, records=1200)
            revenue = ColumnLineage("revenue", RAW.column("order_total"), "rename")
            step.write(DAILY, records=31, columns=[revenue])

An exception inside a ``with`` block records a failure event carrying the error, then propagates.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from lineage_lib import _lifecycle, env
from lineage_lib._ids import new_event_id, utc_now
from lineage_lib.context import ExecutionContext, detect
from lineage_lib.contract import CURRENT_VERSION, EventType, Field
from lineage_lib.datasets import ColumnLineage, DatasetLike, as_dataset
from lineage_lib.emitter import Emitter, SharedFields
from lineage_lib.errors import LineageConfigError, LineageStateError
from lineage_lib.sinks.base import Sink
from lineage_lib.version import PRODUCER_NAME, __version__

_MAX_MESSAGE = 8192
_MAX_STACK = 32768
_sink_override: Sink | None = None  # set by lineage_lib.testing.capture()
_override_lock = threading.Lock()


def swap_sink_override(sink: Sink | None) -> Sink | None:
    """Make ``sink`` the sink of every run started from now on (None: back to LINEAGE_SINK); returns
    the previous override. Used by lineage_lib.testing.capture()."""
    global _sink_override
    with _override_lock:
        previous, _sink_override = _sink_override, sink
    return previous


def _metrics(records: int | None, size_bytes: int | None, files: int | None) -> dict[str, int] | None:
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


def default_sink() -> Sink:
    """The sink chosen by LINEAGE_SINK (stdout unless told otherwise), or the test capture's."""
    if _sink_override is not None:
        return _sink_override
    kind = (os.environ.get(env.SINK) or "stdout").lower()
    if kind == "stdout":
        from lineage_lib.sinks.stdout import StdoutSink

        return StdoutSink()
    if kind == "cloudwatch":
        return _process_cloudwatch_sink()
    raise LineageConfigError(f"{env.SINK}={kind!r}: choose 'stdout' (default) or 'cloudwatch'")


def _process_cloudwatch_sink() -> Sink:
    """One CloudWatch sink (one client, one log stream) for every run of the process."""
    return _cloudwatch_sink_for(os.environ.get(env.LOG_GROUP), os.environ.get(env.LOG_STREAM))


@functools.lru_cache(maxsize=8)
def _cloudwatch_sink_for(log_group: str | None, log_stream: str | None) -> Sink:
    from lineage_lib.sinks.cloudwatch import CloudWatchLogsSink

    settings = {env.LOG_GROUP: log_group, env.LOG_STREAM: log_stream}
    return CloudWatchLogsSink.from_environment({k: v for k, v in settings.items() if v})


class _Scope:
    """What runs and steps share: being closed once, and closing on ``with`` exit."""

    _closed: bool  # set by each subclass's __init__

    def _close_from_exit(self, exc: BaseException | None) -> None:
        if self._closed:
            return
        if exc is None:
            self.complete()
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

    def complete(
        self, *, records: int | None = None, size_bytes: int | None = None, files: int | None = None
    ) -> None:
        raise NotImplementedError

    def fail(self, error: BaseException | str, *, exit_code: int | None = None) -> None:
        raise NotImplementedError

    def abort(self, reason: str, *, signal_name: str | None = None) -> None:
        raise NotImplementedError


class Step(_Scope):
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
            EventType.READ, source=dataset, metrics=_metrics(records, size_bytes, files), tags=tags
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
        metrics = _metrics(records, size_bytes, files)
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
        metrics = _metrics(records, size_bytes, files)
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
        if self._closed:
            return
        self._closed = True
        self.run._steps.pop(self.name, None)
        self.run._emit(event_type, step=self.name, **fields)

    def complete(
        self, *, records: int | None = None, size_bytes: int | None = None, files: int | None = None
    ) -> None:
        self._close(EventType.STEP_COMPLETE, metrics=_metrics(records, size_bytes, files))

    def fail(self, error: BaseException | str, *, exit_code: int | None = None) -> None:
        self._close(EventType.STEP_FAIL, error=error_object(error, exit_code=exit_code))

    def abort(self, reason: str, *, signal_name: str | None = None) -> None:
        self._close(EventType.STEP_FAIL, error=error_object(reason, signal_name=signal_name))


class Run(_Scope):
    """One attempt of one pipeline run. Emits RUN_START when created; closed exactly once."""

    def __init__(
        self,
        context: ExecutionContext,
        emitter: Emitter,
        *,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.context = context
        self._emitter = emitter
        self._closed = False
        self._steps: dict[str, Step] = {}
        self._tags = dict(tags) if tags else None
        self._shared = SharedFields(
            {
                Field.PRODUCER: {Field.NAME: PRODUCER_NAME, Field.VERSION: __version__},
                Field.PIPELINE_ID: context.pipeline_id,
                Field.RUN_ID: context.run_id,
                Field.ATTEMPT: context.attempt,
                Field.CONTEXT: context.to_event(),
            }
        )
        self._emit(EventType.RUN_START)
        _lifecycle.register(self)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._close_from_exit(exc)
        except Exception as err:
            if exc is None:
                raise
            # Never hide the job's own exception behind a lineage one: report and let it propagate.
            print(f"lineage_lib: could not record the end of run {self.run_id}: {err}", file=sys.stderr)

    def _emit(self, event_type: str, **fields: Any) -> None:
        event: dict[str, Any] = {
            Field.SCHEMA_VERSION: CURRENT_VERSION,
            Field.EVENT_ID: new_event_id(),
            Field.EVENT_TIME: utc_now(),
            Field.EVENT_TYPE: event_type,
        }
        for key, value in fields.items():
            if value is not None:
                event[key] = value
        if self._tags:
            event[Field.TAGS] = {**self._tags, **event[Field.TAGS]} if Field.TAGS in event else self._tags
        self._emitter.emit(event, self._shared)

    def step(self, name: str) -> Step:
        """Open a step (emits STEP_START); use it as a context manager to close it."""
        if self._closed:
            raise LineageStateError(f"run {self.run_id!r} is closed; start a new run with lineage_lib.run()")
        if name in self._steps:
            raise LineageStateError(f"step {name!r} is already open in run {self.run_id!r}; close it first")
        step = Step(self, name)
        self._steps[name] = step
        return step

    def _finish(self, event_type: str, close_steps: Any, **fields: Any) -> None:
        if self._closed:
            return
        for step in list(self._steps.values())[::-1]:
            close_steps(step)
        self._closed = True
        try:
            self._emit(event_type, **fields)
            self._emitter.flush()
        finally:
            _lifecycle.unregister(self)

    def complete(
        self, *, records: int | None = None, size_bytes: int | None = None, files: int | None = None
    ) -> None:
        """Close the run as successful (steps still open are completed first)."""
        self._finish(
            EventType.RUN_COMPLETE,
            lambda s: s.complete(),
            metrics=_metrics(records, size_bytes, files),
        )

    def fail(self, error: BaseException | str, *, exit_code: int | None = None) -> None:
        """Close the run as failed with ``error`` (open steps fail with the same error)."""
        payload = error_object(error, exit_code=exit_code)
        self._finish(EventType.RUN_FAIL, lambda s: s.fail(error, exit_code=exit_code), error=payload)

    def abort(self, reason: str, *, signal_name: str | None = None) -> None:
        """Close the run as aborted: it stopped without finishing (signal, exit with the run open)."""
        payload = error_object(reason, signal_name=signal_name)
        self._finish(EventType.RUN_ABORT, lambda s: s.abort(reason, signal_name=signal_name), error=payload)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pipeline_id(self) -> str:
        return self.context.pipeline_id

    @property
    def run_id(self) -> str:
        return self.context.run_id

    @property
    def attempt(self) -> int:
        return self.context.attempt


def run(
    pipeline: str | None = None,
    *,
    run_id: str | None = None,
    attempt: int | None = None,
    sink: Sink | None = None,
    mode: str | None = None,
    lambda_context: Any = None,
    sfn_execution_arn: str | None = None,
    platform: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> Run:
    """Start a run: detects the execution context, emits RUN_START, returns the Run.

    Use it as a context manager (``with lineage_lib.run() as run:``) so that the run is completed,
    or failed with the exception that ended it. Arguments override LINEAGE_* settings, which
    override what the platform says. ``lambda_context`` is the Lambda handler's context object.
    """
    context = detect(
        pipeline_id=pipeline,
        run_id=run_id,
        attempt=attempt,
        platform=platform,
        sfn_execution_arn=sfn_execution_arn,
        lambda_context=lambda_context,
    )
    return Run(context, Emitter(sink or default_sink(), mode=mode), tags=tags)
