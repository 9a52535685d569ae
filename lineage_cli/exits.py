"""Exit codes of the ``lineage`` command, the one place they are defined (scripts rely on them)."""

from __future__ import annotations

from typing import Final

EXIT_OK: Final = 0  # answered
EXIT_FINDINGS: Final = (
    1  # the answer is "no": invalid events, something downstream under --fail-if-downstream
)
EXIT_USAGE: Final = 2  # usage or setup error: a bad option, no archive, AWS refused
EXIT_NOT_FOUND: Final = 3  # an unknown dataset or column (the closest names are listed)

EPILOG: Final = (
    "exit codes: 0 answered; 1 findings (invalid events, or something downstream with "
    "--fail-if-downstream); 2 usage or setup error; 3 unknown dataset or column"
)


class UsageError(Exception):
    """The command cannot run as asked; the message says what to change."""
