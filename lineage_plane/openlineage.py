"""OpenLineage RunEvents of a Glue run as READ and WRITE events of the contract: a pure translation.

No AWS call here (lambdas.glue_bridge.datazone reads the events). ``translate`` keeps the run's events:
OpenLineage's Spark integration names the application after the Glue job in snake_case (``orders-daily``
→ ``orders_daily``) and each action ``<application>.<action>.<output>``; Glue's generated app name
(``nativespark-<job>-<JobRunId>``), when an event carries it, tells concurrent runs apart. It maps
datasets to contract ids, schemas and column lineage to the contract's fields and transformations, and
keeps each event within the contract's limits, splitting a WRITE's columns over several if need be.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from lineage_lib import contract
from lineage_lib.contract import MAX_EVENT_BYTES, EventType, Field
from lineage_lib.contract import Transformation as T
from lineage_lib.datasets import glue_table, normalize_dataset_id
from lineage_lib.errors import LineageConfigError, LineageValidationError
from lineage_plane.observation import RunKey, glue_context, observed_event, timestamp
from lineage_plane.run_table import ObservedTag, Observer

# The contract's limits, as its schema (the one place they are written) states them.
_DEFS: Final = contract.schema()["$defs"]
_NAME: Final = re.compile(_DEFS["name"]["pattern"])
_DATASET_ID: Final = re.compile(_DEFS["dataset_id"]["pattern"])
MAX_NAME: Final[int] = _DEFS["name"]["maxLength"]
MAX_DATASET_ID: Final[int] = _DEFS["dataset_id"]["maxLength"]
MAX_COLUMNS: Final[int] = contract.schema()["properties"]["columns"]["maxItems"]
MAX_SOURCES: Final[int] = _DEFS["column_lineage"]["properties"]["sources"]["maxItems"]
MAX_FIELDS: Final[int] = _DEFS["dataset"]["properties"]["schema"]["properties"]["fields"]["maxItems"]
SCHEMA_BUDGET: Final = MAX_EVENT_BYTES // 4  # bytes of schema per event at most: columns need the rest

_GLUE_APP: Final = re.compile(r"nativespark-.*-(jr_[0-9a-f]+)")
_GLUE_NAMESPACE: Final = re.compile(r"arn:aws[a-z-]*:glue:[a-z0-9-]+:([0-9]{12})")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_ZONE_ID: Final = re.compile(r"\[[^\]]*\]$")  # Java's ZonedDateTime.toString() appends "[UTC]"
_DIRECT: Final = {"TRANSFORMATION": T.EXPRESSION, "AGGREGATION": T.AGGREGATION}
_INDIRECT: Final = {"JOIN": T.JOIN, "FILTER": T.FILTER, "GROUP_BY": T.GROUP_BY}  # SORT, WINDOW...: other
_STATE_ORDER: Final = {"START": 0, "RUNNING": 1, "COMPLETE": 2, "ABORT": 2, "FAIL": 2}
_ROLE: Final = {EventType.READ: Field.SOURCE, EventType.WRITE: Field.TARGET}
Identity = tuple[str, str | None]  # a dataset's id in the contract, and its location


@dataclass
class DataZoneReading:
    """A run's lineage as DataZone holds it: contract events, and what could not be carried over."""

    events: list[dict[str, Any]] = field(default_factory=list)  # valid; READs, then WRITEs
    openlineage_events: int = 0  # the run's OpenLineage events they come from
    unmapped: set[tuple[str, str]] = field(default_factory=set)  # (namespace, name) without a contract id
    trimmed: int = 0  # schema fields, columns or sources left out: an invalid name, over a limit
    rejected: list[str] = field(default_factory=list)  # what was left out whole, and why


