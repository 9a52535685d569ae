"""The validator's configuration, read once from its environment (names: functions.FunctionEnv)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from lambdas.common.errors import SettingsError
from lineage_plane.functions import FunctionEnv

DEFAULT_DEDUP_TTL_DAYS: Final = 35


@dataclass(frozen=True)
class Settings:
    archive_bucket: str
    run_state_table: str
    region: str
    dedup_ttl_days: int = DEFAULT_DEDUP_TTL_DAYS

    @property
    def dedup_ttl_seconds(self) -> int:
        return self.dedup_ttl_days * 86_400

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from the environment; SettingsError names the first variable missing or wrong."""
        region = environ.get(FunctionEnv.AWS_REGION) or environ.get(FunctionEnv.AWS_DEFAULT_REGION)
        if not region:
            raise SettingsError(FunctionEnv.AWS_REGION, "is not set (Lambda sets it; export it locally)")
        ttl_text = environ.get(FunctionEnv.DEDUP_TTL_DAYS, str(DEFAULT_DEDUP_TTL_DAYS))
        if not ttl_text.isdigit() or int(ttl_text) < 1:
            raise SettingsError(
                FunctionEnv.DEDUP_TTL_DAYS, f"is {ttl_text!r}, not a whole number of days >= 1"
            )
        return cls(
            archive_bucket=_required(environ, FunctionEnv.ARCHIVE_BUCKET),
            run_state_table=_required(environ, FunctionEnv.RUN_STATE_TABLE),
            region=region,
            dedup_ttl_days=int(ttl_text),
        )


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise SettingsError(name, "is not set")
    return value
