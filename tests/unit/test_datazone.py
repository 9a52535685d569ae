"""Glue's OpenLineage events, read back from DataZone, become valid contract events of the run.

The DataZone client is a real boto3 client with botocore's Stubber (moto has no DataZone), fed the
recorded-shape responses under tests/events/datazone/: one run of the Glue job ``orders-daily``
whose Spark action reads a Glue table (through its S3 place and a symlinks facet), an S3 path, another
account's Glue table and a local file, and writes a Glue table with schema and column lineage; beside
it, in the same listing, other jobs' events, a refused event, an earlier run's and a concurrent run's.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from lambdas.glue_bridge.datazone import LOOKAROUND, DataZoneAccessError, DataZoneLineage
from lineage_lib import contract
from lineage_lib.contract import Field
from lineage_plane.functions import FunctionEnv
from lineage_plane.run_table import ObservedTag, Observer
from tests.unit.test_openlineage import (
    ACCOUNT,
    CUSTOMERS,
    DOMAIN,
    EVENTS,
    FX_RATES,
    JOB,
    JOB_RUN_ID,
    KEY,
    ORDERS_DAILY,
    ORDERS_RAW,
    READ_IDS,
    STEP,
    by_dataset,
    lineage_of,
)

STARTED = datetime(2026, 11, 21, 3, 0, 5, tzinfo=UTC)
ENDED = datetime(2026, 11, 21, 3, 12, 30, tzinfo=UTC)
CONCURRENT_RUN_EVENT = "h1m5k9j3h7g2f6"  # same job, same window, another JobRunId: read, then dropped


def _timestamps(value: Any) -> Any:
    """A recorded response as boto3 returns it: its timestamps as aware datetimes."""
    if isinstance(value, dict):
        return {
            k: datetime.fromisoformat(v) if k in {"eventTime", "createdAt"} else _timestamps(v)
            for k, v in value.items()
        }
    return [_timestamps(v) for v in value] if isinstance(value, list) else value


def listing(page: int) -> dict[str, Any]:
    return _timestamps(json.loads((EVENTS / f"list-lineage-events-{page}.json").read_text()))


def recorded_event(event_id: str) -> dict[str, Any]:
    """A GetLineageEvent response; its ``event`` payload is a streaming body, as boto3 returns it."""
    response = json.loads((EVENTS / "get-lineage-event" / f"{event_id}.json").read_text())
    body = json.dumps(response.pop("event")).encode()
    return {**_timestamps(response), "event": StreamingBody(io.BytesIO(body), len(body))}


def stub_run(stubber: Stubber) -> None:
    """The calls reading the run makes, in order, with the parameters it must send."""
    window = {
        "domainIdentifier": DOMAIN,
        "timestampAfter": STARTED - LOOKAROUND,
        "timestampBefore": ENDED + LOOKAROUND,
        "sortOrder": "ASCENDING",
    }
    page_1, page_2 = listing(1), listing(2)
    stubber.add_response("list_lineage_events", page_1, window)
    stubber.add_response("get_lineage_event", recorded_event(READ_IDS[0]), _get(READ_IDS[0]))
    stubber.add_response("list_lineage_events", page_2, {**window, "nextToken": page_1["nextToken"]})
    for event_id in READ_IDS[1:]:
        stubber.add_response("get_lineage_event", recorded_event(event_id), _get(event_id))


def _get(event_id: str) -> dict[str, str]:
    return {"domainIdentifier": DOMAIN, "identifier": event_id}


def read_run(client: Any, account: str | None = ACCOUNT) -> list[dict[str, Any]]:
    reader = DataZoneLineage(client, DOMAIN, account=account)
    return reader.events_for(
        key=KEY, job_name=JOB, job_run_id=JOB_RUN_ID, started=STARTED, ended=ENDED, region="eu-west-1"
    )


def test_the_run_s_events_are_read_page_by_page_and_nothing_else(datazone: Any) -> None:
    client, stubber = datazone
    stub_run(stubber)  # any other call, or these with other parameters, fails the test

    events = read_run(client)

    assert sorted(by_dataset(events)) == sorted(
        [("READ", ORDERS_RAW), ("READ", CUSTOMERS), ("READ", FX_RATES), ("WRITE", ORDERS_DAILY)]
    )  # not the concurrent run's input (s3://acme-raw/orders_late), not the local file
    for event in events:
        assert event[Field.STEP] == STEP
        assert event[Field.PRODUCER][Field.NAME] == Observer.PRODUCER
        assert event[Field.TAGS][ObservedTag.OBSERVED_BY] == Observer.DATAZONE
        assert event[Field.TAGS][ObservedTag.OPENLINEAGE_RUN_ID] == "01935f2a-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
        assert event[Field.TAGS][ObservedTag.OPENLINEAGE_JOB] == f"default/{STEP}"
        assert (event[Field.PIPELINE_ID], event[Field.RUN_ID], event[Field.ATTEMPT]) == (JOB, JOB_RUN_ID, 0)
        assert event[Field.CONTEXT] == {
            "platform": "glue",
            "job_name": JOB,
            "job_run_id": JOB_RUN_ID,
            "region": "eu-west-1",
        }
        contract.validate(event)


def test_inputs_become_reads_glue_tables_named_through_their_symlinks(datazone: Any) -> None:
    client, stubber = datazone
    stub_run(stubber)

    reads = by_dataset(read_run(client))

    orders = reads[("READ", ORDERS_RAW)][Field.SOURCE]
    assert orders[Field.LOCATION] == "s3://acme-raw/orders"  # the physical place behind the table
    assert [f[Field.NAME] for f in orders[Field.SCHEMA][Field.FIELDS]][:3] == [
        "order_id",
        "customer_id",
        "order_date",
    ]
    assert Field.LOCATION not in reads[("READ", CUSTOMERS)][Field.SOURCE]  # a path read as a path
    # another account's catalog keeps its account id; this account's is "default"
    assert reads[("READ", FX_RATES)][Field.SOURCE][Field.LOCATION] == "s3://acme-shared-ref/fx_rates"
    # a read is dated when the run first named it; a write by the run's last event
    assert reads[("READ", ORDERS_RAW)][Field.EVENT_TIME] == "2026-11-21T03:01:12.482Z"
    assert reads[("READ", FX_RATES)][Field.EVENT_TIME] == "2026-11-21T03:11:58.917Z"
    assert reads[("WRITE", ORDERS_DAILY)][Field.EVENT_TIME] == "2026-11-21T03:11:58.917Z"


def test_without_the_bridge_s_account_every_table_names_its_catalog(datazone: Any) -> None:
    client, stubber = datazone
    stub_run(stubber)

    ids = {dataset for _, dataset in by_dataset(read_run(client, account=None))}

    assert "glue://123456789012/raw_db.orders_raw" in ids
    assert "glue://123456789012/analytics_db.orders_daily" in ids


def test_the_output_becomes_a_write_with_schema_and_column_lineage(datazone: Any) -> None:
    client, stubber = datazone
    stub_run(stubber)

    write = by_dataset(read_run(client))[("WRITE", ORDERS_DAILY)]

    target = write[Field.TARGET]
    assert target[Field.LOCATION] == "s3://acme-analytics/warehouse/orders_daily"
    # the COMPLETE event's schema, not the START event's shorter one; nested fields as parent.child
    assert [f[Field.NAME] for f in target[Field.SCHEMA][Field.FIELDS]][-4:] == [
        "daily_rank",
        "audit",
        "audit.loaded_at",
        "audit.source",
    ]
    assert {"name": "revenue", "type": "decimal(28,8)"} in target[Field.SCHEMA][Field.FIELDS]
    assert write[Field.METRICS] == {"records": 31, "bytes": 48213, "files": 2}
    assert lineage_of(write, "order_date")["identity"] == {(ORDERS_RAW, "order_date")}
    assert lineage_of(write, "customer_name")["rename"] == {(CUSTOMERS, "name")}  # identity, renamed
    assert lineage_of(write, "email_hash") == {"masking": {(CUSTOMERS, "email")}}
    revenue = lineage_of(write, "revenue")
    assert revenue["aggregation"] == {(ORDERS_RAW, "order_total"), (FX_RATES, "rate")}  # several sources
    assert revenue["join"] == {
        (ORDERS_RAW, "customer_id"),
        (CUSTOMERS, "customer_id"),
        (ORDERS_RAW, "currency"),
        (FX_RATES, "currency"),
    }
    assert revenue["filter"] == {(ORDERS_RAW, "status")}
    assert revenue["group_by"] == {(ORDERS_RAW, "order_date"), (ORDERS_RAW, "customer_id")}
    assert lineage_of(write, "daily_rank") == {
        "other": {(ORDERS_RAW, "order_date"), (ORDERS_RAW, "order_total")}
    }


@pytest.mark.parametrize(
    ("code", "advice"),
    [
        ("AccessDeniedException", "datazone:ListLineageEvents and datazone:GetLineageEvent"),
        ("UnauthorizedException", "datazone:ListLineageEvents and datazone:GetLineageEvent"),
        ("ResourceNotFoundException", FunctionEnv.DATAZONE_DOMAIN_ID),
    ],
)
def test_a_refused_domain_says_what_to_do(datazone: Any, code: str, advice: str) -> None:
    client, stubber = datazone
    stubber.add_client_error("list_lineage_events", service_error_code=code, http_status_code=403)

    with pytest.raises(DataZoneAccessError, match=advice) as raised:
        read_run(client)

    assert raised.value.code == code
    assert FunctionEnv.DATAZONE_DOMAIN_ID in str(raised.value)
    assert "ListLineageEvents" in str(raised.value)


def test_a_refused_read_of_an_event_is_typed_too(datazone: Any) -> None:
    client, stubber = datazone
    stubber.add_response("list_lineage_events", listing(2))
    stubber.add_client_error("get_lineage_event", service_error_code="AccessDeniedException")

    with pytest.raises(DataZoneAccessError, match="GetLineageEvent"):
        read_run(client)


def test_throttling_is_left_to_botocore_and_the_caller(datazone: Any) -> None:
    client, stubber = datazone
    stubber.add_client_error(
        "list_lineage_events", service_error_code="ThrottlingException", http_status_code=429
    )

    # botocore's own error, not a typed one: the client retries it, then the handler's retry does
    with pytest.raises(ClientError, match="ThrottlingException") as raised:
        read_run(client)

    assert not isinstance(raised.value, DataZoneAccessError)


def test_an_unreadable_payload_is_reported_not_fatal(datazone: Any) -> None:
    client, stubber = datazone
    page = listing(2)
    stubber.add_response("list_lineage_events", page)
    for event_id in READ_IDS[1:]:
        response = recorded_event(event_id)
        if event_id != CONCURRENT_RUN_EVENT:
            response["event"] = StreamingBody(io.BytesIO(b'{"eventType": "COMPL'), 20)
        stubber.add_response("get_lineage_event", response, _get(event_id))

    reading = DataZoneLineage(client, DOMAIN, account=ACCOUNT).read(
        key=KEY, job_name=JOB, job_run_id=JOB_RUN_ID, started=STARTED, ended=ENDED, region=None
    )

    assert reading.events == []
    assert len(reading.rejected) == 1
    assert "g8z2x6c0v4b9n3 is not JSON" in reading.rejected[0]


def test_the_window_brackets_glue_s_times(datazone: Any) -> None:
    client, stubber = datazone
    naive_start = STARTED.replace(tzinfo=None)  # a naive time is UTC
    stubber.add_response(
        "list_lineage_events",
        {"items": []},
        {
            "domainIdentifier": DOMAIN,
            "timestampAfter": STARTED - timedelta(minutes=5),
            "timestampBefore": ENDED + timedelta(minutes=5),
            "sortOrder": "ASCENDING",
        },
    )

    events = DataZoneLineage(client, DOMAIN).events_for(
        key=KEY, job_name=JOB, job_run_id=JOB_RUN_ID, started=naive_start, ended=ENDED, region=None
    )

    assert events == []
