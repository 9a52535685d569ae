"""Build the two distributions, the three packagings of lineage_lib and the Lambda functions, at once.

    python -m shipping.build --out build/artifacts [--lambda-python 3.14] [--lambda-arch arm64]

What lands in OUT (a manifest sits next to its folder, not in it, so that uploading or zipping the
folder ships only what the target needs):

    wheel/lineage_lib-<version>-py3-none-any.whl        the job wheel: lineage_lib and its schema only
    tool/lineage_plane-<version>-py3-none-any.whl       the tool wheel: `lineage`, the core, the local plane
    glue/glue-4.0/  glue/glue-5.0/                       wheelhouses for --additional-python-modules
    glue/glue-<version>.manifest.json                    their files and the Glue job parameters to set
    emr/emr_bootstrap.sh  emr/wheelhouse/                the bootstrap action and what it installs
    emr.manifest.json                                    the bootstrap action to configure
    lambda-layer/python/                                 the layer's content (/opt/python in Lambda)
    lambda-layer.manifest.json                           its runtimes (python3.9 up) and architecture
    functions/<name>/                                    each Lambda function's asset (what CDK zips)
    functions.manifest.json                              their handlers, runtime and bundled packages

Each wheelhouse is checked before the build succeeds: every wheel's tags suit its target, and pip
resolves the project from the folder alone (--no-index), as it must in a VPC without internet.
The wheelhouses and the layer carry the job wheel alone (shipping/job_wheel.py). A function's asset
holds its code (lambdas/__init__.py, lambdas/common/, lambdas/<name>/), the plane core (lineage_plane/,
its .py files) and the ``lambdas`` optional dependencies, installed for the functions' Python and
architecture; boto3 comes with the Lambda runtime and lineage_lib with the layer, so neither is bundled.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from shipping.job_wheel import JOB_PYPROJECT, build_job_wheel

log = logging.getLogger(__name__)

REPO: Final = Path(__file__).resolve().parent.parent
PYPROJECT: Final = REPO / "pyproject.toml"
BOOTSTRAP_SCRIPT: Final = Path(__file__).resolve().with_name("emr_bootstrap.sh")
# Where the manifests tell users to upload the folders; they replace both placeholders.
S3_PREFIX: Final = "s3://<artifacts-bucket>/<prefix>"

WHEEL_DIR: Final = "wheel"  # the job wheel
TOOL_DIR: Final = "tool"  # the tool wheel
GLUE_DIR: Final = "glue"
EMR_DIR: Final = "emr"
EMR_WHEELHOUSE: Final = "wheelhouse"
LAMBDA_DIR: Final = "lambda-layer"
LAMBDA_SITE: Final = "python"  # Lambda puts /opt/python (a layer's python/) on every Python runtime's path
MANIFEST_SUFFIX: Final = ".manifest.json"
FUNCTIONS_DIR: Final = "functions"

# The plane's Lambda functions: name (its asset folder) -> handler, as the Lambda runtime resolves it
# (module path, then function). The handler's subpackage lambdas/<package>/ goes into the asset; two
# functions may share one. Adding a function is one line here.
FUNCTIONS: Final = {
    "validator": "lambdas.validator.handler.handler",
    "glue_bridge": "lambdas.glue_bridge.handler.handler",
    "run_reconciler": "lambdas.glue_bridge.reconciler.handler",
}
FUNCTIONS_EXTRA: Final = "lambdas"  # the optional-dependency group of pyproject.toml every asset bundles
LAMBDAS_PACKAGE: Final = REPO / "lambdas"
LAMBDAS_SHARED: Final = ("common",)  # subpackages every function's asset carries beside its own
CORE_PACKAGE: Final = REPO / "lineage_plane"  # the plane core every function's asset carries
# Provided by the Lambda runtime (boto3) or the layer (lineage_lib): a bundled copy would shadow theirs.
NOT_BUNDLED: Final = frozenset({"boto3", "botocore", "s3transfer", "lineage-lib", "lineage-plane"})

# manylinux2014 (glibc 2.17) is older than the glibc of every target (Glue 4.0 on Amazon Linux 2: 2.26;
# Glue 5.0, EMR 7 and Lambda's python3.12+ on Amazon Linux 2023: 2.34), so its wheels run on all.
MANYLINUX: Final = "manylinux2014"
MANYLINUX_GLIBC_MINOR: Final = 17
_LEGACY_MANYLINUX: Final = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}


class BuildError(Exception):
    """A build step failed; the message says which one and what to check."""


@dataclass(frozen=True)
class Target:
    """A Python runtime lineage_lib is installed into: its name, CPython version and CPU architectures."""

    name: str
    python: str
    archs: tuple[str, ...]

    @property
    def abi(self) -> str:
        return "cp" + self.python.replace(".", "")

    def tags(self) -> frozenset[Tag]:
        """Every wheel tag this runtime installs, on any of its architectures."""
        version = tuple(int(part) for part in self.python.split("."))
        platforms = [tag for arch in self.archs for tag in platform_tags(arch)]
        return frozenset(
            (
                *cpython_tags(version, abis=[self.abi], platforms=platforms),
                *compatible_tags(version, interpreter=self.abi, platforms=platforms),
            )
        )


# The targets, written once: build, manifests and tests all read them from here.
GLUE_TARGETS: Final = (
    Target("glue-4.0", python="3.10", archs=("x86_64",)),
    Target("glue-5.0", python="3.11", archs=("x86_64",)),
)
EMR_TARGET: Final = Target("emr-7", python="3.9", archs=("x86_64", "aarch64"))  # aarch64: Graviton
LAMBDA_ARCHS: Final = {"arm64": "aarch64", "x86_64": "x86_64"}  # Lambda's name -> the platform tag's
LAMBDA_DEFAULT_PYTHON: Final = "3.14"  # Lambda's newest Python runtime (cdk-nag AwsSolutions-L1)
LAMBDA_OLDEST_PYTHON: Final = "3.9"  # the oldest Lambda Python runtime lineage_lib supports
LAMBDA_DEFAULT_ARCH: Final = "arm64"


def lambda_target(python: str, arch: str) -> Target:
    """The target of a Lambda layer for runtime ``python<python>`` on Lambda architecture ``arch``."""
    return Target(f"lambda-python{python}-{arch}", python=python, archs=(LAMBDA_ARCHS[arch],))


def platform_tags(arch: str) -> list[str]:
    """The platform tags a manylinux2014 machine of ``arch`` accepts, newest first."""
    tags: list[str] = []
    for minor in range(MANYLINUX_GLIBC_MINOR, 4, -1):
        tags.append(f"manylinux_2_{minor}_{arch}")
        if minor in _LEGACY_MANYLINUX:
            tags.append(f"{_LEGACY_MANYLINUX[minor]}_{arch}")
    return tags


def pip_target_options(target: Target, arch: str) -> list[str]:
    """pip options that choose wheels for ``target`` on ``arch`` instead of for this machine."""
    return [
        *("--only-binary=:all:", "--platform", f"{MANYLINUX}_{arch}"),
        *("--python-version", target.python, "--implementation", "cp", "--abi", target.abi),
    ]


def project_table(pyproject: Path = PYPROJECT) -> dict[str, Any]:
    with pyproject.open("rb") as file:
        project: dict[str, Any] = tomllib.load(file)["project"]
    return project


def runtime_dependencies(pyproject: Path = JOB_PYPROJECT) -> list[str]:
    """The requirements that ship with lineage_lib: the job wheel's [project].dependencies."""
    return list(project_table(pyproject).get("dependencies", []))


