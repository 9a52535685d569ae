"""Option types the subcommands share (argparse ``type=`` callables): one definition each. A value they
refuse is a usage error (one line, exit 2) naming the option's accepted forms."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, date, datetime
from typing import Final

DAY: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def day(text: str) -> str:
    """A calendar day, YYYY-MM-DD (the archive's date partitions)."""
    if DAY.match(text):
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)")


def positive(text: str) -> int:
    """A whole number >= 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return int(text)


def name(text: str) -> str:
    """A dataset or column name: not empty, surrounding blanks removed."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "the name is empty: give a dataset (db.table, glue://..., s3://...) or a column (db.table.column)"
        )
    return text.strip()


def as_of(text: str) -> str:
    """``--as-of``: an instant as the contract writes times (UTC, microseconds, ``Z``).

    A bare date is the end of that UTC day (the archive's days are UTC days). A time must say its
    offset (``Z`` or ``+02:00``): the archive's times are UTC, and a time read as UTC when its writer
    meant local time would answer for another moment, hours off, with nothing to show it. A moment
    after now is refused: no lineage is known past now, so the answer would be the latest one while
    claiming to be another's."""
    now = _now()
    if DAY.match(text):
        moment_day = day(text)
        if moment_day > now.date().isoformat():
            raise argparse.ArgumentTypeError(_future(text, now))
        return f"{moment_day}T23:59:59.999999Z"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (2026-11-20, the end of that UTC day) or a time with its offset "
            "(2026-11-20T03:00:00Z, 2026-11-20T05:00:00+02:00)"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no UTC offset: the archive's times are UTC; write {text}Z for UTC, or add "
            "your offset (+02:00)"
        )
    if moment > now:
        raise argparse.ArgumentTypeError(_future(text, now))
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _future(text: str, now: datetime) -> str:
    return (
        f"{text!r} is in the future (now is {now.strftime('%Y-%m-%dT%H:%M:%SZ')}): lineage is known up "
        "to now; leave --as-of out for the latest"
    )


def _now() -> datetime:
    return datetime.now(UTC)
