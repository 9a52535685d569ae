"""What `make artifacts` builds: the job wheel, the Glue and EMR wheelhouses, the Lambda layer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from packaging.requirements import Requirement
from packaging.tags import Tag, parse_tag
from packaging.utils import canonicalize_name, parse_wheel_filename

from shipping import build
from shipping.job_wheel import JOB_PYPROJECT
from tests.conftest import REPO
from tests.packaging.support import assert_has_runtime_dependencies, dist_versions

pytestmark = pytest.mark.slow

PROJECT = canonicalize_name(build.project_table(JOB_PYPROJECT)["name"])
VERSION = build.project_table()["version"]
WHEELHOUSE_TARGETS = [*build.GLUE_TARGETS, build.EMR_TARGET]
LAYER_TARGET = build.lambda_target(build.LAMBDA_DEFAULT_PYTHON, build.LAMBDA_DEFAULT_ARCH)


def by_name(target: build.Target) -> str:
    return target.name


def wheelhouse(artifacts: Path, target: build.Target) -> Path:
    if target == build.EMR_TARGET:
        return artifacts / build.EMR_DIR / build.EMR_WHEELHOUSE
    return artifacts / build.GLUE_DIR / target.name


def manifest(folder: Path) -> Any:
    return json.loads(folder.with_name(folder.name + build.MANIFEST_SUFFIX).read_text())


def wheel_names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("*.whl"))


# The job wheel: lineage_lib and its schema, nothing else of the project


def job_files(names: list[str]) -> set[str]:
    """The files a job wheel (or a folder it was installed into) holds, without its .dist-info."""
    return {name for name in names if ".dist-info/" not in name}


def library_files() -> set[str]:
    """lineage_lib's modules and each schema version's schema.json: all a job may receive."""
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "lineage_lib").rglob("*.py")}
    typed = {"lineage_lib/py.typed"}
    schemas = {
        f"lineage_lib/_schemas/lineage-event/{p.parent.name}/schema.json"
        for p in (REPO / "schemas" / "lineage-event").glob("*/schema.json")
    }
    return {name for name in modules if "__pycache__" not in name} | typed | schemas


def test_job_wheel_holds_lineage_lib_and_its_schema_only(project_wheel: Path) -> None:
    assert project_wheel.name == f"lineage_lib-{VERSION}-py3-none-any.whl"
    assert job_files(zipfile.ZipFile(project_wheel).namelist()) == library_files()


def test_wheel_requires_exactly_the_runtime_dependencies(project_wheel: Path) -> None:
    name, version, _, _ = parse_wheel_filename(project_wheel.name)
    metadata = zipfile.ZipFile(project_wheel).read(f"lineage_lib-{version}.dist-info/METADATA").decode()
    declared = [
        line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")
    ]
    unconditional = {str(Requirement(text)) for text in declared if Requirement(text).marker is None}
    assert (name, str(version)) == (PROJECT, VERSION)
    assert unconditional == {str(Requirement(text)) for text in build.runtime_dependencies()} == set()
    assert "Requires-Python: >=3.9" in metadata


# The Glue and EMR wheelhouses


@pytest.mark.parametrize("target", WHEELHOUSE_TARGETS, ids=by_name)
def test_every_wheel_of_a_wheelhouse_installs_on_its_target(artifacts: Path, target: build.Target) -> None:
    names = wheel_names(wheelhouse(artifacts, target))
    assert names
    for name in names:
        assert not target.tags().isdisjoint(parse_wheel_filename(name)[3]), f"{name} on {target.name}"


@pytest.mark.parametrize("target", WHEELHOUSE_TARGETS, ids=by_name)
def test_a_wheelhouse_holds_the_project_and_its_runtime_dependencies(
    artifacts: Path, target: build.Target
) -> None:
    versions: dict[str, str] = {
        parse_wheel_filename(name)[0]: str(parse_wheel_filename(name)[1])
        for name in wheel_names(wheelhouse(artifacts, target))
    }
    assert versions[PROJECT] == VERSION
    assert_has_runtime_dependencies(versions)


@pytest.mark.parametrize("target", WHEELHOUSE_TARGETS, ids=by_name)
def test_a_wheelhouse_carries_the_job_wheel_only(artifacts: Path, target: build.Target) -> None:
    (name,) = wheel_names(wheelhouse(artifacts, target))  # no dependencies: the standard library only
    assert name == f"lineage_lib-{VERSION}-py3-none-any.whl"
    assert job_files(zipfile.ZipFile(wheelhouse(artifacts, target) / name).namelist()) == library_files()


@pytest.mark.parametrize("target", build.GLUE_TARGETS, ids=by_name)
def test_glue_manifest_gives_the_job_parameters_for_every_wheel(
    artifacts: Path, target: build.Target
) -> None:
    folder = wheelhouse(artifacts, target)
    content = manifest(folder)
    s3_folder = f"{build.S3_PREFIX}/glue/{target.name}"
    modules = content["job_parameters"]["--additional-python-modules"].split(",")
    assert (content["target"], content["python"]) == (target.name, target.python)
    assert sorted(content["files"]) == wheel_names(folder)
    assert sorted(modules) == [f"{s3_folder}/{name}" for name in wheel_names(folder)]
    assert modules[0].startswith(f"{s3_folder}/lineage_lib-")
    assert content["job_parameters"]["--python-modules-installer-option"] == "--no-index"


def test_emr_folder_ships_the_bootstrap_script_and_says_how_to_configure_it(artifacts: Path) -> None:
    folder = artifacts / build.EMR_DIR
    script = folder / build.BOOTSTRAP_SCRIPT.name
    action = manifest(folder)["bootstrap_action"]["ScriptBootstrapAction"]
    assert script.read_bytes() == build.BOOTSTRAP_SCRIPT.read_bytes()
    assert os.access(script, os.X_OK)
    assert action == {
        "Path": f"{build.S3_PREFIX}/emr/{script.name}",
        "Args": [f"{build.S3_PREFIX}/emr/wheelhouse/"],
    }


# The Lambda layer


def layer_site(artifacts: Path) -> Path:
    return artifacts / build.LAMBDA_DIR / build.LAMBDA_SITE


def installed_tags(site: Path) -> dict[str, set[Tag]]:
    """The wheel tags of every distribution pip installed into ``site`` (from its .dist-info/WHEEL)."""
    return {
        dist_info.name: {
            tag
            for line in (dist_info / "WHEEL").read_text().splitlines()
            if line.startswith("Tag:")
            for tag in parse_tag(line.split(":", 1)[1].strip())
        }
        for dist_info in site.glob("*.dist-info")
    }


def test_layer_manifest_records_python_version_and_architecture(artifacts: Path) -> None:
    content = manifest(artifacts / build.LAMBDA_DIR)
    assert content["runtime"] == "python3.14"
    assert content["compatible_runtimes"] == [f"python3.{minor}" for minor in range(9, 15)]
    assert content["compatible_architectures"] == ["arm64"]
    assert content["platforms"] == ["manylinux2014_aarch64"]


def test_every_package_of_the_layer_installs_on_its_target(artifacts: Path) -> None:
    tags = installed_tags(layer_site(artifacts))
    assert tags
    for dist_info, wheel_tags in tags.items():
        assert not LAYER_TARGET.tags().isdisjoint(wheel_tags), dist_info


def test_layer_holds_the_project_and_its_runtime_dependencies(artifacts: Path) -> None:
    versions = dist_versions(layer_site(artifacts))
    assert versions[PROJECT] == VERSION
    assert_has_runtime_dependencies(versions)


def test_layer_holds_lineage_lib_and_its_schema_only(artifacts: Path) -> None:
    site = layer_site(artifacts)
    files = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    assert job_files(sorted(files)) == library_files()
    assert dist_versions(site) == {PROJECT: VERSION}


def test_layer_carries_no_scripts_and_no_bytecode(artifacts: Path) -> None:
    site = layer_site(artifacts)
    assert not (site / "bin").exists()
    assert list(site.rglob("__pycache__")) == []


EMIT_ONE_RUN = """
import sys
import lineage_lib
print(lineage_lib.__file__, *sys.path, sep="\\n", file=sys.stderr)
with lineage_lib.run() as run:
    pass
"""


def test_layer_alone_imports_lineage_lib_and_emits_valid_events(artifacts: Path, tmp_path: Path) -> None:
    site = layer_site(artifacts)
    # The layer is built for Lambda's Python and CPU, and runs here only because it is pure Python.
    assert all(tags == {Tag("py3", "none", "any")} for tags in installed_tags(site).values())
    result = subprocess.run(
        [sys.executable, "-S", "-c", EMIT_ONE_RUN],  # -S: no site-packages, so the layer is all there is
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(site), "LINEAGE_PIPELINE_ID": "packaging-test"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    module, *path = result.stderr.splitlines()
    assert Path(module).is_relative_to(site)
    assert not [entry for entry in path if "site-packages" in entry]
    schema = json.loads((site / "lineage_lib/_schemas/lineage-event/1.0/schema.json").read_text())
    events = [json.loads(line) for line in result.stdout.splitlines()]
    for event in events:
        jsonschema.validate(event, schema)
    assert [event["event_type"] for event in events] == ["RUN_START", "RUN_COMPLETE"]
    assert {event["pipeline_id"] for event in events} == {"packaging-test"}
