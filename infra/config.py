"""The app's configuration: typed, read once from cdk.json context (and ``-c key=value`` overrides)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs import Node

REPO = Path(__file__).resolve().parent.parent

# cdk.json context keys, each with its default.
ARTIFACTS_DIR = "lineage:artifactsDir"
DEFAULTS: dict[str, Any] = {ARTIFACTS_DIR: "build/artifacts"}


@dataclass(frozen=True)
class PlaneConfig:
    """What a deployment of the plane can change."""

    artifacts_dir: Path  # where `make artifacts` (python -m shipping.build) wrote the packagings

    @classmethod
    def from_context(cls, node: Node) -> PlaneConfig:
        def value(key: str) -> Any:
            found = node.try_get_context(key)
            return DEFAULTS[key] if found is None else found

        artifacts = Path(str(value(ARTIFACTS_DIR)))
        return cls(artifacts_dir=artifacts if artifacts.is_absolute() else REPO / artifacts)
