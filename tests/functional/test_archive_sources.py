"""The archive read from S3 (moto) through the local cache, and the same questions asked of Athena
(a real boto3 Athena client answered by botocore's Stubber: moto's Athena returns canned results)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from lineage_cli.archive import ArchiveAccessDeniedError, BucketNotFoundError, S3Archive, S3Location
from lineage_cli.athena import AthenaAccessError, AthenaQueryError, AthenaSource
from lineage_cli.engine import Queries, open_source
from lineage_plane.layout import Archive
from tests import archive_support as known

REGION = "us-east-1"
BUCKET = "lineage-archive"
EDGES = "lineage_edges"
ONE_DAY = ["2026-11-20", "2026-11-20", known.AFTER_EVERYTHING]


class Session:
    """What open_source asks of a boto3 Session: clients, here the ones the test made."""

    def __init__(self, **clients: Any) -> None:
        self.clients = clients

    def client(self, service: str, region_name: str | None = None) -> Any:
        return self.clients[service]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    known.write_known_archive(root)
    return root


@pytest.fixture
def s3(archive: Path) -> Iterator[Any]:
    """A moto bucket holding the known archive under the prefix ``plane/``."""
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        for path in sorted(archive.rglob("*.json.gz")):
            client.upload_file(str(path), BUCKET, f"plane/{path.relative_to(archive).as_posix()}")
        yield client


def downloads(client: Any) -> list[str]:
    """Record the key of every GetObject the client makes."""
    keys: list[str] = []
    client.meta.events.register(
        "provide-client-params.s3.GetObject", lambda params, **_: keys.append(params["Key"])
    )
    return keys


def in_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in a fixed order: the edges query states no order (DuckDB's threads finish as they do)."""
    return sorted(rows, key=repr)


def test_an_s3_archive_downloads_only_the_days_asked_and_answers_as_the_folder_does(
    s3: Any, archive: Path, tmp_path: Path
) -> None:
    fetched = downloads(s3)
    reports: list[tuple[float, float, str]] = []
    source = open_source(
        f"s3://{BUCKET}/plane/",
        athena_workgroup=None,
        cache_dir=tmp_path,
        session=Session(s3=s3),
        progress=lambda *report: reports.append(report),
    )
    assert source.dates() == (known.FIRST_DAY, known.LAST_DAY)  # from listing the day folders
    assert not fetched
    rows = source.run(EDGES, ONE_DAY)
    assert fetched
    assert all(key.startswith("plane/events/event_date=2026-11-20/") for key in fetched)
    assert len(fetched) == len(list((archive / "events" / "event_date=2026-11-20").rglob("*.json.gz")))
    assert in_order(rows) == in_order(open_source(str(archive), athena_workgroup=None).run(EDGES, ONE_DAY))
    assert (len(fetched), len(fetched)) in {(d, t) for d, t, _ in reports}  # the download's progress
    assert source.describe() == f"S3 archive s3://{BUCKET}/plane/ (cached in {tmp_path.resolve()})"


def test_a_second_open_downloads_nothing_new(s3: Any, tmp_path: Path) -> None:
    first = open_source(
        f"s3://{BUCKET}/plane", athena_workgroup=None, cache_dir=tmp_path, session=Session(s3=s3)
    )
    expected = first.run(EDGES, ONE_DAY)
    fetched = downloads(s3)
    again = open_source(
        f"s3://{BUCKET}/plane", athena_workgroup=None, cache_dir=tmp_path, session=Session(s3=s3)
    )
    assert in_order(again.run(EDGES, ONE_DAY)) == in_order(expected)
    assert fetched == []
    report = S3Archive(S3Location.parse(f"s3://{BUCKET}/plane"), tmp_path, s3).sync(
        Archive.EVENT_DATE, *ONE_DAY[:2]
    )
    assert (report.downloaded, report.cached) == (0, report.listed)
    assert report.listed > 0