def translate(
    openlineage_events: Iterable[Mapping[str, Any]],
    *,
    key: RunKey,
    domain_id: str,
    job_name: str,
    job_run_id: str,
    region: str | None,
    account: str | None = None,
) -> DataZoneReading:
    """Glue run ``job_run_id``'s lineage among OpenLineage events, as contract events: one READ per input
    and one WRITE per output of each OpenLineage job (the ``step``), with the facets of its latest event.
    Ids derive from run, step and dataset: the same OpenLineage events make the same contract events."""
    context = glue_context(job_name, job_run_id, region)
    observe = functools.partial(observed_event, key, observer=Observer.DATAZONE, context=context)
    out = _Translation(account, observe, f"datazone/{domain_id}/{job_run_id}")
    seen: dict[tuple[str, str, str], _Seen] = {}  # (READ|WRITE, step, dataset id) → what was seen
    for moment, event in _of_run(openlineage_events, job_name, job_run_id, out.reading):
        step, job = _clip(str(dig(event, "job", "name"))), _obj(event.get("job"))
        run = (str(dig(event, "run", "runId")), f"{job.get('namespace') or ''}/{job.get('name')}")
        for kind, key_name in ((EventType.READ, "inputs"), (EventType.WRITE, "outputs")):
            for dataset in _items(event.get(key_name)):
                if (ident := out.identity(dataset)) is None:
                    continue
                facets = {**_obj(dataset.get("facets")), **_obj(dataset.get("inputFacets"))}
                facets.update(_obj(dataset.get("outputFacets")))
                earlier = seen.get((kind, step, ident[0]))
                if earlier:  # the latest event's facets win; a read is dated when first seen
                    facets = {**earlier.facets, **facets}
                when = earlier.time if earlier and kind == EventType.READ else timestamp(moment)
                seen[(kind, step, ident[0])] = _Seen(ident, facets, when, *run)
    for (kind, step, _), found in sorted(seen.items(), key=lambda item: item[0][0] != EventType.READ):
        for built in out.events(found, kind, step):
            try:
                contract.validate(built)
            except LineageValidationError as err:  # a bug here: reported, never emitted
                out.reading.rejected.append(f"{kind} of {found.ident[0]}: {err.reason} at {err.path}")
            else:
                out.reading.events.append(built)
    return out.reading


def is_glue_job(openlineage_job: str, glue_job: str) -> bool:
    """Whether an OpenLineage job is Glue job ``glue_job``'s Spark application or one of its actions."""
    names = {glue_job, openlineage_name(glue_job)}
    return any(openlineage_job == name or openlineage_job.startswith(name + ".") for name in names)


def openlineage_name(name: str) -> str:
    """A name as OpenLineage's Spark integration normalises it (its NameNormalizer): snake_case, ASCII."""
    text = re.sub(r"^\W+|\W+$", "", name, flags=re.ASCII)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if unicodedata.category(c)[0] != "M")
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    text = re.sub(r"(?<!^)([A-Z])([a-z])", r" \1\2", text)
    text = re.sub(r"(\d)(?=\D)", r"\1 ", text)
    return re.sub(r"[^a-zA-Z0-9]+", "_", text.lower())


@dataclass(frozen=True)
class _Seen:
    ident: Identity
    facets: dict[str, Any]
    time: str
    run_id: str  # the OpenLineage run and job (namespace/name) that last named the dataset
    job: str


