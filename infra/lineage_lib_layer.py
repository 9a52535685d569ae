"""The lineage_lib Lambda layer, as ``python -m shipping.build`` built it (pip for the target
platform, no Docker): its runtime and architecture come from the layer's manifest, so the functions
that use it are built for the same Python and CPU as the layer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from shipping.build import LAMBDA_DIR, MANIFEST_SUFFIX

_ARCHITECTURES = {"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}


class MissingArtifactsError(Exception):
    """The packagings the stack deploys have not been built."""


def read_layer_manifest(artifacts_dir: Path) -> dict[str, Any]:
    path = artifacts_dir / (LAMBDA_DIR + MANIFEST_SUFFIX)
    if not path.is_file():
        raise MissingArtifactsError(
            f"{path} not found: build lineage_lib's packagings first with `make artifacts` "
            f"(or set the context key lineage:artifactsDir to where they are)"
        )
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


class LineageLibLayer(Construct):
    """A LayerVersion holding lineage_lib; ``runtime`` and ``architecture`` are the layer's own."""

    def __init__(self, scope: Construct, construct_id: str, *, artifacts_dir: Path) -> None:
        super().__init__(scope, construct_id)
        manifest = read_layer_manifest(artifacts_dir)
        # The functions' runtime; the layer itself (pure Python) declares every runtime it works on.
        runtime_name = manifest["runtime"]
        self.runtime = lambda_.Runtime(runtime_name, lambda_.RuntimeFamily.PYTHON)
        self.compatible_runtimes = [
            lambda_.Runtime(name, lambda_.RuntimeFamily.PYTHON) for name in manifest["compatible_runtimes"]
        ]
        self.architecture = _ARCHITECTURES[manifest["compatible_architectures"][0]]
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=lambda_.Code.from_asset(str(artifacts_dir / LAMBDA_DIR)),
            compatible_runtimes=self.compatible_runtimes,
            compatible_architectures=[self.architecture],
            description=f"lineage_lib ({', '.join(manifest['packages'])}) for python3.9 and later",
            removal_policy=RemovalPolicy.RETAIN,
        )
