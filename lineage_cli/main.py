"""``lineage``: command-line entry point, and the one error boundary every command runs inside.

A user's mistake never shows a traceback. Inside ``main``:

* an expected error (lineage_cli.exits.CliError and its children, lineage_lib's LineageError, the
  commands' own typed errors, AWS saying no) is one line on standard error and its documented code;
* a mistyped command or option is one line (argparse's usage block is left to ``--help``), exit 2;
* Ctrl-C is one line, exit 130;
* standard output closed by its reader (``lineage validate big.jsonl | head -1``) ends the command
  quietly with 141, as a Unix tool killed by SIGPIPE does (the Python documentation's recipe:
  standard output is pointed at /dev/null so the interpreter's last flush cannot fail again);
* anything else is a defect of lineage: one line naming the exception and the file that holds the
  full traceback, exit 70 (EX_SOFTWARE), never 1, which means "findings".

The traceback goes to a new file in the temporary directory (``tempfile.mkstemp``: honours TMPDIR,
created readable by its owner only, as a traceback can quote paths and arguments, and never shared
between two crashes), because that directory is writable wherever the command runs (a CI runner, a
read-only home), and the system clears it: a crash leaves no state behind in the user's home.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import traceback
from collections.abc import Sequence
from typing import NoReturn

from lineage_cli import demo, questions, replay, runs, validate
from lineage_cli.exits import (
    EPILOG,
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PIPE_CLOSED,
    EXIT_SOFTWARE,
    EXIT_USAGE,
    CliError,
)
from lineage_lib import contract
from lineage_lib.errors import LineageError
from lineage_lib.version import __version__

__all__ = ["EXIT_FINDINGS", "EXIT_OK", "EXIT_USAGE", "build_parser", "main", "version_text"]

# Errors that say what to do: the CLI's own (CliError: demo's, runs', validate's...), the library's and
# the core's (LineageError: the archive and Athena sources too), and replay's.
_EXPECTED = (CliError, LineageError, replay.ReplayError)
# AWS errors that are the setup's, not lineage's (no region, no credentials, no endpoint, a refusal),
# with what to do when botocore's own message does not say it.
_AWS_SETUP = {
    "NoRegionError": "pass --region, or set AWS_REGION",
    "NoCredentialsError": "set AWS_PROFILE (or run aws sso login)",
    "ProfileNotFound": "check AWS_PROFILE against ~/.aws/config",
    "EndpointConnectionError": "",
    "ConnectTimeoutError": "",
    "ClientError": "",
    "SSOTokenLoadError": "",
    "TokenRetrievalError": "",
}


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line: what is wrong, and where the help is."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


class _Version(argparse.Action):
    """``--version``, printed as written (argparse's own action wraps it at the terminal's width)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and the schema versions")

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(version_text())
        parser.exit()


def version_text() -> str:
    versions = ", ".join(contract.known_versions())
    return (
        f"lineage {__version__} (lineage-plane); event schema versions {versions} "
        f"(lineage_lib writes {contract.CURRENT_VERSION})"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lineage",
        description="Ask the lineage plane where data came from and what touched it.",
        epilog=f"Every subcommand has its own --help. {EPILOG}.",
    )
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo.add_parser(commands)
    validate.add_parser(commands)
    questions.add_parsers(commands)
    runs.add_parser(commands)
    replay.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code (argparse's own exits, for --help and usage errors, propagate)."""
    words = list(sys.argv[1:] if argv is None else argv)
    command = "lineage"
    try:
        args = build_parser().parse_args(words)
        command = f"lineage {args.command}"
        code: int = args.handler(args)
        sys.stdout.flush()  # a reader that went away shows here, inside the boundary
        return code
    except BrokenPipeError:
        return _pipe_closed()
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _EXPECTED as err:
        _say(command, err)
        return err.exit_code if isinstance(err, CliError) else EXIT_USAGE
    except Exception as err:
        hint = _AWS_SETUP.get(type(err).__name__)
        if hint is not None and type(err).__module__.startswith("botocore"):
            _say(command, f"AWS: {str(err).rstrip('.')}" + (f": {hint}" if hint else ""))
            return EXIT_USAGE
        return _crashed(command, err, words)


def _say(command: str, message: object) -> None:
    """One line on standard error: a message's later lines are joined to its first."""
    text = " ".join(str(message).split("\n")).strip() or type(message).__name__
    print(f"{command}: {text}", file=sys.stderr)


def _pipe_closed() -> int:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no file descriptor (stdout replaced in-process)
        pass
    return EXIT_PIPE_CLOSED


def _crashed(command: str, err: Exception, words: Sequence[str]) -> int:
    report = (
        f"{version_text()}\nPython {sys.version}\ncommand: {shlex.join(['lineage', *words])}\n\n"
        + "".join(traceback.format_exception(err))
    )
    what = f"{type(err).__name__}: {err}".split("\n", 1)[0]
    try:
        handle, path = tempfile.mkstemp(prefix="lineage-crash-", suffix=".txt")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(report)
    except OSError as unwritable:  # no writable temporary directory: the traceback must not be lost
        _say(command, f"internal error ({what}); the traceback could not be written ({unwritable}):")
        print(report, file=sys.stderr)
        return EXIT_SOFTWARE
    _say(
        command,
        f"internal error, a defect of lineage and not of your input ({what}); the full traceback is "
        f"in {path}: please attach it to a bug report",
    )
    return EXIT_SOFTWARE


if __name__ == "__main__":
    raise SystemExit(main())
