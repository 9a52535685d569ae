"""What ``lineage validate`` reads: files, folders of them, gzip archive objects and standard input,
streamed line by line (never read whole), with the errors a user can act on.

* ``-`` is standard input.
* A file is read as JSON lines; a gzip file (recognised by its first bytes, whatever its name) is an
  archive object: its lines carry the ``ingest`` object the plane appended, which the checker sets
  aside (``LineSource.archived``).
* A folder is walked recursively, in name order, for ``*.json.gz``, ``*.jsonl``, ``*.jsonl.gz`` and
  ``*.ndjson`` files (not ``*.json``: in a folder, those are mostly single, indented documents),
  skipping hidden ones (the S3 cache's manifest) and quarantine objects (``quarantine/log_date=.../``):
  their lines are refusal records, not events, and ``lineage replay --dry-run`` validates them again.
* A missing path, a folder with no such file, a binary file (a NUL byte, or bytes that are not UTF-8,
  in its first 8 KiB) and a damaged gzip object are InputErrors: one line, exit 2.
"""

from __future__ import annotations

import gzip
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Final

from lineage_cli.exits import InputError
from lineage_plane.layout import Archive

STDIN: Final = "-"
LINE_FILE_SUFFIXES: Final = (".json.gz", ".jsonl.gz", ".jsonl", ".ndjson")  # what a folder walk reads
GZIP_MAGIC: Final = b"\x1f\x8b"
SNIFF_BYTES: Final = 8192  # what is looked at to tell text from binary


@dataclass(frozen=True)
class Inputs:
    sources: list[LineSource]
    quarantine_skipped: int  # quarantine objects a folder held, left to lineage replay

    @property
    def total_bytes(self) -> int:
        """Bytes on disk to read (0 when standard input, of unknown size, is one of them)."""
        sizes = [source.size for source in self.sources]
        return 0 if any(size is None for size in sizes) else sum(size or 0 for size in sizes)


def inputs_of(specs: Sequence[str]) -> Inputs:
    """The sources that ``specs`` (paths, folders, ``-``) name, in order; InputError for a path that
    is not there, or a folder that holds no JSON-lines file."""
    sources: list[LineSource] = []
    skipped = 0
    for spec in specs:
        if spec == STDIN:
            sources.append(LineSource(STDIN, None, None))
            continue
        path = Path(spec).expanduser()
        if not path.exists():
            raise InputError(f"{spec}: no such file or folder")
        if not path.is_dir():
            sources.append(LineSource(spec, path, _size(path)))
            continue
        found, quarantine = _walk(path)
        if not found and not quarantine:
            suffixes = ", ".join(f"*{suffix}" for suffix in LINE_FILE_SUFFIXES)
            raise InputError(f"{spec}: a folder with no lineage file in it ({suffixes})")
        sources.extend(LineSource(str(file), file, _size(file)) for file in found)
        skipped += quarantine
    return Inputs(sources, skipped)


def _walk(folder: Path) -> tuple[list[Path], int]:
    found, quarantine = [], 0
    for file in sorted(folder.rglob("*")):
        relative = file.relative_to(folder).parts
        if any(part.startswith(".") for part in relative) or not file.is_file():
            continue
        if not file.name.endswith(LINE_FILE_SUFFIXES):
            continue
        if file.parent.name.startswith(f"{Archive.LOG_DATE}="):  # quarantine/log_date=<day>/<batch>
            quarantine += 1
        else:
            found.append(file)
    return found, quarantine


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size if path.is_file() else None  # a FIFO or a device: unknown
    except OSError:
        return None


class LineSource:
    """One input, opened as a context manager; iterating yields its lines as bytes (newline kept)."""

    def __init__(self, name: str, path: Path | None, size: int | None) -> None:
        self.name = name  # as the report names it: the path as given, or "-"
        self.path = path
        self.size = size  # bytes on disk; None: not known (standard input, a pipe)
        self.archived = False  # a gzip archive object: its lines end with the plane's ingest object
        self._raw: IO[bytes] | None = None
        self._lines: IO[bytes] | None = None
        self.line_number = 0

    def __enter__(self) -> LineSource:
        if self.path is None:
            self._raw = sys.stdin.buffer
        else:
            try:
                self._raw = open(self.path, "rb")
            except PermissionError as err:
                raise InputError(f"{self.name}: cannot be read (permission denied)") from err
            except OSError as err:
                raise InputError(f"{self.name}: cannot be read ({err.strerror or err})") from err
        self._lines = self._open_lines(self._raw)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.path is not None and self._raw is not None:
            self._raw.close()

    def _open_lines(self, raw: IO[bytes]) -> IO[bytes]:
        head = _peek(raw)
        if head.startswith(GZIP_MAGIC):
            self.archived = True
            lines: IO[bytes] = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
            try:
                head = _peek(lines)
            except (OSError, EOFError, zlib.error) as err:
                raise InputError(f"{self.name}: a damaged gzip object ({err})") from err
        else:
            lines = raw
        if _is_binary(head):
            what = "a gzip object holding binary data" if self.archived else "a binary file"
            raise InputError(f"{self.name}: {what}, not JSON lines (UTF-8 text, one event a line)")
        return lines

    def __iter__(self) -> Iterator[bytes]:
        assert self._lines is not None, "open the source first: with LineSource(...) as source"
        try:
            for line in self._lines:
                self.line_number += 1
                yield line
        except (OSError, EOFError, zlib.error) as err:
            if isinstance(err, BrokenPipeError):  # standard output's, not this input's
                raise
            raise InputError(
                f"{self.name}: cannot be read past line {self.line_number} ({err}): a damaged or "
                "truncated gzip object?"
            ) from err

    def consumed(self) -> int:
        """Bytes of the file read so far (compressed bytes, for a gzip object)."""
        try:
            return self._raw.tell() if self._raw is not None and self.path is not None else 0
        except OSError:
            return 0


def _peek(stream: IO[bytes]) -> bytes:
    peek = getattr(stream, "peek", None)
    return bytes(peek(SNIFF_BYTES)[:SNIFF_BYTES]) if peek is not None else b""


def _is_binary(head: bytes) -> bool:
    """A NUL byte, or bytes no UTF-8 text holds (a character cut at the sniff's end is fine)."""
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        cut_at_the_end = err.reason == "unexpected end of data" and err.start >= len(head) - 3
        return not cut_at_the_end
    return False
