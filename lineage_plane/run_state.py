"""Run state as a pure, order-independent fold of a run's events.

Each run attempt and each step has a ``Progress``. Folding events into it is commutative: every
field is a minimum, a maximum, a sum or a union, and the status is the highest-ranked status seen
(``RunStatus.RANK``: a terminal status is never replaced by a late start or operation event, and two
disagreeing terminal events resolve the same way whatever their order). Idempotence per event id is
the store's job (lambdas.common.state_store keeps one marker per applied event id).

An attempt keeps two accounts apart: what its own lineage says (``status``, from lineage_lib's
events) and what its platform says (``platform_status``, from events tagged ``observed_by``: the Glue
bridge, the run reconciler). Its verdict (``final_status``, ``reconciliation``) is derived from both
whenever either changes, so it is the same whatever order the two accounts arrive in: a job that Glue
says succeeded but whose lineage never ended is INCOMPLETE, not COMPLETE; when both ended, the
platform's account wins and a disagreement is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from lineage_lib.contract import EventType, Field
from lineage_plane.layout import sortable_time
from lineage_plane.run_table import (
    ObservedTag,
    PlatformState,
    Reconciliation,
    RunStateTable,
    RunStatus,
    attempt_sk,
    run_pk,
    step_sk,
)

# At most this many dataset ids are kept per item and direction (the smallest ones, so that the
# choice does not depend on arrival order), and only ids of at most MAX_DATASET_ID_BYTES (a stateless
# rule, so order-free too); the archive keeps every one. Together they hold an item far below
# DynamoDB's 400 KB limit: 2 x 200 x 256 bytes of ids, at worst.
MAX_DATASETS_PER_ITEM: Final = 200
MAX_DATASET_ID_BYTES: Final = 256
# Error stacks are cut to this many characters in the run state; the archive keeps them whole.
MAX_STACK_CHARS: Final = 4_000

_RUN_STATUS: Final = {
    EventType.RUN_COMPLETE: RunStatus.COMPLETE,
    EventType.RUN_ABORT: RunStatus.ABORTED,
    EventType.RUN_FAIL: RunStatus.FAILED,
}
_STEP_STATUS: Final = {
    EventType.STEP_COMPLETE: RunStatus.COMPLETE,
    EventType.STEP_FAIL: RunStatus.FAILED,
}
# In a state view, the log event the event came in (lineage_plane.ingest.delivered_as): not the
# event's, so never read by the fold; the store keeps it on the event's marker.
DELIVERED_AS: Final = RunStateTable.MARKER_DELIVERED_AS
_COUNTERS: Final = {EventType.READ: "reads", EventType.WRITE: "writes", EventType.TRANSFORM: "transforms"}


@dataclass(frozen=True)
class ItemKey:
    """Where a Progress lives in the run-state table."""

    pk: str
    sk: str


@dataclass
class Progress:
    """What is known about one run attempt (``step`` is None) or one of its steps."""

    pipeline_id: str
    run_id: str
    attempt: int
    step: str | None = None
    status: str = RunStatus.RUNNING
    # the event that decided a terminal status: (event_time, event_id), for order-free tie-breaks
    status_event: tuple[str, str] | None = None
    error: dict[str, Any] | None = None
    started_at: str | None = None
    first_event_time: str | None = None
    last_event_time: str | None = None
    events: int = 0
    reads: int = 0
    writes: int = 0
    transforms: int = 0
    inputs: set[str] = field(default_factory=set)
    outputs: set[str] = field(default_factory=set)
    context: dict[str, Any] = field(default_factory=dict)
    # of ``events``, how many came from observers (tag observed_by) rather than from the job itself
    observed_events: int = 0
    # the platform's account of the attempt's end (attempts only): settled like ``status``
    platform: PlatformEnd | None = None

    @property
    def key(self) -> ItemKey:
        pk = run_pk(self.pipeline_id, self.run_id)
        sk = attempt_sk(self.attempt) if self.step is None else step_sk(self.attempt, self.step)
        return ItemKey(pk, sk)

    @property
    def lineage_events(self) -> int:
        return self.events - self.observed_events

    @property
    def final_status(self) -> str:
        """Lineage's status until the platform reports the end; then the platform's, or INCOMPLETE
        when the lineage has no terminal event."""
        if self.platform is None:
            return self.status
        if self.status == RunStatus.RUNNING:
            return RunStatus.INCOMPLETE
        return self.platform.status

    @property
    def reconciliation(self) -> str | None:
        """lineage_plane.run_table.Reconciliation, once the platform reported the end (attempts only)."""
        if self.platform is None:
            return None
        return reconcile(self.status, self.lineage_events, self.platform.status)

    @property
    def active(self) -> bool:
        return self.final_status not in RunStatus.TERMINAL


@dataclass
class PlatformEnd:
    """How an observer says the attempt ended: the deciding observed terminal event and what it said."""

    status: str
    state: str
    decided_by: tuple[str, str]  # (event_time, event_id)
    observed_by: str
    error: dict[str, Any] | None = None
    platform_run_id: str | None = None
    previous_run_id: str | None = None


def reconcile(lineage_status: str, lineage_events: int, platform_status: str) -> str:
    """The verdict on an attempt's lineage once its platform reported the end."""
    if lineage_events == 0:
        return Reconciliation.GAP
    if lineage_status == RunStatus.RUNNING:
        return Reconciliation.INCOMPLETE
    if lineage_status != platform_status:
        return Reconciliation.DISAGREEMENT
    return Reconciliation.CONSISTENT


