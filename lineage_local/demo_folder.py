"""The folder ``lineage demo --archive-out DIR`` leaves: the local plane's archive and run state, kept.

``DIR/events/...`` and ``DIR/quarantine/...`` are the S3 archive's objects under their keys (the layout
of lineage_plane.layout.Archive, byte for byte), so every ``--archive DIR`` question of the README can be
asked of them; ``DIR/run-state.json`` holds the run-state table's items (lineage_cli.run_state_file),
which ``lineage runs --archive DIR`` reads; ``DIR/.lineage-demo`` marks the folder as the demo's.

A rerun is safe: a folder the demo wrote before (it has the marker) is replaced whole, and said so; an
empty folder is used; any other existing path is refused before anything runs, and left as it was.
The new folder is written beside the old one and swapped in by two renames once complete, so a demo
that fails or is interrupted never leaves half a folder in its place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from lineage_cli.exits import UsageError
from lineage_cli.run_state_file import FILE_NAME, write_items
from lineage_lib.version import __version__

DEFAULT: Final = Path("lineage-demo")  # in the working directory (.gitignore'd in the repository)
MARKER: Final = ".lineage-demo"


class ArchiveOutRefused(UsageError):
    """--archive-out names a path the demo did not write: it is left alone."""


def shown(path: Path) -> str:
    """A path as the commands to copy should show it (``./lineage-demo`` rather than ``lineage-demo``)."""
    text = str(path)
    return text if path.is_absolute() or text.startswith(".") else f"./{text}"


def check(path: Path) -> bool:
    """Whether ``path`` can take the demo's folder; True when it replaces an earlier demo's."""
    existing = next(folder for folder in (path.absolute(), *path.absolute().parents) if folder.exists())
    if existing != path.absolute() and not existing.is_dir():
        raise ArchiveOutRefused(f"--archive-out {path}: {existing} is not a folder")
    if not os.access(existing if existing != path.absolute() else path.absolute().parent, os.W_OK):
        raise ArchiveOutRefused(
            f"--archive-out {path}: {existing} cannot be written here; name another folder"
        )
    if not path.exists():
        return False
    if not path.is_dir():
        raise ArchiveOutRefused(f"--archive-out {path}: a file is there; name a new or empty folder")
    if (path / MARKER).is_file():
        return True
    if any(path.iterdir()):
        raise ArchiveOutRefused(
            f"--archive-out {path}: the folder is not empty and lineage demo did not write it (no "
            f"{MARKER} in it); name a new or empty folder. Nothing was changed"
        )
    return False


@contextmanager
def staged(path: Path) -> Iterator[Path]:
    """A new folder to fill beside ``path``; on success it replaces ``path`` (checked with ``check``),
    on failure it is removed and ``path`` stays as it was."""
    check(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.new-", dir=path.parent))
    try:
        yield staging
        staging.chmod(0o777 & ~_umask())  # mkdtemp's folder is private: the demo's is an ordinary one
        (staging / MARKER).write_text(json.dumps({"written_by": f"lineage demo {__version__}"}) + "\n")
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            path.rename(old / path.name)
        staging.rename(path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def save_plane(*, s3: Any, dynamodb: Any, bucket: str, table: str, folder: Path) -> tuple[int, int]:
    """Copy every object of the bucket (at its key) and every item of the table into ``folder``; the
    numbers of objects and items."""
    objects = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for listed in page.get("Contents", []):
            target = (folder / listed["Key"]).resolve()
            if not target.is_relative_to(folder.resolve()):  # no key may write outside the folder
                raise UsageError(f"refusing to keep S3 key {listed['Key']!r}: it would land outside {folder}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read())
            objects += 1
    items = [
        item for page in dynamodb.get_paginator("scan").paginate(TableName=table) for item in page["Items"]
    ]
    return objects, write_items(folder / FILE_NAME, items)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
