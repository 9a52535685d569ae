"""Dataset identity: one identifier for one dataset, whichever engine reads or writes it.

Rules (also in schemas/README.md, "Dataset identity"):

* ``s3://bucket/key``: ``s3a://`` and ``s3n://`` (Spark, Hadoop) become ``s3://``; the bucket is
  lower-cased; repeated slashes collapse; a trailing slash is dropped, so the prefix ``s3://b/p/``
  and ``s3://b/p`` are one dataset. ``arn:aws:s3:::bucket/key`` is accepted as input.
* ``glue://<catalog>/<database>.<table>``: the Data Catalog table; database and table lower-cased
  (the Catalog stores them so). ``<catalog>`` is the catalog (account) id when the job names one, and
  ``default`` (the catalog of the account the job runs in) otherwise. ``arn:aws:glue:...:table/db/t``
  is accepted as input.
* Any other ``scheme://authority/path`` (``redshift://``, ``jdbc:...`` excluded): scheme and authority
  lower-cased, repeated slashes in the path collapsed, trailing slash dropped.

Build identifiers with ``s3()``, ``glue_table()`` and ``dataset()`` instead of strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Final, NamedTuple, Union

from lineage_lib.contract import Field, Transformation
from lineage_lib.errors import LineageConfigError

DEFAULT_CATALOG: Final = "default"
_SCHEME_ALIASES: Final = {"s3a": "s3", "s3n": "s3"}
_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)$")
_CATALOG_ID = re.compile(r"^(default|[0-9]{12})$")
_GLUE_ARN = re.compile(r"^arn:aws[a-z-]*:glue:[a-z0-9-]+:([0-9]{12}):table/([^/]+)/([^/]+)$")
_S3_ARN = re.compile(r"^arn:aws[a-z-]*:s3:::(.+)$")
_SLASHES = re.compile(r"/{2,}")


def normalize_dataset_id(uri: str) -> str:
    """The canonical identifier for a dataset URI or ARN; raises LineageConfigError if unparseable."""
    if not isinstance(uri, str) or not uri.strip():
        raise LineageConfigError(f"a dataset needs a URI such as s3://bucket/prefix, got {uri!r}")
    text = uri.strip()
    arn = _GLUE_ARN.match(text)
    if arn:
        return _glue_id(arn.group(1), arn.group(2), arn.group(3))
    arn = _S3_ARN.match(text)
    if arn:
        text = "s3://" + arn.group(1)
    match = _URI.match(text)
    if not match:
        raise LineageConfigError(
            f"{uri!r} is not a dataset URI: use scheme://location (s3://bucket/prefix, "
            "glue://default/db.table), or the helpers s3() and glue_table()"
        )
    scheme, authority, path = match.groups()
    scheme = _SCHEME_ALIASES.get(scheme.lower(), scheme.lower())
    if not authority:
        raise LineageConfigError(f"{uri!r} has no bucket, host or catalog after {scheme}://")
    if scheme == "glue":
        parts = path.strip("/").split(".")
        if len(parts) != 2 or not all(parts):
            raise LineageConfigError(f"{uri!r}: a Glue table is glue://<catalog>/<database>.<table>")
        return _glue_id(authority, parts[0], parts[1])
    path = _SLASHES.sub("/", path).rstrip("/")
    return f"{scheme}://{authority.lower()}{path}"


def _glue_id(catalog: str, database: str, table: str) -> str:
    catalog = catalog.lower()
    if not _CATALOG_ID.match(catalog):
        raise LineageConfigError(
            f"Glue catalog id {catalog!r} must be a 12-digit account id, or {DEFAULT_CATALOG!r} "
            "for the catalog of the account the job runs in"
        )
    for name in (database, table):
        if not name.strip() or "." in name or "/" in name:
            raise LineageConfigError(f"{name!r} is not a Glue database or table name")
    return f"glue://{catalog}/{database.strip().lower()}.{table.strip().lower()}"


class ColumnRef(NamedTuple):
    """A column of a dataset: ``glue_table("raw_db", "orders_raw").column("order_total")``."""

    dataset: str
    column: str

    def to_event(self) -> dict[str, Any]:
        return {Field.DATASET: self.dataset, Field.COLUMN: self.column}


class ColumnLineage:
    """A target column and the source columns it derives from, with how it is derived.

    An immutable value; its event form is built once, when it is made (jobs often build these per
    call, and the emission path is measured against the cost of a bare ``json.dumps``).
    """

    __slots__ = ("column", "description", "event_form", "sources", "transformation")

    column: str
    sources: tuple[ColumnRef, ...]
    transformation: str
    description: str | None
    event_form: dict[str, Any]  # shared by every event that carries this mapping: never mutate it

    def __init__(
        self,
        column: str,
        sources: ColumnRef | Iterable[ColumnRef],
        transformation: str = Transformation.IDENTITY,
        description: str | None = None,
    ) -> None:
        refs = (sources,) if isinstance(sources, ColumnRef) else tuple(sources)
        form: dict[str, Any] = {
            Field.COLUMN: column,
            Field.SOURCES: [{Field.DATASET: ref[0], Field.COLUMN: ref[1]} for ref in refs],
            Field.TRANSFORMATION: transformation,
        }
        if description is not None:
            form[Field.DESCRIPTION] = description
        for name, value in (
            ("column", column),
            ("sources", refs),
            ("transformation", transformation),
            ("description", description),
            ("event_form", form),
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ColumnLineage is immutable; make a new one instead of setting {name!r}")

    def _key(self) -> tuple[Any, ...]:
        return (self.column, self.sources, self.transformation, self.description)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ColumnLineage) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"ColumnLineage({self.column!r}, {list(self.sources)!r}, {self.transformation!r}" + (
            f", {self.description!r})" if self.description is not None else ")"
        )

    def to_event(self) -> dict[str, Any]:
        """A fresh copy of the event form (``columns[]`` entry)."""
        return {**self.event_form, Field.SOURCES: [dict(src) for src in self.event_form[Field.SOURCES]]}


@dataclass(frozen=True)
class Dataset:
    """A dataset as events name it: its identity plus, optionally, what version of it was used."""

    id: str
    location: str | None = None
    version: str | None = None
    schema_version: str | None = None
    fields: tuple[tuple[str, str | None], ...] | None = field(default=None)

    def column(self, name: str) -> ColumnRef:
        return ColumnRef(self.id, name)

    def with_schema(
        self, version: str | None = None, fields: Iterable[tuple[str, str | None] | str] | None = None
    ) -> Dataset:
        """The same dataset, stating the schema version and/or fields the job used."""
        normalised = None
        if fields is not None:
            normalised = tuple((f, None) if isinstance(f, str) else (f[0], f[1]) for f in fields)
        return replace(self, schema_version=version, fields=normalised)

    def at_version(self, version: str) -> Dataset:
        """The same dataset at a data version (Iceberg snapshot, Delta version, S3 object version)."""
        return replace(self, version=version)

    @cached_property
    def event_form(self) -> dict[str, Any]:
        """``to_event()`` computed once and shared by every event that names this dataset: never
        mutate it (``to_event()`` gives a fresh copy)."""
        return self.to_event()

    def to_event(self) -> dict[str, Any]:
        out: dict[str, Any] = {Field.DATASET_ID: self.id}
        if self.location is not None:
            out[Field.LOCATION] = self.location
        if self.version is not None:
            out[Field.VERSION] = self.version
        if self.schema_version is not None or self.fields is not None:
            schema: dict[str, Any] = {}
            if self.schema_version is not None:
                schema[Field.VERSION] = self.schema_version
            if self.fields is not None:
                schema[Field.FIELDS] = [
                    {Field.NAME: name} if kind is None else {Field.NAME: name, Field.TYPE: kind}
                    for name, kind in self.fields
                ]
            out[Field.SCHEMA] = schema
        return out


DatasetLike = Union[Dataset, str]


def dataset(uri: str, *, location: str | None = None) -> Dataset:
    """A dataset from any supported URI or ARN, normalised (see the module docstring)."""
    loc = normalize_dataset_id(location) if location is not None else None
    return Dataset(normalize_dataset_id(uri), location=loc)


def s3(bucket_or_uri: str, key: str = "") -> Dataset:
    """An S3 object or prefix: ``s3("s3a://b/p/")`` or ``s3("b", "p")`` are both ``s3://b/p``."""
    if "://" in bucket_or_uri or bucket_or_uri.startswith("arn:"):
        return dataset(bucket_or_uri + (("/" + key) if key else ""))
    return dataset(f"s3://{bucket_or_uri}/{key}")


def glue_table(
    database: str, table: str, *, catalog_id: str | None = None, location: str | None = None
) -> Dataset:
    """A Glue Data Catalog table; ``catalog_id`` only for a catalog of another account."""
    catalog = catalog_id or DEFAULT_CATALOG
    loc = normalize_dataset_id(location) if location is not None else None
    return Dataset(_glue_id(catalog, database, table), location=loc)


def as_dataset(value: DatasetLike) -> Dataset:
    return value if isinstance(value, Dataset) else dataset(value)
