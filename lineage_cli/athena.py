"""The saved queries on Athena: the same ``queries/*.sql`` files, run as written (no transpiling).

StartQueryExecution with the file's text, the workgroup, the database and the parameters as
ExecutionParameters (each a quoted SQL literal, as the queries' headers say); GetQueryExecution
polled with a growing pause; GetQueryResults paged. Athena returns every value as text: they are
converted by the column types of the result's metadata, so rows compare with the local engine's.

Limits of that conversion: an ``array`` arrives as Athena prints it, ``[a, b]``, and is split on
", ": elements that themselves contain ", " or brackets come back split wrong (the saved queries'
arrays hold ids, names and versions), and elements are text whatever their type. ``row`` and
``map`` values stay the printed text. ``decimal`` values become floats.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from lineage_cli.archive import Progress, SourceError

if TYPE_CHECKING:
    from lineage_cli.engine import Queries

_DONE: Final = {"SUCCEEDED", "FAILED", "CANCELLED"}
_FIRST_PAUSE: Final = 0.25
_LONGEST_PAUSE: Final = 5.0
_PAGE: Final = 1000  # GetQueryResults' largest page
_INTEGERS: Final = {"tinyint", "smallint", "integer", "int", "bigint"}
_FLOATS: Final = {"double", "float", "real", "decimal"}


class AthenaQueryError(SourceError):
    """Athena ran the query and it FAILED or was CANCELLED; ``reason`` is Athena's."""

    def __init__(
        self, query_name: str, state: str, reason: str, execution_id: str, error_type: str = ""
    ) -> None:
        self.state, self.reason, self.execution_id = state, reason, execution_id
        hint = (
            "someone stopped it, or the workgroup's scan limit cut it: narrow the window of days"
            if state == "CANCELLED"
            else "check the workgroup's tables (deploy the stack again if a column is missing)"
        )
        kind = f" [{error_type}]" if error_type else ""
        super().__init__(
            f"Athena query {query_name} {state}{kind}: {reason} (query execution {execution_id}); {hint}"
        )


class AthenaAccessError(SourceError):
    def __init__(self, workgroup: str, operation: str, detail: str) -> None:
        super().__init__(
            f"Athena refused {operation} in workgroup {workgroup!r} ({detail}). The identity running lineage "
            "needs athena:StartQueryExecution, athena:GetQueryExecution and athena:GetQueryResults on the "
            "workgroup, glue:GetDatabase, glue:GetTable and glue:GetPartitions on the lineage database, "
            "s3:ListBucket and s3:GetObject on the archive, s3:PutObject on the workgroup's results "
            "location, and kms:Decrypt (and kms:GenerateDataKey for results) on the archive's KMS key"
        )


def literal(value: str) -> str:
    """A parameter as the SQL literal ExecutionParameters expects: text in single quotes."""
    return "'" + value.replace("'", "''") + "'"


