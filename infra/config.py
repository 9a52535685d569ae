"""The app's configuration: typed, read once from cdk.json context (and ``-c key=value`` overrides).

Every key, its default and its meaning are in ``KEYS``; the README's configuration table lists the
same (a test checks it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from constructs import Node

from lineage_lib.plane import GLUE_OUTPUT_LOG_GROUP

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

SUBSCRIBE_LOG_GROUPS: Final = "log-groups"
SUBSCRIBE_ACCOUNT_POLICY: Final = "account-policy"
OBJECT_LOCK_MODES: Final = ("GOVERNANCE", "COMPLIANCE")
ARCHITECTURES: Final = ("arm64", "x86_64")

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

    @classmethod
    def from_context(cls, node: Node) -> PlaneConfig:
        def value(key: str) -> Any:
            found = node.try_get_context(key)
            return KEYS[key][0] if found is None else found

        artifacts = Path(str(value(ARTIFACTS_DIR)))
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
        )


def _choice(key: str, raw: Any, allowed: tuple[str, ...]) -> str:
    if raw not in allowed:
        raise ConfigError(f"context {key} is {raw!r}; use one of {', '.join(allowed)}")
    return str(raw)


def _whole(key: str, raw: Any, *, minimum: int) -> int:
    try:
        number = int(str(raw))
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise ConfigError(f"context {key} is {raw!r}; use a whole number >= {minimum}")
    return number


def _optional_whole(key: str, raw: Any) -> int | None:
    return None if raw in (None, "", "none") else _whole(key, raw, minimum=1)


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
