"""The Lambda functions' assets (functions/<name>/) and the proof that each handler imports from its
asset and the lineage_lib layer alone, exactly as the Lambda runtime imports it."""

from __future__ import annotations

import csv
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from shipping import build
from tests.conftest import REPO
from tests.packaging.support import dist_versions, make_wheel
from tests.packaging.test_artifacts import installed_tags

FUNCTION_NAMES = sorted(build.FUNCTIONS)
TARGET = build.lambda_target(build.LAMBDA_DEFAULT_PYTHON, build.LAMBDA_DEFAULT_ARCH)
HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
HOST_ARCHS = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
VALIDATOR = build.FUNCTIONS["validator"]  # the failing cases break a copy of its asset
# What the Lambda Python runtime provides beside the standard library: boto3 and what it needs.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six")


def read_manifest(out: Path, folder: str) -> Any:
    return json.loads((out / (folder + build.MANIFEST_SUFFIX)).read_text())


def asset_of(out: Path, name: str) -> Path:
    return out / read_manifest(out, build.FUNCTIONS_DIR)["functions"][name]["path"]


def layer_site(out: Path) -> Path:
    return out / build.LAMBDA_DIR / build.LAMBDA_SITE


def files_under(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def recorded_files(site: Path) -> set[str]:
    """Every file the RECORDs of the distributions installed into ``site`` list, inside ``site``."""
    recorded = set()
    for record in site.glob("*.dist-info/RECORD"):
        with record.open(newline="") as file:
            paths = (os.path.normpath(row[0]) for row in csv.reader(file) if row)
            recorded |= {Path(path).as_posix() for path in paths if not path.startswith("..")}
    return recorded


def expected_code(name: str) -> set[str]:
    """The repository files a function's asset carries: lambdas/__init__.py, common/, its own, the core."""
    package = build.function_package(build.FUNCTIONS[name])
    folders = [REPO / "lambdas" / sub for sub in (*build.LAMBDAS_SHARED, package)]
    folders.append(REPO / "lineage_plane")  # the plane core, which every function imports
    files = [REPO / "lambdas" / "__init__.py", *(path for folder in folders for path in folder.rglob("*.py"))]
    return {path.relative_to(REPO).as_posix() for path in files if "__pycache__" not in path.parts}


# What `make artifacts` builds: the manifest, the layout, the target


def test_every_function_has_its_subpackage_and_handler_module() -> None:
    for name, handler in build.FUNCTIONS.items():
        module, function = build.handler_module(handler)
        assert (REPO / "lambdas" / build.function_package(handler) / "__init__.py").is_file(), name
        assert (REPO / Path(*module.split("."))).with_suffix(".py").is_file(), handler
        assert function.isidentifier(), handler


def test_handler_splits_as_the_lambda_runtime_splits_it() -> None:
    assert build.handler_module("lambdas.validator.handler.handler") == (
        "lambdas.validator.handler",
        "handler",
    )


def test_a_missing_dependency_group_says_which(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "demo"\n[project.optional-dependencies]\naws = ["boto3"]\n')
    assert build.optional_dependencies("aws", pyproject) == ["boto3"]
    with pytest.raises(build.BuildError, match="'lambdas'"):
        build.optional_dependencies("lambdas", pyproject)


@pytest.mark.slow  # runs pip
def test_a_dependency_that_pulls_in_botocore_fails_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "needs-botocore", "1.0", requires=["botocore>=1"])
    make_wheel(wheels, "botocore", "1.0")
    monkeypatch.setattr(build, "optional_dependencies", lambda group: ["needs-botocore"])
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    with pytest.raises(build.BuildError, match=r"pull in botocore, which the Lambda runtime"):
        build.install_function_dependencies(tmp_path / "site", TARGET)


@pytest.mark.slow
def test_manifest_gives_each_function_its_handler_path_and_packages(artifacts: Path) -> None:
    content = read_manifest(artifacts, build.FUNCTIONS_DIR)
    assert {key: content[key] for key in ("python", "arch", "runtime")} == {
        "python": "3.14",
        "arch": "arm64",
        "runtime": "python3.14",
    }
    assert sorted(content["functions"]) == FUNCTION_NAMES
    for name, function in content["functions"].items():
        asset = artifacts / function["path"]
        assert function["handler"] == build.FUNCTIONS[name]
        assert function["path"] == f"functions/{name}"
        assert function["packages"] == build.installed_packages(asset)
        versions = dist_versions(asset)
        for requirement in map(Requirement, build.optional_dependencies(build.FUNCTIONS_EXTRA)):
            assert requirement.specifier.contains(versions[canonicalize_name(requirement.name)]), requirement


@pytest.mark.slow
def test_functions_and_layer_share_python_version_and_architecture(artifacts: Path) -> None:
    functions = read_manifest(artifacts, build.FUNCTIONS_DIR)
    layer = read_manifest(artifacts, build.LAMBDA_DIR)
    assert layer["python"] == functions["python"]
    assert layer["runtime"] == functions["runtime"]
    assert functions["runtime"] in layer["compatible_runtimes"]
    assert layer["compatible_architectures"] == [functions["arch"]]


@pytest.mark.slow
@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_every_bundled_package_is_built_for_the_lambda_runtime(artifacts: Path, name: str) -> None:
    asset = asset_of(artifacts, name)
    tags = installed_tags(asset)
    for dist_info, wheel_tags in tags.items():
        assert not TARGET.tags().isdisjoint(wheel_tags), dist_info
    # rpds-py (for jsonschema) is compiled: the reason the platform matters. It must be Lambda's, not ours.
    (rpds,) = [wheel_tags for dist_info, wheel_tags in tags.items() if dist_info.startswith("rpds_py-")]
    assert {(tag.abi, tag.platform.endswith("_aarch64")) for tag in rpds} == {("cp314", True)}
    extensions = [path.name for path in asset.rglob("*.so")]
    assert "rpds.cpython-314-aarch64-linux-gnu.so" in extensions
    assert [name for name in extensions if "aarch64" not in name] == []


@pytest.mark.slow
@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_asset_holds_its_code_and_its_dependencies_only(artifacts: Path, name: str) -> None:
    asset = asset_of(artifacts, name)
    files = files_under(asset)
    code = {path for path in files if path.startswith(("lambdas/", "lineage_plane/"))}
    assert code == expected_code(name)
    for path in code:
        assert (asset / path).read_bytes() == (REPO / path).read_bytes(), path
    assert files - code - recorded_files(asset) == set()  # everything else, pip installed
    top_level = {path.name for path in asset.iterdir()}
    assert top_level.isdisjoint({"boto3", "botocore", "s3transfer", "lineage_lib", "lineage_cli", "bin"})
    assert top_level.isdisjoint({"tests", "infra", "shipping", "schemas", "app.py", "pyproject.toml"})
    assert not {canonicalize_name(dist) for dist in dist_versions(asset)} & build.NOT_BUNDLED
    assert list(asset.rglob("__pycache__")) == []


# The import test: each handler, from its asset and the layer alone, as the Lambda runtime imports it

# Run with `python -I -S`: no site-packages, no current directory, no PYTHON* variable; what is left on
# sys.path is the standard library. The bootstrap then puts the asset, the layer and the runtime's
# packages before it, in the order of Lambda's path (task root, /opt/python, the runtime's boto3).
BOOTSTRAP = """
import importlib, json, sys
asset, layer, runtime, handler = sys.argv[1:5]
stdlib = [entry for entry in sys.path if entry]
sys.path[:] = [asset, layer, runtime, *stdlib]
module_name, function = handler.rsplit(".", 1)  # as awslambdaric splits it
module = importlib.import_module(module_name)
found = {"file": module.__file__, "callable": callable(getattr(module, function))}
files = {name: getattr(module, "__file__", None) for name, module in list(sys.modules.items())}
print(json.dumps({"stdlib": stdlib, "path": sys.path, "handler": found, "modules": files}))
"""


def host_arch() -> str:
    if sys.platform != "linux" or platform.machine().lower() not in HOST_ARCHS:
        pytest.skip(f"manylinux wheels import on Linux only, not {sys.platform} {platform.machine()}")
    return HOST_ARCHS[platform.machine().lower()]


def interpreter_of(version: str) -> str | None:
    """A working CPython ``version`` of this machine (on PATH or installed by pyenv), if there is one."""
    pyenv = sorted((Path.home() / ".pyenv" / "versions").glob(f"{version}.*/bin/python{version}"))
    for candidate in (shutil.which(f"python{version}"), *map(str, pyenv)):
        if candidate is None:
            continue
        probe = "import sys; print('%d.%d' % sys.version_info[:2])"
        result = subprocess.run(
            [candidate, "-I", "-S", "-c", probe], capture_output=True, text=True, check=False
        )
        if result.returncode == 0 and result.stdout.strip() == version:
            return candidate
    return None


@pytest.fixture(scope="session")
def host_builds(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The layer and the functions built by shipping.build for this machine's CPU and a given Python,
    once per version: their compiled wheels (rpds-py) load here, where Lambda's arm64 ones would not."""
    arch = host_arch()
    built: dict[str, Path] = {}

    def build_for(python: str) -> Path:
        if python not in built:
            out = tmp_path_factory.mktemp(f"lambda-python{python}-{arch}")
            build.build_lambda_layer(out, build.build_wheel(out), python, arch)
            build.build_functions(out, python, arch)
            built[python] = out
        return built[python]

    return build_for


@pytest.fixture(scope="session")
def lambda_runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stands in for the Lambda runtime's own packages: boto3 and its dependencies, copied (pure Python)
    from this environment, file by file as their distributions list them."""
    folder = tmp_path_factory.mktemp("lambda-runtime")
    for name in RUNTIME_PROVIDED:
        dist = importlib.metadata.distribution(name)
        for file in dist.files or ():
            if file.parts[0] == ".." or "__pycache__" in file.parts:
                continue
            copy = folder / file
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(str(dist.locate_file(file))), copy)
    assert {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3"} <= {
        path.name for path in folder.iterdir() if (path / "__init__.py").is_file()
    }
    return folder


def import_handler(
    interpreter: str, handler: str, asset: Path, layer: Path, runtime: Path, python: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [interpreter, "-I", "-S", "-c", BOOTSTRAP, str(asset), str(layer), str(runtime), handler],
        cwd=asset,  # Lambda's working directory is the task root; -I keeps it off sys.path
        env={
            "PATH": os.defpath,
            "LAMBDA_TASK_ROOT": str(asset),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{python}",
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def interpreters() -> list[Any]:
    """This interpreter, and the Lambda runtime's Python version if this one is another."""
    versions = dict.fromkeys([HOST_PYTHON, build.LAMBDA_DEFAULT_PYTHON])
    return [pytest.param(version, id=f"python{version}") for version in versions]


def interpreter_for(python: str) -> str:
    if python == HOST_PYTHON:
        return sys.executable
    found = interpreter_of(python)
    if found is None:
        pytest.skip(f"no python{python} on this machine; the host-python run covers the import")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("python", interpreters())
@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_handler_imports_from_its_asset_and_the_layer_alone(
    host_builds: Callable[[str], Path], lambda_runtime: Path, name: str, python: str
) -> None:
    interpreter = interpreter_for(python)
    out = host_builds(python)
    asset, layer = asset_of(out, name), layer_site(out)
    handler = read_manifest(out, build.FUNCTIONS_DIR)["functions"][name]["handler"]
    result = import_handler(interpreter, handler, asset, layer, lambda_runtime, python)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    roots = [asset, layer, lambda_runtime, *map(Path, report["stdlib"])]
    assert report["path"] == [str(asset), str(layer), str(lambda_runtime), *report["stdlib"]]
    assert not [
        entry for entry in report["stdlib"] if "site-packages" in entry or REPO in Path(entry).parents
    ]
    assert report["handler"]["callable"], handler
    assert Path(report["handler"]["file"]).is_relative_to(asset), report["handler"]
    modules = report["modules"]
    assert Path(modules["lineage_lib"]).is_relative_to(layer)
    assert Path(modules["boto3"]).is_relative_to(lambda_runtime)
    assert Path(modules["aws_lambda_powertools"]).is_relative_to(asset)
    for module, file in modules.items():
        if file is not None:
            assert any(Path(file).is_relative_to(root) for root in roots), (module, file)
            assert "site-packages" not in Path(file).parts, (module, file)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("removed", "missing"),
    [("lambdas/common", "lambdas.common"), ("aws_lambda_powertools", "aws_lambda_powertools")],
)
def test_import_fails_when_the_asset_lacks_what_the_handler_imports(
    host_builds: Callable[[str], Path], lambda_runtime: Path, tmp_path: Path, removed: str, missing: str
) -> None:
    """The repository (lambdas.common) and this environment (Powertools) hold what was removed: the
    import fails only because the interpreter sees neither."""
    out = host_builds(HOST_PYTHON)
    asset = shutil.copytree(asset_of(out, "validator"), tmp_path / "validator")
    shutil.rmtree(asset / removed)
    result = import_handler(sys.executable, VALIDATOR, asset, layer_site(out), lambda_runtime, HOST_PYTHON)
    assert result.returncode != 0
    assert f"No module named '{missing}'" in result.stderr


@pytest.mark.slow
def test_import_fails_when_a_handler_imports_what_only_the_repository_holds(
    host_builds: Callable[[str], Path], lambda_runtime: Path, tmp_path: Path
) -> None:
    """This environment's editable install puts the repository root on its path: shipping imports
    there, and must not here."""
    out = host_builds(HOST_PYTHON)
    asset = shutil.copytree(asset_of(out, "validator"), tmp_path / "validator")
    handler = asset / "lambdas" / "validator" / "handler.py"
    handler.write_text(handler.read_text() + "\nimport shipping.build  # works from the repository only\n")
    result = import_handler(sys.executable, VALIDATOR, asset, layer_site(out), lambda_runtime, HOST_PYTHON)
    assert result.returncode != 0
    assert "No module named 'shipping'" in result.stderr


@pytest.mark.slow
def test_import_fails_without_the_layer(
    host_builds: Callable[[str], Path], lambda_runtime: Path, tmp_path: Path
) -> None:
    out = host_builds(HOST_PYTHON)
    empty_layer = tmp_path / "python"
    empty_layer.mkdir()
    result = import_handler(
        sys.executable, VALIDATOR, asset_of(out, "validator"), empty_layer, lambda_runtime, HOST_PYTHON
    )
    assert result.returncode != 0
    assert "No module named 'lineage_lib'" in result.stderr
