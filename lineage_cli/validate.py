"""``lineage validate``: check JSON-lines events against the schema of the version each declares."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from lineage_lib import contract
from lineage_lib.errors import LineageValidationError


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "validate",
        help="check lineage events (JSON lines) against the schema",
        description="Check each line of FILE (or standard input) as a lineage event. Lines that are "
        "not JSON objects are reported too. Exit 0 if every line is valid, 1 otherwise.",
    )
    parser.add_argument("file", nargs="?", default="-", help="JSON-lines file, or - for stdin (default)")
    parser.set_defaults(handler=run)


def check_lines(lines: Iterable[str]) -> list[tuple[int, str]]:
    """(line number, reason) for every non-empty line that is not a valid lineage event."""
    problems = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as err:
            problems.append((number, f"not JSON: {err}"))
            continue
        if not isinstance(event, dict):
            problems.append((number, "not a JSON object"))
            continue
        try:
            contract.validate(event)
        except LineageValidationError:
            explained = contract.explain(event)
            problems.append((number, _reason(explained)))
    return problems


def _reason(error: LineageValidationError | None) -> str:
    if error is None:  # pragma: no cover - the two validators agree (tested)
        return "rejected by the compiled validator only"
    where = f"{error.path}: " if error.path else ""
    return f"{where}{error.reason} [{error.rule}]"


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.file == "-":
        lines = sys.stdin.read().splitlines()
    else:
        with open(args.file, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    problems = check_lines(lines)
    for number, reason in problems:
        print(f"{args.file}:{number}: {reason}", file=out)
    total = sum(1 for line in lines if line.strip())
    print(f"{total - len(problems)} valid, {len(problems)} invalid", file=out)
    return 1 if problems else 0