def test_an_object_changed_in_the_bucket_is_downloaded_again(s3: Any, tmp_path: Path) -> None:
    archive = S3Archive(S3Location.parse(f"s3://{BUCKET}/plane"), tmp_path, s3)
    archive.sync(Archive.LOG_DATE, known.QUARANTINE_DAY, known.QUARANTINE_DAY)
    [cached, *_] = sorted(tmp_path.rglob("*.json.gz"))
    cached.write_bytes(b"truncated")
    report = archive.sync(Archive.LOG_DATE, known.QUARANTINE_DAY, known.QUARANTINE_DAY)
    assert report.downloaded == 1
    assert cached.read_bytes()[:2] == b"\x1f\x8b"  # gzip again


def test_an_empty_bucket_is_an_empty_archive(tmp_path: Path) -> None:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket="empty-archive")
        source = open_source(
            "s3://empty-archive", athena_workgroup=None, cache_dir=tmp_path, session=Session(s3=client)
        )
        assert source.dates() is None
        assert source.run(EDGES, ONE_DAY) == []


def test_a_missing_bucket_says_where_to_find_the_name(tmp_path: Path) -> None:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        source = open_source(
            "s3://no-such-bucket/x", athena_workgroup=None, cache_dir=tmp_path, session=Session(s3=client)
        )
        with pytest.raises(BucketNotFoundError, match="ArchiveBucket output"):
            source.dates()


