"""Each command imports only what it needs (issue 22): real processes, their modules listed.

A ``sitecustomize`` module put on the child's path writes ``sorted(sys.modules)`` to
a file at interpreter exit (its exit handler, registered first, runs last), so
each test sees every module a real ``envres`` process imported, start to end.
Deterministic: which modules, never how long they took. Each absence has a
positive control that makes the same process import the module, so the hook and
the assertions can fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.conftest import Project, make_project

HOOK = """\
import atexit
import os
import sys

_OUT = os.environ.get("STARTUP_MODULES_FILE")
if _OUT:

    def _dump() -> None:
        with open(_OUT, "w", encoding="utf-8") as fh:
            fh.write("\\n".join(sorted(sys.modules)))

    atexit.register(_dump)
"""

#: Modules no command on a profile without templates needs, and the ones that
#: only other commands (docs, schema, graph, init, a Dask run, Dagster) import.
NOT_FOR_VALIDATE_OR_RUN = (
    "jinja2",
    "pydantic_settings",
    "envres._settings_env",
    "envres._cli._docs",
    "envres._cli._schema",
    "envres._cli._graph",
    "envres._cli._scaffold",
    "envres._executors._dask",
    "envres._integrations",
    "dask",
    "distributed",
    "dagster",
    "boto3",
    "botocore",
)
#: What ``--help`` and completion do without: the profile and validation machinery.
NOT_FOR_HELP = (
    *NOT_FOR_VALIDATE_OR_RUN,
    "pydantic",
    "yaml",
    "envres._load",
    "envres._profiles",
    "envres._validate",
    "envres._settings",
)


@pytest.fixture
def modules(tmp_path: Path) -> Modules:
    return Modules(tmp_path / "hook")


class Modules:
    """Runs ``python -m envres ...`` and answers which modules that process imported."""

    def __init__(self, hook_dir: Path) -> None:
        hook_dir.mkdir()
        (hook_dir / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
        self.hook_dir = hook_dir
        self.count = 0
        self.stdout = ""

    def of(self, *args: str, cwd: Path, env: Mapping[str, str] | None = None) -> set[str]:
        self.count += 1
        out = self.hook_dir / f"modules{self.count}.txt"
        full = {k: v for k, v in os.environ.items() if not k.startswith(("ENVRES_", "_ENVRES"))}
        full.update(env or {})
        full["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(self.hook_dir), full.get("PYTHONPATH", "")) if p
        )
        full["STARTUP_MODULES_FILE"] = str(out)
        proc = subprocess.run(
            [sys.executable, "-m", "envres", *args],
            cwd=cwd,
            env=full,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        self.stdout = proc.stdout
        return set(out.read_text(encoding="utf-8").split())


def _loaded(found: set[str], names: tuple[str, ...]) -> list[str]:
    """The names in ``names`` that were imported (a package or any module inside it)."""
    return [n for n in names if n in found or any(m.startswith(n + ".") for m in found)]


@pytest.fixture
def shop_like(tmp_path: Path) -> Project:
    """The standard project: a profile without templates, no env files."""
    return make_project(tmp_path / "proj")


def test_validate_imports_only_what_validating_needs(modules: Modules, shop_like: Project) -> None:
    found = modules.of("validate", cwd=shop_like.root)
    assert "envres._validate" in found and "yaml" in found  # it did validate
    assert _loaded(found, NOT_FOR_VALIDATE_OR_RUN) == []


def test_run_imports_only_what_running_needs(modules: Modules, shop_like: Project) -> None:
    found = modules.of("run", cwd=shop_like.root)
    assert "envres._executors._local" in found  # it did run
    assert _loaded(found, NOT_FOR_VALIDATE_OR_RUN) == []


@pytest.mark.parametrize(
    ("prefix", "jinja2"),
    [
        pytest.param('"{{ profile | upper }}"', True, id="a-filter-needs-jinja2"),
        pytest.param("plain", False, id="only-naming-the-profile-does-not"),
    ],
)
def test_jinja2_is_imported_only_for_a_template_beyond_naming_the_profile(
    modules: Modules, shop_like: Project, prefix: str, jinja2: bool
) -> None:
    shop_like.profile(
        "dev.yaml",
        f"""\
        resources:
          warehouse:
            type: duckdb
            config:
              path: "data/{{{{ profile }}}}.duckdb"
          notifier:
            type: console
            config:
              prefix: {prefix}
        """,
    )
    assert ("jinja2" in modules.of("validate", cwd=shop_like.root)) is jinja2


def test_a_list_in_an_envres_variable_imports_pydantic_settings(
    modules: Modules, shop_like: Project
) -> None:
    found = modules.of("validate", cwd=shop_like.root, env={"ENVRES_SECRET_NAMES": '["PIN"]'})
    assert "pydantic_settings" in found


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--help",), {}),
        (("validate", "--help"), {}),
        ((), {"_ENVRES_COMPLETE": "bash_complete", "COMP_WORDS": "envres v", "COMP_CWORD": "1"}),
    ],
    ids=["help", "command-help", "complete-a-command"],
)
def test_help_and_completion_import_no_profile_machinery(
    modules: Modules, shop_like: Project, args: tuple[str, ...], env: dict[str, str]
) -> None:
    found = modules.of(*args, cwd=shop_like.root, env=env)
    assert "click" in found  # the command line did answer
    assert _loaded(found, NOT_FOR_HELP) == []


def test_completing_a_profile_name_imports_no_settings_model_yaml_or_validation(
    modules: Modules, shop_like: Project
) -> None:
    shop_like.profile("prod.yaml", "extends: dev\n")
    env = {
        "_ENVRES_COMPLETE": "bash_complete",
        "COMP_WORDS": "envres validate --profile ",
        "COMP_CWORD": "3",
    }
    found = modules.of(cwd=shop_like.root, env=env)
    assert modules.stdout.split() == ["plain,dev", "plain,prod"]  # it did complete
    listing = [name for name in NOT_FOR_HELP if name != "envres._profiles"]  # it lists them
    assert _loaded(found, tuple(listing)) == []


def test_the_hook_sees_what_a_command_imports(modules: Modules, tmp_path: Path) -> None:
    # The control for the absences above: the same hook lists a module a command must
    # import (the project's own definitions) and one the project imports itself.
    project = make_project(
        tmp_path / "ctl",
        definitions=textwrap.dedent(
            """\
            import colorsys

            import envres

            defs = envres.Definitions(assets=[], resource_types={})
            """
        ),
        profiles={"dev.yaml": "resources: {}\n"},
    )
    found = modules.of("validate", cwd=project.root)
    assert {"pipeline", "colorsys"} <= found
