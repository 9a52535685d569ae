"""``lineage replay``: validate quarantined lines again and archive the ones that now pass.

The validator's own code path, replayed: each quarantine object's lines become the log events they
were (message, and the ``ingest`` object's log group, stream, log event id, timestamp, account and
region), one ``Delivery`` per log group and stream, handed to ``lineage_plane.ingest.ingest``. Only
the ``events/`` objects it returns are written, each only where its key is absent (S3: If-None-Match
via ``ArchiveWriter``; a folder: an exclusive hard link). Keys derive from the batch, so a second replay
writes nothing. Quarantine objects are never changed. The run state is not updated (it follows live
runs); the lineage questions and Athena read replayed events from the archive.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import sys
import textwrap
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, TextIO

from lineage_cli import options
from lineage_cli.archive import S3Location, SourceError, archive_files
from lineage_cli.exits import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from lineage_cli.progress import Progress, ProgressCallback
from lineage_lib.version import __version__
from lineage_plane.layout import Archive, Ingest, Quarantine, partitions_of

if TYPE_CHECKING:  # the ingest path, the S3 writer and boto3 load on first use: `lineage --help` stays fast
    from lineage_plane.archive_object import ArchiveObject
    from lineage_plane.ingest import Delivery

UNREADABLE: Final = "unreadable_quarantine_line"  # not a quarantine record (a damaged object)
NOT_LINEAGE: Final = "not_lineage"  # the validator now ignores the line: it is still not archived
_S3_PERMISSIONS: Final = (
    "s3:ListBucket on the bucket, s3:GetObject on quarantine/*, "
    "s3:PutObject on events/*, and kms:Decrypt and kms:GenerateDataKey on the bucket's KMS key"
)
_EPILOG: Final = f"""examples:
  lineage replay --archive ./archive --dry-run
      what would pass now, without writing anything
  lineage replay --archive s3://lineage-archive-123456789012-eu-west-1 --since 2026-11-20
      after deploying a schema version the validator refused: archive what passes now

Each quarantined line is validated again by the validator's code (lineage_plane/ingest.py); what
passes is archived under events/ with its original log group, stream, log event id and timestamp, at
keys derived from its batch, written only where absent: replaying twice writes nothing the second
time. Quarantine objects are left exactly as they are. The run state (DynamoDB) is not updated.
{textwrap.fill("S3 permissions: " + _S3_PERMISSIONS + ".", 100)}