def test_access_denied_names_the_permissions(tmp_path: Path) -> None:
    client = boto3.client(
        "s3", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        stubber.add_client_error("list_objects_v2", "AccessDenied", "Access Denied", 403)
        source = open_source(
            f"s3://{BUCKET}", athena_workgroup=None, cache_dir=tmp_path, session=Session(s3=client)
        )
        with pytest.raises(ArchiveAccessDeniedError) as refused:
            source.run(EDGES, ONE_DAY)
    for needed in ("s3:ListBucket", "s3:GetObject", "kms:Decrypt", f"arn:aws:s3:::{BUCKET}/*"):
        assert needed in str(refused.value)


# --- Athena -------------------------------------------------------------------------------------------


@pytest.fixture
def athena() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "athena", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def printed(value: Any) -> dict[str, str]:
    """One value as GetQueryResults prints it (NULL: no VarCharValue)."""
    if value is None:
        return {}
    if isinstance(value, list):
        return {"VarCharValue": "[" + ", ".join(value) + "]"}
    return {"VarCharValue": str(value)}


def athena_pages(rows: list[dict[str, Any]], page_size: int) -> list[dict[str, Any]]:
    """GetQueryResults responses for ``rows``: the header row first, then ``page_size`` rows a page."""
    names = list(rows[0])
    kinds = {"last_attempt": "integer", "runs": "bigint"}
    info = [{"Name": n, "Type": kinds.get(n, "varchar")} for n in names]
    lines = [{"Data": [{"VarCharValue": n} for n in names]}]
    lines += [{"Data": [printed(row[n]) for n in names]} for row in rows]
    pages = []
    for start in range(0, len(lines), page_size):
        page: dict[str, Any] = {"ResultSet": {"Rows": lines[start : start + page_size]}}
        if start == 0:
            page["ResultSet"]["ResultSetMetadata"] = {"ColumnInfo": info}
        if start + page_size < len(lines):
            page["NextToken"] = f"page-{start + page_size}"
        pages.append(page)
    return pages


def test_athena_runs_the_file_as_written_and_pages_rows_like_the_local_engine(
    athena: tuple[Any, Stubber], archive: Path
) -> None:
    client, stubber = athena
    local = open_source(str(archive), athena_workgroup=None).run(EDGES, ONE_DAY)
    sql = (Queries().directory / f"{EDGES}.sql").read_text(encoding="utf-8")
    stubber.add_response(
        "start_query_execution",
        {"QueryExecutionId": "q-1"},
        {
            "QueryString": sql,
            "WorkGroup": "lineage",
            "QueryExecutionContext": {"Database": "lineage_prod"},
            "ExecutionParameters": ["'2026-11-20'", "'2026-11-20'", f"'{known.AFTER_EVERYTHING}'"],
        },
    )
    for state in ("QUEUED", "RUNNING", "SUCCEEDED"):
        stubber.add_response(
            "get_query_execution",
            {"QueryExecution": {"Status": {"State": state}, "Statistics": {"DataScannedInBytes": 2_000_000}}},
            {"QueryExecutionId": "q-1"},
        )
    pages = athena_pages(local, page_size=3)
    for i, page in enumerate(pages):
        expected = {
            "QueryExecutionId": "q-1",
            "MaxResults": 1000,
            **({"NextToken": f"page-{i * 3}"} if i else {}),
        }
        stubber.add_response("get_query_results", page, expected)
    pauses: list[float] = []
    reports: list[tuple[float, float, str]] = []
    source = open_source(
        None,
        athena_workgroup="lineage",
        athena_database="lineage_prod",
        session=Session(athena=client),
        progress=lambda *report: reports.append(report),
    )
    assert isinstance(source, AthenaSource)
    source._sleep = pauses.append
    assert source.run(EDGES, ONE_DAY) == local
    assert len(pages) > 2
    assert len(pauses) == 2
    assert pauses[1] > pauses[0]  # polled, waiting longer each time
    assert reports[-1][:2] == (2_000_000.0, 0.0)  # bytes scanned; the total is not known


def test_a_failed_athena_query_says_athena_s_reason(athena: tuple[Any, Stubber]) -> None:
    client, stubber = athena
    stubber.add_response("start_query_execution", {"QueryExecutionId": "q-2"}, None)
    reason = "COLUMN_NOT_FOUND: line 40:9: Column 'columns' cannot be resolved"
    stubber.add_response(
        "get_query_execution",
        {
            "QueryExecution": {
                "Status": {
                    "State": "FAILED",
                    "StateChangeReason": reason,
                    "AthenaError": {"ErrorCategory": 2, "ErrorType": 1006},
                }
            }
        },
        {"QueryExecutionId": "q-2"},
    )
    source = AthenaSource(client, "lineage", "lineage", Queries(), sleep=lambda _: None)
    with pytest.raises(AthenaQueryError) as failed:
        source.run(EDGES, ONE_DAY)
    assert (failed.value.state, failed.value.reason, failed.value.execution_id) == ("FAILED", reason, "q-2")
    assert reason in str(failed.value)
    assert "[1006]" in str(failed.value)


def test_athena_refusing_access_names_the_permissions(athena: tuple[Any, Stubber]) -> None:
    client, stubber = athena
    stubber.add_client_error("start_query_execution", "AccessDeniedException", "not authorized", 400)
    source = AthenaSource(client, "lineage", "lineage", Queries(), sleep=lambda _: None)
    with pytest.raises(AthenaAccessError, match="athena:StartQueryExecution") as refused:
        source.run(EDGES, ONE_DAY)
    assert "kms:Decrypt" in str(refused.value)


def test_parameters_are_quoted_as_sql_literals(athena: tuple[Any, Stubber]) -> None:
    client, stubber = athena
    parameters = ["2026-11-20", "2026-11-20", "glue://default/o'brien.t", "revenue"]
    stubber.add_response(
        "start_query_execution",
        {"QueryExecutionId": "q-3"},
        {
            "QueryString": ANY,
            "WorkGroup": "lineage",
            "QueryExecutionContext": {"Database": "lineage"},
            "ExecutionParameters": [
                "'2026-11-20'",
                "'2026-11-20'",
                "'glue://default/o''brien.t'",
                "'revenue'",
            ],
        },
    )
    stubber.add_response("get_query_execution", {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}}, None)
    stubber.add_response(
        "get_query_results",
        {
            "ResultSet": {
                "Rows": [{"Data": [{"VarCharValue": "source_dataset"}]}],
                "ResultSetMetadata": {"ColumnInfo": [{"Name": "source_dataset", "Type": "varchar"}]},
            }
        },
        None,
    )
    source = AthenaSource(client, "lineage", "lineage", Queries(), sleep=lambda _: None)
    assert source.run("column_origin", parameters) == []
