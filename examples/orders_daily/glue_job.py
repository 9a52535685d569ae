"""The seed example: the Glue job that builds analytics_db.orders_daily from raw_db.orders_raw.

Copy the lineage calls into your own job. On Glue the data moves through Spark (``move_with_glue``);
anywhere else the same job runs on a local sample (``move_locally``), so its lineage can be seen and
tested without an AWS account. The lineage is identical either way:

    raw_db.orders_raw.order_total --rename--> analytics_db.orders_daily.revenue
    raw_db.orders_raw.order_ts    --cast----> analytics_db.orders_daily.order_date
    raw_db.orders_raw.order_id    --identity> analytics_db.orders_daily.order_id

Glue job parameters: --additional-python-modules (the lineage-lib wheelhouse, see the README) and,
optionally, --LINEAGE_PIPELINE_ID.
Run locally: python examples/orders_daily/glue_job.py [--input F --output F]
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import lineage_lib as lineage

RAW = lineage.glue_table("raw_db", "orders_raw")
DAILY = lineage.glue_table("analytics_db", "orders_daily")
COLUMNS = [
    lineage.ColumnLineage("order_id", RAW.column("order_id"), lineage.Transformation.IDENTITY),
    lineage.ColumnLineage("order_date", RAW.column("order_ts"), lineage.Transformation.CAST),
    lineage.ColumnLineage("revenue", RAW.column("order_total"), lineage.Transformation.RENAME),
]
SAMPLE = Path(__file__).with_name("sample_orders_raw.jsonl")


def to_daily(row: dict[str, Any]) -> dict[str, Any]:
    """One orders_raw row as an orders_daily row (the job's whole business logic)."""
    return {"order_id": row["order_id"], "order_date": row["order_ts"][:10], "revenue": row["order_total"]}


def move_locally(args: dict[str, str]) -> tuple[int, int]:
    source = Path(args.get("input") or SAMPLE)
    rows = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    daily = [to_daily(row) for row in rows]
    if args.get("output"):
        Path(args["output"]).write_text("".join(json.dumps(row) + "\n" for row in daily))
    return len(rows), len(daily)


def move_with_glue(args: dict[str, str]) -> tuple[int, int]:  # pragma: no cover - needs a Glue runtime
    from awsglue.context import GlueContext  # type: ignore[import-not-found]
    from awsglue.transforms import ApplyMapping  # type: ignore[import-not-found]
    from pyspark.context import SparkContext  # type: ignore[import-not-found]

    glue = GlueContext(SparkContext.getOrCreate())
    raw = glue.create_dynamic_frame.from_catalog(database="raw_db", table_name="orders_raw")
    daily = ApplyMapping.apply(
        frame=raw,
        mappings=[
            ("order_id", "string", "order_id", "string"),
            ("order_ts", "timestamp", "order_date", "date"),
            ("order_total", "decimal", "revenue", "decimal"),
        ],
    )
    glue.write_dynamic_frame.from_catalog(frame=daily, database="analytics_db", table_name="orders_daily")
    return raw.count(), daily.count()


def on_glue() -> bool:
    try:
        import awsglue  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    args = lineage.parse_job_arguments(sys.argv[1:] if argv is None else argv)
    # Pipeline, run id and attempt come from the Glue job run (--JOB_NAME, --JOB_RUN_ID).
    with lineage.run() as run, run.step("build_orders_daily") as step:
        read, written = move_with_glue(args) if on_glue() else move_locally(args)
        step.read(RAW.with_schema(fields=["order_id", "order_ts", "order_total"]), records=read)
        if args.get("fail_after_read"):  # lets the demo and the tests show a failed run
            raise RuntimeError(f"simulated failure: {args['fail_after_read']}")
        if args.get("killed_after_read"):  # ... and a run the platform killed (an out-of-memory kill):
            os.kill(os.getpid(), signal.SIGKILL)  # nothing survives SIGKILL, no terminal event either
        step.write(DAILY, records=written, columns=COLUMNS)


if __name__ == "__main__":
    main()
