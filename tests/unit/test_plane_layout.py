"""The plane's shared layout: archive keys and partitions, run-state keys, filter patterns, statuses."""

from __future__ import annotations

import json
import re
import string
from datetime import UTC

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lineage_lib import contract
from lineage_plane.layout import (
    LINEAGE_GROUP_FILTER_PATTERN,
    SOURCE_FILTER_PATTERN,
    Archive,
    QuarantineCode,
    event_object_key,
    moment_of,
    partition_raw,
    partition_value,
    partitions_of,
    quarantine_object_key,
)
from lineage_plane.run_table import PlatformState, RunStatus, attempt_sk, event_marker_pk, run_pk, step_sk

BATCH = "1795237200000-3f1c0e9b2a7d4c3e8f6a1b2c"
SAFE_FOLDER = re.compile(r"^[A-Za-z0-9._~%-]+$")  # what a percent-encoded partition value may hold
NAME = re.compile(contract.schema("1.0")["$defs"]["name"]["pattern"])

# Any name the schema accepts as a pipeline id (the schema refuses lone surrogates: their own test below).
names = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40).filter(
    lambda s: NAME.match(s) is not None
)
dates = st.dates().map(lambda d: d.isoformat())


# --- archive keys ---------------------------------------------------------------------------------


def test_an_event_key_is_hive_partitioned_by_date_then_pipeline() -> None:
    key = event_object_key("2026-11-21", "orders-daily", BATCH)
    assert key == f"events/event_date=2026-11-21/pipeline_id=orders-daily/{BATCH}.json.gz"
    assert key.startswith(Archive.EVENTS_PREFIX)
    assert key.endswith(Archive.OBJECT_SUFFIX)
    assert partitions_of(key) == {"event_date": "2026-11-21", "pipeline_id": "orders-daily"}
    assert tuple(partitions_of(key)) == Archive.EVENT_PARTITIONS


def test_a_quarantine_key_is_partitioned_by_log_date() -> None:
    key = quarantine_object_key("2026-11-21", BATCH)
    assert key == f"quarantine/log_date=2026-11-21/{BATCH}.json.gz"
    assert key.startswith(Archive.QUARANTINE_PREFIX)
    assert partitions_of(key) == {"log_date": "2026-11-21"}
    assert tuple(partitions_of(key)) == Archive.QUARANTINE_PARTITIONS


@pytest.mark.parametrize(
    "pipeline_id",
    [
        "sales/daily",
        "../../quarantine",
        "orders daily",
        "a=b",
        "pipeline_id=x",
        "orders#1",
        "100%",
        "%2F",  # looks encoded already: must come back as these three characters
        "a+b",
        "ventes-été/日次 ✓",
        "tab\tinside",
        "?*:\\\"'[]{}^",
    ],
)
def test_a_pipeline_id_cannot_add_a_folder_level_and_round_trips(pipeline_id: str) -> None:
    key = event_object_key("2026-11-21", pipeline_id, BATCH)
    folders = key.split("/")
    assert len(folders) == 4
    assert folders[0] + "/" == Archive.EVENTS_PREFIX
    assert folders[2].startswith(f"{Archive.PIPELINE_ID}=")
    assert SAFE_FOLDER.match(folders[2].removeprefix(f"{Archive.PIPELINE_ID}=")), folders[2]
    assert folders[3] == BATCH + Archive.OBJECT_SUFFIX
    assert partitions_of(key) == {Archive.EVENT_DATE: "2026-11-21", Archive.PIPELINE_ID: pipeline_id}


@pytest.mark.parametrize(
    ("raw", "folder"),
    [("orders-daily", "orders-daily"), ("orders daily", "orders%20daily"), ("a/b", "a%2Fb"), ("é", "%C3%A9")],
)
def test_partition_values_are_percent_encoded(raw: str, folder: str) -> None:
    assert partition_value(raw) == folder
    assert partition_raw(folder) == raw


@settings(max_examples=100)
@given(dates, names)
def test_event_keys_round_trip_through_their_partitions(event_date: str, pipeline_id: str) -> None:
    key = event_object_key(event_date, pipeline_id, BATCH)
    assert len(key.split("/")) == 4
    assert partitions_of(key) == {Archive.EVENT_DATE: event_date, Archive.PIPELINE_ID: pipeline_id}
    assert partition_raw(partition_value(pipeline_id)) == pipeline_id


@settings(max_examples=100)
@given(names, names)
def test_distinct_pipeline_ids_get_distinct_folders(one: str, other: str) -> None:
    assert (partition_value(one) == partition_value(other)) == (one == other)


def test_a_pipeline_id_with_a_lone_surrogate_is_refused_by_the_schema_but_still_gets_a_key() -> None:
    pipeline_id = json.loads('"orders-\\udcff"')  # as decoded from a producer's ASCII JSON
    # The contract refuses it (not Unicode text: no archived event has one since issue 11); a key
    # function still never fails on one (replay, older archives), and round-trips it.
    assert NAME.match(pipeline_id) is None
    key = event_object_key("2026-11-21", pipeline_id, BATCH)
    assert partitions_of(key)[Archive.PIPELINE_ID] == pipeline_id


# --- run-state keys -------------------------------------------------------------------------------


def test_run_keys_escape_the_separator_and_the_escape_character() -> None:
    assert run_pk("orders-daily", "jr_1") == "RUN#orders-daily#jr_1"
    assert run_pk("a#b", "c") == "RUN#a%23b#c"
    assert run_pk("a", "b#c") == "RUN#a#b%23c"
    assert run_pk("100%", "x") == "RUN#100%25#x"
    # without escaping '%' too, these two would meet
    assert run_pk("a%23", "b") != run_pk("a#", "b")
    assert step_sk(0, "load#1") == "ATTEMPT#00000#STEP#load%231"


