"""Archives with known answers, written as the plane writes them, for the CLI's and the engine's tests.

``write_archive(root, events)`` delivers events through the validator's own ingest
(``lineage_plane.ingest.ingest``: one CloudWatch batch, the ``ingest`` object appended, gzip JSON
lines at ``lineage_plane.layout.event_object_key``), so the layout cannot drift from the validator's.
``write_quarantine(root, messages)`` does the same with lines the validator refuses. ``RunEvents``
builds a run attempt's events as plain dicts, validated against the contract, at chosen times.

``write_known_archive(root)`` writes the scenario below; the module's constants name what is in it:

* ``orders-daily`` (job ``orders_daily``, step ``aggregate``) reads RAW and CUSTOMERS, writes DAILY:
  ``revenue`` <- RAW.order_total (rename), ``customer_region`` <- RAW.customer_id + CUSTOMERS.region
  (join). run-1/1 on 11-19 (RAW schema 7) COMPLETE; on 11-20 RAW is at schema 8 and DAILY gains
  ``discount`` <- RAW.discount (identity): run-2/1 FAILED, run-2/2 COMPLETE. run-1's WRITE is
  delivered twice (a redelivery: each event_id counts once).
* ``reports/daily export`` (an id that needs percent-encoding) TRANSFORMs DAILY into REPORT
  (``revenue`` identity) on 11-20: ABORTED.
* ``customer-scd`` reads SCD and CUSTOMERS and writes SCD (a cycle) on 11-21: RUNNING (no end).
* ``glue-sales``: only the platform spoke. DataZone READ LANDING, WRITE SALES_RAW (``amount``
  identity), tagged observed_by=datazone; the Glue bridge's RUN_COMPLETE (SUCCEEDED): a lineage gap.
* ``lost-job`` reads SALES_RAW and writes SALES_DAILY, never ends; the Glue bridge says FAILED:
  incomplete.
* ``noop-job`` completes without reading or writing anything: no datasets.
* Quarantine (log_date 11-21): one schema violation (delivered twice) and one truncated line.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from lineage_lib import ColumnLineage, Dataset, glue_table, s3
from lineage_lib.contract import CURRENT_VERSION, EventType, Field, validate
from lineage_plane.ingest import Delivery, LogEvent, ingest
from lineage_plane.run_table import ObservedTag, Observer, PlatformState

ACCOUNT: Final = "123456789012"
REGION: Final = "eu-west-1"
JOB_LOG_GROUP: Final = "/aws-glue/jobs/output"
_IDS: Final = uuid.UUID("6f1c2a4e-0000-4000-8000-00000000a6c1")  # namespace of the events' ids

RAW: Final = glue_table("raw_db", "orders_raw")
CUSTOMERS: Final = glue_table("raw_db", "customers")
DAILY: Final = glue_table("analytics_db", "orders_daily")
REPORT: Final = s3("reports-bucket", "daily/orders")
SCD: Final = glue_table("analytics_db", "customers_scd")
LANDING: Final = s3("landing-bucket", "sales")
SALES_RAW: Final = glue_table("raw_db", "sales_raw")
SALES_DAILY: Final = glue_table("analytics_db", "sales_daily")

FIRST_DAY: Final = "2026-11-19"
LAST_DAY: Final = "2026-11-21"
BEFORE_SCHEMA_CHANGE: Final = "2026-11-19T23:00:00Z"  # as-of: RAW at schema 7 only
AFTER_EVERYTHING: Final = "9999-12-31T23:59:59Z"  # as-of "now"
EXPORT_PIPELINE: Final = "reports/daily export"
QUARANTINE_DAY: Final = "2026-11-21"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _text(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "")
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "Z"


@dataclass
class RunEvents:
    """One run attempt's events, one second apart from ``start`` (``at`` moves the clock)."""

    pipeline_id: str
    run_id: str
    start: str
    attempt: int = 1
    job_name: str | None = None
    platform: str = "glue"
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._clock = _time(self.start)

    def at(self, moment: str) -> RunEvents:
        self._clock = _time(moment)
        return self

    def emit(
        self, event_type: str, *, tags: Mapping[str, str] | None = None, **fields: Any
    ) -> dict[str, Any]:
        context: dict[str, Any] = {Field.PLATFORM: self.platform}
        if self.job_name:
            context["job_name"] = self.job_name
        event: dict[str, Any] = {
            Field.SCHEMA_VERSION: CURRENT_VERSION,
            Field.EVENT_ID: str(
                uuid.uuid5(_IDS, f"{self.pipeline_id}/{self.run_id}/{self.attempt}/{len(self.events)}")
            ),
            Field.EVENT_TIME: _text(self._clock),
            Field.EVENT_TYPE: event_type,
            Field.PRODUCER: {Field.NAME: "lineage-lib", Field.VERSION: "0.1.0"},
            Field.PIPELINE_ID: self.pipeline_id,
            Field.RUN_ID: self.run_id,
            Field.ATTEMPT: self.attempt,
            Field.CONTEXT: context,
            **{k: v for k, v in fields.items() if v is not None},
        }
        if tags:
            event[Field.TAGS] = dict(tags)
            if Observer.TAG in tags:
                event[Field.PRODUCER] = {Field.NAME: Observer.PRODUCER, Field.VERSION: "0.1.0"}
        validate(event)
        self.events.append(event)
        self._clock += timedelta(seconds=1)
        return event

    def started(self, **tags: str) -> RunEvents:
        self.emit(EventType.RUN_START, tags=tags)
        return self

    def read(self, step: str, dataset: Dataset, **tags: str) -> RunEvents:
        self.emit(EventType.READ, step=step, source=dataset.to_event(), tags=tags)
        return self

    def write(
        self, step: str, dataset: Dataset, columns: Sequence[ColumnLineage] = (), **tags: str
    ) -> RunEvents:
        self.emit(EventType.WRITE, step=step, target=dataset.to_event(), columns=_columns(columns), tags=tags)
        return self

    def transform(
        self, step: str, source: Dataset, target: Dataset, columns: Sequence[ColumnLineage] = (), **tags: str
    ) -> RunEvents:
        self.emit(
            EventType.TRANSFORM,
            step=step,
            source=source.to_event(),
            target=target.to_event(),
            columns=_columns(columns),
            tags=tags,
        )
        return self

    def completed(self, **tags: str) -> RunEvents:
        self.emit(EventType.RUN_COMPLETE, tags=tags)
        return self

    def failed(self, message: str = "boom", **tags: str) -> RunEvents:
        self.emit(EventType.RUN_FAIL, error={Field.TYPE: "RuntimeError", Field.MESSAGE: message}, tags=tags)
        return self

    def aborted(self, message: str = "interrupted (SIGTERM)", **tags: str) -> RunEvents:
        self.emit(EventType.RUN_ABORT, error={Field.TYPE: "Abort", Field.MESSAGE: message}, tags=tags)
        return self


