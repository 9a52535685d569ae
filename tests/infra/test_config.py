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


def test_overrides_arrive_as_strings_from_the_command_line() -> None:
    plane = from_context(
        **{
            config.OBJECT_LOCK_MODE: "compliance",
            config.OBJECT_LOCK_DAYS: "2555",
            config.SOURCE_LOG_GROUPS: '["/aws-glue/jobs/output", "/aws/lambda/orders"]',
            config.RESERVED_CONCURRENCY: "20",
            config.EXAMPLE: "true",
            config.SUBSCRIPTION: config.SUBSCRIBE_ACCOUNT_POLICY,
        }
    )
    assert plane.object_lock_mode == "COMPLIANCE"
    assert plane.object_lock_days == 2555
    assert plane.source_log_groups == ("/aws-glue/jobs/output", "/aws/lambda/orders")
    assert plane.reserved_concurrency == 20
    assert plane.example is True
    assert plane.subscription == config.SUBSCRIBE_ACCOUNT_POLICY


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (config.OBJECT_LOCK_MODE, "forever"),
        (config.OBJECT_LOCK_DAYS, "0"),
        (config.ARCHITECTURE, "sparc"),
        (config.SUBSCRIPTION, "all"),
        (config.EXAMPLE, "perhaps"),
        (config.SOURCE_LOG_GROUPS, "[1, 2]"),
    ],
)
def test_a_value_the_app_cannot_use_names_the_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        from_context(**{key: value})


def test_every_key_is_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    missing = [key for key in KEYS if f"`{key}`" not in readme]
    assert not missing, f"document these cdk.json context keys in README.md: {missing}"