class _Translation:
    """What one translation knows: the identities met so far, and what it had to leave out."""

    def __init__(self, account: str | None, observe: Callable[..., dict[str, Any]], prefix: str) -> None:
        self.reading, self._account, self._observe, self._prefix = DataZoneReading(), account, observe, prefix
        self._known: dict[tuple[str, str], Identity | None] = {}

    def events(self, found: _Seen, kind: str, step: str) -> list[dict[str, Any]]:
        """One dataset's READ or WRITE; several WRITEs of column groups where one would be over a limit."""
        dataset: dict[str, Any] = {Field.DATASET_ID: found.ident[0]}
        if found.ident[1]:
            dataset[Field.LOCATION] = found.ident[1]
        if isinstance(version := dig(found.facets, "version", "datasetVersion"), str) and _is_name(version):
            dataset[Field.VERSION] = version
        if fields := self.fields(dig(found.facets, "schema", "fields")):
            dataset[Field.SCHEMA] = {Field.FIELDS: fields}
        stats = _obj(found.facets.get("outputStatistics" if kind == EventType.WRITE else "inputStatistics"))
        pairs = ((Field.RECORDS, "rowCount"), (Field.BYTES, "size"), (Field.FILES, "fileCount"))
        metrics = {name: v for name, ol in pairs if type(v := stats.get(ol)) is int and v >= 0}
        tags = {ObservedTag.OPENLINEAGE_RUN_ID: found.run_id, ObservedTag.OPENLINEAGE_JOB: found.job}

        def make(part: int, columns: list[dict[str, Any]]) -> dict[str, Any]:
            extra: dict[str, Any] = {Field.COLUMNS: columns} if columns else {}
            if metrics and not part:  # once, however many parts
                extra[Field.METRICS] = metrics
            identity = f"{self._prefix}/{step}/{kind}/{found.ident[0]}" + (f"/{part}" if part else "")
            fields = {Field.STEP: step, _ROLE[kind]: dataset, **extra}
            return self._observe(
                identity=identity, event_type=kind, event_time=found.time, tags=tags, **fields
            )

        budget = MAX_EVENT_BYTES - _size(make(0, [])) - len(',"columns":[]')
        parts: list[list[dict[str, Any]]] = [[]]
        used = 0
        for column in self.columns(found.facets.get("columnLineage")) if kind == EventType.WRITE else []:
            size = _size(column) + 1
            if size > budget:
                self.reading.trimmed += 1
                continue
            if used + size > budget or len(parts[-1]) == MAX_COLUMNS:
                parts, used = [*parts, []], 0
            parts[-1].append(column)
            used += size
        return [make(part, columns) for part, columns in enumerate(parts)]

    def columns(self, facet: Any) -> list[dict[str, Any]]:
        """columnLineage → column entries: one per target column and transformation (and 500 sources)."""
        whole = _items(dig(facet, "dataset"))  # facet 1-2: what every column depends on (joins, filters)
        entries = []
        for column, spec in _obj(dig(facet, "fields")).items():
            refs: dict[str, dict[tuple[str, str], None]] = {}
            for item in [*_items(dig(spec, "inputFields")), *whole] if _is_name(column) else []:
                if ref := self.ref(item):
                    for kind in _kinds(item, column, _obj(spec)):
                        refs.setdefault(kind, {})[ref] = None
            self.reading.trimmed += not _is_name(column)
            for kind, found in refs.items():
                listed = [{Field.DATASET: dataset, Field.COLUMN: name} for dataset, name in found]
                for start in range(0, len(listed), MAX_SOURCES):
                    sources = listed[start : start + MAX_SOURCES]
                    entries.append({Field.COLUMN: column, Field.SOURCES: sources, Field.TRANSFORMATION: kind})
        return entries

    def fields(self, fields: Any) -> list[dict[str, str]]:
        """The schema facet's fields, nested ones as ``parent.child``, within the contract's limits."""
        kept: list[dict[str, str]] = []
        used = 0
        for name, kind in _flat(fields):
            entry = {
                Field.NAME: name,
                **({Field.TYPE: kind} if isinstance(kind, str) and _is_name(kind) else {}),
            }
            if _is_name(name) and len(kept) < MAX_FIELDS and used + _size(entry) < SCHEMA_BUDGET:
                kept.append(entry)
                used += _size(entry) + 1
            else:
                self.reading.trimmed += 1
        return kept

    def identity(self, dataset: Mapping[str, Any]) -> Identity | None:
        """A dataset's Glue table when a symlink names one (its place the location), else its place."""
        own = (str(dataset.get("namespace")), str(dataset.get("name")))
        links = _items(dig(dataset, "facets", "symlinks", "identifiers"))
        aliases = [
            (str(i.get("namespace")), str(i.get("name")))
            for i in links
            if str(i.get("type")).upper() == "TABLE"
        ]
        place = self._place(*own)
        table = next(filter(None, (self._glue(*alias) for alias in aliases)), None)
        ident = (table, place if place != table else None) if table else (place, None) if place else None
        if ident is None:
            self.reading.unmapped.add(own)
        for alias in (own, *aliases):
            self._known[alias] = self._known.get(alias) or ident
        return ident

    def ref(self, item: Mapping[str, Any]) -> tuple[str, str] | None:
        """(dataset id, column) of a columnLineage input field."""
        alias = (str(item.get("namespace")), str(item.get("name")))
        ident = self._known[alias] if alias in self._known else self.identity(item)
        column = item.get("field")
        if ident and isinstance(column, str) and _is_name(column):
            return ident[0], column
        self.reading.trimmed += ident is not None
        return None

    def _place(self, namespace: str, name: str) -> str | None:
        if "://" not in namespace:  # an ARN, "file", a bare catalog name...
            return self._glue(namespace, name)
        try:
            return _valid_id(normalize_dataset_id(namespace.rstrip("/") + "/" + name.lstrip("/")))
        except LineageConfigError:
            return None

    def _glue(self, namespace: str, name: str) -> str | None:
        """``arn:aws:glue:<region>:<account>`` + ``table/<db>/<table>`` → ``glue://<catalog>/<db>.<table>``."""
        match, parts = _GLUE_NAMESPACE.fullmatch(namespace), name.split("/")
        if match is None or len(parts) != 3 or parts[0] != "table":
            return None
        catalog = None if match.group(1) == self._account else match.group(1)
        try:
            return _valid_id(glue_table(parts[1], parts[2], catalog_id=catalog).id)
        except LineageConfigError:
            return None


