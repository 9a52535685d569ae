"""The Glue bridge's and the run reconciler's settings: read once, each wrong value named."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lambdas.common.errors import SettingsError
from lambdas.glue_bridge.settings import BridgeSettings
from lineage_plane.functions import FunctionEnv

BASE = {
    FunctionEnv.ARCHIVE_BUCKET: "archive",
    FunctionEnv.RUN_STATE_TABLE: "runs",
    FunctionEnv.AWS_REGION: "eu-west-1",
}


def test_defaults() -> None:
    settings = BridgeSettings.from_environment(BASE)
    assert settings.datazone_domain_id is None
    assert (settings.silent, settings.max_run) == (timedelta(minutes=60), timedelta(minutes=1440))
    assert settings.plane.archive_bucket == "archive"


def test_every_value_is_read() -> None:
    settings = BridgeSettings.from_environment(
        {
            **BASE,
            FunctionEnv.DATAZONE_DOMAIN_ID: " dzd_4p9xq2example ",
            FunctionEnv.RECONCILE_SILENT_MINUTES: "30",
            FunctionEnv.RECONCILE_MAX_RUN_MINUTES: "600",
        }
    )
    assert settings.datazone_domain_id == "dzd_4p9xq2example"
    assert (settings.silent, settings.max_run) == (timedelta(minutes=30), timedelta(minutes=600))


@pytest.mark.parametrize(
    "name", [FunctionEnv.RECONCILE_SILENT_MINUTES, FunctionEnv.RECONCILE_MAX_RUN_MINUTES]
)
@pytest.mark.parametrize("value", ["0", "-5", "1.5", "an hour"])
def test_a_wrong_number_of_minutes_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        BridgeSettings.from_environment({**BASE, name: value})


def test_the_plane_s_own_variables_are_still_required() -> None:
    with pytest.raises(SettingsError, match=FunctionEnv.ARCHIVE_BUCKET):
        BridgeSettings.from_environment({k: v for k, v in BASE.items() if k != FunctionEnv.ARCHIVE_BUCKET})