def optional_dependencies(group: str, pyproject: Path = PYPROJECT) -> list[str]:
    """The requirements of one group of pyproject.toml's [project.optional-dependencies]."""
    groups: dict[str, list[str]] = project_table(pyproject).get("optional-dependencies", {})
    if group not in groups:
        raise BuildError(f"{pyproject} has no [project.optional-dependencies] group {group!r}")
    return list(groups[group])


def ordered_wheels(names: Iterable[str], project: str) -> list[str]:
    """Wheel file names, the project's first, then its dependencies by name."""
    key = canonicalize_name(project)
    return sorted(names, key=lambda name: (parse_wheel_filename(name)[0] != key, name))


def glue_job_parameters(wheels: Sequence[str], s3_folder: str) -> dict[str, str]:
    """The Glue job parameters that install ``wheels`` once uploaded to ``s3_folder``."""
    return {
        "--additional-python-modules": ",".join(f"{s3_folder}/{name}" for name in wheels),
        # The listed wheels only: pip never looks for an index, which a VPC without internet lacks.
        "--python-modules-installer-option": "--no-index",
    }


def run_pip(args: Sequence[str], *, step: str, hint: str) -> None:
    log.info("%s", step)
    result = subprocess.run([sys.executable, "-m", "pip", *args], check=False)
    if result.returncode != 0:
        raise BuildError(f"{step} failed (pip exit {result.returncode}): {hint}")


