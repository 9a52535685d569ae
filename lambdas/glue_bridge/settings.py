"""The Glue bridge's and the run reconciler's configuration, read once from their environment
(names: lineage_plane.functions.FunctionEnv): the validator's settings, and their own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from lambdas.common.errors import SettingsError
from lambdas.common.settings import Settings
from lineage_plane.functions import FunctionEnv

DEFAULT_SILENT_MINUTES: Final = 60
DEFAULT_MAX_RUN_MINUTES: Final = 1440


@dataclass(frozen=True)
class BridgeSettings:
    plane: Settings
    datazone_domain_id: str | None = None
    silent: timedelta = timedelta(minutes=DEFAULT_SILENT_MINUTES)
    max_run: timedelta = timedelta(minutes=DEFAULT_MAX_RUN_MINUTES)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> BridgeSettings:
        """Settings from the environment; SettingsError names the first variable missing or wrong."""
        return cls(
            plane=Settings.from_environment(environ),
            datazone_domain_id=environ.get(FunctionEnv.DATAZONE_DOMAIN_ID, "").strip() or None,
            silent=_minutes(environ, FunctionEnv.RECONCILE_SILENT_MINUTES, DEFAULT_SILENT_MINUTES),
            max_run=_minutes(environ, FunctionEnv.RECONCILE_MAX_RUN_MINUTES, DEFAULT_MAX_RUN_MINUTES),
        )


def _minutes(environ: Mapping[str, str], name: str, default: int) -> timedelta:
    text = environ.get(name, "").strip() or str(default)
    if not text.isdigit() or int(text) < 1:
        raise SettingsError(name, f"is {text!r}, not a whole number of minutes >= 1")
    return timedelta(minutes=int(text))