class AthenaSource:
    """``client`` is a boto3 Athena client; ``sleep`` is injected so tests do not wait."""

    def __init__(
        self,
        client: Any,
        workgroup: str,
        database: str,
        queries: Queries,
        *,
        progress: Progress | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client, self.workgroup, self.database = client, workgroup, database
        self.queries = queries
        self._progress = progress
        self._sleep = sleep

    def describe(self) -> str:
        return f"Athena workgroup {self.workgroup} (database {self.database})"

    def dates(self) -> tuple[str, str] | None:
        """The days the tables project (PROJECTION_START to today): Athena cannot tell which days hold
        objects without scanning them, and a query over days without objects reads nothing."""
        from lineage_plane.athena_schema import PROJECTION_START

        return PROJECTION_START, datetime.now(UTC).date().isoformat()

    def run_rows(self, query_name: str, parameters: Sequence[str]) -> tuple[list[str], list[tuple[Any, ...]]]:
        rows = self.run(query_name, parameters)
        columns = list(rows[0]) if rows else []
        return columns, [tuple(row.values()) for row in rows]

    def run(self, query_name: str, parameters: Sequence[str]) -> list[dict[str, Any]]:
        query = self.queries.get(query_name, parameters)
        request: dict[str, Any] = {
            "QueryString": query.sql,
            "WorkGroup": self.workgroup,
            "QueryExecutionContext": {"Database": self.database},
        }
        if parameters:
            request["ExecutionParameters"] = [literal(p) for p in parameters]
        execution_id = self._call(
            "StartQueryExecution", lambda: self._client.start_query_execution(**request)
        )["QueryExecutionId"]
        self._wait(query_name, execution_id)
        return self._results(execution_id)

    def _wait(self, query_name: str, execution_id: str) -> None:
        pause = _FIRST_PAUSE
        label = f"{query_name} on Athena ({self.workgroup})"
        while True:
            execution = self._call(
                "GetQueryExecution", lambda: self._client.get_query_execution(QueryExecutionId=execution_id)
            )["QueryExecution"]
            status = execution.get("Status", {})
            state = status.get("State", "")
            if self._progress is not None:  # Athena gives no fraction: bytes scanned, total unknown (0)
                scanned = float(execution.get("Statistics", {}).get("DataScannedInBytes", 0))
                self._progress(scanned, 0.0, f"{label}: {state.lower()}, {scanned / 1e6:.1f} MB scanned")
            if state == "SUCCEEDED":
                return
            if state in _DONE:
                error = status.get("AthenaError", {})
                reason = status.get("StateChangeReason") or error.get("ErrorMessage") or "no reason given"
                raise AthenaQueryError(
                    query_name, state, reason, execution_id, str(error.get("ErrorType", ""))
                )
            self._sleep(pause)
            pause = min(pause * 1.6, _LONGEST_PAUSE)

    def _results(self, execution_id: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        names: list[str] = []
        kinds: list[str] = []
        token: str | None = None
        first = True
        while True:
            request: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": _PAGE}
            if token:
                request["NextToken"] = token
            page = self._call("GetQueryResults", functools.partial(self._client.get_query_results, **request))
            result = page.get("ResultSet", {})
            if first:
                info = result.get("ResultSetMetadata", {}).get("ColumnInfo", [])
                names = [c["Name"] for c in info]
                kinds = [c.get("Type", "varchar").lower() for c in info]
            data = result.get("Rows", [])
            if first and data and [d.get("VarCharValue") for d in data[0].get("Data", [])] == names:
                data = data[1:]  # the header row: a SELECT's first row names the columns
            first = False
            for row in data:
                values = [d.get("VarCharValue") for d in row.get("Data", [])]
                rows.append({n: convert(v, k) for n, k, v in zip(names, kinds, values, strict=True)})
            token = page.get("NextToken")
            if not token:
                return rows

    def _call(self, operation: str, call: Callable[[], Any]) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return call()
        except NoCredentialsError as err:
            raise SourceError(
                "no AWS credentials to ask Athena: set AWS_PROFILE (or run aws sso login)"
            ) from err
        except ClientError as err:
            error = err.response.get("Error", {})
            code, message = str(error.get("Code", "")), str(error.get("Message", err))
            if code in ("AccessDeniedException", "AccessDenied", "UnrecognizedClientException"):
                raise AthenaAccessError(self.workgroup, operation, f"{code}: {message}") from err
            if "workgroup" in message.lower() and (
                "not found" in message.lower() or "does not exist" in message.lower()
            ):
                raise SourceError(
                    f"Athena has no workgroup {self.workgroup!r} in this account and region ({message}): use "
                    "the stack's QueryWorkGroup output with --athena, and the stack's region (AWS_REGION)"
                ) from err
            raise SourceError(f"Athena refused {operation}: {code}: {message}") from err
        except BotoCoreError as err:
            raise SourceError(f"could not reach Athena: {err}") from err


def _array(value: str) -> list[str]:
    inner = value.strip()[1:-1]
    return inner.split(", ") if inner else []


_CONVERTERS: Final[dict[str, Callable[[str], Any]]] = {
    **dict.fromkeys(_INTEGERS, int),
    **dict.fromkeys(_FLOATS, float),
    "boolean": lambda v: v == "true",
    "date": date.fromisoformat,
    "timestamp": lambda v: _timestamp(v, aware=False),
    "timestamp with time zone": lambda v: _timestamp(v, aware=True),
    "array": _array,
}


def convert(value: str | None, kind: str) -> Any:
    """One value as GetQueryResults prints it, by its column's type (``varchar``, ``bigint``,
    ``timestamp(3) with time zone``...); types without a converter stay text."""
    if value is None:
        return None
    base = " ".join(part.split("(", maxsplit=1)[0] for part in kind.lower().split())
    return _CONVERTERS.get(base, str)(value)


def _timestamp(value: str, *, aware: bool) -> datetime:
    """``2026-11-21 03:00:00.500 UTC`` (with time zone: UTC, a zone name or an offset) or
    ``2026-11-21 03:00:00.500`` (without)."""
    head, _, zone = value.strip().rpartition(" ")
    if not head or ":" not in head:  # no zone after the time
        moment = datetime.fromisoformat(value.strip())
        return moment.replace(tzinfo=UTC) if aware and moment.tzinfo is None else moment
    if zone in ("UTC", "Z"):
        return datetime.fromisoformat(head).replace(tzinfo=UTC)
    if zone[:1] in "+-":
        return datetime.fromisoformat(head + zone)
    return datetime.fromisoformat(head).replace(tzinfo=ZoneInfo(zone))
