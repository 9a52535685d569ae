"""The demo's second half: the jobs' output goes through the whole ingestion path, on moto.

What the Glue job runs printed is written to a CloudWatch Logs group as Glue would write it (one log
stream per job run, with Glue's own lines around the lineage), beside a stream from an old producer
whose lines cannot be accepted. The subscription's filter pattern selects the lines, the real
validator handler receives them as subscription payloads (lineage_local.local_plane), and the demo
shows what landed in the S3 archive and the DynamoDB run state, then redelivers everything to show
that a retry changes nothing. In between, Glue's own account of the runs joins their lineage
(lineage_local.demo_bridge: the Glue bridge and the run reconciler).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from lineage_local import demo_bridge, demo_folder, local_plane
from lineage_local.demo_bridge import GlueJobRun
from lineage_plane.layout import (
    GLUE_OUTPUT_LOG_GROUP,
    SOURCE_FILTER_PATTERN,
    Archive,
    Quarantine,
    partitions_of,
)
from lineage_plane.run_table import RunStateTable

LOG_GROUP: Final = GLUE_OUTPUT_LOG_GROUP
BUCKET: Final = "lineage-archive-local"
TABLE: Final = "lineage-runs-local"
OLD_PRODUCER_STREAM: Final = "legacy-exporter"
# Lines an old or broken producer wrote: they look like lineage but cannot be accepted.
OLD_PRODUCER_LINES: Final = (
    '{"schema_version": "0.9", "event_type": "WRITE", "run_id": "legacy-42", "table": "orders"}',
    '{"schema_version": "1.0", "event_id": "3b0c8d52-9f7e-4d1a-8c55-0e6f2a7b9d10", "event_ty',
)


def run(runs: Sequence[GlueJobRun], out: TextIO, keep: Path | None = None) -> dict[str, int]:
    """Ingest the runs' output on a local plane, join Glue's account of them, and report; the totals
    (the validator's first delivery, and the bridge's and reconciler's metrics). ``keep``: a folder to
    copy the archive and the run-state table's items into, at the end (lineage_local.demo_folder)."""
    try:
        import boto3
        from moto import mock_aws
    except ImportError as err:  # pragma: no cover - the dev install has both
        raise RuntimeError("the local plane needs the dev install: pip install -e '.[dev]'") from err

    region = local_plane.LOCAL_REGION
    quiet = {"POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "ERROR")}  # own report
    with mock_aws(), local_plane.environment(quiet):
        s3 = boto3.client("s3", region_name=region)
        dynamodb = boto3.client("dynamodb", region_name=region)
        logs = boto3.client("logs", region_name=region)
        glue = boto3.client("glue", region_name=region)
        plane_env = local_plane.provision(s3=s3, dynamodb=dynamodb, bucket=BUCKET, table=TABLE, region=region)
        from lambdas.validator import handler

        with local_plane.environment(plane_env):
            handler.validator.cache_clear()  # settings are read once: read this plane's
            try:
                totals = _ingest_and_report(
                    runs, handler, s3=s3, dynamodb=dynamodb, logs=logs, glue=glue, out=out
                )
                if keep is not None:
                    demo_folder.save_plane(s3=s3, dynamodb=dynamodb, bucket=BUCKET, table=TABLE, folder=keep)
                return totals
            finally:
                handler.validator.cache_clear()


def _ingest_and_report(
    runs: Sequence[GlueJobRun], handler: Any, *, s3: Any, dynamodb: Any, logs: Any, glue: Any, out: TextIO
) -> dict[str, int]:
    streams = demo_bridge.glue_log_streams(runs)
    streams[OLD_PRODUCER_STREAM] = list(OLD_PRODUCER_LINES)
    written = _write_log_group(logs, streams)
    print("\nThe local plane (moto, in this process): CloudWatch Logs, S3, DynamoDB", file=out)
    print(f"  {LOG_GROUP}: {written} lines in {len(streams)} log streams", file=out)

    first, metrics = _deliver(logs, handler)
    print(
        f"  subscription filter {SOURCE_FILTER_PATTERN}: {first['received']} lines delivered to the "
        "validator handler",
        file=out,
    )
    print(
        f"  validator: {first['archived']} archived, {first['quarantined']} quarantined, "
        f"{first['ignored']} ignored (received {first['received']} = "
        f"{first['archived']} + {first['quarantined']} + {first['ignored']})",
        file=out,
    )
    print(f"  metrics (EMF): {', '.join(f'{k}={v:g}' for k, v in sorted(metrics.items()))}", file=out)
    observed = demo_bridge.reconcile(runs, glue, out)
    _report_archive(s3, out)
    _report_runs(dynamodb, out)

    again, _ = _deliver(logs, handler)
    print(
        f"\nRedelivered every batch, as a Lambda retry would: {again['objects_written']} new objects, "
        f"{again['objects_already_present']} already present, {again['duplicates']} events already "
        "applied to the run state (unchanged).",
        file=out,
    )
    ask_the_archive(out)
    return {**first, **observed}


QUESTIONS: Final = (
    (
        "where did analytics_db.orders_daily.revenue come from?",
        ["upstream", "analytics_db.orders_daily.revenue"],
    ),
    ("what is downstream of raw_db.orders_raw?", ["downstream", "raw_db.orders_raw"]),
)


def ask_the_archive(out: TextIO) -> None:
    """The CLI's questions, asked of the local plane's S3 archive (moto) exactly as of a deployed one."""
    import tempfile

    from lineage_cli.main import build_parser
    from lineage_cli.questions import run as ask

    archive = f"s3://{BUCKET}"
    print(f"\nAsking the archive ({archive}: downloaded by day, read by DuckDB; lineage_cli):", file=out)
    with (
        tempfile.TemporaryDirectory(prefix="lineage-cache-") as cache,
        local_plane.environment({"XDG_CACHE_HOME": cache}),
    ):
        for question, words in QUESTIONS:
            command = [*words, "--archive", archive]
            print(f"\n  {question}\n  $ lineage {' '.join(command)}", file=out)
            answer = io.StringIO()
            ask(build_parser().parse_args(command), answer)
            print("\n".join(f"    {line}" for line in answer.getvalue().splitlines()), file=out)
    print(
        "\nAsk a deployed stack the same (its ArchiveBucket output; or Athena, in the stack's workgroup):\n"
        "  lineage upstream analytics_db.orders_daily.revenue --archive s3://<ArchiveBucket>\n"
        "  lineage downstream raw_db.orders_raw --athena lineage --since 2026-11-01",
        file=out,
    )


def _write_log_group(logs: Any, streams: Mapping[str, Sequence[str]]) -> int:
    logs.create_log_group(logGroupName=LOG_GROUP)
    now = int(time.time() * 1000)
    for stream, lines in streams.items():
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        events = [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)]
        logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=events)
    return sum(len(lines) for lines in streams.values())


