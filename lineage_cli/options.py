"""Option types the subcommands share (argparse ``type=`` callables): one definition each."""

from __future__ import annotations

import argparse
import re
from datetime import date
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
