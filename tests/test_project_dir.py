"""Where the project is: found from any folder inside it, and given to profiles."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BASE, Cli, Project, make_project


def test_every_command_finds_the_project_from_a_subfolder(
    envres_cli: Cli, project: Project
) -> None:
    sub = project.root / "tests" / "deeper"
    sub.mkdir(parents=True)
    validated = envres_cli("validate", cwd=sub)
    assert (validated.code, validated.out) == (
        0,
        "profile 'dev' is valid (2 resources, 2 assets)\n",
    )
    listed = envres_cli("profiles", cwd=sub)
    assert listed.code == 0, listed.err
    assert listed.out.splitlines()[1].split()[0] == "dev"
    ran = envres_cli("run", cwd=sub)
    assert ran.code == 0, ran.err


def test_the_nearest_project_wins_and_a_pyproject_without_the_table_is_passed_by(
    envres_cli: Cli, tmp_path: Path
) -> None:
    outer = make_project(tmp_path / "outer")
    inner = make_project(outer.root / "inner", profiles={"inner.yaml": BASE})
    plain = inner.root / "pkg"
    plain.mkdir()
    (plain / "pyproject.toml").write_text('[project]\nname = "pkg"\n[tool.ruff]\n')
    listed = envres_cli("profiles", cwd=plain)
    assert listed.code == 0, listed.err
    assert [line.split()[0] for line in listed.out.splitlines()[1:]] == ["inner"]


def test_outside_any_project_the_current_folder_is_used_and_the_message_names_it(
    envres_cli: Cli, tmp_path: Path
) -> None:
    result = envres_cli("validate", cwd=tmp_path)
    assert result.code == 1
    assert "profiles does not exist" in result.err


def test_a_broken_pyproject_naming_envres_stops_the_walk_and_is_reported(
    envres_cli: Cli, project: Project
) -> None:
    sub = project.root / "sub"
    sub.mkdir()
    (sub / "pyproject.toml").write_text("[tool.envres\n")
    result = envres_cli("validate", cwd=sub)
    assert result.code == 1
    assert result.err_lines[0].startswith("pyproject.toml:1:1: E601 cannot read it:")


_PATHS = """\
resources:
  warehouse:
    type: duckdb
    config:
      path: ${ENVRES_PROJECT_DIR}/data/{{ profile }}.duckdb
  notifier:
    type: console
    config:
      prefix: "{{ project_dir }}"
"""


def test_profiles_name_the_project_folder_the_same_from_anywhere(
    envres_cli: Cli, tmp_path: Path
) -> None:
    proj = make_project(tmp_path / "proj", profiles={"dev.yaml": _PATHS})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    expected = str(proj.root.resolve())
    for cwd, args in [
        (proj.root, ()),
        (proj.root / "profiles", ()),
        (elsewhere, ("--project", str(proj.root))),
    ]:
        shown = envres_cli("show", *args, cwd=cwd)
        assert shown.code == 0, shown.err
        assert f"path: {expected}/data/dev.duckdb" in shown.out.splitlines()[4]
        assert f"prefix: {expected}" in shown.out


def test_the_project_folder_variable_cannot_be_overridden_by_the_environment(
    envres_cli: Cli, tmp_path: Path
) -> None:
    proj = make_project(tmp_path / "proj", profiles={"dev.yaml": _PATHS})
    shown = envres_cli("show", cwd=proj.root, env={"ENVRES_PROJECT_DIR": "/somewhere/else"})
    assert f"path: {proj.root.resolve()}/data/dev.duckdb" in shown.out
    listed = envres_cli("env", cwd=proj.root)
    row = next(line for line in listed.out.splitlines() if line.startswith("ENVRES_PROJECT_DIR"))
    assert row.split()[1:4] == ["set", "(the", "project"], row


def test_a_variable_read_in_another_ones_default_is_explained_once_with_its_own_source(
    envres_cli: Cli, tmp_path: Path
) -> None:
    nested = _PATHS.replace(
        "${ENVRES_PROJECT_DIR}/data/{{ profile }}.duckdb",
        "${WH_PATH_UNSET_7F:-${ENVRES_PROJECT_DIR}/data/dev.duckdb}",
    )
    proj = make_project(tmp_path / "proj", profiles={"dev.yaml": nested})
    explained = envres_cli("show", "--explain", cwd=proj.root)
    assert explained.code == 0, explained.err
    line = next(x for x in explained.out.splitlines() if x.lstrip().startswith("path:"))
    assert line.endswith(
        "<- ${WH_PATH_UNSET_7F:-${ENVRES_PROJECT_DIR}/data/dev.duckdb} "
        "(not set, default used; ENVRES_PROJECT_DIR: the project folder)"
    ), line
    listed = envres_cli("env", cwd=proj.root).out.splitlines()
    rows = {line.split()[0]: line.split() for line in listed[1:]}
    # The default belongs to WH_PATH_UNSET_7F, not to the variable read inside it.
    assert rows["ENVRES_PROJECT_DIR"][6] == "-", rows
    assert rows["WH_PATH_UNSET_7F"][4] == "${ENVRES_PROJECT_DIR}/data/dev.duckdb", rows


def test_the_pytest_fixture_finds_the_project_from_a_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, envres_bind: Callable[..., Any]
) -> None:
    proj = make_project(tmp_path / "proj", profiles={"dev.yaml": _PATHS})
    sub = proj.root / "tests"
    sub.mkdir()
    monkeypatch.chdir(sub)
    monkeypatch.syspath_prepend(str(proj.root))
    module = importlib.import_module("pipeline")
    try:
        result = envres_bind(module.defs, "dev", env={}).run(["orders"])
    finally:
        sys.modules.pop("pipeline", None)
    assert result["orders"] == f"duckdb:{proj.root.resolve()}/data/dev.duckdb:orders"
