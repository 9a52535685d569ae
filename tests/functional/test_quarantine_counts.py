"""quarantined_by_reason.sql over quarantine objects the validator's own ingest wrote (local engine,
DuckDB): a line counts once, even when a redelivery batched otherwise quarantined it again, and two
events of one log message that were both refused without a readable event id count twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from lineage_cli.engine import open_source
from lineage_local.local_plane import LOCAL_ACCOUNT, LOCAL_REGION
from lineage_plane.archive_object import ArchiveObject
from lineage_plane.ingest import Delivery, LogEvent, ingest, unreadable_object
from lineage_plane.layout import GLUE_OUTPUT_LOG_GROUP, QuarantineCode
from tests.conftest import SCHEMAS

DAY = "2026-11-21"
FIRST = 1_795_230_721_125  # 2026-11-21T03:12:01.125Z
RECEIVED = datetime(2026, 11, 21, 3, 13, tzinfo=UTC)


def valid_text() -> str:
    event = json.loads((SCHEMAS / "1.0/examples/valid/step-start.json").read_text())
    return json.dumps(event, separators=(",", ":"))


def write(root: Path, objects: list[ArchiveObject]) -> None:
    for obj in objects:
        (root / obj.key).parent.mkdir(parents=True, exist_ok=True)
        (root / obj.key).write_bytes(obj.body())


def delivered(log_events: list[LogEvent]) -> list[ArchiveObject]:
    delivery = Delivery(LOCAL_ACCOUNT, GLUE_OUTPUT_LOG_GROUP, "jr_1", log_events)
    return ingest(delivery, region=LOCAL_REGION, received_at=RECEIVED, validator_version="test").objects


def test_each_quarantined_event_counts_once_across_redeliveries_and_twice_within_one_message(
    tmp_path: Path,
) -> None:
    text = valid_text()
    two_broken = f"{text[:60]}\n{text[:80]}"  # two truncated events in one message: no event id
    wrong_type = text.replace('"attempt":0', '"attempt":"0"')
    log_events = [
        LogEvent("37928461039475120394857120394857120394857131916136563001", FIRST, two_broken),
        LogEvent("37928461039475120394857120394857120394857131916136563002", FIRST + 1, wrong_type),
    ]
    write(tmp_path, delivered(log_events))
    write(tmp_path, delivered(log_events[:1]))  # the same log events, batched otherwise
    write(tmp_path, delivered(log_events[1:]))
    unreadable = unreadable_object(
        '{"awslogs": {"data": "%%%"}}',
        "not base64",
        region=LOCAL_REGION,
        received_at=RECEIVED,
        validator_version="t",
    )
    write(
        tmp_path,
        [
            unreadable,
            unreadable_object(
                "{}", "no awslogs", region=LOCAL_REGION, received_at=RECEIVED, validator_version="t"
            ),
        ],
    )
    assert len(list(tmp_path.rglob("*.json.gz"))) == 5

    rows = open_source(str(tmp_path), athena_workgroup=None).run("quarantined_by_reason", [DAY, DAY])

    lines = {row["reason_code"]: row["lines"] for row in rows}
    assert lines == {
        QuarantineCode.INVALID_JSON: 2,
        QuarantineCode.SCHEMA_VIOLATION: 1,
        QuarantineCode.UNREADABLE_DELIVERY: 2,
    }
