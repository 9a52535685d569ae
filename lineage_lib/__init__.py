"""lineage_lib: execution-time lineage for AWS Glue, EMR and Lambda jobs.

    import lineage_lib as lineage

    RAW = lineage.glue_table("raw_db", "orders_raw")
    DAILY = lineage.glue_table("analytics_db", "orders_daily")

    with lineage.run() as run, run.step("aggregate") as step:
        step.read(RAW, records=1200)
        step.write(DAILY, records=31, columns=[
            lineage.ColumnLineage("revenue", RAW.column("order_total"), "rename"),
        ])

Every event is validated against the versioned schema before it leaves the process and written as
one JSON line to standard output (CloudWatch Logs on Glue, EMR Serverless and Lambda). A child
process records into its parent's run with ``lineage.join_run(run.ref())``.
"""

from __future__ import annotations

from lineage_lib.context import ExecutionContext, detect, parse_job_arguments
from lineage_lib.contract import CURRENT_VERSION, EventType, Transformation
from lineage_lib.datasets import ColumnLineage, ColumnRef, Dataset, dataset, glue_table, s3
from lineage_lib.errors import (
    EventTooLargeError,
    LineageConfigError,
    LineageEmitError,
    LineageError,
    LineageStateError,
    LineageValidationError,
    UnknownSchemaVersionError,
)
from lineage_lib.runs import Run, RunRef, Step, join_run, run
from lineage_lib.version import __version__

__all__ = [
    "CURRENT_VERSION",
    "ColumnLineage",
    "ColumnRef",
    "Dataset",
    "EventTooLargeError",
    "EventType",
    "ExecutionContext",
    "LineageConfigError",
    "LineageEmitError",
    "LineageError",
    "LineageStateError",
    "LineageValidationError",
    "Run",
    "RunRef",
    "Step",
    "Transformation",
    "UnknownSchemaVersionError",
    "__version__",
    "dataset",
    "detect",
    "glue_table",
    "join_run",
    "parse_job_arguments",
    "run",
    "s3",
]
