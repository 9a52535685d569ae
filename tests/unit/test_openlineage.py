"""OpenLineage RunEvents of a Glue run become valid contract events: the translation, without AWS.

The events are the recorded GetLineageEvent payloads under tests/events/datazone/ (tests/unit/
test_datazone.py reads them through a stubbed DataZone client): one run of the Glue job ``orders-daily``
whose Spark action reads a Glue table (through its S3 place and a symlinks facet), an S3 path, another
account's Glue table and a local file, and writes a Glue table with schema and column lineage; beside
them, a concurrent run's event. Hand-made events probe the contract's limits.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lineage_lib import contract
from lineage_lib.contract import MAX_EVENT_BYTES, Field
from lineage_plane.observation import RunKey
from lineage_plane.openlineage import (
    MAX_COLUMNS,
    MAX_FIELDS,
    MAX_NAME,
    MAX_SOURCES,
    is_glue_job,
    openlineage_name,
    translate,
)
from tests.conftest import REPO

EVENTS = REPO / "tests" / "events" / "datazone"
DOMAIN = "dzd_4p9xq2example"
ACCOUNT = "123456789012"
JOB = "orders-daily"
JOB_RUN_ID = "jr_ec302224acc6635e4851b0f23fc0a87427155795541dd7b9e846971398efafec"
KEY = RunKey(JOB, JOB_RUN_ID, 0)
STEP = "orders_daily.execute_insert_into_hadoop_fs_relation_command.analytics_db_orders_daily"
ORDERS_RAW = "glue://default/raw_db.orders_raw"
CUSTOMERS = "s3://acme-raw/customers/snapshot=2026-11-20"
FX_RATES = "glue://210987654321/ref_db.fx_rates"
ORDERS_DAILY = "glue://default/analytics_db.orders_daily"
# the events of the listing the bridge must read, in the order it reads them; the others are skipped:
# an earlier run's (before the window), the application's own (no dataset), other jobs' (one of them
# named like this one), one DataZone refused (FAILED)
READ_IDS = ("c4n8v2r6t0y5h1", "h1m5k9j3h7g2f6", "g8z2x6c0v4b9n3")


def openlineage_events() -> list[dict[str, Any]]:
    return [json.loads((EVENTS / "get-lineage-event" / f"{i}.json").read_text())["event"] for i in READ_IDS]


def by_dataset(events: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    role = {"READ": Field.SOURCE, "WRITE": Field.TARGET}
    return {(e[Field.EVENT_TYPE], e[role[e[Field.EVENT_TYPE]]][Field.DATASET_ID]): e for e in events}


def lineage_of(event: dict[str, Any], column: str) -> dict[str, set[tuple[str, str]]]:
    """transformation → (dataset, column) sources of one target column."""
    found: dict[str, set[tuple[str, str]]] = {}
    for entry in event[Field.COLUMNS]:
        if entry[Field.COLUMN] == column:
            refs = {(s[Field.DATASET], s[Field.COLUMN]) for s in entry[Field.SOURCES]}
            found.setdefault(entry[Field.TRANSFORMATION], set()).update(refs)
    return found


def test_a_dataset_the_contract_cannot_name_is_left_out_and_counted() -> None:
    reading = translate(
        openlineage_events(),
        key=KEY,
        domain_id=DOMAIN,
        job_name=JOB,
        job_run_id=JOB_RUN_ID,
        region="eu-west-1",
        account=ACCOUNT,
    )

    assert reading.unmapped == {("file", "/tmp/glue-assets/country_codes.csv")}
    assert reading.openlineage_events == 2  # START and COMPLETE of this run; not the concurrent run's
    assert reading.rejected == []
    write = by_dataset(reading.events)[("WRITE", ORDERS_DAILY)]
    # "country" came from the file (dropped) and was joined on customers (kept)
    assert lineage_of(write, "country") == {"join": {(CUSTOMERS, "country_code")}}
    assert all("file" not in s[Field.DATASET] for c in write[Field.COLUMNS] for s in c[Field.SOURCES])


def test_the_same_openlineage_events_make_the_same_events_whatever_their_order() -> None:
    def run(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return translate(
            events,
            key=KEY,
            domain_id=DOMAIN,
            job_name=JOB,
            job_run_id=JOB_RUN_ID,
            region=None,
            account=ACCOUNT,
        ).events

    first = run(openlineage_events())

    assert run(openlineage_events()) == first
    assert run(list(reversed(openlineage_events()))) == first
    assert len({e[Field.EVENT_ID] for e in first}) == len(first)
    other_domain = translate(
        openlineage_events(), key=KEY, domain_id="dzd_other", job_name=JOB, job_run_id=JOB_RUN_ID, region=None
    )
    assert not {e[Field.EVENT_ID] for e in first} & {e[Field.EVENT_ID] for e in other_domain.events}


@pytest.mark.parametrize(
    ("openlineage_job", "glue_job", "matches"),
    [
        ("orders_daily", "orders-daily", True),  # the Spark application
        (STEP, "orders-daily", True),  # one of its actions
        ("orders-daily", "orders-daily", True),  # spark.openlineage.appName set to the job's own name
        ("orders_daily_backfill.execute_insert_into_hadoop_fs_relation_command.x", "orders-daily", False),
        ("customers_sync", "orders-daily", False),
        ("orders_daily.execute_save_into_data_source_command.x", "OrdersDaily", True),
    ],
)
def test_which_openlineage_jobs_are_the_glue_job_s(
    openlineage_job: str, glue_job: str, matches: bool
) -> None:
    assert is_glue_job(openlineage_job, glue_job) is matches


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("orders-daily", "orders_daily"),
        ("OrdersDaily", "orders_daily"),
        ("someACRONYMInside", "some_acronym_inside"),
        ("Send data from marketing tables to HDFS - V2", "send_data_from_marketing_tables_to_hdfs_v2"),
        ("Ventes à l'étranger", "ventes_a_l_etranger"),
        ("  v2job! ", "v2_job"),
    ],
)
def test_glue_job_names_normalise_as_openlineage_s_spark_integration_does(name: str, normalised: str) -> None:
    assert openlineage_name(name) == normalised


# --- limits of the contract: nothing invalid is ever emitted ------------------------------------------


def spark_event(outputs: list[dict[str, Any]], *, job: str = STEP, **extra: Any) -> dict[str, Any]:
    return {
        "eventTime": "2026-11-21T03:05:00.000000001Z",
        "eventType": "COMPLETE",
        "run": {"runId": "01935f2a-5e6f-7a8b-9c0d-1e2f3a4b5c6d"},
        "job": {"namespace": "default", "name": job},
        "inputs": [{"namespace": "s3://acme-raw", "name": "wide"}],
        "outputs": outputs,
        **extra,
    }


def field_ref(
    field: str, kind: str = "DIRECT", subtype: str = "IDENTITY", name: str = "wide"
) -> dict[str, Any]:
    transformation = {"type": kind, "subtype": subtype}
    return {"namespace": "s3://acme-raw", "name": name, "field": field, "transformations": [transformation]}


def translated(event: dict[str, Any]) -> Any:
    return translate(
        [event], key=KEY, domain_id=DOMAIN, job_name=JOB, job_run_id=JOB_RUN_ID, region="eu-west-1"
    )


def test_a_wide_write_is_split_into_valid_writes_and_loses_no_column_lineage() -> None:
    width = 2600
    fields = {f"c{i:04d}_{'x' * 200}": {"inputFields": [field_ref(f"c{i:04d}")]} for i in range(width)}
    fields["fan_in"] = {"inputFields": [field_ref(f"s{i}", "DIRECT", "AGGREGATION") for i in range(1200)]}
    fields["bad\ncolumn"] = {"inputFields": [field_ref("c0000")]}
    schema = [{"name": f"f{i}", "type": "string"} for i in range(2500)] + [{"name": " padded", "type": "x"}]
    output = {
        "namespace": "s3://acme-analytics",
        "name": "wide",
        "facets": {"columnLineage": {"fields": fields}, "schema": {"fields": schema}},
    }
    long_step = STEP + "." + "y" * 400 + "\t"

    reading = translated(spark_event([output], job=long_step))

    writes = [e for e in reading.events if e[Field.EVENT_TYPE] == "WRITE"]
    assert len(writes) > 1
    assert reading.rejected == []
    for event in writes:
        contract.validate(event)
        size = len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode())
        assert size <= MAX_EVENT_BYTES
        assert len(event[Field.COLUMNS]) <= MAX_COLUMNS
        assert all(len(c[Field.SOURCES]) <= MAX_SOURCES for c in event[Field.COLUMNS])
        assert len(event[Field.TARGET][Field.SCHEMA][Field.FIELDS]) <= MAX_FIELDS
        assert len(event[Field.STEP]) == MAX_NAME
    columns = [c for e in writes for c in e[Field.COLUMNS]]
    assert len({c[Field.COLUMN] for c in columns}) == width + 1  # every valid column; not "bad\ncolumn"
    assert sum(len(c[Field.SOURCES]) for c in columns if c[Field.COLUMN] == "fan_in") == 1200
    assert sum(Field.METRICS in e for e in writes) == 0  # no statistics facet
    assert len({e[Field.EVENT_ID] for e in writes}) == len(writes)
    assert reading.trimmed == 1 + (2500 - MAX_FIELDS) + 1  # the bad column, the fields over, " padded"


def test_dataset_wide_indirect_lineage_and_the_old_facet_are_read() -> None:
    column_lineage = {
        "fields": {
            "total": {"inputFields": [field_ref("amount", "DIRECT", "AGGREGATION")]},
            "code": {"inputFields": [{"namespace": "s3://acme-raw", "name": "wide", "field": "code"}]},
            "secret": {
                "inputFields": [{"namespace": "s3://acme-raw", "name": "wide", "field": "ssn"}],
                "transformationType": "MASKED",
            },
            "same": {
                "inputFields": [{"namespace": "s3://acme-raw", "name": "wide", "field": "same"}],
                "transformationType": "IDENTITY",
            },
        },
        "dataset": [field_ref("status", "INDIRECT", "FILTER"), field_ref("day", "INDIRECT", "SORT")],
    }
    output = {"namespace": "s3://acme-analytics", "name": "t", "facets": {"columnLineage": column_lineage}}

    write = by_dataset(translated(spark_event([output])).events)[("WRITE", "s3://acme-analytics/t")]

    wide = "s3://acme-raw/wide"
    assert lineage_of(write, "total") == {
        "aggregation": {(wide, "amount")},
        "filter": {(wide, "status")},  # what every column depends on, on every column
        "other": {(wide, "day")},
    }
    assert lineage_of(write, "code")["other"] == {(wide, "code"), (wide, "day")}  # none stated: other
    assert lineage_of(write, "secret")["masking"] == {(wide, "ssn")}
    assert lineage_of(write, "same")["identity"] == {(wide, "same")}


def test_an_event_without_a_time_or_of_another_job_is_not_translated() -> None:
    undated = spark_event([])
    del undated["eventTime"]
    reading = translate(
        [undated, spark_event([], job="customers_sync")],
        key=KEY,
        domain_id=DOMAIN,
        job_name=JOB,
        job_run_id=JOB_RUN_ID,
        region=None,
    )

    assert reading.events == []
    assert reading.openlineage_events == 0
    assert reading.rejected == ["OpenLineage event of run 01935f2a-5e6f-7a8b-9c0d-1e2f3a4b5c6d: no eventTime"]