def build_wheel(out: Path) -> Path:
    """The job wheel (lineage-lib): what the wheelhouses and the layer carry."""
    return build_job_wheel(
        out / WHEEL_DIR,
        lambda args: run_pip(
            args,
            step="building the job wheel (lineage-lib)",
            hint="check shipping/job_pyproject.toml and that pip can install the hatchling build backend",
        ),
    )


def build_tool_wheel(out: Path) -> Path:
    """The tool wheel (lineage-plane, the repository's pyproject.toml): `lineage` installs anywhere."""
    folder = out / TOOL_DIR
    run_pip(
        ["wheel", str(REPO), "--no-deps", "--quiet", "--wheel-dir", str(folder)],
        step="building the tool wheel (lineage-plane)",
        hint="check pyproject.toml and that pip can install the hatchling build backend",
    )
    wheels = sorted(folder.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"expected one wheel in {folder}, found {[w.name for w in wheels]}")
    return wheels[0]


def pinned_requirement(wheel: Path) -> str:
    name, version, _, _ = parse_wheel_filename(wheel.name)
    return f"{name}=={version}"


def build_wheelhouse(folder: Path, target: Target, wheel: Path) -> list[str]:
    """Fill ``folder`` with the project wheel and its runtime dependencies for ``target``."""
    folder.mkdir(parents=True)
    shutil.copy2(wheel, folder)
    requirements = runtime_dependencies()
    for arch in target.archs if requirements else ():
        run_pip(
            ["download", "--quiet", "--dest", str(folder), *pip_target_options(target, arch), *requirements],
            step=f"downloading the runtime dependencies for {target.name} ({arch})",
            hint="check access to the package index and that each dependency has a wheel for this target",
        )
    check_wheelhouse(folder, target, pinned_requirement(wheel))
    return ordered_wheels((path.name for path in folder.glob("*.whl")), project_table(JOB_PYPROJECT)["name"])


def check_wheelhouse(folder: Path, target: Target, requirement: str) -> None:
    """Fail unless every wheel suits ``target`` and ``requirement`` installs from ``folder`` alone."""
    accepted = target.tags()
    for path in sorted(folder.glob("*.whl")):
        if accepted.isdisjoint(parse_wheel_filename(path.name)[3]):
            raise BuildError(
                f"{path.name} does not install on {target.name} (CPython {target.python}, "
                f"{MANYLINUX} {'/'.join(target.archs)}): pin a version of it that has a wheel for it"
            )
    # --isolated: no pip configuration or PIP_* variable may add a place to find wheels.
    offline = ["install", "--isolated", "--dry-run", "--ignore-installed", "--quiet", "--no-index"]
    for arch in target.archs:
        run_pip(
            [*offline, "--find-links", str(folder), *pip_target_options(target, arch), requirement],
            step=f"checking that the {target.name} wheelhouse installs offline ({arch})",
            hint=f"a dependency is missing from {folder}; see pip's message above",
        )


def write_manifest(folder: Path, content: Mapping[str, Any]) -> Path:
    path = folder.with_name(folder.name + MANIFEST_SUFFIX)
    path.write_text(json.dumps(content, indent=2) + "\n")
    return path


def target_fields(target: Target) -> dict[str, Any]:
    platforms = [f"{MANYLINUX}_{arch}" for arch in target.archs]
    return {"target": target.name, "python": target.python, "platforms": platforms}


def build_glue(out: Path, wheel: Path) -> list[Path]:
    """One wheelhouse and manifest per Glue version."""
    manifests = []
    for target in GLUE_TARGETS:
        folder = out / GLUE_DIR / target.name
        files = build_wheelhouse(folder, target, wheel)
        s3_folder = f"{S3_PREFIX}/{GLUE_DIR}/{target.name}"
        manifest = {
            **target_fields(target),
            "files": files,
            "upload": f"aws s3 cp --recursive {GLUE_DIR}/{target.name} {s3_folder}/",
            "job_parameters": glue_job_parameters(files, s3_folder),
        }
        manifests.append(write_manifest(folder, manifest))
    return manifests