def _deliver(logs: Any, handler: Any) -> tuple[Counter[str], Counter[str]]:
    """Deliver the group's matching lines; summed handler results and the EMF metrics it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        results = local_plane.deliver(logs, LOG_GROUP, handler.handler)
    totals: Counter[str] = Counter()
    for result in results:
        totals.update(result)
    metrics = local_plane.emf_totals(printed.getvalue())
    return totals, metrics


def _report_archive(s3: Any, out: TextIO) -> None:
    print(f"\nArchive s3://{BUCKET}/ (gzip JSON lines, Hive partitions):", file=out)
    for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
        lines = [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]
        if obj["Key"].startswith(Archive.QUARANTINE_PREFIX):
            reasons = Counter(line[Quarantine.REASON][Quarantine.CODE] for line in lines)
            what = "quarantined: " + ", ".join(f"{n} {code}" for code, n in sorted(reasons.items()))
        else:
            what = f"{len(lines)} events"
        print(f"  {obj['Key']}\n      {what}  {partitions_of(obj['Key'])}", file=out)


def _report_runs(dynamodb: Any, out: TextIO) -> None:
    t = RunStateTable
    items = [
        item
        for page in dynamodb.get_paginator("scan").paginate(TableName=TABLE)
        for item in page["Items"]
        if item[t.KIND]["S"] != t.KIND_EVENT
    ]
    active = dynamodb.query(
        TableName=TABLE,
        IndexName=t.ACTIVE_INDEX,
        KeyConditionExpression="#p = :p",
        ExpressionAttributeNames={"#p": t.ACTIVE_PK},
        ExpressionAttributeValues={":p": {"S": t.ACTIVE_PARTITION}},
    )["Items"]
    print(f"\nRun state (DynamoDB table {TABLE}): one item per attempt and per step", file=out)
    for item in sorted(items, key=lambda i: (i[t.PK]["S"], i[t.SK]["S"])):
        what = item[t.STEP]["S"] if t.STEP in item else f"attempt {item[t.ATTEMPT]['N']}"
        error = item.get(t.ERROR, item.get(t.PLATFORM_ERROR, {})).get("M", {})
        why = f"  ({error['type']['S']}: {error['message']['S']})" if error else ""
        glue = ""
        if t.PLATFORM_STATE in item:
            glue = f"  Glue {item[t.PLATFORM_STATE]['S']}, {item[t.RECONCILIATION]['S']}"
        print(
            f"  {item[t.PIPELINE_ID]['S']} {item[t.RUN_ID]['S']} {what:<20} {item[t.STATUS]['S']:<10} "
            f"events {item[t.EVENT_COUNT]['N']:>2}, reads {item[t.READ_COUNT]['N']}, "
            f"writes {item[t.WRITE_COUNT]['N']}{glue}{why}",
            file=out,
        )
    print(f"  active runs (index {t.ACTIVE_INDEX}): {len(active)}", file=out)