exit codes: 0 every line read now passes (or there was nothing to replay); 1 some lines are still
refused (the others were archived; to tolerate them in CI: `lineage replay ... || [ $? -eq 1 ]`);
2 usage or setup error (no archive, AWS refused a read or a write)."""


class ReplayError(Exception):
    """The replay cannot go on; the message says what to change."""


class ArchiveStore(Protocol):
    def describe(self) -> str: ...
    def quarantine_keys(self, since: str | None, until: str | None) -> list[str]: ...
    def read(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def write_new(self, obj: ArchiveObject) -> bool: ...  # False: the key was there already


@dataclass
class ReplayReport:
    source: str
    dry_run: bool = False
    objects_read: int = 0
    lines_read: int = 0
    archived: int = 0  # lines now valid (written, already present, or to write on a dry run)
    objects_written: list[str] = field(default_factory=list)  # dry run: the objects it would write
    objects_already_present: list[str] = field(default_factory=list)
    still_refused: Counter[str] = field(default_factory=Counter)  # by quarantine code

    @property
    def balanced(self) -> bool:
        return self.lines_read == self.archived + sum(self.still_refused.values())

    def text(self) -> str:
        written = "to write" if self.dry_run else "written"
        refused = ", ".join(f"{code} {n}" for code, n in sorted(self.still_refused.items()))
        lines = [
            f"{self.source}: {self.objects_read} quarantine objects, {self.lines_read} lines read",
            f"  {self.archived} now valid -> {'would be ' if self.dry_run else ''}archived: "
            f"{len(self.objects_written)} objects {written}, "
            f"{len(self.objects_already_present)} already present",
            f"  {sum(self.still_refused.values())} still refused{': ' + refused if refused else ''}",
        ]
        lines.append("dry run: nothing written" if self.dry_run else "quarantine objects left as they were")
        return "\n".join(lines)


def replay(
    store: ArchiveStore,
    *,
    since: str | None = None,
    until: str | None = None,
    dry_run: bool = False,
    received_at: datetime | None = None,
    progress: ProgressCallback | None = None,
) -> ReplayReport:
    """Validate every quarantined line of the window again; archive what passes (unless dry_run)."""
    from lineage_plane.ingest import ingest

    progress = progress or Progress.disabled()
    received_at = received_at or datetime.now(UTC)
    report = ReplayReport(store.describe(), dry_run=dry_run)
    keys = store.quarantine_keys(since, until)
    for done, key in enumerate(keys, start=1):
        lines = gzip.decompress(store.read(key)).decode("utf-8").splitlines()
        deliveries, unreadable = deliveries_of(lines)
        report.objects_read += 1
        report.lines_read += sum(len(d.log_events) for _, d in deliveries) + unreadable
        report.still_refused[UNREADABLE] += unreadable
        for region, delivery in deliveries:
            outcome = ingest(delivery, region=region, received_at=received_at, validator_version=__version__)
            report.archived += outcome.counts.archived
            report.still_refused.update(outcome.reasons)
            report.still_refused[NOT_LINEAGE] += outcome.counts.ignored
            for obj in outcome.objects:
                if not obj.key.startswith(Archive.EVENTS_PREFIX):
                    continue  # the lines still refused: their quarantine record is the original one
                new = not store.exists(obj.key) if dry_run else store.write_new(obj)
                (report.objects_written if new else report.objects_already_present).append(obj.key)
        progress(done, len(keys), "replaying quarantine")
    report.still_refused = +report.still_refused  # drop the zero counts
    return report


def deliveries_of(lines: Iterable[str]) -> tuple[list[tuple[str, Delivery]], int]:
    """The log events of a quarantine object's lines, as (region, Delivery) per account, region, log
    group and stream, in their original order; and how many lines were not quarantine records."""
    from lineage_plane.ingest import Delivery, LogEvent

    groups: dict[tuple[str, str, str, str], list[LogEvent]] = {}
    unreadable = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            where = record[Ingest.KEY]
            source = (
                where[Ingest.ACCOUNT],
                where[Ingest.REGION],
                where[Ingest.LOG_GROUP],
                where[Ingest.LOG_STREAM],
            )
            message = record[Quarantine.MESSAGE]
            if not isinstance(message, str):
                raise TypeError(message)
            # a message can hold several events: the line names the one it quarantined (a line
            # written before event_index existed has none: every event of its message is read)
            index = where.get(Ingest.EVENT_INDEX)
            log_event = LogEvent(
                str(where[Ingest.LOG_EVENT_ID]),
                int(where[Ingest.LOG_TIMESTAMP]),
                message,
                only_event=index if isinstance(index, int) and not isinstance(index, bool) else None,
            )
        except (ValueError, TypeError, KeyError):
            unreadable += 1
            continue
        groups.setdefault(source, []).append(log_event)
    return [
        (region, Delivery(owner, group, stream, events))
        for (owner, region, group, stream), events in groups.items()
    ], unreadable


# --- where the archive is -------------------------------------------------------------------------------


def _in_window(key: str, since: str | None, until: str | None) -> bool:
    day = partitions_of(key).get(Archive.LOG_DATE, "")
    return bool(day) and (since is None or day >= since) and (until is None or day <= until)


class LocalStore:
    """An archive folder laid out as the bucket is (events/, quarantine/)."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise ReplayError(f"no archive folder {str(root)!r}: give the folder that holds quarantine/")
        self.root = root

    def describe(self) -> str:
        return f"archive {self.root}"

    def quarantine_keys(self, since: str | None, until: str | None) -> list[str]:
        days = None if since is None and until is None else (since or "", until or "9999-12-31")
        files = archive_files(self.root, Archive.LOG_DATE, days)
        return [path.relative_to(self.root).as_posix() for path in files]

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def exists(self, key: str) -> bool:
        return (self.root / key).exists()

    def write_new(self, obj: ArchiveObject) -> bool:
        """Create the file only if absent, whole or not at all: written aside, then hard-linked into
        place (a link never replaces an existing name), so a reader never sees half an object."""
        path = self.root / obj.key
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        aside.write_bytes(obj.body())
        try:
            os.link(aside, path)
        except FileExistsError:
            return False
        finally:
            aside.unlink()
        return True