def _columns(columns: Sequence[ColumnLineage]) -> list[dict[str, Any]] | None:
    return [c.to_event() for c in columns] if columns else None


def _deliver(root: Path, messages: Sequence[tuple[str, int]], log_group: str, log_stream: str) -> list[str]:
    delivery = Delivery(
        owner=ACCOUNT,
        log_group=log_group,
        log_stream=log_stream,
        log_events=[
            LogEvent(id=f"{millis}{i:06d}", timestamp=millis, message=text)
            for i, (text, millis) in enumerate(messages)
        ],
    )
    received = datetime.fromtimestamp(max((m for _, m in messages), default=0) / 1000 + 5, tz=UTC)
    outcome = ingest(delivery, region=REGION, received_at=received, validator_version="test")
    keys = []
    for obj in outcome.objects:
        path = root / obj.key
        if not path.exists():  # append-only, as the archive bucket is
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(obj.body())
        keys.append(obj.key)
    return keys


def write_archive(
    root: Path,
    events: Sequence[Mapping[str, Any]],
    *,
    log_group: str = JOB_LOG_GROUP,
    log_stream: str = "tests",
) -> list[str]:
    """Deliver ``events`` as one CloudWatch batch through the validator's ingest; the keys written.
    Each log event is dated by its event's time. Raises if the validator refuses one."""
    root.mkdir(parents=True, exist_ok=True)
    messages = [
        (json.dumps(e, separators=(",", ":")), int(_time(e[Field.EVENT_TIME]).timestamp() * 1000))
        for e in events
    ]
    keys = _deliver(root, messages, log_group, log_stream)
    if any(k.startswith("quarantine/") for k in keys):
        raise ValueError(f"the validator refused some of these events: {keys}")
    return keys


