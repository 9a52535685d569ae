"""``lineage demo``: the arguments; the demo itself is the local plane's (lineage_local.demo).

The local plane runs the plane's Lambda handlers on moto: it is imported only when the demo runs, so
the CLI's questions never load it (nor moto, nor the handlers).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from lineage_local import demo_folder
from lineage_local.seed import seed_job


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="run the sample pipeline locally and show the lineage it emits",
        description="Run the seed Glue job (raw_db.orders_raw -> analytics_db.orders_daily) locally, "
        "twice as Glue retries it, and show the validated lineage events it wrote to standard output.",
    )
    parser.add_argument("--job", type=Path, default=seed_job(), help="job script (default: the seed example)")
    parser.add_argument("--events-out", type=Path, help="also write the captured events here (JSON lines)")
    parser.add_argument(
        "--archive-out",
        type=Path,
        default=demo_folder.DEFAULT,
        metavar="DIR",
        help="keep the local plane's archive and run state in DIR for lineage ... --archive DIR (default: "
        f"./{demo_folder.DEFAULT}; a folder an earlier demo wrote is replaced, any other is refused)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from lineage_local import demo

    return demo.run(args, out or sys.stdout)