class S3Store:
    """An archive bucket (and prefix); ``client`` is a boto3 S3 client."""

    def __init__(self, client: Any, location: S3Location) -> None:
        self._client = client
        self._bucket = location.bucket
        self._prefix = location.prefix

    def describe(self) -> str:
        return f"archive s3://{self._bucket}/{self._prefix}"

    def quarantine_keys(self, since: str | None, until: str | None) -> list[str]:
        start = self._prefix + Archive.QUARANTINE_PREFIX
        listing = {"Bucket": self._bucket, "Prefix": start}
        if since is not None:  # listed in key order: skip the days before the window
            listing["StartAfter"] = f"{start}{Archive.LOG_DATE}={since}"
        with self._aws():
            pages = list(self._client.get_paginator("list_objects_v2").paginate(**listing))
        keys = (o["Key"][len(self._prefix) :] for page in pages for o in page.get("Contents", []))
        return sorted(k for k in keys if k.endswith(Archive.OBJECT_SUFFIX) and _in_window(k, since, until))

    def read(self, key: str) -> bytes:
        with self._aws():
            body: bytes = self._client.get_object(Bucket=self._bucket, Key=self._prefix + key)["Body"].read()
        return body

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        with self._aws():
            try:
                self._client.head_object(Bucket=self._bucket, Key=self._prefix + key)
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") != "404":
                    raise
                return False
        return True

    def write_new(self, obj: ArchiveObject) -> bool:
        from lambdas.common.archive import ArchiveWriter
        from lambdas.common.errors import ArchiveWriteError
        from lineage_plane.archive_object import ArchiveObject

        placed = ArchiveObject(self._prefix + obj.key, obj.lines)
        try:
            result = ArchiveWriter(self._client, self._bucket).write([placed])
        except ArchiveWriteError as err:
            raise ReplayError(
                f"could not write s3://{self._bucket}/{placed.key} ({err.__cause__}): you need "
                f"{_S3_PERMISSIONS}; what was written stays, run the replay again"
            ) from err
        return bool(result.written)

    @contextlib.contextmanager
    def _aws(self) -> Iterator[None]:
        """AWS's refusals as ReplayErrors that say what to do."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code == "NoSuchBucket":
                raise ReplayError(
                    f"no bucket {self._bucket!r}: give the stack's ArchiveBucket output"
                ) from err
            where = f"s3://{self._bucket}/{self._prefix}"
            raise ReplayError(f"AWS refused ({code}) on {where}: you need {_S3_PERMISSIONS}") from err
        except BotoCoreError as err:  # no region, no credentials, no endpoint
            raise ReplayError(f"cannot reach S3: {err}") from err


def open_store(spec: str, region: str | None) -> ArchiveStore:
    if not spec.startswith("s3://"):
        return LocalStore(Path(spec).expanduser())
    try:
        location = S3Location.parse(spec)
    except SourceError as err:
        raise ReplayError(str(err)) from err
    import boto3

    return S3Store(boto3.session.Session(region_name=region).client("s3"), location)


# --- the command ----------------------------------------------------------------------------------------


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "replay",
        help="validate quarantined events again and archive the ones that now pass",
        description="Validate the quarantined lines of an archive again (after a schema fix or an upgrade) "
        "and archive the ones that now pass, idempotently; the quarantine is left intact.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--archive", required=True, metavar="DIR|s3://BUCKET[/PREFIX]", help="the archive")
    parser.add_argument(
        "--since", metavar="YYYY-MM-DD", type=options.day, help="first log_date to replay (default: all)"
    )
    parser.add_argument(
        "--until", metavar="YYYY-MM-DD", type=options.day, help="last log_date to replay (default: all)"
    )
    parser.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")
    parser.add_argument("--region", help="AWS region of an S3 archive (default: your AWS configuration's)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="report format")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.since and args.until and args.since > args.until:
        print(f"lineage replay: --since {args.since} is after --until {args.until}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with Progress.for_stream(sys.stderr) as progress:
            store = open_store(args.archive, args.region)
            report = replay(
                store, since=args.since, until=args.until, dry_run=args.dry_run, progress=progress
            )
    except ReplayError as err:
        print(f"lineage replay: {err}", file=sys.stderr)
        return EXIT_USAGE
    # not dataclasses.asdict: it would rebuild the Counter from its (code, count) pairs
    as_json = json.dumps(
        {**vars(report), "still_refused": dict(report.still_refused)}, indent=2, sort_keys=True
    )
    print(as_json if args.format == "json" else report.text(), file=out)
    return EXIT_FINDINGS if report.still_refused else EXIT_OK
