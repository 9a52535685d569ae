"""``lineage``: command-line entry point. Exit codes (lineage_cli.exits): 0 answered, 1 findings,
2 usage or setup error, 3 unknown dataset or column."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lineage_cli import demo, questions, replay, runs, validate
from lineage_cli.exits import EPILOG, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError
from lineage_lib.errors import LineageError

__all__ = ["EXIT_FINDINGS", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lineage",
        description="Ask the lineage plane where data came from and what touched it.",
        epilog=f"Every subcommand has its own --help. {EPILOG}.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo.add_parser(commands)
    validate.add_parser(commands)
    questions.add_parsers(commands)
    runs.add_parser(commands)
    replay.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except (demo.DemoError, UsageError, LineageError) as err:
        # every typed error says what to do (source errors, settings, an archive that cannot be read)
        print(f"lineage {args.command}: {err}", file=sys.stderr)
        return EXIT_USAGE
    return code


if __name__ == "__main__":
    raise SystemExit(main())
