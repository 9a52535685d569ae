"""Run-state items as DynamoDB holds them: an attempt's or a step's Progress to an item and back.

Numbers come back from DynamoDB as Decimal and become int again; attributes this module does not own
(written by another writer, such as the Glue bridge) are carried over unchanged when an item is
rewritten. Pure: no AWS calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from lineage_lib.contract import Field
from lineage_plane.run_state import PlatformEnd, Progress, index_sort_key
from lineage_plane.run_table import RunStateTable, RunStatus

T = RunStateTable
# Attribute names this store owns on attempt and step items; any other attribute (written by the Glue
# bridge, for instance) is carried over unchanged when an item is rewritten.
MANAGED: Final = frozenset(
    {
        T.PK, T.SK, T.KIND, T.VERSION, T.PIPELINE_ID, T.RUN_ID, T.ATTEMPT, T.STEP, T.STATUS,
        T.STATUS_EVENT_TIME, T.STATUS_EVENT_ID, T.ERROR, T.STARTED_AT, T.FIRST_EVENT_TIME,
        T.LAST_EVENT_TIME, T.EVENT_COUNT, T.READ_COUNT, T.WRITE_COUNT, T.TRANSFORM_COUNT, T.INPUTS,
        T.OUTPUTS, T.CONTEXT, T.PLATFORM, T.ACTIVE_PK, T.ACTIVE_SK, T.PIPELINE_SK, T.LINEAGE_STATUS,
        T.OBSERVED_EVENT_COUNT, T.PLATFORM_STATE, T.PLATFORM_STATUS, T.PLATFORM_ERROR,
        T.PLATFORM_ENDED_AT, T.PLATFORM_EVENT_ID, T.PLATFORM_RUN_ID, T.PREVIOUS_RUN_ID, T.OBSERVED_BY,
        T.RECONCILIATION,
    }
)  # fmt: skip
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass
class Stored:
    """An item as read: its progress, its version (None when absent) and attributes owned by others."""

    progress: Progress
    version: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def to_item(item: Stored) -> dict[str, Any]:
    p = item.progress
    key = p.key
    attrs: dict[str, Any] = {
        T.PK: key.pk,
        T.SK: key.sk,
        T.KIND: T.KIND_ATTEMPT if p.step is None else T.KIND_STEP,
        T.VERSION: (item.version or 0) + 1,
        T.PIPELINE_ID: p.pipeline_id,
        T.RUN_ID: p.run_id,
        T.ATTEMPT: p.attempt,
        T.STATUS: p.final_status,
        T.LINEAGE_STATUS: p.status,
        T.EVENT_COUNT: p.events,
        T.OBSERVED_EVENT_COUNT: p.observed_events,
        T.READ_COUNT: p.reads,
        T.WRITE_COUNT: p.writes,
        T.TRANSFORM_COUNT: p.transforms,
    }
    optional = {
        T.STEP: p.step,
        T.STATUS_EVENT_TIME: p.status_event[0] if p.status_event else None,
        T.STATUS_EVENT_ID: p.status_event[1] if p.status_event else None,
        T.ERROR: p.error,
        T.STARTED_AT: p.started_at,
        T.FIRST_EVENT_TIME: p.first_event_time,
        T.LAST_EVENT_TIME: p.last_event_time,
        T.INPUTS: set(p.inputs) or None,
        T.OUTPUTS: set(p.outputs) or None,
    }
    if p.platform is not None:
        end = p.platform
        optional.update(
            {
                T.PLATFORM_STATUS: end.status,
                T.PLATFORM_STATE: end.state,
                T.PLATFORM_ENDED_AT: end.decided_by[0],
                T.PLATFORM_EVENT_ID: end.decided_by[1],
                T.OBSERVED_BY: end.observed_by,
                T.PLATFORM_ERROR: end.error,
                T.PLATFORM_RUN_ID: end.platform_run_id,
                T.PREVIOUS_RUN_ID: end.previous_run_id,
                T.RECONCILIATION: p.reconciliation,
            }
        )
    if p.step is None:
        optional[T.CONTEXT] = p.context or None
        optional[T.PLATFORM] = p.context.get(Field.PLATFORM)
        started = p.started_at or p.first_event_time or ""
        optional[T.PIPELINE_SK] = index_sort_key(started, key)
        if p.active:
            optional[T.ACTIVE_PK] = T.ACTIVE_PARTITION
            optional[T.ACTIVE_SK] = index_sort_key(p.last_event_time or "", key)
    attrs.update((name, value) for name, value in optional.items() if value is not None)
    serialised = {name: _serializer.serialize(value) for name, value in attrs.items()}
    return {**item.extra, **serialised}


def from_item(raw: Mapping[str, Any]) -> Stored:
    values = {name: _plain(_deserializer.deserialize(value)) for name, value in raw.items()}
    status_time, status_id = values.get(T.STATUS_EVENT_TIME), values.get(T.STATUS_EVENT_ID)
    # ``status`` is the verdict; lineage's own status is ``lineage_status`` (items written before the
    # platform's account existed hold only ``status``, which was lineage's then)
    status = values.get(T.LINEAGE_STATUS, values.get(T.STATUS, RunStatus.RUNNING))
    platform = None
    if values.get(T.PLATFORM_STATUS) and values.get(T.PLATFORM_EVENT_ID):
        platform = PlatformEnd(
            status=values[T.PLATFORM_STATUS],
            state=values.get(T.PLATFORM_STATE, values[T.PLATFORM_STATUS]),
            decided_by=(values.get(T.PLATFORM_ENDED_AT, ""), values[T.PLATFORM_EVENT_ID]),
            observed_by=values.get(T.OBSERVED_BY, ""),
            error=values.get(T.PLATFORM_ERROR),
            platform_run_id=values.get(T.PLATFORM_RUN_ID),
            previous_run_id=values.get(T.PREVIOUS_RUN_ID),
        )
    progress = Progress(
        pipeline_id=values[T.PIPELINE_ID],
        run_id=values[T.RUN_ID],
        attempt=values[T.ATTEMPT],
        step=values.get(T.STEP),
        status=status if status in RunStatus.RANK else RunStatus.RUNNING,
        status_event=(status_time, status_id) if status_time and status_id else None,
        error=values.get(T.ERROR),
        started_at=values.get(T.STARTED_AT),
        first_event_time=values.get(T.FIRST_EVENT_TIME),
        last_event_time=values.get(T.LAST_EVENT_TIME),
        events=values.get(T.EVENT_COUNT, 0),
        reads=values.get(T.READ_COUNT, 0),
        writes=values.get(T.WRITE_COUNT, 0),
        transforms=values.get(T.TRANSFORM_COUNT, 0),
        inputs=set(values.get(T.INPUTS, ())),
        outputs=set(values.get(T.OUTPUTS, ())),
        context=dict(values.get(T.CONTEXT, {})),
        observed_events=values.get(T.OBSERVED_EVENT_COUNT, 0),
        platform=platform,
    )
    extra = {name: value for name, value in raw.items() if name not in MANAGED}
    return Stored(progress, values.get(T.VERSION, 0), extra)


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: integers become int again, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value
