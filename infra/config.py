"""The app's configuration: typed, read once from cdk.json context (and ``-c key=value`` overrides).

Every key, its default and its meaning are in ``KEYS``; the README's configuration table lists the
same (a test checks it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from constructs import Node

from lineage_plane.layout import GLUE_OUTPUT_LOG_GROUP

REPO = Path(__file__).resolve().parent.parent

PREFIX: Final = "lineage:"
ARTIFACTS_DIR: Final = f"{PREFIX}artifactsDir"
ARCHITECTURE: Final = f"{PREFIX}architecture"
OBJECT_LOCK_MODE: Final = f"{PREFIX}objectLockMode"
OBJECT_LOCK_DAYS: Final = f"{PREFIX}objectLockDays"
LOG_RETENTION_DAYS: Final = f"{PREFIX}logRetentionDays"
SOURCE_LOG_GROUPS: Final = f"{PREFIX}sourceLogGroups"
SUBSCRIPTION: Final = f"{PREFIX}subscription"
RESERVED_CONCURRENCY: Final = f"{PREFIX}reservedConcurrency"
ALARM_EMAIL: Final = f"{PREFIX}alarmEmail"
ATHENA_BYTES_SCANNED_CUTOFF: Final = f"{PREFIX}athenaBytesScannedCutoff"
EXAMPLE: Final = f"{PREFIX}example"
DATAZONE_DOMAIN_ID: Final = f"{PREFIX}datazoneDomainId"
RECONCILE_EVERY_MINUTES: Final = f"{PREFIX}reconcileEveryMinutes"
RECONCILE_SILENT_MINUTES: Final = f"{PREFIX}reconcileSilentMinutes"
RECONCILE_MAX_RUN_MINUTES: Final = f"{PREFIX}reconcileMaxRunMinutes"

SUBSCRIBE_LOG_GROUPS: Final = "log-groups"
SUBSCRIBE_ACCOUNT_POLICY: Final = "account-policy"
OBJECT_LOCK_MODES: Final = ("GOVERNANCE", "COMPLIANCE")
ARCHITECTURES: Final = ("arm64", "x86_64")
# An Amazon DataZone domain identifier (DataZone's API reference: ^dzd[-_][a-zA-Z0-9_-]{1,36}$).
DATAZONE_DOMAIN_ID_PATTERN: Final = re.compile(r"dzd[-_][a-zA-Z0-9_-]{1,36}")
MINUTES_PER_DAY: Final = 24 * 60  # the longest interval between two sweeps

# key: (default, meaning) - the README's configuration table says the same.
KEYS: Final[dict[str, tuple[Any, str]]] = {
    ARTIFACTS_DIR: (
        "build/artifacts",
        "where `make artifacts` wrote lineage_lib's packagings and the function assets",
    ),
    ARCHITECTURE: ("arm64", "CPU of the functions; must match the artifacts (`make artifacts` builds arm64)"),
    OBJECT_LOCK_MODE: ("GOVERNANCE", "S3 Object Lock mode of the archive: GOVERNANCE or COMPLIANCE"),
    OBJECT_LOCK_DAYS: (365, "days every archive object is locked against deletion and overwrite"),
    LOG_RETENTION_DAYS: (365, "retention of the lineage log group and the functions' log groups"),
    SOURCE_LOG_GROUPS: ([GLUE_OUTPUT_LOG_GROUP], "log groups whose lineage lines go to the validator"),
    SUBSCRIPTION: (SUBSCRIBE_LOG_GROUPS, "`log-groups` (one filter per source group) or `account-policy`"),
    RESERVED_CONCURRENCY: (None, "reserved concurrent executions of the validator (none: unreserved)"),
    ALARM_EMAIL: (None, "an e-mail address subscribed to the alarm topic"),
    ATHENA_BYTES_SCANNED_CUTOFF: (10 * 1024**3, "bytes one Athena query of the workgroup may scan"),
    EXAMPLE: (False, "deploy the example Glue job and its Step Functions state machine"),
    DATAZONE_DOMAIN_ID: (
        None,
        "Amazon DataZone domain (`dzd_…`) the Glue bridge reads Glue's OpenLineage events from (none: off)",
    ),
    RECONCILE_EVERY_MINUTES: (15, "minutes between two sweeps of the run reconciler (1 to 1440)"),
    RECONCILE_SILENT_MINUTES: (
        60,
        "minutes a running attempt may be silent before the run reconciler asks its platform about it",
    ),
    RECONCILE_MAX_RUN_MINUTES: (
        1440,
        "minutes after which a silent run with no platform to ask (EMR, local) is closed as expired",
    ),
}


class ConfigError(ValueError):
    """A context value the app cannot use; the message names the key and what it accepts."""


@dataclass(frozen=True)
class PlaneConfig:
    """What a deployment of the plane can change (defaults in KEYS)."""

    artifacts_dir: Path
    architecture: str = KEYS[ARCHITECTURE][0]
    object_lock_mode: str = KEYS[OBJECT_LOCK_MODE][0]
    object_lock_days: int = KEYS[OBJECT_LOCK_DAYS][0]
    log_retention_days: int = KEYS[LOG_RETENTION_DAYS][0]
    source_log_groups: tuple[str, ...] = tuple(KEYS[SOURCE_LOG_GROUPS][0])
    subscription: str = KEYS[SUBSCRIPTION][0]
    reserved_concurrency: int | None = KEYS[RESERVED_CONCURRENCY][0]
    alarm_email: str | None = KEYS[ALARM_EMAIL][0]
    athena_bytes_scanned_cutoff: int = KEYS[ATHENA_BYTES_SCANNED_CUTOFF][0]
    example: bool = KEYS[EXAMPLE][0]
    datazone_domain_id: str | None = KEYS[DATAZONE_DOMAIN_ID][0]
    reconcile_every_minutes: int = KEYS[RECONCILE_EVERY_MINUTES][0]
    reconcile_silent_minutes: int = KEYS[RECONCILE_SILENT_MINUTES][0]
    reconcile_max_run_minutes: int = KEYS[RECONCILE_MAX_RUN_MINUTES][0]

    @classmethod
    def from_context(cls, node: Node) -> PlaneConfig:
        def value(key: str) -> Any:
            found = node.try_get_context(key)
            return KEYS[key][0] if found is None else found

        artifacts = Path(str(value(ARTIFACTS_DIR)))
        silent = _whole(RECONCILE_SILENT_MINUTES, value(RECONCILE_SILENT_MINUTES), minimum=1)
        return cls(
            artifacts_dir=artifacts if artifacts.is_absolute() else REPO / artifacts,
            architecture=_choice(ARCHITECTURE, value(ARCHITECTURE), ARCHITECTURES),
            object_lock_mode=_choice(
                OBJECT_LOCK_MODE, str(value(OBJECT_LOCK_MODE)).upper(), OBJECT_LOCK_MODES
            ),
            object_lock_days=_whole(OBJECT_LOCK_DAYS, value(OBJECT_LOCK_DAYS), minimum=1),
            log_retention_days=_whole(LOG_RETENTION_DAYS, value(LOG_RETENTION_DAYS), minimum=1),
            source_log_groups=tuple(_names(SOURCE_LOG_GROUPS, value(SOURCE_LOG_GROUPS))),
            subscription=_choice(
                SUBSCRIPTION, value(SUBSCRIPTION), (SUBSCRIBE_LOG_GROUPS, SUBSCRIBE_ACCOUNT_POLICY)
            ),
            reserved_concurrency=_optional_whole(RESERVED_CONCURRENCY, value(RESERVED_CONCURRENCY)),
            alarm_email=value(ALARM_EMAIL) or None,
            athena_bytes_scanned_cutoff=_whole(
                ATHENA_BYTES_SCANNED_CUTOFF, value(ATHENA_BYTES_SCANNED_CUTOFF), minimum=10 * 1024**2
            ),
            example=_flag(EXAMPLE, value(EXAMPLE)),
            datazone_domain_id=_datazone_domain_id(value(DATAZONE_DOMAIN_ID)),
            reconcile_every_minutes=_whole(
                RECONCILE_EVERY_MINUTES, value(RECONCILE_EVERY_MINUTES), minimum=1, maximum=MINUTES_PER_DAY
            ),
            reconcile_silent_minutes=silent,
            reconcile_max_run_minutes=_max_run_minutes(value(RECONCILE_MAX_RUN_MINUTES), silent),
        )


def _choice(key: str, raw: Any, allowed: tuple[str, ...]) -> str:
    if raw not in allowed:
        raise ConfigError(f"context {key} is {raw!r}; use one of {', '.join(allowed)}")
    return str(raw)


def _whole(key: str, raw: Any, *, minimum: int, maximum: int | None = None) -> int:
    try:
        number = int(str(raw))
    except ValueError:
        number = minimum - 1
    if maximum is not None and not minimum <= number <= maximum:
        raise ConfigError(f"context {key} is {raw!r}; use a whole number from {minimum} to {maximum}")
    if number < minimum:
        raise ConfigError(f"context {key} is {raw!r}; use a whole number >= {minimum}")
    return number


def _optional_whole(key: str, raw: Any) -> int | None:
    return None if raw in (None, "", "none") else _whole(key, raw, minimum=1)


def _max_run_minutes(raw: Any, silent: int) -> int:
    minutes = _whole(RECONCILE_MAX_RUN_MINUTES, raw, minimum=1)
    if minutes < silent:  # a run the reconciler gives up on must have been silent long enough to ask about
        raise ConfigError(
            f"context {RECONCILE_MAX_RUN_MINUTES} is {raw!r}; use at least {RECONCILE_SILENT_MINUTES} "
            f"({silent})"
        )
    return minutes


def _datazone_domain_id(raw: Any) -> str | None:
    if raw in (None, "", "none"):
        return None
    if not isinstance(raw, str) or not DATAZONE_DOMAIN_ID_PATTERN.fullmatch(raw):
        raise ConfigError(
            f"context {DATAZONE_DOMAIN_ID} is {raw!r}; use the id of an Amazon DataZone domain, such as "
            "dzd_1a2b3c4d5e6f7g (the DataZone console shows it), or leave it unset"
        )
    return raw


def _flag(key: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if str(raw).lower() in ("true", "1", "yes"):
        return True
    if str(raw).lower() in ("false", "0", "no", ""):
        return False
    raise ConfigError(f"context {key} is {raw!r}; use true or false")


def _names(key: str, raw: Any) -> list[str]:
    # `-c lineage:sourceLogGroups='["/a","/b"]'` arrives as a string
    names = json.loads(raw) if isinstance(raw, str) and raw.startswith("[") else raw
    if isinstance(names, str):
        names = [n for n in names.split(",") if n]
    if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError(
            f'context {key} is {raw!r}; use a list of log group names such as ["/aws-glue/jobs/output"]'
        )
    return names
