"""The lineage plane's stack: the configuration in, one LineagePlane out."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from infra.config import PlaneConfig
from infra.plane import LineagePlane


class LineagePlaneStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: PlaneConfig, **kwargs: Any) -> None:
        kwargs.setdefault(
            "description", "lineage-plane: execution-time lineage capture (archive, run state, queries)"
        )
        super().__init__(scope, construct_id, **kwargs)
        self.plane = LineagePlane(self, "Plane", config=config)