def write_quarantine(
    root: Path, messages: Sequence[str], *, logged_at: str, log_stream: str = "tests"
) -> list[str]:
    """Deliver log lines the validator refuses (logged at ``logged_at``); the keys written."""
    millis = int(_time(logged_at).timestamp() * 1000)
    keys = _deliver(root, [(m, millis + i) for i, m in enumerate(messages)], JOB_LOG_GROUP, log_stream)
    if any(not k.startswith("quarantine/") for k in keys):
        raise ValueError(f"the validator accepted some of these lines: {keys}")
    return keys


# --- The known-answers archive -----------------------------------------------------------------------

REVENUE: Final = ColumnLineage("revenue", RAW.column("order_total"), "rename")
REGION_JOIN: Final = ColumnLineage(
    "customer_region", [RAW.column("customer_id"), CUSTOMERS.column("region")], "join"
)
DISCOUNT: Final = ColumnLineage("discount", RAW.column("discount"), "identity")
DATAZONE: Final = {Observer.TAG: Observer.DATAZONE}


def _orders(run_id: str, attempt: int, start: str, raw_schema: str) -> RunEvents:
    run = RunEvents("orders-daily", run_id, start, attempt=attempt, job_name="orders_daily").started()
    run.read("aggregate", RAW.with_schema(raw_schema)).read("aggregate", CUSTOMERS)
    columns = [REVENUE, REGION_JOIN] + ([DISCOUNT] if raw_schema == "8" else [])
    return run.write("aggregate", DAILY.with_schema("3"), columns)


def known_runs() -> list[RunEvents]:
    """The scenario of the module docstring, run attempt by run attempt."""
    glue_bridge = {Observer.TAG: Observer.GLUE_BRIDGE}
    return [
        _orders("run-1", 1, "2026-11-19T02:00:00Z", "7").completed(),
        _orders("run-2", 1, "2026-11-20T02:00:00Z", "8").failed("out of memory"),
        _orders("run-2", 2, "2026-11-20T03:00:00.5Z", "8").completed(),
        RunEvents(EXPORT_PIPELINE, "exp-1", "2026-11-20T06:00:00Z", platform="emr")
        .started()
        .transform(
            "export", DAILY.with_schema("3"), REPORT, [ColumnLineage("revenue", DAILY.column("revenue"))]
        )
        .aborted(),
        RunEvents("customer-scd", "scd-1", "2026-11-21T01:00:00Z", job_name="customer_scd")
        .started()
        .read("merge", SCD)
        .read("merge", CUSTOMERS)
        .write("merge", SCD),
        RunEvents("glue-sales", "jr_sales1", "2026-11-21T04:00:00Z", job_name="sales_etl")
        .read("sales_etl", LANDING, **DATAZONE)
        .write("sales_etl", SALES_RAW, [ColumnLineage("amount", LANDING.column("amount"))], **DATAZONE)
        .completed(**glue_bridge, **{ObservedTag.PLATFORM_STATE: PlatformState.SUCCEEDED}),
        RunEvents("lost-job", "lost-1", "2026-11-21T05:00:00Z", job_name="lost_job")
        .started()
        .read("load", SALES_RAW)
        .write("load", SALES_DAILY)
        .at("2026-11-21T05:30:00Z")
        .failed("Glue says: FAILED", **glue_bridge, **{ObservedTag.PLATFORM_STATE: PlatformState.FAILED}),
        RunEvents("noop-job", "noop-1", "2026-11-21T06:00:00Z", platform="lambda").started().completed(),
    ]


QUARANTINED_VIOLATION: Final = json.dumps(
    {
        Field.SCHEMA_VERSION: CURRENT_VERSION,
        Field.EVENT_ID: "0bad0bad-0000-4000-8000-000000000001",
        "event_type": "READ",
    }
)
QUARANTINED_TRUNCATED: Final = '{"schema_version":"1.0","event_id":"0bad0bad-0000-4000-8000-0000000'


def write_known_archive(root: Path) -> list[dict[str, Any]]:
    """Write the scenario's archive under ``root``; returns every event written (each once)."""
    runs = known_runs()
    events = [e for run in runs for e in run.events]
    write_archive(root, events)
    redelivered = next(e for e in runs[0].events if e[Field.EVENT_TYPE] == EventType.WRITE)
    write_archive(root, [redelivered], log_stream="redelivery")
    write_quarantine(
        root, [QUARANTINED_VIOLATION, QUARANTINED_TRUNCATED], logged_at=f"{QUARANTINE_DAY}T07:00:00Z"
    )
    write_quarantine(
        root, [QUARANTINED_VIOLATION], logged_at=f"{QUARANTINE_DAY}T08:00:00Z", log_stream="again"
    )
    return events
