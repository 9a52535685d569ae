"""The questions of ``queries/*.sql``, answered from a local archive, an S3 archive or Athena.

``open_source`` picks the source; each answers ``run(query_name, parameters)`` with rows as dicts.
Locally, DuckDB reads the archive's gzip JSON lines through three views shaped like the Athena
tables (the shapes come from ``lineage_plane/athena_schema.py``, the one place they are defined), and runs
the same files, transpiled from Trino by sqlglot (``lineage_cli.duckdb_sql``). Athena runs the files
as written (``lineage_cli.athena``). Rows hold Python values: str, int, float, bool, None, lists,
and timezone-aware UTC datetimes for timestamps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from lineage_cli.archive import (
    PARTITION_OF_PREFIX,
    ArchiveNotFoundError,
    LocalArchive,
    Progress,
    S3Archive,
    S3Location,
    SourceError,
    archive_files,
    default_cache_dir,
)

if TYPE_CHECKING:
    from types import ModuleType

    from lineage_plane.athena_schema import SavedQuery

__all__ = [
    "ArchiveNotFoundError",
    "EngineMissingError",
    "Progress",
    "QueriesNotFoundError",
    "QuerySource",
    "SourceError",
    "UnknownQueryError",
    "open_source",
]

_POLL_SECONDS: Final = 0.1  # how often a running DuckDB query's progress is read


class QueriesNotFoundError(SourceError):
    def __init__(self, looked: Sequence[Path], why: str = "") -> None:
        where = ", ".join(str(p) for p in looked)
        super().__init__(
            f"the saved queries are not here ({where}){': ' + why if why else ''}. Reinstall the tool "
            "(pip install lineage-plane): its wheel carries them in lineage_plane/queries/"
        )


class EngineMissingError(SourceError):
    def __init__(self, module: str) -> None:
        super().__init__(
            f"the local engine needs {module}, which is not installed: pip install lineage-plane "
            "(DuckDB and sqlglot), or ask a deployed stack with --athena WORKGROUP"
        )


class UnknownQueryError(SourceError):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(f"no query {name!r} in queries/; the queries are: {', '.join(known)}")


class QuerySource(Protocol):
    def run(self, query_name: str, parameters: Sequence[str]) -> list[dict[str, Any]]: ...

    def run_rows(self, query_name: str, parameters: Sequence[str]) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The same answer as ``run``, as the columns and one tuple per row: for large answers (a dict
        per row costs more than the query's own fetch)."""
        ...

    def dates(self) -> tuple[str, str] | None: ...

    def describe(self) -> str: ...


# --- The saved queries ----------------------------------------------------------------------------


def queries_dirs() -> tuple[Path, ...]:
    """Where the query files are: the plane core's package data (lineage_plane/queries/)."""
    from lineage_plane.athena_schema import QUERIES_DIR

    return (QUERIES_DIR,)


class Queries:
    """``queries/*.sql`` by name, with what each header says (athena_schema.read_saved_query)."""

    def __init__(self, directory: Path | None = None) -> None:
        candidates = (directory,) if directory is not None else queries_dirs()
        found = next((d for d in candidates if d.is_dir() and any(d.glob("*.sql"))), None)
        if found is None:
            raise QueriesNotFoundError(candidates)
        from lineage_plane import athena_schema

        self.directory = found
        self._read = athena_schema.read_saved_query
        self._cache: dict[str, SavedQuery] = {}

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.sql"))

    def get(self, name: str, parameters: Sequence[str]) -> SavedQuery:
        if name not in self._cache:
            path = self.directory / f"{name}.sql"
            if "/" in name or "\\" in name or not path.is_file():
                raise UnknownQueryError(name, self.names())
            self._cache[name] = self._read(path)
        query = self._cache[name]
        if len(parameters) != len(query.parameters):
            wanted = "; ".join(f"{i}. {p}" for i, p in enumerate(query.parameters, 1))
            raise SourceError(
                f"{name} takes {len(query.parameters)} parameters ({wanted}), not {len(parameters)}"
            )
        return query


def date_window(query: SavedQuery, parameters: Sequence[str]) -> tuple[str, str, str] | None:
    """(partition, first day, last day) when the header says parameters name a window of days
    (``first event_date of the window``, ``last log_date ...``): only those days need reading."""
    for partition in PARTITION_OF_PREFIX:
        first = [i for i, doc in enumerate(query.parameters) if doc.startswith(f"first {partition}")]
        last = [i for i, doc in enumerate(query.parameters) if doc.startswith(f"last {partition}")]
        if len(first) == 1 and len(last) == 1:
            return partition, parameters[first[0]], parameters[last[0]]
    return None


# --- DuckDB over an archive folder ----------------------------------------------------------------


