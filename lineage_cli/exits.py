"""Exit codes of the ``lineage`` command, the one place they are defined (scripts rely on them), and
the errors the command's one error boundary (lineage_cli.main) turns into one line and a code."""

from __future__ import annotations

from typing import Final

EXIT_OK: Final = 0  # answered
EXIT_FINDINGS: Final = (
    1  # the answer is "no": invalid events, something downstream under --fail-if-downstream
)
EXIT_USAGE: Final = 2  # usage or setup error: a bad option, no archive, a file that cannot be read
EXIT_NOT_FOUND: Final = 3  # an unknown dataset or column (the closest names are listed)
EXIT_SOFTWARE: Final = 70  # a defect of lineage itself (sysexits.h EX_SOFTWARE); the traceback is in a file
EXIT_INTERRUPTED: Final = 128 + 2  # 130: Ctrl-C, as a shell reports a process SIGINT (2) stopped
# 141: the reader of standard output went away (`lineage ... | head -1`). A tool that dies of SIGPIPE, as
# cat or grep do, is reported by the shell as 128 + 13; lineage exits with that code, quietly, so that
# `set -o pipefail` scripts see what they see from any Unix tool, and so that a validation or a listing
# cut short is never mistaken for a complete one (0) or for findings (1).
EXIT_PIPE_CLOSED: Final = 128 + 13  # SIGPIPE's number on Linux and macOS (signal.SIGPIPE is not on Windows)

EPILOG: Final = (
    "exit codes: 0 answered; 1 findings (invalid events, or something downstream with "
    "--fail-if-downstream); 2 usage or setup error; 3 unknown dataset or column; 70 a defect of "
    "lineage itself (the message names the file holding the traceback); 130 interrupted (Ctrl-C); "
    "141 standard output closed early (as by | head), nothing more printed"
)


class CliError(Exception):
    """An error the user can act on: the boundary prints its message on one line and exits with
    ``exit_code``. The message says what to change."""

    exit_code: int = EXIT_USAGE


class UsageError(CliError):
    """The command cannot run as asked; the message says what to change."""


class InputError(UsageError):
    """A file or folder given to a command cannot be read as what it should hold (missing, a folder
    where a file was expected, binary, damaged gzip); the message names it."""
