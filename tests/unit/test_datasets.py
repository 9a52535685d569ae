"""Dataset identity: the same table or path gets the same id from Glue, EMR and Lambda code."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import lineage_lib as lineage
from lineage_lib.datasets import normalize_dataset_id
from lineage_lib.errors import LineageConfigError


@pytest.mark.parametrize(
    "spelling",
    [
        "s3://acme-raw/orders/2026/",
        "s3://acme-raw/orders/2026",
        "s3a://acme-raw/orders/2026/",
        "s3n://acme-raw//orders///2026",
        "S3://ACME-RAW/orders/2026/",
        "arn:aws:s3:::acme-raw/orders/2026/",
    ],
)
def test_every_spelling_of_an_s3_prefix_is_one_dataset(spelling: str) -> None:
    assert normalize_dataset_id(spelling) == "s3://acme-raw/orders/2026"


def test_s3_keys_keep_their_case_and_the_helper_joins_bucket_and_key() -> None:
    assert lineage.s3("acme-raw", "Orders/Part-0.parquet").id == "s3://acme-raw/Orders/Part-0.parquet"
    assert lineage.s3("s3a://acme-raw/orders/").id == "s3://acme-raw/orders"
    assert lineage.s3("acme-raw").id == "s3://acme-raw"


@pytest.mark.parametrize(
    "made",
    [
        lambda: lineage.glue_table("raw_db", "orders_raw"),
        lambda: lineage.glue_table("RAW_DB", " Orders_Raw "),
        lambda: lineage.dataset("glue://default/raw_db.orders_raw"),
        lambda: lineage.dataset("GLUE://DEFAULT/Raw_Db.Orders_Raw/"),
    ],
)
def test_glue_tables_normalise_to_the_default_catalog(made: object) -> None:
    assert made().id == "glue://default/raw_db.orders_raw"  # type: ignore[operator]


def test_glue_table_of_another_account_and_from_an_arn() -> None:
    assert lineage.glue_table("raw_db", "t", catalog_id="123456789012").id == "glue://123456789012/raw_db.t"
    arn = "arn:aws:glue:eu-west-1:123456789012:table/Raw_DB/Orders_Raw"
    assert normalize_dataset_id(arn) == "glue://123456789012/raw_db.orders_raw"


def test_other_schemes_lowercase_scheme_and_host_only() -> None:
    assert normalize_dataset_id("Redshift://Cluster-1.eu-west-1/dev/Public/Orders/") == (
        "redshift://cluster-1.eu-west-1/dev/Public/Orders"
    )


@pytest.mark.parametrize(
    ("bad", "hint"),
    [
        ("raw_db.orders_raw", "glue_table"),
        ("", "needs a URI"),
        ("s3://", "no bucket"),
        ("glue://default/orders_raw", "<database>.<table>"),
        ("glue://acme/raw.t", "12-digit"),
    ],
)
def test_unusable_identifiers_say_how_to_build_one(bad: str, hint: str) -> None:
    with pytest.raises(
        LineageConfigError, match=hint.replace(".", r"\.").replace("<", ".").replace(">", ".")
    ):
        normalize_dataset_id(bad)


def test_dataset_schema_and_version_go_into_the_event() -> None:
    table = lineage.glue_table("raw_db", "orders_raw", location="s3a://acme-raw/orders/")
    stated = table.with_schema("7", fields=[("order_id", "string"), "order_total"]).at_version("snap-42")
    assert stated.to_event() == {
        "id": "glue://default/raw_db.orders_raw",
        "location": "s3://acme-raw/orders",
        "version": "snap-42",
        "schema": {
            "version": "7",
            "fields": [{"name": "order_id", "type": "string"}, {"name": "order_total"}],
        },
    }
    assert table.column("order_total") == lineage.ColumnRef("glue://default/raw_db.orders_raw", "order_total")


_segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=8)


@given(bucket=st.from_regex(r"[a-z0-9][a-z0-9-]{2,20}", fullmatch=True), parts=st.lists(_segment, max_size=4))
def test_normalisation_is_idempotent_and_insensitive_to_slashes(bucket: str, parts: list[str]) -> None:
    plain = normalize_dataset_id(f"s3://{bucket}/" + "/".join(parts))
    assert normalize_dataset_id(plain) == plain
    assert normalize_dataset_id(f"s3a://{bucket}//" + "//".join(parts) + "/") == plain
    assert not plain.endswith("/")
