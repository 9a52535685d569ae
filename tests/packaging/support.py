"""Helpers shared by the packaging tests: reading installed distributions, making tiny wheels."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from shipping import build


def dist_versions(site: Path) -> dict[str, str]:
    """Normalised name -> version of every distribution installed in ``site``."""
    pairs = (path.name.removesuffix(".dist-info").rsplit("-", 1) for path in site.glob("*.dist-info"))
    return {canonicalize_name(name): version for name, version in pairs}


def assert_has_runtime_dependencies(versions: Mapping[str, str]) -> None:
    """Every requirement of pyproject.toml's [project].dependencies is satisfied by ``versions``."""
    for requirement in map(Requirement, build.runtime_dependencies()):
        name = canonicalize_name(requirement.name)
        assert name in versions, f"runtime dependency {name} is missing"
        assert requirement.specifier.contains(versions[name], prereleases=True), (name, versions[name])


def make_wheel(
    folder: Path, name: str, version: str, requires: Sequence[str] = (), *, package: str | None = None
) -> Path:
    """A minimal pure-Python wheel of ``name`` (holding the package ``package``, by default the name's)
    whose metadata requires ``requires``."""
    module = name.replace("-", "_")
    package = package or module
    dist_info = f"{module}-{version}.dist-info"
    metadata = [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"]
    metadata += [f"Requires-Dist: {requirement}\n" for requirement in requires]
    files = {
        f"{package}/__init__.py": "",
        f"{dist_info}/METADATA": "".join(metadata),
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{dist_info}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{dist_info}/RECORD"])
    path = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, content in files.items():
            wheel.writestr(member, content)
    return path
