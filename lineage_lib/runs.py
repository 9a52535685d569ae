"""Runs and steps: the API a job uses to record what it does.

    with lineage_lib.run() as run:          # pipeline, run id, attempt: detected
        with run.step("aggregate") as step:
            step.read(RAW, records=1200)
            revenue = ColumnLineage("revenue", RAW.column("order_total"), "rename")
            step.write(DAILY, records=31, columns=[revenue])

An exception inside a ``with`` block records a failure event carrying the error, then propagates.
A generator holding a run that its consumer closes early (GeneratorExit) aborts the run, saying so:
from inside the generator a consumer that stopped on purpose and one that failed look the same (call
``run.complete()`` before stopping to end it as completed); a step in such a generator completes.
A run belongs to the process that opened it: a forked child can neither close it nor write to it
through the objects it inherited, and records into it only after ``lineage_lib.join_run(run.ref())``
(with every start method: fork, forkserver, spawn). See ``join_run``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from lineage_lib import _lifecycle
from lineage_lib._ids import new_event_id, utc_now
from lineage_lib._sink_choice import default_sink, swap_sink_override
from lineage_lib.context import ExecutionContext, detect
from lineage_lib.contract import CURRENT_VERSION, EventType, Field
from lineage_lib.emitter import Emitter, SharedFields
from lineage_lib.errors import LineageConfigError, LineageStateError
from lineage_lib.sinks.base import Sink
from lineage_lib.steps import Scope, Step, error_object, metrics_of
from lineage_lib.version import PRODUCER_NAME, __version__

__all__ = ["Run", "RunRef", "Step", "default_sink", "error_object", "join_run", "run", "swap_sink_override"]

_GENERATOR_CLOSED = (
    "its generator was closed before the run finished (GeneratorExit: the code iterating over it "
    "stopped, or failed); call run.complete() first to end it as completed"
)


class _RunIdentity:
    """The run's identity, read from its execution context: what a Run and a RunRef both answer."""

    context: ExecutionContext

    @property
    def pipeline_id(self) -> str:
        return self.context.pipeline_id

    @property
    def run_id(self) -> str:
        return self.context.run_id

    @property
    def attempt(self) -> int:
        return self.context.attempt


@dataclass(frozen=True)
class RunRef(_RunIdentity):
    """A run's identity, for another process to record lineage into it (``lineage_lib.join_run``).

    Plain data: it pickles, so it reaches children of every multiprocessing start method as an
    argument (``pool.map(work, [(ref, part) for part in parts])``, ``Process(args=(ref,))``).
    """

    context: ExecutionContext
    tags: tuple[tuple[str, str], ...] = ()


class Run(_RunIdentity, Scope):
    """One attempt of one pipeline run. Emits RUN_START when created; closed exactly once, by the
    process that opened it (see the module's docstring and ``join_run``)."""

    def __init__(
        self,
        context: ExecutionContext,
        emitter: Emitter,
        *,
        tags: Mapping[str, str] | None = None,
        joined: bool = False,
    ) -> None:
        _lifecycle.check_settings()  # a bad LINEAGE_* setting fails here, not when the process stops
        self.context = context
        self._emitter = emitter
        self._closed = False
        self._joined = joined
        self._pid = _lifecycle.current_pid()
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
        if not joined:
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
        if self._pid != _lifecycle.pid:
            raise LineageStateError(
                f"run {self.run_id!r} was opened by process {self._pid}, and this is process "
                f"{_lifecycle.current_pid()} (a forked child): a child records lineage in a run of its own "
                "(lineage_lib.run()) or joins this one explicitly: pass run.ref() to the child and use "
                "lineage_lib.join_run(ref) there"
            )
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

    def ref(self) -> RunRef:
        """This run's identity, for a child process to join it (``lineage_lib.join_run(ref)``)."""
        return RunRef(self.context, tuple(self._tags.items()) if self._tags else ())

    def _finish(self, event_type: str, close_steps: Any, **fields: Any) -> None:
        if self._closed or not self.here:  # a forked child's copy: the run is its opener's to close
            return
        for step in list(self._steps.values())[::-1]:
            close_steps(step)
        self._closed = True
        try:
            if not self._joined:  # a joined run's end is its opener's to record
                self._emit(event_type, **fields)
            self._emitter.flush()
        finally:
            _lifecycle.unregister(self)

    def _close_from_generator(self) -> None:
        # From inside the generator, a consumer that stopped on purpose (break) and one that failed
        # look the same: the run did not finish, and nothing says it succeeded.
        self.abort(_GENERATOR_CLOSED)

    def complete(
        self, *, records: int | None = None, size_bytes: int | None = None, files: int | None = None
    ) -> None:
        """Close the run as successful (steps still open are completed first)."""
        self._finish(
            EventType.RUN_COMPLETE,
            lambda s: s.complete(),
            metrics=metrics_of(records, size_bytes, files),
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
    def here(self) -> bool:
        """Whether this process opened (or joined) the run: only then can it write to it or close it."""
        return self._pid == _lifecycle.current_pid()

    @property
    def joined(self) -> bool:
        """Whether this is another process's run, joined with ``join_run``."""
        return self._joined


def run(
    pipeline_id: str | None = None,
    *,
    run_id: str | None = None,
    attempt: int | None = None,
    sink: Sink | None = None,
    mode: str | None = None,
    lambda_context: Any = None,
    sfn_execution_arn: str | None = None,
    platform: str | None = None,
    tags: Mapping[str, str] | None = None,
    pipeline: str | None = None,
) -> Run:
    """Start a run: detects the execution context, emits RUN_START, returns the Run.

    Use it as a context manager (``with lineage_lib.run() as run:``) so that the run is completed,
    or failed with the exception that ended it. Arguments override LINEAGE_* settings, which
    override what the platform says. ``lambda_context`` is the Lambda handler's context object.
    ``pipeline=`` is accepted as another name of ``pipeline_id``.
    """
    if pipeline is not None and pipeline_id is not None and pipeline != pipeline_id:
        raise LineageConfigError(
            f"run() got pipeline_id={pipeline_id!r} and pipeline={pipeline!r}: they name the same "
            "setting; pass pipeline_id only"
        )
    context = detect(
        pipeline_id=pipeline_id if pipeline_id is not None else pipeline,
        run_id=run_id,
        attempt=attempt,
        platform=platform,
        sfn_execution_arn=sfn_execution_arn,
        lambda_context=lambda_context,
    )
    return Run(context, Emitter(sink or default_sink(), mode=mode), tags=tags)


def join_run(ref: RunRef, *, sink: Sink | None = None, mode: str | None = None) -> Run:
    """Record lineage from this process into a run another process opened (its ``run.ref()``).

        def load(ref, part):                           # in a multiprocessing worker
            with lineage_lib.join_run(ref) as run, run.step(f"load-{part}") as step:
                step.write(lineage_lib.s3("curated", f"orders/part={part}"), records=...)

    The joined run emits no RUN_START and no terminal event: the run's start and end are its
    opener's. Steps opened here are this process's: leaving the ``with`` block (or this process
    ending, or SIGTERM) closes them and delivers what the sink holds. Give each process's steps
    names of their own: a step is known by its name within the run.
    """
    return Run(ref.context, Emitter(sink or default_sink(), mode=mode), tags=dict(ref.tags), joined=True)
