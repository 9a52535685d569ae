"""The CDK app deploys lineage_lib's layer as shipping built it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.lineage_lib_layer import MissingArtifactsError, read_layer_manifest
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # builds the artifacts and synthesizes with jsii


def test_the_layer_is_published_for_the_runtime_and_architecture_it_was_built_for(
    template: Any, artifacts: Path
) -> None:
    manifest = read_layer_manifest(artifacts)
    layers = template.find_resources("AWS::Lambda::LayerVersion")
    # (BucketDeployment brings aws-cdk-lib's own AWS CLI layer too)
    (layer,) = [v for v in layers.values() if "lineage_lib" in v["Properties"].get("Description", "")]
    assert layer["Properties"]["CompatibleRuntimes"] == manifest["compatible_runtimes"]
    assert layer["Properties"]["CompatibleArchitectures"] == manifest["compatible_architectures"]
    assert layer["DeletionPolicy"] == "Retain"  # functions deployed elsewhere may still use a version
    assert [name for name in template.find_outputs("*") if "LineageLibLayerArn" in name]


def test_missing_artifacts_say_how_to_build_them(tmp_path: Path) -> None:
    with pytest.raises(MissingArtifactsError, match="make artifacts"):
        read_layer_manifest(tmp_path)


def test_python_app_py_synthesizes_into_the_given_folder(artifacts: Path, tmp_path: Path) -> None:
    environ = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps({"lineage:artifactsDir": str(artifacts)}),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    done = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO, env=environ, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    template = json.loads((tmp_path / "LineagePlane.template.json").read_text())
    (layer,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::LayerVersion"
        and "lineage_lib" in r["Properties"].get("Description", "")
    ]
    # The asset Lambda unpacks into /opt: python/ must be at its root, with the library and its schema.
    assets = json.loads((tmp_path / "LineagePlane.assets.json").read_text())["files"]
    asset_hash = layer["Properties"]["Content"]["S3Key"].removesuffix(".zip")
    asset = tmp_path / assets[asset_hash]["source"]["path"]
    assert (asset / "python" / "lineage_lib" / "__init__.py").is_file()
    assert (asset / "python" / "lineage_lib" / "_schemas" / "lineage-event" / "1.0" / "schema.json").is_file()
