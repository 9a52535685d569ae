"""The lineage plane's stack: one construct per part, each plugged in here."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import PlaneConfig
from infra.lineage_lib_layer import LineageLibLayer


class LineagePlaneStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: PlaneConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.lineage_lib = LineageLibLayer(self, "LineageLib", artifacts_dir=config.artifacts_dir)
        CfnOutput(
            self,
            "LineageLibLayerArn",
            value=self.lineage_lib.layer.layer_version_arn,
            description="Add this layer to a Lambda function to `import lineage_lib` in it",
        )
