"""Every setting's name is written once, in lineage_lib/env.py; code and docs use that module."""

from __future__ import annotations

import ast
import re

from lineage_lib import env
from tests.conftest import REPO

CODE = ["lineage_lib", "lineage_cli", "shipping", "infra"]


def string_literals(path: object) -> list[str]:
    """The string constants of a module's code; docstrings (documentation) are left out."""
    tree = ast.parse(REPO.joinpath(str(path)).read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_no_setting_name_is_spelled_outside_env_py() -> None:
    offenders = []
    for package in CODE:
        for path in sorted((REPO / package).rglob("*.py")):
            if path == REPO / "lineage_lib" / "env.py":
                continue
            for literal in string_literals(path.relative_to(REPO)):
                offenders += [
                    (str(path.relative_to(REPO)), name)
                    for name in re.findall(r"\bLINEAGE_[A-Z_]+\b", literal)
                ]
    # Messages name a setting through env.py's constant (f"{env.MODE}=..."), never by spelling it.
    assert not offenders, offenders


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    missing = [name for name in env.OWN_SETTINGS if f"`{name}`" not in readme]
    assert not missing, f"document these settings in README.md: {missing}"


def test_every_own_setting_carries_the_prefix() -> None:
    assert all(name.startswith(env.PREFIX) for name in env.OWN_SETTINGS)
