"""``lineage upstream``, ``lineage downstream`` and ``lineage impact``: lineage questions over the archive.

One query (``queries/lineage_edges.sql``) reads the edges the archive states in a window of days, on
the user's machine (DuckDB over a local or downloaded archive) or on Athena; the closure is computed
here, in memory (lineage_cli.graph), and rendered in the format asked (lineage_cli.render).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TextIO

from lineage_cli import options
from lineage_cli.exits import EXIT_FINDINGS, EXIT_NOT_FOUND, EXIT_OK, UsageError

EDGES_QUERY: Final = "lineage_edges"
NOW: Final = "9999-12-31T23:59:59Z"  # as-of "now": every event counts
ATHENA_DEFAULT_DAYS: Final = 30  # Athena bills by bytes scanned: a bounded window unless asked otherwise
FORMATS: Final = ("text", "json", "mermaid", "dot", "markdown")

_EXAMPLES: Final = """examples:
  lineage upstream analytics_db.orders_daily.revenue --archive ./archive
      where did this column come from? (column-level, through renames and joins)
  lineage downstream raw_db.orders_raw --archive s3://my-archive-bucket --since 2026-11-01
      what reads this table, directly or not?
  lineage upstream analytics_db.orders_daily --athena lineage --as-of 2026-11-20T03:00:00Z
      the lineage as it stood then (only edges observed by that time), on Athena
  lineage impact raw_db.orders_raw --archive ./archive --fail-if-downstream
      a change review in Markdown with a Mermaid diagram; exit 1 when anything is downstream (CI gate)
  lineage impact raw_db.orders_raw --archive ./archive --format json
      the same closure as JSON (every node and edge, with each job's last run)

names: a dataset id (glue://default/db.table, s3://bucket/path), its short form (db.table), or a
column (db.table.column). exit codes: 0 answered, 1 findings (impact --fail-if-downstream),
2 usage or setup error, 3 unknown name (the closest names are listed); 70, 130, 141: lineage --help."""


def add_parsers(commands: Any) -> None:
    for name, help_text in (
        ("upstream", "where did a dataset or column come from"),
        ("downstream", "what depends on a dataset or column"),
        ("impact", "change review: everything downstream, with last runs, as Markdown + Mermaid"),
    ):
        parser = commands.add_parser(
            name,
            help=help_text,
            description=f"{help_text[0].upper()}{help_text[1:]}, from the lineage archive.",
            epilog=_EXAMPLES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.add_argument(
            "name", metavar="NAME", type=options.name, help="dataset or column (see names below)"
        )
        add_source_options(parser)
        parser.add_argument("--depth", type=options.positive, help="at most this many hops (default: all)")
        parser.add_argument(
            "--as-of",
            metavar="TIME",
            type=options.as_of,
            help="lineage as it stood at TIME, only edges observed by then: a date (the end of that UTC "
            "day) or a time with its offset (2026-11-20T03:00:00Z); not in the future",
        )
        if name == "impact":
            parser.add_argument(
                "--fail-if-downstream",
                action="store_true",
                help="exit 1 when anything is downstream (for CI gates)",
            )
            parser.add_argument(
                "--format",
                choices=FORMATS,
                default="markdown",
                help="markdown (default): the change review; text, json, mermaid, dot: the downstream "
                "closure, as downstream prints it",
            )
        else:
            parser.add_argument("--format", choices=FORMATS, default="text", help="output format")
        parser.set_defaults(handler=run, direction="upstream" if name == "upstream" else "downstream")


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """Where the answers come from, and the window of days (shared by every archive question)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--archive",
        metavar="DIR|s3://BUCKET[/PREFIX]",
        help="the archive: a local folder, or an S3 bucket (downloaded, by day, to a local cache)",
    )
    where.add_argument("--athena", metavar="WORKGROUP", help="ask Athena instead, in this workgroup")
    parser.add_argument("--database", default="lineage", help="Athena database (default: lineage)")
    parser.add_argument("--region", help="AWS region (default: your AWS configuration's)")
    parser.add_argument("--since", metavar="YYYY-MM-DD", type=options.day, help="first day of the window")
    parser.add_argument(
        "--until",
        metavar="YYYY-MM-DD",
        type=options.day,
        help="last day (default: the archive's last; Athena: today)",
    )


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from lineage_cli import engine
    from lineage_cli.graph import LineageGraph, UnknownNameError
    from lineage_cli.impact import impact_markdown
    from lineage_cli.progress import Progress
    from lineage_cli.render import render

    out = out or sys.stdout
    as_of = args.as_of or NOW  # options.as_of: UTC, Z, never in the future
    with Progress.for_stream(sys.stderr) as progress:
        source = engine.open_source(
            args.archive, athena_workgroup=args.athena, athena_database=args.database, progress=progress,
            region=args.region,
        )  # fmt: skip
        since, until = window(args, source, as_of)
        columns, rows = source.run_rows(EDGES_QUERY, [since, until, as_of]) if since else ([], [])
    graph = LineageGraph.from_table(columns, rows)
    try:
        node = graph.resolve(args.name)
    except UnknownNameError as err:
        where = f"{source.describe()}, {since or 'no days'} to {until}"
        print(f"lineage {args.command}: {err} ({where})", file=sys.stderr)
        return EXIT_NOT_FOUND
    closure = (
        graph.upstream(node, args.depth)
        if args.direction == "upstream"
        else graph.downstream(node, args.depth)
    )
    if args.command == "impact":
        print(
            impact_markdown(closure) if args.format == "markdown" else render(closure, args.format), file=out
        )
        # a job that reads and writes the table itself is downstream of a change to it too
        downstream = len(closure.nodes) > 1 or node in graph.forward.get(node, ())
        return EXIT_FINDINGS if args.fail_if_downstream and downstream else EXIT_OK
    print(render(closure, args.format), file=out)
    return EXIT_OK


def window(args: argparse.Namespace, source: Any, as_of: str) -> tuple[str | None, str]:
    """The first and last event_date to read: as asked, else what the archive holds (a local one) or
    the last 30 days (Athena), never past the as-of day. None: the archive is empty."""
    today = datetime.now(UTC).date()
    held = None if args.athena else source.dates()  # an archive's first and last day (None: empty)
    until = args.until or (held[1] if held else today.isoformat())
    if as_of != NOW:
        until = min(until, as_of[:10])
    since = args.since
    if since is None:
        if args.athena:
            since = (today - timedelta(days=ATHENA_DEFAULT_DAYS)).isoformat()
        else:
            since = held[0] if held else None
    if since is not None and since > until:
        if args.since is None:  # --as-of before the archive's first day: nothing was observed yet
            return None, until
        raise UsageError(f"--since {since} is after the last day of the window ({until})")
    return since, until
