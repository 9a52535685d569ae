"""Where the archive's objects are: a local folder, or an S3 prefix copied into a local cache.

The layout is lineage_plane.layout's (``events/event_date=.../pipeline_id=.../<batch>.json.gz`` and
``quarantine/log_date=.../<batch>.json.gz``). An ``s3://bucket/prefix`` archive is downloaded day by
day, only the days a question names (``sync``), into a cache folder with the same layout, which
the local engine then reads like any archive folder. Objects are immutable (named by their batch,
written once), so one already cached with the same size and ETag is never fetched again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from lineage_lib.errors import LineageError
from lineage_plane.layout import Archive

Progress = Callable[[float, float, str], None]  # (done, total, label); total 0 = not known

_MANIFEST: Final = ".etags.json"  # key -> ETag of every object the cache holds
_DOWNLOAD_THREADS: Final = 16
PARTITION_OF_PREFIX: Final = {
    Archive.EVENT_DATE: Archive.EVENTS_PREFIX,
    Archive.LOG_DATE: Archive.QUARANTINE_PREFIX,
}


class SourceError(LineageError):
    """The archive, or Athena, cannot be read as asked; the message says what to do."""


class ArchiveNotFoundError(SourceError):
    def __init__(self, where: str, why: str) -> None:
        super().__init__(
            f"no lineage archive at {where}: {why}. Pass --archive with the folder that holds events/ "
            "and quarantine/ (the local plane's, or a copy of the archive bucket), or s3://bucket/prefix"
        )


class BucketNotFoundError(SourceError):
    def __init__(self, bucket: str) -> None:
        super().__init__(
            f"S3 bucket {bucket!r} does not exist (or not in this partition): check the name in "
            "--archive s3://BUCKET/prefix against the stack's ArchiveBucket output"
        )


class ArchiveAccessDeniedError(SourceError):
    def __init__(self, bucket: str, action: str, detail: str) -> None:
        super().__init__(
            f"AWS refused {action} on bucket {bucket!r} ({detail}). The identity running lineage needs "
            f"s3:ListBucket on arn:aws:s3:::{bucket}, s3:GetObject on arn:aws:s3:::{bucket}/*, and "
            "kms:Decrypt on the archive's KMS key (the archive is SSE-KMS encrypted); check AWS_PROFILE"
        )


# --- Local folders --------------------------------------------------------------------------------


def _check_folder(root: Path, where: str) -> None:
    if not root.is_dir():
        raise ArchiveNotFoundError(
            where, "the folder does not exist" if not root.exists() else "not a folder"
        )
    layout = (Archive.EVENTS_PREFIX.rstrip("/"), Archive.QUARANTINE_PREFIX.rstrip("/"))
    if not any((root / name).is_dir() for name in layout) and any(root.iterdir()):
        raise ArchiveNotFoundError(
            where, "it has neither events/ nor quarantine/ (an empty folder is an empty archive)"
        )


def partition_folders(root: Path, partition: str) -> dict[str, Path]:
    """The day folders of one date partition (``event_date`` or ``log_date``), by day."""
    base = root / PARTITION_OF_PREFIX[partition]
    found: dict[str, Path] = {}
    if base.is_dir():
        for folder in base.glob(f"{partition}=*"):
            if folder.is_dir():
                found[folder.name.partition("=")[2]] = folder
    return found


def archive_files(root: Path, partition: str, days: tuple[str, str] | None = None) -> list[Path]:
    """The ``*.json.gz`` objects under one partition, of the days ``first <= day <= last`` when given,
    in key order (so a query reads them in a stable order)."""
    files: list[Path] = []
    for day, folder in sorted(partition_folders(root, partition).items()):
        if days is None or days[0] <= day <= days[1]:
            files.extend(sorted(folder.rglob(f"*{Archive.OBJECT_SUFFIX}")))
    return files


@dataclass(frozen=True)
class LocalArchive:
    """An archive folder: ``events/`` and ``quarantine/`` in lineage_plane.layout's layout."""

    root: Path

    @classmethod
    def open(cls, root: Path | str) -> LocalArchive:
        path = Path(root).expanduser()
        _check_folder(path, str(root))
        return cls(path.resolve())

    def event_dates(self) -> tuple[str, str] | None:
        days = sorted(partition_folders(self.root, Archive.EVENT_DATE))
        return (days[0], days[-1]) if days else None

    def object_count(self) -> int:
        return sum(len(archive_files(self.root, p)) for p in PARTITION_OF_PREFIX)


# --- S3 -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # "" or ending in "/"

    @classmethod
    def parse(cls, spec: str) -> S3Location:
        body = spec.removeprefix("s3://")
        bucket, _, prefix = body.partition("/")
        if not spec.startswith("s3://") or not bucket:
            raise SourceError(f"{spec!r} is not an S3 archive: write s3://BUCKET or s3://BUCKET/PREFIX")
        prefix = prefix.strip("/")
        return cls(bucket, f"{prefix}/" if prefix else "")

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass
class SyncReport:
    listed: int = 0  # objects in the days asked
    downloaded: int = 0
    cached: int = 0  # already in the cache, same size and ETag
    bytes_downloaded: int = 0


def default_cache_dir(location: S3Location) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "lineage-plane" / "s3" / location.bucket / location.prefix