def build_emr(out: Path, wheel: Path) -> Path:
    """The bootstrap action script and the wheelhouse it installs from, for both architectures."""
    folder = out / EMR_DIR
    files = build_wheelhouse(folder / EMR_WHEELHOUSE, EMR_TARGET, wheel)
    script = folder / BOOTSTRAP_SCRIPT.name
    shutil.copyfile(BOOTSTRAP_SCRIPT, script)
    script.chmod(0o755)
    s3_folder = f"{S3_PREFIX}/{EMR_DIR}"
    manifest = {
        **target_fields(EMR_TARGET),
        "files": [f"{EMR_WHEELHOUSE}/{name}" for name in files],
        "upload": f"aws s3 cp --recursive {EMR_DIR} {s3_folder}/",
        # The BootstrapActionConfig of EMR's RunJobFlow API (CloudFormation and boto3 take this shape).
        "bootstrap_action": {
            "Name": "Install lineage_lib",
            "ScriptBootstrapAction": {
                "Path": f"{s3_folder}/{script.name}",
                "Args": [f"{s3_folder}/{EMR_WHEELHOUSE}/"],
            },
        },
    }
    return write_manifest(folder, manifest)


def build_lambda_layer(out: Path, wheel: Path, python: str, arch: str) -> Path:
    """The layer's python/ folder, installed for Lambda runtime ``python<python>`` on ``arch``."""
    target = lambda_target(python, arch)
    folder = out / LAMBDA_DIR
    site = folder / LAMBDA_SITE
    # --no-compile: bytecode of this machine's Python would be dead weight for another version.
    install = ["install", "--quiet", "--no-compile", "--target", str(site)]
    run_pip(
        [*install, *pip_target_options(target, target.archs[0]), str(wheel)],
        step=f"installing the Lambda layer for {target.name}",
        hint="check access to the package index and that each dependency has a wheel for this target",
    )
    # Console scripts carry this machine's interpreter in their shebang; a layer has no use for them.
    shutil.rmtree(site / "bin", ignore_errors=True)
    name, version, _, _ = parse_wheel_filename(wheel.name)
    if installed_packages(site) != [f"{name.replace('-', '_')}-{version}"]:
        raise BuildError(f"the layer must hold {wheel.name} alone, not {installed_packages(site)}")
    manifest = {
        **target_fields(target),
        # Pure Python and nothing else (checked above): the layer works on every runtime from the oldest
        # lineage_lib supports to the newest, whichever one the functions use ("runtime").
        "runtime": f"python{python}",
        "compatible_runtimes": layer_runtimes(python),
        "compatible_architectures": [arch],
        "packages": installed_packages(site),
    }
    return write_manifest(folder, manifest)


def layer_runtimes(python: str) -> list[str]:
    """``python3.9`` up to the newer of ``python`` and LAMBDA_DEFAULT_PYTHON: the layer's runtimes."""
    oldest = int(LAMBDA_OLDEST_PYTHON.split(".")[1])
    newest = max(int(python.split(".")[1]), int(LAMBDA_DEFAULT_PYTHON.split(".")[1]))
    return [f"python3.{minor}" for minor in range(oldest, newest + 1)]


def installed_packages(site: Path) -> list[str]:
    """``<name>-<version>`` of every distribution pip installed into ``site``."""
    return sorted(path.name.removesuffix(".dist-info") for path in site.glob("*.dist-info"))


def handler_module(handler: str) -> tuple[str, str]:
    """``lambdas.validator.handler.handler`` -> (module, function), split as the Lambda runtime does."""
    module, _, function = handler.rpartition(".")
    return module, function


def install_function_dependencies(site: Path, target: Target) -> None:
    """The ``lambdas`` optional dependencies, installed into ``site`` for ``target``."""
    requirements = optional_dependencies(FUNCTIONS_EXTRA)
    if requirements:
        run_pip(
            [
                *("install", "--quiet", "--no-compile", "--target", str(site)),
                *pip_target_options(target, target.archs[0]),
                *requirements,
            ],
            step=f"installing the Lambda functions' dependencies for {target.name}",
            hint="check access to the package index and that each dependency has a wheel for this target",
        )
    shutil.rmtree(site / "bin", ignore_errors=True)
    bundled = {canonicalize_name(package.rsplit("-", 1)[0]) for package in installed_packages(site)}
    if provided := sorted(bundled & NOT_BUNDLED):
        raise BuildError(
            f"the [{FUNCTIONS_EXTRA}] dependencies pull in {', '.join(provided)}, which the Lambda runtime "
            "or the lineage_lib layer provides: drop the requirement that needs it"
        )


def function_package(handler: str) -> str:
    """``lambdas.glue_bridge.reconciler.handler`` -> ``glue_bridge``: the subpackage a handler lives in."""
    parts = handler.split(".")
    if len(parts) < 4 or parts[0] != LAMBDAS_PACKAGE.name:
        raise BuildError(f"the handler {handler!r} is not lambdas.<package>.<module>.<function>")
    return parts[1]