class LocalSource:
    """DuckDB, in memory, over an archive folder. One connection; not for concurrent use."""

    def __init__(self, archive: LocalArchive, *, progress: Progress | None = None, label: str = "") -> None:
        duckdb = _local_engine()
        self.archive = archive
        self.queries = Queries()
        self._progress = progress
        self._label = label or f"local archive {archive.root}"
        self._connection = duckdb.connect(":memory:")
        self._connection.execute("SET TimeZone = 'UTC'")  # from_iso8601_timestamp and friends, as Athena
        self._connection.execute("SET preserve_insertion_order = false")  # no query here relies on it
        # sqlglot before 30.x writes lambdas as x -> ...: DuckDB 1.3+ accepts it only when asked
        self._connection.execute("SET lambda_syntax = 'ENABLE_SINGLE_ARROW'")
        self._connection.execute("SET enable_progress_bar = true")  # query_progress() needs it ...
        self._connection.execute("SET enable_progress_bar_print = false")  # ... and prints nothing itself

    def describe(self) -> str:
        return f"{self._label} ({self.archive.object_count()} objects)"

    def dates(self) -> tuple[str, str] | None:
        return self.archive.event_dates()

    def run(self, query_name: str, parameters: Sequence[str]) -> list[dict[str, Any]]:
        columns, rows = self.run_rows(query_name, parameters)
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def run_rows(self, query_name: str, parameters: Sequence[str]) -> tuple[list[str], list[tuple[Any, ...]]]:
        from lineage_cli import duckdb_sql

        query = self.queries.get(query_name, parameters)
        window = date_window(query, parameters)
        for view in duckdb_sql.views(self.archive.root, window, archive_files):
            self._connection.execute(view)
        sql = duckdb_sql.to_duckdb(query.sql)
        bound = self._connection.sql(sql, params=list(parameters))  # bound, not run: the result's columns
        columns, aware = bound.columns, [str(t) == "TIMESTAMP WITH TIME ZONE" for t in bound.types]
        if any(aware):  # fetched as UTC wall time (no pytz needed), made aware below
            sql = f"SELECT {duckdb_sql.utc_wall_time(columns, aware)} FROM ({sql}) AS answer"
        # execute().fetchall(), measured faster than the relation's own fetchall() on 600,000 rows
        run = self._connection.execute
        fetched = self._watch(f"{query_name} on {self._label}", lambda: run(sql, list(parameters)).fetchall())
        if not any(aware):
            return list(columns), fetched
        return list(columns), [
            tuple(
                v.replace(tzinfo=UTC) if tz and isinstance(v, datetime) else v
                for tz, v in zip(aware, row, strict=True)
            )
            for row in fetched
        ]

    def _watch(self, label: str, fetch: Callable[[], list[tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
        """Run ``fetch``, reporting DuckDB's progress (percent) from a second thread meanwhile."""
        progress = self._progress
        if progress is None:
            return fetch()
        done = threading.Event()

        def poll() -> None:
            while not done.wait(_POLL_SECONDS):
                percent = self._connection.query_progress()
                if percent >= 0:
                    progress(percent, 100.0, label)

        watcher = threading.Thread(target=poll, name="lineage-query-progress", daemon=True)
        watcher.start()
        try:
            rows = fetch()
        finally:
            done.set()
            watcher.join()
        progress(100.0, 100.0, label)
        return rows


class S3Source(LocalSource):
    """An S3 archive: the days a question names are copied into the cache, then read locally."""

    def __init__(self, archive: S3Archive, *, progress: Progress | None = None) -> None:
        super().__init__(archive.cache, progress=progress, label=f"S3 archive {archive.location}")
        self.s3 = archive

    def describe(self) -> str:
        return f"{self._label} (cached in {self.archive.root})"

    def dates(self) -> tuple[str, str] | None:
        return self.s3.event_dates()

    def run_rows(self, query_name: str, parameters: Sequence[str]) -> tuple[list[str], list[tuple[Any, ...]]]:
        query = self.queries.get(query_name, parameters)
        window = date_window(query, parameters)
        if window is None:  # the question is not bounded by days: every day of both partitions
            for partition in PARTITION_OF_PREFIX:
                self.s3.sync(partition, "0000-00-00", "9999-99-99", self._progress)
        else:
            self.s3.sync(*window, progress=self._progress)
        return super().run_rows(query_name, parameters)


def _local_engine() -> ModuleType:
    """The duckdb module, once sqlglot is known to be there too; else what to install."""
    import importlib

    for name in ("sqlglot", "duckdb"):
        try:
            module = importlib.import_module(name)
        except ImportError as err:
            raise EngineMissingError(name) from err
    return module


# --- Choosing the source --------------------------------------------------------------------------


def open_source(
    spec: str | None,
    *,
    athena_workgroup: str | None,
    athena_database: str = "lineage",
    cache_dir: Path | None = None,
    session: Any = None,
    progress: Progress | None = None,
    region: str | None = None,
) -> QuerySource:
    """``spec`` is an archive folder or ``s3://bucket/prefix``; ``athena_workgroup`` asks Athena
    instead. ``session`` is a boto3 Session (created here, from the environment, when needed);
    ``region`` overrides its region for the clients made from it."""
    if spec and athena_workgroup:
        raise SourceError("give either --archive or --athena, not both: they are two places to ask")
    if athena_workgroup:
        from lineage_cli.athena import AthenaSource

        client = _client(session, "athena", region)
        return AthenaSource(client, athena_workgroup, athena_database, Queries(), progress=progress)
    if not spec:
        raise SourceError(
            "no archive named: pass --archive DIR (the local plane's folder), --archive s3://BUCKET/PREFIX, "
            "or --athena WORKGROUP for a deployed stack"
        )
    if spec.startswith("s3://"):
        location = S3Location.parse(spec)
        cache = cache_dir if cache_dir is not None else default_cache_dir(location)
        return S3Source(S3Archive(location, cache, _client(session, "s3", region)), progress=progress)
    return LocalSource(LocalArchive.open(spec), progress=progress)


def _client(session: Any, service: str, region: str | None) -> Any:
    if session is None:
        import boto3

        session = boto3.session.Session()
    return session.client(service, region_name=region) if region else session.client(service)
