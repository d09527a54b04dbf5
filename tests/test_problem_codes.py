"""Every problem envres reports carries a stable code, and the README's table lists them all."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from envres._codes import CODES
from tests.conftest import Cli, Project

ROOT = Path(__file__).resolve().parent.parent


def test_every_problem_envres_creates_names_its_code() -> None:
    missing: list[str] = []
    for path in sorted((ROOT / "envres").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Problem"
                and not any(k.arg == "code" for k in node.keywords)
            ):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert missing == []


def test_codes_are_unique_and_shaped_like_ruffs() -> None:
    assert all(re.fullmatch(r"[EW]\d{3}", code) for code in CODES)
    assert len(set(CODES.values())) == len(CODES)


def test_the_readme_table_lists_exactly_the_codes() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([EW]\d{3})` \| (.+?) \|$", readme, re.MULTILINE))
    assert rows == CODES


def test_a_problem_line_shows_its_code_after_the_place(envres_cli: Cli, project: Project) -> None:
    project.profile("dev.yaml", "resources:\n  warehouse:\n    type: duckdbb\n")
    result = envres_cli("validate", cwd=project)
    assert result.code == 1
    assert result.err_lines[0].startswith(
        "profiles/dev.yaml:3:11: E301 resources.warehouse.type: unknown resource type 'duckdbb'"
    )


def test_an_unset_variable_keeps_its_code_when_it_is_only_a_warning(
    envres_cli: Cli, project: Project
) -> None:
    project.profile(
        "dev.yaml",
        "resources:\n  warehouse:\n    type: duckdb\n    config:\n      path: ${NOPE}\n"
        "  notifier:\n    type: console\n",
    )
    failed = envres_cli("validate", cwd=project)
    warned = envres_cli("validate", "--allow-missing-env", cwd=project)
    assert failed.err_lines[0] == (
        "profiles/dev.yaml:5:13: E401 resources.warehouse.config.path: "
        "environment variable NOPE is not set"
    )
    assert warned.err_lines[0] == (
        "profiles/dev.yaml:5:13: warning: E401 resources.warehouse.config.path: "
        "environment variable NOPE is not set"
    )