def copy_function_code(name: str, root: Path, package: str | None = None) -> None:
    """lambdas/__init__.py, the shared subpackages and lambdas/<package>/ into ``root``: .py files only."""
    package = package or name
    if (root / LAMBDAS_PACKAGE.name).exists():
        raise BuildError(f"a dependency of the [{FUNCTIONS_EXTRA}] group installs a top-level 'lambdas'")
    sources = [LAMBDAS_PACKAGE / "__init__.py"]
    for subpackage in (*LAMBDAS_SHARED, package):
        folder = LAMBDAS_PACKAGE / subpackage
        if not (folder / "__init__.py").is_file():
            raise BuildError(
                f"{folder} is not a package: a function {name!r} needs lambdas/{package}/__init__.py"
            )
        sources += [path for path in sorted(folder.rglob("*.py")) if "__pycache__" not in path.parts]
    sources += [path for path in sorted(CORE_PACKAGE.rglob("*.py")) if "__pycache__" not in path.parts]
    for source in sources:
        copy = root / source.relative_to(LAMBDAS_PACKAGE.parent)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, copy)


def build_functions(out: Path, python: str, arch: str) -> Path:
    """One asset folder per function of FUNCTIONS, for the same runtime and architecture as the layer."""
    target = lambda_target(python, arch)
    folder = out / FUNCTIONS_DIR
    functions: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="lambda-dependencies-") as staging:
        # Every function bundles the same group: pip runs once and each asset gets a copy.
        install_function_dependencies(Path(staging), target)
        for name, handler in FUNCTIONS.items():
            root = folder / name
            shutil.copytree(staging, root)
            copy_function_code(name, root, function_package(handler))
            module, _ = handler_module(handler)
            if not (root / Path(*module.split("."))).with_suffix(".py").is_file():
                raise BuildError(f"the handler {handler!r} of {name!r} names a module its asset lacks")
            functions[name] = {
                "handler": handler,
                "path": root.relative_to(out).as_posix(),
                "packages": installed_packages(root),
            }
    manifest = {"python": python, "arch": arch, "runtime": f"python{python}", "functions": functions}
    return write_manifest(folder, manifest)


def clean(out: Path) -> None:
    """Remove what an earlier build left, so that no stale wheel reaches a wheelhouse or a manifest."""
    for name in (WHEEL_DIR, TOOL_DIR, GLUE_DIR, EMR_DIR, LAMBDA_DIR, FUNCTIONS_DIR):
        shutil.rmtree(out / name, ignore_errors=True)
        (out / (name + MANIFEST_SUFFIX)).unlink(missing_ok=True)


def build_all(
    out: Path, *, lambda_python: str = LAMBDA_DEFAULT_PYTHON, lambda_arch: str = LAMBDA_DEFAULT_ARCH
) -> list[Path]:
    """Build the job and tool wheels, the Glue wheelhouses, the EMR bootstrap action, the Lambda layer and
    the Lambda functions' assets (for the layer's runtime and architecture) into ``out``."""
    clean(out)
    wheel = build_wheel(out)
    tool = build_tool_wheel(out)
    glue = build_glue(out, wheel)
    emr = build_emr(out, wheel)
    layer = build_lambda_layer(out, wheel, lambda_python, lambda_arch)
    functions = build_functions(out, lambda_python, lambda_arch)
    return [wheel, tool, *glue, emr, layer, functions]


def python_version(text: str) -> str:
    if not re.fullmatch(r"3\.\d{1,2}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Python version like 3.13")
    return text


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m shipping.build",
        description="Build the Glue wheelhouses, the EMR bootstrap action, the Lambda layer and functions.",
    )
    parser.add_argument("--out", type=Path, default=Path("build/artifacts"), help="output folder")
    # One runtime for the layer and the functions, so that they always match.
    parser.add_argument(
        "--lambda-python",
        type=python_version,
        default=LAMBDA_DEFAULT_PYTHON,
        help="Lambda runtime python<version> of the layer and the functions (default: %(default)s)",
    )
    parser.add_argument(
        "--lambda-arch",
        choices=sorted(LAMBDA_ARCHS),
        default=LAMBDA_DEFAULT_ARCH,
        help="Lambda architecture of the layer and the functions (default: %(default)s)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="shipping.build: %(message)s")
    args = parse_args(argv)
    try:
        built = build_all(args.out, lambda_python=args.lambda_python, lambda_arch=args.lambda_arch)
    except BuildError as err:
        print(f"shipping.build: {err}", file=sys.stderr)
        return 1
    for path in built:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
