"""``lineage runs``: what is running, what ended badly and what left no lineage, from the run-state table.

Every view reads attempt items (one per run attempt, lineage_plane.run_table.RunStateTable) and nothing else:

* ``--active``: one Query on the sparse ``active-runs`` index (attempts still RUNNING, ordered by their
  last event), so the longest silent come first, with how many minutes they have been silent.
* ``--pipeline P``: one Query on the ``pipeline-runs`` index, newest start first, ``--limit`` items.
* ``--incomplete``, ``--failed``, ``--gaps`` and the summary: a Scan of the ``pipeline-runs`` index with
  a FilterExpression (status, reconciliation). That index is sparse too: only attempt items carry its
  sort key, so the Scan reads one item per attempt, never the steps or the per-event dedup markers that
  make up most of the table. A Scan still reads every attempt (the filter saves transfer, not read
  capacity): fine for thousands of attempts, slow for millions. At that scale a sparse index keyed by
  the verdict (present only on INCOMPLETE, FAILED, ABORTED and gap attempts) would make each view one
  Query; querying ``pipeline-runs`` pipeline by pipeline would not help, as listing the pipelines is
  itself a Scan.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import textwrap
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, Protocol, TextIO

from lineage_cli import options
from lineage_cli.exits import EXIT_OK, EXIT_USAGE, UsageError
from lineage_cli.progress import Progress, ProgressCallback
from lineage_cli.runs_table import table_text
from lineage_lib import env
from lineage_plane.layout import moment_of
from lineage_plane.run_table import Reconciliation, RunStateTable, RunStatus

T = RunStateTable
TABLE_ENV: Final = env.CLI_RUN_STATE_TABLE
DEFAULT_LIMIT: Final = 50
STATUS_ORDER: Final = (
    RunStatus.RUNNING, RunStatus.COMPLETE, RunStatus.FAILED, RunStatus.ABORTED, RunStatus.INCOMPLETE
)  # fmt: skip
# the scan views: the attribute each filters on, and the values it keeps
SCAN_FILTERS: Final = {
    "incomplete": (T.STATUS, (RunStatus.INCOMPLETE,)),
    "failed": (T.STATUS, (RunStatus.FAILED, RunStatus.ABORTED)),
    "gaps": (T.RECONCILIATION, (Reconciliation.GAP,)),
}
_TITLES: Final = {
    "active": "active attempts",
    "incomplete": "incomplete attempts",
    "failed": "failed or aborted attempts",
    "gaps": "attempts with a lineage gap",
}
_LAYOUT_ONLY: Final = frozenset({T.PK, T.SK, T.KIND, T.VERSION, T.ACTIVE_PK, T.ACTIVE_SK, T.PIPELINE_SK})
_PERMISSIONS: Final = (
    "dynamodb:Query and dynamodb:Scan on the table and its "
    f"indexes ({T.ACTIVE_INDEX}, {T.PIPELINE_INDEX}), and kms:Decrypt on the table's KMS key"
)

_EPILOG: Final = f"""examples:
  lineage runs --table lineage-run-state
      counts per status and per verdict, and the active attempts
  lineage runs --active --format json | jq '.[] | select(.silent_minutes > 60)'
  {TABLE_ENV}=lineage-run-state lineage runs --pipeline orders-daily --limit 10
  lineage runs --gaps --region eu-west-1
  lineage runs --archive ./lineage-demo --incomplete
      the same views of the run state lineage demo left in its folder

