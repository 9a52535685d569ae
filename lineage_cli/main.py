"""``lineage``: command-line entry point. Exit codes: 0 ok, 1 the answer is "no" (invalid events),
2 usage or setup error."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lineage_cli import demo, validate

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lineage",
        description="Ask the lineage plane where data came from and what touched it.",
        epilog="Every subcommand has its own --help.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo.add_parser(commands)
    validate.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except demo.DemoError as err:
        print(f"lineage {args.command}: {err}", file=sys.stderr)
        return EXIT_USAGE
    return code


if __name__ == "__main__":
    raise SystemExit(main())