class S3Archive:
    """An S3 archive read through a local cache folder. ``client`` is a boto3 S3 client."""

    def __init__(self, location: S3Location, cache_dir: Path, client: Any) -> None:
        self.location = location
        self.cache = LocalArchive(cache_dir.expanduser().resolve())
        self._client = client
        self._days: dict[str, list[str]] | None = None

    def days(self, partition: str) -> list[str]:
        """The days of one date partition present in the bucket (one listing, with a delimiter)."""
        self._days = self._days or {}
        if partition not in self._days:
            prefix = f"{self.location.prefix}{PARTITION_OF_PREFIX[partition]}{partition}="
            found = self._list(prefix, delimiter="/")
            self._days[partition] = sorted(p[len(prefix) :].rstrip("/") for p in found if p.endswith("/"))
        return self._days[partition]

    def event_dates(self) -> tuple[str, str] | None:
        days = self.days(Archive.EVENT_DATE)
        return (days[0], days[-1]) if days else None

    def sync(self, partition: str, first: str, last: str, progress: Progress | None = None) -> SyncReport:
        """Download the objects of the days ``first..last`` of one partition that the cache lacks."""
        wanted: list[tuple[str, int, str]] = []  # key, size, etag
        for day in self.days(partition):
            if first <= day <= last:
                prefix = f"{self.location.prefix}{PARTITION_OF_PREFIX[partition]}{partition}={day}/"
                wanted.extend(self._objects(prefix))
        manifest = self._manifest()
        report = SyncReport(listed=len(wanted))
        todo = []
        for key, size, etag in wanted:
            path = self._path(key)
            if path.is_file() and path.stat().st_size == size and manifest.get(key, etag) == etag:
                report.cached += 1
            else:
                todo.append((key, size, etag))
        label = f"downloading {len(todo)} objects from {self.location}"
        if todo and progress is not None:
            progress(0, len(todo), label)
        with ThreadPoolExecutor(max_workers=_DOWNLOAD_THREADS) as pool:
            futures = [pool.submit(self._download, key) for key, _, _ in todo]
            try:
                for future in as_completed(futures):
                    key, etag, size = future.result()
                    manifest[key] = etag
                    report.downloaded += 1
                    report.bytes_downloaded += size
                    if progress is not None:
                        progress(report.downloaded, len(todo), label)
            finally:
                for future in futures:
                    future.cancel()
                self._save_manifest(manifest)
        return report

    # --- S3 calls, with errors that say what to do

    def _list(self, prefix: str, delimiter: str = "") -> Iterator[str]:
        pages = self._call(
            "s3:ListBucket",
            lambda: list(
                self._client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.location.bucket,
                    Prefix=prefix,
                    **({"Delimiter": delimiter} if delimiter else {}),
                )
            ),
        )
        for page in pages:
            yield from (p["Prefix"] for p in page.get("CommonPrefixes", []))
            yield from (o["Key"] for o in page.get("Contents", []))

    def _objects(self, prefix: str) -> Iterable[tuple[str, int, str]]:
        pages = self._call(
            "s3:ListBucket",
            lambda: list(
                self._client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.location.bucket, Prefix=prefix
                )
            ),
        )
        for page in pages:
            for obj in page.get("Contents", []):
                if obj["Key"].endswith(Archive.OBJECT_SUFFIX):
                    yield obj["Key"], int(obj["Size"]), str(obj.get("ETag", ""))

    def _download(self, key: str) -> tuple[str, str, int]:
        response = self._call(
            "s3:GetObject", lambda: self._client.get_object(Bucket=self.location.bucket, Key=key)
        )
        body = response["Body"].read()
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(body)
        partial.replace(path)  # a crash mid-download never leaves a truncated object in the cache
        return key, str(response.get("ETag", "")), len(body)

    def _call(self, action: str, call: Callable[[], Any]) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return call()
        except NoCredentialsError as err:
            raise SourceError(
                f"no AWS credentials to read {self.location}: set AWS_PROFILE (or run aws sso login)"
            ) from err
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchBucket", "404") and action == "s3:ListBucket":
                raise BucketNotFoundError(self.location.bucket) from err
            if code in ("AccessDenied", "AllAccessDisabled", "403") or code.startswith("KMS."):
                raise ArchiveAccessDeniedError(self.location.bucket, action, f"{code}: {err}") from err
            raise SourceError(f"S3 refused {action} on {self.location}: {code}: {err}") from err
        except BotoCoreError as err:
            raise SourceError(f"could not reach S3 for {self.location}: {err}") from err

    # --- the cache folder

    def _path(self, key: str) -> Path:
        relative = key[len(self.location.prefix) :]
        path = (self.cache.root / relative).resolve()
        if not path.is_relative_to(self.cache.root):  # a key with '..' must not write outside the cache
            raise SourceError(f"refusing to cache S3 key {key!r}: it would land outside {self.cache.root}")
        return path

    def _manifest(self) -> dict[str, str]:
        path = self.cache.root / _MANIFEST
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}

    def _save_manifest(self, manifest: dict[str, str]) -> None:
        self.cache.root.mkdir(parents=True, exist_ok=True)
        path = self.cache.root / _MANIFEST
        partial = path.with_name(path.name + ".part")
        partial.write_text(json.dumps(manifest, sort_keys=True), encoding="utf-8")
        partial.replace(path)