_STATE_FIELDS: Final = (
    Field.EVENT_ID, Field.EVENT_TIME, Field.EVENT_TYPE, Field.PIPELINE_ID, Field.RUN_ID, Field.ATTEMPT,
    Field.STEP, Field.CONTEXT, Field.ERROR,
)  # fmt: skip
# the tags the fold reads, on observed events only
_STATE_TAGS: Final = (
    ObservedTag.OBSERVED_BY, ObservedTag.PLATFORM_STATE, ObservedTag.PLATFORM_RUN_ID,
    ObservedTag.PREVIOUS_RUN_ID,
)  # fmt: skip


def state_view(event: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a valid event that the fold reads: ids, times, type, context, error and dataset ids.

    Column lineage and schemas, most of an event's size, stay in the archive; a batch of 10,000 events
    holds half the memory it would with whole events.
    """
    view = {name: event[name] for name in _STATE_FIELDS if name in event}
    # JSON Schema counts 1.0 as an integer; the schema's integer fields that reach the state:
    view[Field.ATTEMPT] = _integral(view[Field.ATTEMPT])
    if Field.ERROR in view:
        view[Field.ERROR] = _integral(view[Field.ERROR])
    for side in (Field.SOURCE, Field.TARGET):
        dataset = event.get(side)
        if dataset is not None:
            view[side] = {Field.DATASET_ID: dataset[Field.DATASET_ID]}
    tags = event.get(Field.TAGS)
    if tags and ObservedTag.OBSERVED_BY in tags:
        view[Field.TAGS] = {name: tags[name] for name in _STATE_TAGS if name in tags}
    return view


def _integral(value: Any) -> Any:
    """JSON Schema counts 1.0 as an integer: make such numbers ints (DynamoDB keys and items need it)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def index_sort_key(event_time: str, key: ItemKey) -> str:
    """The sort key of an attempt in the table's indexes (pipeline-runs by start, active-runs by last
    event): a time, then the attempt's own keys, so that equal times still sort apart."""
    return f"{sortable_time(event_time)}#{key.pk}#{key.sk}"


def keys_of(event: Mapping[str, Any]) -> tuple[ItemKey, ItemKey | None]:
    """The attempt item and (for an event with a step) the step item an event updates."""
    pk = run_pk(event[Field.PIPELINE_ID], event[Field.RUN_ID])
    attempt = event[Field.ATTEMPT]
    step = event.get(Field.STEP)
    return ItemKey(pk, attempt_sk(attempt)), (ItemKey(pk, step_sk(attempt, step)) if step else None)


def new_progress(event: Mapping[str, Any], *, of_step: bool) -> Progress:
    return Progress(
        pipeline_id=event[Field.PIPELINE_ID],
        run_id=event[Field.RUN_ID],
        attempt=event[Field.ATTEMPT],
        step=event[Field.STEP] if of_step else None,
    )


def apply_event(progress: Progress, event: Mapping[str, Any]) -> None:
    """Fold one valid event into the attempt's or the step's progress (in place)."""
    event_type = event[Field.EVENT_TYPE]
    event_time = event[Field.EVENT_TIME]
    tags = event.get(Field.TAGS) or {}
    observer = tags.get(ObservedTag.OBSERVED_BY)
    progress.events += 1
    if observer is not None:
        progress.observed_events += 1
    if progress.first_event_time is None or _before(event_time, progress.first_event_time):
        progress.first_event_time = event_time
    if progress.last_event_time is None or _before(progress.last_event_time, event_time):
        progress.last_event_time = event_time

    counter = _COUNTERS.get(event_type)
    if counter is not None:
        setattr(progress, counter, getattr(progress, counter) + 1)
        source = event.get(Field.SOURCE)
        target = event.get(Field.TARGET)
        if source is not None and event_type != EventType.WRITE:
            _add_capped(progress.inputs, source[Field.DATASET_ID])
        if target is not None and event_type != EventType.READ:
            _add_capped(progress.outputs, target[Field.DATASET_ID])

    if progress.step is None:
        if event_type == EventType.RUN_START and (
            progress.started_at is None or _before(event_time, progress.started_at)
        ):
            progress.started_at = event_time
        _merge_context(progress.context, event.get(Field.CONTEXT) or {})
        terminal = _RUN_STATUS.get(event_type)
        if terminal is not None and observer is not None:
            _settle_platform(progress, terminal, event, observer, tags)
            return
    else:
        if event_type == EventType.STEP_START and (
            progress.started_at is None or _before(event_time, progress.started_at)
        ):
            progress.started_at = event_time
        terminal = _STEP_STATUS.get(event_type)
    if terminal is not None:
        _settle(progress, terminal, (event_time, event[Field.EVENT_ID]), event.get(Field.ERROR))


def fold(events: Iterable[Mapping[str, Any]]) -> dict[ItemKey, Progress]:
    """Every attempt's and step's progress from a set of distinct events (used by tests and replays)."""
    state: dict[ItemKey, Progress] = {}
    for event in events:
        attempt_key, step_key = keys_of(event)
        apply_event(state.setdefault(attempt_key, new_progress(event, of_step=False)), event)
        if step_key is not None:
            apply_event(state.setdefault(step_key, new_progress(event, of_step=True)), event)
    return state


def _settle(
    progress: Progress, status: str, decided_by: tuple[str, str], error: Mapping[str, Any] | None
) -> None:
    current = (RunStatus.RANK[progress.status], _event_order(progress.status_event))
    candidate = (RunStatus.RANK[status], _event_order(decided_by))
    if candidate <= current:
        return
    progress.status = status
    progress.status_event = decided_by
    progress.error = _state_error(error) if error else None


def _settle_platform(
    progress: Progress, terminal: str, event: Mapping[str, Any], observer: str, tags: Mapping[str, str]
) -> None:
    state = tags.get(ObservedTag.PLATFORM_STATE) or terminal
    status = PlatformState.STATUS.get(state, terminal)
    decided_by = (event[Field.EVENT_TIME], event[Field.EVENT_ID])
    known = progress.platform
    if known is not None and (RunStatus.RANK[status], _event_order(decided_by)) <= (
        RunStatus.RANK[known.status],
        _event_order(known.decided_by),
    ):
        return
    error = event.get(Field.ERROR)
    progress.platform = PlatformEnd(
        status=status,
        state=state,
        decided_by=decided_by,
        observed_by=observer,
        error=_state_error(error) if error else None,
        platform_run_id=tags.get(ObservedTag.PLATFORM_RUN_ID),
        previous_run_id=tags.get(ObservedTag.PREVIOUS_RUN_ID),
    )


def _before(earlier: str, later: str) -> bool:
    """Time order of two event times; equal instants written differently are ordered by their text,
    so that the choice never depends on arrival order."""
    return (sortable_time(earlier), earlier) < (sortable_time(later), later)


def _event_order(event: tuple[str, str] | None) -> tuple[str, str, str]:
    if event is None:
        return ("", "", "")
    return (sortable_time(event[0]), event[0], event[1])


def _state_error(error: Mapping[str, Any]) -> dict[str, Any]:
    kept = dict(error)
    stack = kept.get(Field.STACK)
    if isinstance(stack, str) and len(stack) > MAX_STACK_CHARS:
        kept[Field.STACK] = stack[-MAX_STACK_CHARS:]  # the end of a stack names the failing frame
    return kept


def _add_capped(datasets: set[str], dataset_id: str) -> None:
    if (
        dataset_id in datasets
        or len(dataset_id.encode("utf-8", errors="surrogatepass")) > MAX_DATASET_ID_BYTES
    ):
        return
    datasets.add(dataset_id)
    if len(datasets) > MAX_DATASETS_PER_ITEM:
        datasets.remove(max(datasets))


def _merge_context(merged: dict[str, Any], context: Mapping[str, Any]) -> None:
    # A run's context is the same on every event; should two disagree, the smaller value is kept on
    # both sides of any merge order.
    for name, value in context.items():
        known = merged.get(name)
        if known is None or str(value) < str(known):
            merged[name] = value
