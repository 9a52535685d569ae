"""The Glue bridge with a DataZone domain: Glue's own OpenLineage events archived beside its account.

Glue, S3 and DynamoDB are moto's; DataZone (which moto lacks) is a real boto3 client answered by
botocore's Stubber from recorded-shape responses (tests/events/datazone/).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from lambdas.glue_bridge import handler as bridge_handler
from lambdas.glue_bridge.datazone import DataZoneAccessError, DataZoneLineage
from lineage_lib import contract
from lineage_plane.functions import BridgeMetrics
from lineage_plane.run_table import ObservedTag, Observer, PlatformState, Reconciliation, RunStateTable
from tests.functional.bridge_support import ACCOUNT, BridgePlane, bridge_plane, metric_total, state_change
from tests.unit.test_datazone import (
    DOMAIN,
    ENDED,
    JOB,
    JOB_RUN_ID,
    ORDERS_DAILY,
    ORDERS_RAW,
    STARTED,
    stub_run,
)

T = RunStateTable


@pytest.fixture
def bp() -> Iterator[BridgePlane]:
    with bridge_plane() as plane:
        plane.job(JOB)
        yield plane


def with_datazone(client: Any) -> None:
    """The bridge of the function's execution environment, reading this DataZone domain."""
    bridge_handler.bridge(ACCOUNT).platform_lineage = DataZoneLineage(client, DOMAIN, account=ACCOUNT)


def test_glue_s_openlineage_events_are_archived_as_platform_observed_lineage(
    bp: BridgePlane, datazone: tuple[Any, Stubber]
) -> None:
    client, stubber = datazone
    bp.run(JOB, PlatformState.SUCCEEDED, started_on=STARTED, duration=ENDED - STARTED, job_run_id=JOB_RUN_ID)
    with_datazone(client)
    stub_run(stubber)

    result = bp.bridge(state_change(JOB, JOB_RUN_ID, PlatformState.SUCCEEDED))

    assert result["platform_lineage_events"] > 0
    assert result["events_quarantined"] == 0
    lines = bp.observed_lines()
    from_datazone = [line for line in lines if line["tags"][ObservedTag.OBSERVED_BY] == Observer.DATAZONE]
    assert len(from_datazone) == result["platform_lineage_events"] == len(lines) - 1
    for line in lines:
        line.pop("ingest")
        contract.validate(line)
    item = bp.attempt(JOB, JOB_RUN_ID, 0)
    assert ORDERS_RAW in item[T.INPUTS]
    assert ORDERS_DAILY in item[T.OUTPUTS]
    # lineage Glue recorded is the platform's, not the job's: without lineage_lib the run is a gap
    assert item[T.RECONCILIATION] == Reconciliation.GAP


def test_reading_the_same_run_again_changes_nothing(bp: BridgePlane, datazone: tuple[Any, Stubber]) -> None:
    client, stubber = datazone
    bp.run(JOB, PlatformState.SUCCEEDED, started_on=STARTED, duration=ENDED - STARTED, job_run_id=JOB_RUN_ID)
    with_datazone(client)
    event = state_change(JOB, JOB_RUN_ID, PlatformState.SUCCEEDED)
    stub_run(stubber)
    bp.bridge(event)
    scan, archive = bp.plane.scan(), bp.plane.archive_text()

    stub_run(stubber)
    again = bp.bridge(event)

    assert again["new"] is False
    assert again["events_duplicates"] == again["events_archived"]
    assert (bp.plane.scan(), bp.plane.archive_text()) == (scan, archive)


def test_a_refused_domain_fails_the_invocation_after_glue_s_account_is_recorded(
    bp: BridgePlane, datazone: tuple[Any, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    client, stubber = datazone
    bp.run(JOB, PlatformState.SUCCEEDED, started_on=STARTED, duration=ENDED - STARTED, job_run_id=JOB_RUN_ID)
    with_datazone(client)
    event = state_change(JOB, JOB_RUN_ID, PlatformState.SUCCEEDED)
    stubber.add_client_error("list_lineage_events", "AccessDeniedException", "not authorized")

    with pytest.raises(DataZoneAccessError, match="grant the function's role datazone:ListLineageEvents"):
        bp.bridge(event)  # Lambda retries the event, then keeps it in the failure queue for a re-drive

    assert bp.attempt(JOB, JOB_RUN_ID, 0)[T.RECONCILIATION] == Reconciliation.GAP  # recorded, and counted
    assert metric_total(capsys.readouterr().out, BridgeMetrics.LINEAGE_GAPS) == 1
    stub_run(stubber)  # the permission granted: the retry reads DataZone, and does not count the gap twice
    retried = bp.bridge(event)
    assert retried["new"] is False
    assert retried["platform_lineage_events"] > 0
    assert metric_total(capsys.readouterr().out, BridgeMetrics.LINEAGE_GAPS) == 0