@settings(max_examples=100)
@given(names, names, names, names)
def test_run_keys_are_distinct_for_distinct_runs(p1: str, r1: str, p2: str, r2: str) -> None:
    assert (run_pk(p1, r1) == run_pk(p2, r2)) == ((p1, r1) == (p2, r2))
    assert run_pk(p1, r1).count("#") == 2


def test_attempt_keys_sort_numerically_up_to_the_schemas_maximum() -> None:
    maximum = contract.schema("1.0")["properties"]["attempt"]["maximum"]
    attempts = [0, 1, 2, 9, 10, 11, 99, 100, 999, 1000, 9999, maximum]
    assert sorted(attempts, key=attempt_sk) == attempts
    assert attempt_sk(0) == "ATTEMPT#00000"
    assert attempt_sk(maximum) == f"ATTEMPT#{maximum}"


@settings(max_examples=100)
@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_attempt_key_order_is_attempt_order(a: int, b: int) -> None:
    assert (attempt_sk(a) < attempt_sk(b)) == (a < b)


def test_one_query_on_a_run_lists_each_attempt_followed_by_its_steps() -> None:
    items = [(a, s) for a in (0, 1, 9, 10) for s in (None, "aggregate", "load", "~last")]
    expected = sorted(items, key=lambda i: (i[0], i[1] is not None, i[1] or ""))
    by_key = sorted(items, key=lambda i: attempt_sk(i[0]) if i[1] is None else step_sk(i[0], i[1]))
    assert by_key == expected


def test_event_markers_are_keyed_by_event_id() -> None:
    assert (
        event_marker_pk("0f8fad5b-d9cb-469f-a165-708677280001")
        == "EVENT#0f8fad5b-d9cb-469f-a165-708677280001"
    )


# --- filter patterns, codes and statuses ------------------------------------------------------------


def test_the_source_filter_matches_the_schema_version_field_name() -> None:
    assert SOURCE_FILTER_PATTERN == '"schema_version"'
    term = SOURCE_FILTER_PATTERN.strip('"')
    assert term == contract.Field.SCHEMA_VERSION
    # one token of letters and '_': CloudWatch matches it whatever surrounds it, escaped quotes too
    assert set(term) <= set(string.ascii_letters + "_")
    event = {"schema_version": "1.0", "event_type": "RUN_START"}
    text = json.dumps(event)
    shapes = [
        text,
        f"[INFO]\t2026-11-21T05:00:00.123Z\tabc\t{text}",
        f"26/11/21 05:00:01 INFO LineageEmitter: {text}",
        json.dumps({"level": "INFO", "message": text}),  # the name arrives escaped: \"schema_version\"
        json.dumps({"level": "INFO", "message": event}),
    ]
    for shape in shapes:
        assert term in shape


def test_the_lineage_group_filter_delivers_everything() -> None:
    # an empty pattern matches every log event: an event missing its version reaches the validator
    assert LINEAGE_GROUP_FILTER_PATTERN == ""


def test_quarantine_codes_are_distinct() -> None:
    assert len(set(QuarantineCode.ALL)) == len(QuarantineCode.ALL) == 8


def test_status_ranks_order_failed_over_aborted_over_complete_over_running() -> None:
    rank = RunStatus.RANK
    assert (
        rank[RunStatus.FAILED] > rank[RunStatus.ABORTED] > rank[RunStatus.COMPLETE] > rank[RunStatus.RUNNING]
    )
    # INCOMPLETE is a verdict derived from lineage and the platform, never folded, so it has no rank
    assert set(rank) == (RunStatus.TERMINAL - {RunStatus.INCOMPLETE}) | {RunStatus.RUNNING}
    assert RunStatus.RUNNING not in RunStatus.TERMINAL
    assert all(rank[s] > rank[RunStatus.RUNNING] for s in RunStatus.TERMINAL if s in rank)


def test_every_platform_state_settles_to_a_ranked_terminal_status() -> None:
    assert set(PlatformState.GLUE_TERMINAL) < set(PlatformState.STATUS)
    assert all(
        status in RunStatus.RANK and status != RunStatus.RUNNING for status in PlatformState.STATUS.values()
    )


def test_date_partitions_are_utc_dates() -> None:
    from lineage_plane.layout import event_date_of, log_date_of

    assert event_date_of("2026-11-20T23:59:59.999Z") == "2026-11-20"
    assert event_date_of("2026-11-21T00:00:00Z") == "2026-11-21"
    assert log_date_of(1_795_219_199_999) == "2026-11-20"  # 23:59:59.999 UTC
    assert log_date_of(1_795_219_200_000) == "2026-11-21"


def test_an_event_time_reads_as_the_instant_it_names_whatever_its_fraction() -> None:
    from datetime import datetime

    assert moment_of("2026-11-21T03:12:01Z") == datetime(2026, 11, 21, 3, 12, 1, tzinfo=UTC)
    assert moment_of("2026-11-21T03:12:01.5Z") == datetime(2026, 11, 21, 3, 12, 1, 500000, tzinfo=UTC)
    assert moment_of("2026-11-21T03:12:01.123456Z").microsecond == 123456
    assert moment_of("2026-11-21T03:12:01.5Z") > moment_of("2026-11-21T03:12:01Z")
