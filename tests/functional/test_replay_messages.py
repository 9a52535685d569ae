"""``lineage replay`` of a quarantine line whose log message held several events: only the event the
line quarantined is read again (its ``ingest.event_index``); its sibling, archived the first time, is
not archived twice."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from lineage_cli import replay
from lineage_lib import contract
from lineage_lib._schema_compiler import SchemaViolation
from lineage_local.local_plane import LOCAL_ACCOUNT, LOCAL_REGION
from lineage_plane.ingest import Delivery, LogEvent, ingest
from lineage_plane.layout import GLUE_OUTPUT_LOG_GROUP, Archive, Ingest
from tests.conftest import SCHEMAS

STREAM = "jr_5f1c0e9b2a7d4c3e8f6a1b2c3d4e5f60"


def example(name: str, event_id: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((SCHEMAS / "1.0" / "examples" / "valid" / f"{name}.json").read_text())
    return {**event, "event_id": event_id}


FIRST = example("read-glue-table-with-schema-version", "0f8fad5b-d9cb-469f-a165-000000000001")
SECOND = example("step-complete-emr", "0f8fad5b-d9cb-469f-a165-000000000002")
MESSAGE = "\n".join(json.dumps(e, separators=(",", ":")) for e in (FIRST, SECOND))


def refusing(event_id: str) -> Callable[..., Callable[[Any], None]]:
    """The compiled validator of a validator version that refused one event (a rule since relaxed)."""
    real = contract.compiled_validator

    def older(version: str = contract.CURRENT_VERSION, pre_validated: frozenset[str] = frozenset()) -> Any:
        def validate(event: Any) -> None:
            if event.get("event_id") == event_id:
                raise SchemaViolation(("step",), "pattern", "refused by an older rule", event.get("step"))
            real(version)(event)

        return validate

    return older


def archive_of(tmp_path: Path) -> Path:
    delivery = Delivery(
        LOCAL_ACCOUNT,
        GLUE_OUTPUT_LOG_GROUP,
        STREAM,
        [LogEvent("37928461039475120394857120394857120394857131916136563737", 1_795_230_721_125, MESSAGE)],
    )
    with mock.patch.object(contract, "compiled_validator", refusing(SECOND["event_id"])):
        outcome = ingest(
            delivery, region=LOCAL_REGION, received_at=datetime.now(UTC), validator_version="0.0.9"
        )
    assert (outcome.counts.archived, outcome.counts.quarantined) == (1, 1)
    for obj in outcome.objects:
        (tmp_path / obj.key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / obj.key).write_bytes(obj.body())
    return tmp_path


def archived(root: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted((root / Archive.EVENTS_PREFIX).rglob("*.json.gz"))
        for line in gzip.decompress(path.read_bytes()).decode().splitlines()
    ]


def test_replay_reads_only_the_quarantined_event_of_a_message_of_two(tmp_path: Path) -> None:
    root = archive_of(tmp_path)
    assert [e["event_id"] for e in archived(root)] == [FIRST["event_id"]]

    report = replay.replay(replay.LocalStore(root))

    assert (report.lines_read, report.archived, sum(report.still_refused.values())) == (1, 1, 0)
    assert report.balanced
    lines = archived(root)
    assert sorted(e["event_id"] for e in lines) == sorted([FIRST["event_id"], SECOND["event_id"]])
    [replayed] = [e for e in lines if e["event_id"] == SECOND["event_id"]]
    assert replayed[Ingest.KEY][Ingest.EVENT_INDEX] == 1  # the identity it had in its message
