"""``lineage replay`` on a local archive folder and on S3 (moto).

The quarantine is the real one: an older validator (one that knew no schema version, as a plane
deployed before 1.0 would be) refused a batch with the validator's own code (``ingest``; on S3, the
handler itself). Replayed by the current validator, the valid events land under events/ with their
original ingest fields, the broken lines stay refused, the quarantine objects stay byte for byte,
and a second replay writes nothing.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from lineage_cli import replay
from lineage_cli.archive import S3Location
from lineage_cli.exits import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from lineage_lib import contract
from lineage_local.local_plane import LOCAL_ACCOUNT, LOCAL_REGION
from lineage_plane.archive_object import ArchiveObject
from lineage_plane.ingest import Delivery, LogEvent, ingest
from lineage_plane.layout import GLUE_OUTPUT_LOG_GROUP, Ingest, partitions_of, quarantine_object_key
from tests.conftest import SCHEMAS
from tests.functional.validator_support import BUCKET, Plane, fail_call, glue_payload

EXAMPLES = SCHEMAS / "1.0" / "examples"
STREAM = "jr_5f1c0e9b2a7d4c3e8f6a1b2c3d4e5f60"
NOV_21 = 1_795_230_725_000  # 2026-11-21T03:12:05Z, epoch ms


def example(name: str) -> str:
    data = json.loads((EXAMPLES / f"{name}.json").read_text())
    return json.dumps(data.get("event", data), separators=(",", ":"))


READ = example("valid/read-glue-table-with-schema-version")  # orders-daily, 2026-11-21
NOTIFY = example("valid/run-complete-lambda")  # orders-notify, 2026-11-21
NEGATIVE_ATTEMPT = example("invalid/negative-attempt")
# one Glue stream's batch: two valid events (one after a Lambda log prefix), one schema violation, one
# truncated line, and a line that is not lineage (ignored, so never quarantined)
BATCH = [
    READ,
    f"START RequestId: 1\n[INFO]\t2026-11-21T03:12:09.125Z\t8f1c\t{NOTIFY}",
    NEGATIVE_ATTEMPT,
    READ[:90],
    "Stage 3 finished in 4.2 s",
]
STEP_START = example("valid/step-start")  # the only line of a batch logged a day later


def log_events(messages: list[str], first: int) -> list[dict[str, Any]]:
    return [
        {"id": f"3792846103947512{first + i:040d}", "timestamp": first + i * 1000, "message": m}
        for i, m in enumerate(messages)
    ]


def older_validator() -> Any:
    """The validator as a plane that knew no schema version would run it."""
    return mock.patch.object(contract, "known_versions", return_value=())


def refused_batch(messages: list[str], first: int, stream: str = STREAM) -> list[ArchiveObject]:
    events = [LogEvent(e["id"], e["timestamp"], e["message"]) for e in log_events(messages, first)]
    delivery = Delivery(LOCAL_ACCOUNT, GLUE_OUTPUT_LOG_GROUP, stream, events)
    with older_validator():
        outcome = ingest(
            delivery, region=LOCAL_REGION, received_at=datetime.now(UTC), validator_version="0.0.9"
        )
    assert outcome.counts.archived == 0
    return outcome.objects


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def lines_of(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """A local archive whose quarantine holds the refused batch (21 Nov) and a one-line batch (22 Nov)."""
    root = tmp_path / "archive"
    for obj in [*refused_batch(BATCH, NOV_21), *refused_batch([STEP_START], NOV_21 + 86_400_000, "s2")]:
        (root / obj.key).parent.mkdir(parents=True, exist_ok=True)
        (root / obj.key).write_bytes(obj.body())
    assert [partitions_of(key)["log_date"] for key in files(root)] == ["2026-11-21", "2026-11-22"]
    return root


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lineage")
    replay.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["replay", *argv])


def lineage_replay(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = replay.run(parse(*argv), out)
    return code, out.getvalue()


def test_replay_archives_what_passes_now_and_leaves_the_quarantine_intact(archive: Path) -> None:
    before = files(archive)
    code, text = lineage_replay("--archive", str(archive), "--format", "json")
    report = json.loads(text)

    assert code == EXIT_FINDINGS  # lines remain refused
    assert report["lines_read"] == 5  # the ignored line was never quarantined
    assert report["archived"] == 3
    assert report["still_refused"] == {"invalid_json": 1, "schema_violation": 1}
    assert report["lines_read"] == report["archived"] + sum(report["still_refused"].values())
    after = files(archive)
    assert {key: after[key] for key in before} == before  # quarantine objects byte for byte
    new = sorted(set(after) - set(before))
    assert new == sorted(report["objects_written"])
    assert [partitions_of(key) for key in new] == [
        {"event_date": "2026-11-21", "pipeline_id": "orders-daily"},
        {"event_date": "2026-11-21", "pipeline_id": "orders-daily"},
        {"event_date": "2026-11-21", "pipeline_id": "orders-notify"},
    ]
    archived = {line["event_id"]: (key, line) for key in new for line in lines_of(after[key])}
    assert len(archived) == 3
    key, read = archived[json.loads(READ)["event_id"]]
    ingest_fields = read.pop(Ingest.KEY)
    assert read == json.loads(READ)  # the event as its producer wrote it
    assert key.endswith(f"/{ingest_fields[Ingest.BATCH_ID]}.json.gz")
    assert ingest_fields[Ingest.LOG_GROUP] == GLUE_OUTPUT_LOG_GROUP
    assert ingest_fields[Ingest.LOG_STREAM] == STREAM
    assert ingest_fields[Ingest.LOG_EVENT_ID] == log_events(BATCH, NOV_21)[0]["id"]
    assert ingest_fields[Ingest.LOG_TIMESTAMP] == NOV_21
    assert (ingest_fields[Ingest.ACCOUNT], ingest_fields[Ingest.REGION]) == (LOCAL_ACCOUNT, LOCAL_REGION)
    _, notify = archived[json.loads(NOTIFY)["event_id"]]
    assert notify[Ingest.KEY][Ingest.LOG_TIMESTAMP] == NOV_21 + 1000
    assert not list(archive.rglob("*.tmp"))


def test_a_second_replay_writes_nothing(archive: Path) -> None:
    calls: list[tuple[float, float, str]] = []
    first = replay.replay(replay.LocalStore(archive), progress=lambda *call: calls.append(call))
    assert calls == [(1, 2, "replaying quarantine"), (2, 2, "replaying quarantine")]
    written = files(archive)
    second = replay.replay(replay.LocalStore(archive))
    assert files(archive) == written
    assert second.objects_written == []
    assert sorted(second.objects_already_present) == sorted(first.objects_written)
    assert (second.lines_read, second.archived, second.still_refused) == (5, 3, first.still_refused)


def test_a_dry_run_reports_and_writes_nothing(archive: Path) -> None:
    before = files(archive)
    code, text = lineage_replay("--archive", str(archive), "--dry-run")
    assert code == EXIT_FINDINGS
    assert files(archive) == before
    assert "3 now valid -> would be archived: 3 objects to write, 0 already present" in text
    assert "2 still refused: invalid_json 1, schema_violation 1" in text
    assert "dry run: nothing written" in text
    replay.replay(replay.LocalStore(archive))
    _, again = lineage_replay("--archive", str(archive), "--dry-run")
    assert "0 objects to write, 3 already present" in again


def test_the_window_selects_quarantine_objects_by_log_date(archive: Path) -> None:
    code, text = lineage_replay("--archive", str(archive), "--since", "2026-11-22")
    assert code == EXIT_OK  # every line of that day passes now
    assert "1 quarantine objects, 1 lines read" in text
    assert "1 now valid -> archived: 1 objects written" in text
    assert "0 still refused\n" in text
    only_21 = replay.replay(replay.LocalStore(archive), since="2026-11-21", until="2026-11-21")
    assert (only_21.objects_read, only_21.lines_read) == (1, 4)
    assert replay.replay(replay.LocalStore(archive), until="2026-11-20").lines_read == 0


def test_damaged_quarantine_lines_are_counted_not_skipped(tmp_path: Path) -> None:
    [good] = [o for o in refused_batch([STEP_START], NOV_21) if o.key.startswith("quarantine/")]
    damaged = ArchiveObject(
        quarantine_object_key("2026-11-21", "0000000000000-damaged"),
        [*good.lines, "{not json", json.dumps({"message": 42, Ingest.KEY: {}}), json.dumps({"reason": {}})],
    )
    (tmp_path / damaged.key).parent.mkdir(parents=True)
    (tmp_path / damaged.key).write_bytes(damaged.body())
    report = replay.replay(replay.LocalStore(tmp_path))
    assert (report.lines_read, report.archived) == (4, 1)
    assert report.still_refused == {replay.UNREADABLE: 3}


def test_an_empty_archive_replays_nothing(tmp_path: Path) -> None:
    code, text = lineage_replay("--archive", str(tmp_path))
    assert code == EXIT_OK
    assert "0 quarantine objects, 0 lines read" in text


def test_setup_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lineage_replay("--archive", str(tmp_path / "nowhere"))[0] == EXIT_USAGE
    assert "no archive folder" in capsys.readouterr().err
    args = ("--archive", str(tmp_path), "--since", "2026-11-22", "--until", "2026-11-21")
    assert lineage_replay(*args)[0] == EXIT_USAGE
    assert "--since 2026-11-22 is after --until 2026-11-21" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse("--archive", str(tmp_path), "--since", "21/11/2026")
    assert "is not a day (YYYY-MM-DD)" in capsys.readouterr().err


def test_help_teaches_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("--help")
    text = capsys.readouterr().out
    for expected in ("examples:", "--dry-run", "exit codes: 0", "1 some lines are still", "s3:PutObject"):
        assert expected in text


# --- S3 -------------------------------------------------------------------------------------------------


@pytest.fixture
def s3_archive(plane: Plane) -> Plane:
    """The plane on moto after its (older) validator refused the batch: the handler wrote the quarantine."""
    with older_validator():
        summary = plane.invoke(glue_payload(log_events(BATCH, NOV_21), STREAM))
    assert (summary["archived"], summary["quarantined"], summary["ignored"]) == (0, 4, 1)
    return plane


def bucket(plane: Plane) -> dict[str, bytes]:
    pages = plane.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    return {key: plane.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys}


def test_replay_on_s3_is_conditional_and_idempotent(s3_archive: Plane) -> None:
    before = bucket(s3_archive)
    code, text = lineage_replay("--archive", f"s3://{BUCKET}", "--region", LOCAL_REGION, "--format", "json")
    report = json.loads(text)
    assert code == EXIT_FINDINGS
    assert (report["lines_read"], report["archived"], len(report["objects_written"])) == (4, 2, 2)
    after = bucket(s3_archive)
    assert {key: after[key] for key in before} == before
    events = {line["event_id"]: line for key in report["objects_written"] for line in lines_of(after[key])}
    assert events[json.loads(NOTIFY)["event_id"]][Ingest.KEY][Ingest.LOG_STREAM] == STREAM

    again = replay.replay(replay.S3Store(s3_archive.s3, S3Location.parse(f"s3://{BUCKET}")))
    assert again.objects_written == []
    assert sorted(again.objects_already_present) == sorted(report["objects_written"])
    assert bucket(s3_archive) == after


def test_replay_under_a_prefix_writes_under_the_same_prefix(s3_archive: Plane) -> None:
    for key, body in bucket(s3_archive).items():
        s3_archive.s3.put_object(Bucket=BUCKET, Key=f"team-a/{key}", Body=body)
    report = replay.replay(
        replay.S3Store(s3_archive.s3, S3Location.parse(f"s3://{BUCKET}/team-a/")), since="2026-11-21"
    )
    assert report.archived == 2
    assert all(key.startswith("events/") for key in report.objects_written)
    written = {key for key in bucket(s3_archive) if key.startswith("team-a/events/")}
    assert written == {f"team-a/{key}" for key in report.objects_written}


@pytest.mark.parametrize(
    ("operation", "expected"),
    [("ListObjectsV2", "AWS refused (AccessDenied)"), ("PutObject", "could not write s3://")],
)
def test_aws_refusals_name_the_permissions(s3_archive: Plane, operation: str, expected: str) -> None:
    s3_archive.s3.meta.events.register(f"before-call.s3.{operation}", fail_call(1, "AccessDenied", 403))
    with pytest.raises(replay.ReplayError) as refused:
        replay.replay(replay.S3Store(s3_archive.s3, S3Location.parse(f"s3://{BUCKET}")))
    assert expected in str(refused.value)
    assert "s3:PutObject" in str(refused.value)
    assert "kms:Decrypt" in str(refused.value)


def test_a_missing_bucket_is_a_usage_error(s3_archive: Plane, capsys: pytest.CaptureFixture[str]) -> None:
    assert lineage_replay("--archive", "s3://no-such-bucket-here")[0] == EXIT_USAGE
    assert "no bucket 'no-such-bucket-here'" in capsys.readouterr().err
