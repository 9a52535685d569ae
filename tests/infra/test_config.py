"""The app's configuration: defaults, overrides from context, clear errors, and the README table."""

from __future__ import annotations

from typing import Any

import pytest

from infra import config
from infra.config import KEYS, ConfigError, PlaneConfig
from tests.conftest import REPO


def from_context(**context: Any) -> PlaneConfig:
    import aws_cdk as cdk

    return PlaneConfig.from_context(cdk.App(context=context).node)


def test_defaults_are_the_documented_ones() -> None:
    plane = from_context()
    assert plane.artifacts_dir == REPO / "build" / "artifacts"
    assert plane.architecture == "arm64"
    assert plane.object_lock_mode == "GOVERNANCE"
    assert plane.source_log_groups == (config.GLUE_OUTPUT_LOG_GROUP,)
    assert plane.subscription == config.SUBSCRIBE_LOG_GROUPS
    assert plane.example is False
    assert plane.reserved_concurrency is None
    assert plane.datazone_domain_id is None
    assert plane.reconcile_every_minutes == 15
    assert plane.reconcile_silent_minutes == 60
    assert plane.reconcile_max_run_minutes == 1440


def test_overrides_arrive_as_strings_from_the_command_line() -> None:
    plane = from_context(
        **{
            config.OBJECT_LOCK_MODE: "compliance",
            config.OBJECT_LOCK_DAYS: "2555",
            config.SOURCE_LOG_GROUPS: '["/aws-glue/jobs/output", "/aws/lambda/orders"]',
            config.RESERVED_CONCURRENCY: "20",
            config.EXAMPLE: "true",
            config.SUBSCRIPTION: config.SUBSCRIBE_ACCOUNT_POLICY,
            config.DATAZONE_DOMAIN_ID: "dzd_4f2a9c1e7b3d5a",
            config.RECONCILE_EVERY_MINUTES: "5",
            config.RECONCILE_SILENT_MINUTES: "30",
            config.RECONCILE_MAX_RUN_MINUTES: "30",
        }
    )
    assert plane.object_lock_mode == "COMPLIANCE"
    assert plane.object_lock_days == 2555
    assert plane.source_log_groups == ("/aws-glue/jobs/output", "/aws/lambda/orders")
    assert plane.reserved_concurrency == 20
    assert plane.example is True
    assert plane.subscription == config.SUBSCRIBE_ACCOUNT_POLICY
    assert plane.datazone_domain_id == "dzd_4f2a9c1e7b3d5a"
    assert (plane.reconcile_every_minutes, plane.reconcile_silent_minutes) == (5, 30)
    assert plane.reconcile_max_run_minutes == 30


@pytest.mark.parametrize("domain", ["dzd_abc", "dzd-4f2a9c1e7b3d5a", "dzd_" + "a" * 36])
def test_a_datazone_domain_id_is_taken_as_given(domain: str) -> None:
    assert from_context(**{config.DATAZONE_DOMAIN_ID: domain}).datazone_domain_id == domain


@pytest.mark.parametrize("unset", ["", "none"])
def test_an_empty_datazone_domain_id_means_none(unset: str) -> None:
    assert from_context(**{config.DATAZONE_DOMAIN_ID: unset}).datazone_domain_id is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (config.OBJECT_LOCK_MODE, "forever"),
        (config.OBJECT_LOCK_DAYS, "0"),
        (config.ARCHITECTURE, "sparc"),
        (config.SUBSCRIPTION, "all"),
        (config.EXAMPLE, "perhaps"),
        (config.SOURCE_LOG_GROUPS, "[1, 2]"),
        (config.DATAZONE_DOMAIN_ID, "my-domain"),
        (config.DATAZONE_DOMAIN_ID, "dzd_"),
        (config.DATAZONE_DOMAIN_ID, "dzd_" + "a" * 37),
        (config.DATAZONE_DOMAIN_ID, "arn:aws:datazone:eu-west-1:123456789012:domain/dzd_abc"),
        (config.RECONCILE_EVERY_MINUTES, "0"),
        (config.RECONCILE_EVERY_MINUTES, "1441"),
        (config.RECONCILE_EVERY_MINUTES, "hourly"),
        (config.RECONCILE_SILENT_MINUTES, "0"),
        (config.RECONCILE_MAX_RUN_MINUTES, "0"),
    ],
)
def test_a_value_the_app_cannot_use_names_the_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        from_context(**{key: value})


def test_every_key_is_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    missing = [key for key in KEYS if f"`{key}`" not in readme]
    assert not missing, f"document these cdk.json context keys in README.md: {missing}"


def test_the_errors_say_what_to_use() -> None:
    with pytest.raises(ConfigError, match=r"from 1 to 1440"):
        from_context(**{config.RECONCILE_EVERY_MINUTES: "1441"})
    with pytest.raises(ConfigError, match=r"Amazon DataZone domain, such as dzd_"):
        from_context(**{config.DATAZONE_DOMAIN_ID: "my-domain"})


def test_runs_are_asked_about_before_they_are_given_up_on() -> None:
    with pytest.raises(
        ConfigError, match=rf"{config.RECONCILE_MAX_RUN_MINUTES}.*{config.RECONCILE_SILENT_MINUTES}"
    ):
        from_context(**{config.RECONCILE_SILENT_MINUTES: "120", config.RECONCILE_MAX_RUN_MINUTES: "60"})