--active and --pipeline each Query an index of the table; the summary, --incomplete, --failed and
--gaps Scan the pipeline-runs index (attempt items only) with a filter: they read every attempt.
{textwrap.fill("permissions: " + _PERMISSIONS + ".", 100)}
exit codes: 0 answered (also when there is nothing to list); 2 no table (or no run-state.json in the
--archive folder), no access, no AWS setup; 70, 130, 141: lineage --help."""


class RunStateUnavailable(UsageError):
    """The table cannot be read; the message says what to change."""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "runs",
        help="active, incomplete and failed runs, lineage gaps, one pipeline's history",
        description="Read run attempts from the plane's run-state table (DynamoDB): what is running and "
        "for how long it has been silent, what ended without its lineage, what failed. One view at a "
        "time; without one, a summary.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    view = parser.add_mutually_exclusive_group()
    for name, help_text in (
        ("active", "running attempts, the longest silent first, with their silent minutes"),
        ("incomplete", "attempts the platform says ended whose lineage has no end (gaps included)"),
        ("failed", "FAILED and ABORTED attempts, with the job's error (else the platform's)"),
        ("gaps", "attempts the platform ran that sent no lineage at all"),
    ):
        view.add_argument(f"--{name}", dest="view", action="store_const", const=name, help=help_text)
    view.add_argument("--pipeline", metavar="P", help="one pipeline's attempts, newest first")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--table", help=f"run-state table name (default: ${TABLE_ENV})")
    where.add_argument(
        "--archive", metavar="DIR", help="a folder lineage demo --archive-out left (run-state.json)"
    )
    parser.add_argument("--region", help="AWS region (default: your AWS configuration's)")
    parser.add_argument(
        "--limit", metavar="N", type=options.positive, default=DEFAULT_LIMIT, help="at most N (50)"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.set_defaults(handler=run, view=None)


class Attempts(Protocol):
    """Where attempt items come from: the table (RunStateReader) or a file of its items
    (lineage_cli.run_state_file.LocalRunStateReader)."""

    def active(self, limit: int, now: datetime) -> list[dict[str, Any]]: ...
    def pipeline(self, pipeline_id: str, limit: int) -> list[dict[str, Any]]: ...
    def scan(self, view: str | None = None, projection: Sequence[str] = ()) -> list[dict[str, Any]]: ...


class RunStateReader:
    """Reads attempt items; ``client`` is a boto3 DynamoDB client."""

    def __init__(self, client: Any, table: str, progress: ProgressCallback | None = None) -> None:
        self._client = client
        self._table = table
        self._progress = progress or Progress.disabled()

    def active(self, limit: int, now: datetime) -> list[dict[str, Any]]:
        """Running attempts, the longest silent first, each with ``silent_minutes``."""
        rows = self._query(T.ACTIVE_INDEX, T.ACTIVE_PK, T.ACTIVE_PARTITION, limit, forward=True)
        for row in rows:
            row["silent_minutes"] = silent_minutes(row.get(T.LAST_EVENT_TIME), now)
        return rows

    def pipeline(self, pipeline_id: str, limit: int) -> list[dict[str, Any]]:
        """One pipeline's attempts, the latest started first."""
        return self._query(T.PIPELINE_INDEX, T.PIPELINE_PK, pipeline_id, limit, forward=False)

    def scan(self, view: str | None = None, projection: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Every attempt (of a scan view, when named): a Scan of the sparse pipeline-runs index."""
        names = {"#k": T.KIND, **{f"#p{i}": name for i, name in enumerate(projection)}}
        values = {":k": {"S": T.KIND_ATTEMPT}}
        request: dict[str, Any] = {"TableName": self._table, "IndexName": T.PIPELINE_INDEX}
        request["FilterExpression"] = "#k = :k"
        if view is not None:
            names["#f"], kept = SCAN_FILTERS[view]
            values.update({f":v{i}": {"S": value} for i, value in enumerate(kept)})
            request["FilterExpression"] += f" AND #f IN ({', '.join(v for v in values if v != ':k')})"
        request.update(ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        if projection:
            request["ProjectionExpression"] = ", ".join(n for n in names if n.startswith("#p"))
        rows: list[dict[str, Any]] = []
        scanned = 0
        while True:
            response = self._call("scan", request)
            rows += map(attempt_row, response.get("Items", []))
            scanned += response.get("ScannedCount", 0)
            self._progress(scanned, 0, f"scanning {self._table}: attempts")
            if "LastEvaluatedKey" not in response:
                return rows
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _query(self, index: str, key: str, value: str, limit: int, *, forward: bool) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": key},
            "ExpressionAttributeValues": {":p": {"S": value}},
            "ScanIndexForward": forward,
        }
        rows: list[dict[str, Any]] = []
        while len(rows) < limit:
            response = self._call("query", {**request, "Limit": limit - len(rows)})
            rows += map(attempt_row, response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return rows

    def _call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response: dict[str, Any] = getattr(self._client, operation)(**request)
        except ClientError as err:
            raise RunStateUnavailable(self._explain(err)) from err
        except BotoCoreError as err:  # no region, no credentials, no endpoint
            raise RunStateUnavailable(f"cannot reach DynamoDB: {err}") from err
        return response

    def _explain(self, err: Any) -> str:
        code = err.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            return (
                f"no run-state table {self._table!r} (or no index of it) in this account and region: pass "
                f"--table (the stack's RunStateTable output) or set {TABLE_ENV}, and --region"
            )
        if "AccessDenied" in code or code.startswith("KMS") or code == "UnrecognizedClientException":
            return f"AWS refused to read {self._table!r} ({code}): you need {_PERMISSIONS}"
        return f"DynamoDB refused to read {self._table!r}: {err}"


def attempt_row(raw: Mapping[str, Any]) -> dict[str, Any]:
    """An attempt item as JSON-ready values (numbers as int or float, sets as sorted lists), without
    the keys and index attributes that only the table's layout needs."""
    deserialize = _deserializer().deserialize
    kept = {k: deserialize(v) for k, v in raw.items() if k not in _LAYOUT_ONLY}
    row: dict[str, Any] = json.loads(json.dumps(kept, default=_plain))
    return row


@functools.cache
def _deserializer() -> Any:
    from boto3.dynamodb.types import TypeDeserializer  # boto3 on first use: --help stays fast

    return TypeDeserializer()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return sorted(value, key=str)  # a set (of strings, numbers or bytes)


def silent_minutes(last_event_time: str | None, now: datetime) -> int | None:
    """Whole minutes since an attempt's last event (None when it has none)."""
    if not last_event_time:
        return None
    last = moment_of(last_event_time)
    return max(int((now - last).total_seconds() // 60), 0)


def newest_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attempts by start (else first event), the latest first; ties by pipeline, run, attempt."""
    rows = sorted(rows, key=lambda r: (r.get(T.PIPELINE_ID, ""), r.get(T.RUN_ID, ""), r.get(T.ATTEMPT, 0)))
    return sorted(rows, key=lambda r: r.get(T.STARTED_AT) or r.get(T.FIRST_EVENT_TIME) or "", reverse=True)


def summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts of attempts per status and per reconciliation verdict."""
    statuses = Counter(str(r.get(T.STATUS, RunStatus.RUNNING)) for r in rows)
    verdicts = Counter(str(r[T.RECONCILIATION]) for r in rows if r.get(T.RECONCILIATION))
    ordered = [*STATUS_ORDER, *sorted(set(statuses) - set(STATUS_ORDER))]
    return {
        "attempts": len(rows),
        "status": {status: statuses.get(status, 0) for status in ordered},
        "reconciliation": {verdict: verdicts.get(verdict, 0) for verdict in Reconciliation.ALL},
    }


# --- the command --------------------------------------------------------------------------------------


def answer(
    reader: Attempts,
    *,
    view: str | None = None,
    pipeline: str | None = None,
    limit: int = DEFAULT_LIMIT,
    fmt: str = "text",
    now: datetime | None = None,
) -> str:
    """The text to print for a view (``active``, one of SCAN_FILTERS, or a ``pipeline``'s attempts;
    neither: the summary), in ``fmt`` (``text`` or ``json``)."""
    as_json = fmt == "json"
    now = now or _now()
    if pipeline is None and view is None:
        counts = summary(reader.scan(projection=(T.STATUS, T.RECONCILIATION)))
        active = reader.active(limit, now)
        if as_json:
            return json.dumps({**counts, "active": active}, indent=2, sort_keys=True)
        statuses = ", ".join(f"{status} {n}" for status, n in counts["status"].items())
        verdicts = ", ".join(f"{verdict} {n}" for verdict, n in counts["reconciliation"].items())
        lines = [
            f"{counts['attempts']} attempts: {statuses}",
            f"reconciliation with the platform's account: {verdicts}",
        ]
        if active:
            lines.append(f"{_TITLES['active']}, the longest silent first:\n{table_text(active, active=True)}")
        else:
            lines.append("no active attempts")
        return "\n".join(lines)
    if pipeline is not None:
        rows, title = reader.pipeline(pipeline, limit), f"attempts of {pipeline}"
    elif view == "active":
        rows, title = reader.active(limit, now), _TITLES[view]
    else:
        everything = newest_first(reader.scan(view))
        rows, title = everything[:limit], _TITLES[str(view)]
        if len(everything) > limit:
            title += f" (the latest {limit} of {len(everything)}; --limit N for more)"
    if as_json:
        return json.dumps(rows, indent=2, sort_keys=True)
    if not rows:
        return f"no {title}"
    if view == "active":
        title += ", the longest silent first"
    return f"{title}:\n{table_text(rows, active=view == 'active')}"


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    table = args.table or os.environ.get(TABLE_ENV)
    if not table and not args.archive:
        print(f"lineage runs: which table? pass --table NAME or set {TABLE_ENV}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with Progress.for_stream(sys.stderr) as progress:  # erased before the answer is printed
            if args.archive:
                from lineage_cli.run_state_file import LocalRunStateReader

                reader: Attempts = LocalRunStateReader.open(args.archive)
            else:
                reader = RunStateReader(_client(args.region), str(table), progress)
            text = answer(reader, view=args.view, pipeline=args.pipeline, limit=args.limit, fmt=args.format)
    except RunStateUnavailable as err:
        print(f"lineage runs: {err}", file=sys.stderr)
        return EXIT_USAGE
    print(text, file=out)
    return EXIT_OK


def _now() -> datetime:
    return datetime.now(UTC)


def _client(region: str | None) -> Any:
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.session.Session(region_name=region).client("dynamodb")
    except BotoCoreError as err:  # NoRegionError: say how to give one
        raise RunStateUnavailable(f"{err}: pass --region or set AWS_REGION") from err
