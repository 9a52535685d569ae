"""The job wheel (distribution ``lineage-lib``): ``lineage_lib`` and its schema, nothing else.

The repository's pyproject.toml builds the tool (``lineage-plane``); this module stages what a job
needs into a folder of its own, lineage_lib/ (no ruff.toml, no bytecode) and each schema version's
``schema.json`` (no examples) as lineage_lib/_schemas/, with shipping/job_pyproject.toml, and builds
that folder with pip.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

REPO: Final = Path(__file__).resolve().parent.parent
JOB_PYPROJECT: Final = Path(__file__).resolve().with_name("job_pyproject.toml")
LIBRARY: Final = REPO / "lineage_lib"
SCHEMAS: Final = REPO / "schemas" / "lineage-event"
PACKAGED_SCHEMAS: Final = Path("lineage_lib", "_schemas", "lineage-event")
_NOT_SHIPPED: Final = shutil.ignore_patterns("__pycache__", "*.pyc", "ruff.toml")


def stage(root: Path) -> None:
    """lineage_lib/, its schemas (``<version>/schema.json`` only) and the pyproject, into ``root``."""
    shutil.copytree(LIBRARY, root / "lineage_lib", ignore=_NOT_SHIPPED)
    for schema in sorted(SCHEMAS.glob("*/schema.json")):
        copy = root / PACKAGED_SCHEMAS / schema.parent.name / schema.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(schema, copy)
    shutil.copy2(JOB_PYPROJECT, root / "pyproject.toml")


def build_job_wheel(folder: Path, run_pip: Callable[[Sequence[str]], None] | None = None) -> Path:
    """Build the job wheel into ``folder``; returns its path. ``run_pip`` runs ``pip <args>``."""
    pip = run_pip or _pip
    with tempfile.TemporaryDirectory(prefix="lineage-lib-wheel-") as tmp:
        stage(Path(tmp))
        pip(["wheel", tmp, "--no-deps", "--quiet", "--wheel-dir", str(folder)])
    wheels = sorted(folder.glob("lineage_lib-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one lineage_lib wheel in {folder}, found {[w.name for w in wheels]}")
    return wheels[0]


def _pip(args: Sequence[str]) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True)
