"""The validator reads its environment once, names what is missing, and documents every variable."""

from __future__ import annotations

import pytest

from lambdas.common.errors import SettingsError
from lambdas.common.settings import DEFAULT_DEDUP_TTL_DAYS, Settings
from lineage_plane.functions import FunctionEnv
from tests.conftest import REPO

COMPLETE = {
    FunctionEnv.ARCHIVE_BUCKET: "archive-bucket",
    FunctionEnv.RUN_STATE_TABLE: "runs",
    FunctionEnv.AWS_REGION: "eu-west-1",
}


def test_settings_from_a_complete_environment() -> None:
    settings = Settings.from_environment(COMPLETE)
    assert settings == Settings("archive-bucket", "runs", "eu-west-1", DEFAULT_DEDUP_TTL_DAYS)
    assert settings.dedup_ttl_seconds == DEFAULT_DEDUP_TTL_DAYS * 86_400


@pytest.mark.parametrize("missing", [FunctionEnv.ARCHIVE_BUCKET, FunctionEnv.RUN_STATE_TABLE])
def test_a_missing_variable_is_named(missing: str) -> None:
    environ = {k: v for k, v in COMPLETE.items() if k != missing}
    with pytest.raises(SettingsError, match=missing):
        Settings.from_environment(environ)


def test_the_region_falls_back_to_aws_default_region() -> None:
    environ = {k: v for k, v in COMPLETE.items() if k != FunctionEnv.AWS_REGION}
    assert Settings.from_environment({**environ, "AWS_DEFAULT_REGION": "us-east-2"}).region == "us-east-2"
    with pytest.raises(SettingsError, match=FunctionEnv.AWS_REGION):
        Settings.from_environment(environ)


@pytest.mark.parametrize("value", ["0", "-3", "ten", "1.5"])
def test_a_dedup_ttl_that_is_not_whole_days_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match=FunctionEnv.DEDUP_TTL_DAYS):
        Settings.from_environment({**COMPLETE, FunctionEnv.DEDUP_TTL_DAYS: value})


def test_every_function_variable_is_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    names = [value for name, value in vars(FunctionEnv).items() if name.isupper()]
    missing = [name for name in names if f"`{name}`" not in readme]
    assert names
    assert not missing, f"document these variables in README.md: {missing}"
