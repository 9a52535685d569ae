"""The dependency rules of the house, as import-linter contracts (pyproject.toml [tool.importlinter]).

``lint-imports`` passes on the tree; on a copy of the tree with one forbidden import added, it fails
and names the contract and the import, so the contracts are not vacuous.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("lineage_lib", "lineage_plane", "lambdas", "infra", "lineage_cli", "lineage_local")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the packages under ``root``, with the contracts of ``root``'s pyproject."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(root)  # the packages of root, before the editable install's
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "forbidden", "contract"),
    [
        ("lineage_lib/leak.py", "import lineage_plane.layout", "lineage_lib (what ships into jobs)"),
        ("lineage_plane/leak.py", "import lambdas.common.archive", "the plane core imports only"),
        ("lineage_plane/leak2.py", "import boto3", "the plane core imports only"),
        ("lambdas/common/leak.py", "import infra.archive", "the Lambda functions import"),
        ("infra/leak.py", "import lambdas.common.archive", "the CDK app imports"),
        ("lineage_cli/leak.py", "import lambdas.validator.handler", "the CLI never imports"),
        ("lineage_cli/leak2.py", "import lineage_local.demo_plane", "the CLI never imports"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, forbidden: str, contract: str
) -> None:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / module).write_text(f"{forbidden}\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout.split("Broken contracts", 1)[-1]
    leaked = module.removesuffix(".py").replace("/", ".")
    assert contract in " ".join(broken.split())
    assert f"{leaked} -> {forbidden.removeprefix('import ')}" in broken