def _kinds(item: Mapping[str, Any], column: str, spec: Mapping[str, Any]) -> list[str]:
    """OpenLineage's transformations of one input field → the contract's transformation kinds."""
    same = T.IDENTITY if item.get("field") == column else T.RENAME  # an identity under another name
    kinds = []
    for step in _items(item.get("transformations")):
        kind, subtype = str(step.get("type")).upper(), str(step.get("subtype")).upper()
        if step.get("masking") is True:
            kinds.append(T.MASKING)
        elif kind == "DIRECT":
            kinds.append(same if subtype == "IDENTITY" else _DIRECT.get(subtype, T.OTHER))
        else:
            kinds.append(_INDIRECT.get(subtype, T.OTHER))
    legacy = spec.get("transformationType")  # facet 1-0: one type for the whole column, if any
    return kinds or [same if legacy == "IDENTITY" else T.MASKING if legacy == "MASKED" else T.OTHER]


def _of_run(
    events: Iterable[Mapping[str, Any]], job_name: str, job_run_id: str, reading: DataZoneReading
) -> list[tuple[datetime, Mapping[str, Any]]]:
    """The events of Glue run ``job_run_id``, oldest first. An OpenLineage application run and its
    actions (parent facet) belong to one Glue run; Glue's generated app name, when present, says which."""
    timed, owners = [], {}
    for event in events:
        if (moment := _time(event)) is None:
            reading.rejected.append(f"OpenLineage event of run {dig(event, 'run', 'runId')}: no eventTime")
        elif is_glue_job(str(dig(event, "job", "name")), job_name):
            timed.append((moment, event))
            app_name = dig(event, "run", "facets", "spark_properties", "properties", "spark.app.name")
            if match := _GLUE_APP.fullmatch(str(app_name)):
                owners[_application(event)] = match.group(1)
    ours = [(t, e) for t, e in timed if owners.get(_application(e), job_run_id) == job_run_id]
    reading.openlineage_events = len(ours)
    return sorted(ours, key=lambda pair: (pair[0], _STATE_ORDER.get(str(pair[1].get("eventType")), 3)))


def _application(event: Mapping[str, Any]) -> str:
    return str(dig(event, "run", "facets", "parent", "run", "runId") or dig(event, "run", "runId"))


def _time(event: Mapping[str, Any]) -> datetime | None:
    try:
        return as_utc(datetime.fromisoformat(_ZONE_ID.sub("", event["eventTime"])))
    except (KeyError, TypeError, ValueError):
        return None


def as_utc(moment: datetime) -> datetime:
    """An aware time in UTC; a naive one is taken as UTC."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _flat(fields: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for item in _items(fields):
        name = prefix + str(item.get("name"))
        yield name, item.get("type")
        yield from _flat(item.get("fields"), name + ".")


def _valid_id(ident: str) -> str | None:
    return ident if len(ident) <= MAX_DATASET_ID and _DATASET_ID.fullmatch(ident) else None


def _clip(text: str) -> str:
    """A name of the contract from any text: no control characters, at most MAX_NAME characters."""
    return _CONTROL.sub("_", text).strip()[:MAX_NAME].rstrip()


def _is_name(text: str) -> bool:
    return len(text) <= MAX_NAME and _NAME.fullmatch(text) is not None


def _size(value: Any) -> int:
    """Bytes as the validator counts them (lambdas.common.service.observed_delivery, then ingest)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return len(text.encode("utf-8", "backslashreplace"))


def dig(value: Any, *keys: str) -> Any:
    """The value under ``keys`` in nested mappings, or None."""
    for name in keys:
        value = value.get(name) if isinstance(value, Mapping) else None
    return value


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []
