"""``lineage validate``: check JSON-lines events against the schema of the version each declares.

Inputs are streamed (lineage_cli.line_sources): files, folders of them, the archive's gzip objects,
standard input. Each invalid line is reported as soon as it is read, so a 50 MB file of garbage shows
its first problems at once and a closed pipe stops the reading. Every line goes through lineage_lib's
compiled validator (microseconds an event); the reason of the first ``EXPLAINED_PRECISELY`` schema
violations is then asked of the reference validator, jsonschema (its best match, about 0.8 ms an
event), and the rest get the compiled validator's own, exact path and rule in terser words. The
reasons are the plane's validator's own (lineage_plane.refusals.Refusals: a lenient producer's refusal
line, an oversize event, a schema violation), so a line is refused here for what the plane would
quarantine it for.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TextIO

from lineage_cli.exits import EXIT_FINDINGS, EXIT_OK
from lineage_cli.line_sources import STDIN, inputs_of
from lineage_cli.progress import Progress, is_terminal
from lineage_lib import contract
from lineage_lib.contract import Field, Refusal
from lineage_plane.extract import Found
from lineage_plane.layout import Ingest, Quarantine
from lineage_plane.refusals import Refusals

# The archived line without its ingest object, as the producer wrote it (compact, UTF-8 as is).
_compact: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
EXPLAINED_PRECISELY: Final = 100  # schema violations worded by jsonschema; the rest by the compiled validator
PROGRESS_EVERY: Final = 512  # lines between two progress reports (each one reads the clock)
# What every OpenLineage RunEvent carries (its spec's required properties), lineage-plane events never.
OPENLINEAGE_RUN_EVENT: Final = frozenset({"eventTime", "producer", "schemaURL", "run", "job"})

_EPILOG: Final = """examples:
  lineage validate events.jsonl
  lineage validate ./lineage-demo/events          every archive object under the folder
  my_job --dry-run | lineage validate -

Lines of gzip files (archive objects) are validated without the ingest object the plane appended to
them. Quarantine objects (quarantine/log_date=.../) in a folder are skipped: lineage replay --dry-run
validates quarantined lines again.
exit codes: 0 every line is a valid event; 1 some are not (each is listed with its reason); 2 a path
that is missing, a folder with no lineage file, a binary file or a damaged gzip object; 141 standard
output closed before the end (| head): the check stopped there. 70, 130: lineage --help."""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "validate",
        help="check lineage events (JSON lines) against the schema",
        description="Check each line of each FILE (a JSON-lines file, a gzip archive object, or a folder "
        "of them; - for standard input) as a lineage event. Lines that are not JSON objects are "
        "reported too. Exit 0 if every line is valid, 1 otherwise.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "file", nargs="*", default=[STDIN], metavar="FILE", help="file, folder, or - for stdin (default)"
    )
    parser.set_defaults(handler=run)


class EventChecker:
    """Why one line is not a valid lineage event, or None: the plane's own reasons (the validator's
    lineage_plane.refusals), worded for a person at a terminal."""

    def __init__(self, explained_precisely: int = EXPLAINED_PRECISELY) -> None:
        self._refusals = Refusals(explained_precisely)

    @property
    def tersely_explained(self) -> int:
        """Schema violations worded by the compiled validator, once jsonschema's budget was spent."""
        return self._refusals.tersely_explained

    def __call__(self, line: bytes | str, *, archived: bool = False) -> str | None:
        try:
            text = line.decode("utf-8") if isinstance(line, bytes) else line
        except UnicodeDecodeError as err:
            return f"not UTF-8 text (byte {err.start + 1} of the line)"
        try:
            event = json.loads(text)
        except ValueError as err:
            return f"not JSON: {err}"
        if not isinstance(event, dict):
            return "not a JSON object"
        if archived and Ingest.KEY in event:  # appended by the plane's validator, not the producer's
            event.pop(Ingest.KEY)
            text = _compact(event)
        return self.event_reason(event, text, archived=archived)

    def event_reason(self, event: dict[str, Any], text: str, *, archived: bool = False) -> str | None:
        if Quarantine.REASON in event and Quarantine.MESSAGE in event and Field.EVENT_TYPE not in event:
            code = (event[Quarantine.REASON] or {}).get(Quarantine.CODE, "?")
            return (
                f"a quarantine record ({code}), not an event: lineage replay --dry-run validates "
                "quarantined lines again"
            )
        version = event.get(Field.SCHEMA_VERSION)
        if version is None and Refusal.KEY not in event:
            return _not_lineage_plane(event)
        if isinstance(version, str) and version not in contract.known_versions():
            known = ", ".join(contract.known_versions())
            return (
                f"schema_version {version!r} is not one this lineage knows ({known}): a newer "
                "lineage-plane may read it (pip install -U lineage-plane)"
            )
        if Ingest.KEY in event and not archived:
            return (
                "it holds the ingest object the plane appends to archived lines: validate the archive's "
                ".json.gz object itself (its ingest object is set aside), or remove ingest"
            )
        why = self._refusals(Found(text.strip(), event))
        return None if why is None else _reason(why)


def _not_lineage_plane(event: Mapping[str, Any]) -> str:
    current = contract.CURRENT_VERSION
    if event.keys() >= OPENLINEAGE_RUN_EVENT:
        return (
            f"an OpenLineage RunEvent ({event.get('eventType') or 'no eventType'}, schemaURL "
            f"{event.get('schemaURL')}), not a lineage-plane event: lineage-plane events declare "
            f"schema_version ({current}); lineage-plane does not read OpenLineage events yet"
        )
    if "openlineage" in str(event.get("schemaURL", "")).lower():
        return f"an OpenLineage event, not a lineage-plane event (those declare schema_version {current})"
    return f'not a lineage-plane event: it declares no schema_version ("schema_version": "{current}")'


def _reason(why: Mapping[str, str]) -> str:
    """A quarantine reason (lineage_plane.refusals) as one line: where, what, and the rule or code."""
    path = why.get(Quarantine.PATH)
    where = f"{path}: " if path else ""
    return f"{where}{why[Quarantine.DETAIL]} [{why.get(Quarantine.RULE) or why[Quarantine.CODE]}]"


@dataclass
class Tally:
    valid: int = 0
    invalid: int = 0
    files: int = 0

    def summary(self, checker: EventChecker, quarantine_skipped: int) -> str:
        text = f"{self.valid} valid, {self.invalid} invalid"
        if self.files > 1:
            text += f" in {self.files} files"
        if quarantine_skipped:
            text += (
                f"; {quarantine_skipped} quarantine objects skipped (lineage replay --dry-run checks them)"
            )
        if checker.tersely_explained:
            text += (
                f"; after the first {EXPLAINED_PRECISELY} schema violations, reasons are the compiled "
                "validator's (exact path and rule, terser words)"
            )
        return text


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    inputs = inputs_of(args.file)
    checker, tally = EventChecker(), Tally()
    shared_terminal = is_terminal(out)  # the report's lines and the progress line on one screen
    total, done_before = inputs.total_bytes, 0
    with Progress.for_stream(sys.stderr) as progress:
        for source in inputs.sources:
            tally.files += 1
            label = f"validating {source.name}"
            with source:
                for line in source:
                    number = source.line_number
                    if number % PROGRESS_EVERY == 0:
                        done = done_before + source.consumed() if total else number
                        progress(done, total, label)
                    if not line.strip():
                        continue
                    reason = checker(line, archived=source.archived)
                    if reason is None:
                        tally.valid += 1
                        continue
                    tally.invalid += 1
                    if shared_terminal:
                        progress.close()  # the report's line must not land inside the progress line
                    print(f"{source.name}:{number}: {reason}", file=out)
            done_before += source.size or 0
    print(tally.summary(checker, inputs.quarantine_skipped), file=out)
    return EXIT_FINDINGS if tally.invalid else EXIT_OK
