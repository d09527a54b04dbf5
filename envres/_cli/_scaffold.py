"""``envres init``: a small working project to start from.

Besides ``pyproject.toml`` (with pytest's ``pythonpath``), the profiles,
``pipeline.py``, ``tests/test_pipeline.py`` (which uses envres's pytest fixtures),
``.env.example`` and a ``.gitignore`` that keeps ``.env`` out of git, it writes
``profiles/envres.schema.json``, the JSON Schema of a profile for the scaffolded
resource types (what ``envres schema`` prints), and each profile's first line points
an editor with a YAML language server (VS Code's YAML extension, Neovim, Helix, ...)
at it::

    # yaml-language-server: $schema=envres.schema.json

so a mistyped field or a literal of the wrong type is underlined as you type. After
adding or changing resource types, regenerate it::

    envres schema > profiles/envres.schema.json
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from envres._cli._schema import schema
from envres._codes import INIT
from envres._errors import Problem, ProfileError
from envres._paths import display, read_file

__all__ = ["GITHUB_WORKFLOW", "GITHUB_WORKFLOW_PATH", "scaffold"]

_SOURCE = "envres init"

_PYPROJECT = """[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.11"
# envres is not on PyPI yet: install it into this environment first, from its wheel or
# a clone (pip install /path/to/envres), and `pip install -e .` finds it there.
dependencies = ["envres"]

[tool.envres]
definitions = "pipeline:defs"
profiles_dir = "profiles"
default_profile = "dev"

[tool.pytest.ini_options]
# The project folder is importable, so tests/ can `import pipeline`.
pythonpath = ["."]
testpaths = ["tests"]
"""

_TOOL_TABLE = """
[tool.envres]
definitions = "pipeline:defs"
profiles_dir = "profiles"
default_profile = "dev"
"""

_GITIGNORE = """# Local values of the profiles' variables: never committed (.env.example is).
.env
__pycache__/
.venv/
"""

_ENV_EXAMPLE = """# Copy to .env (git-ignored) and fill in; envres reads .env beside pyproject.toml.
# The process environment wins over it. `envres env --profile prod` lists what a
# profile reads.
# WAREHOUSE_PATH=data/prod.sqlite
"""

_TEST = '''"""Tests of the pipeline, with envres's pytest fixtures (no real notifier needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline import defs, total


def test_total_adds_the_numbers_and_says_so(envres_call: Callable[..., Any]) -> None:
    said: list[str] = []
    assert envres_call(total, numbers=[1, 2, 3], notifier=said.append) == 6
    assert said == ["total is 6"]


def test_the_dev_profile_runs_with_a_fake_notifier(envres_bind: Callable[..., Any]) -> None:
    said: list[str] = []
    result = envres_bind(defs, "dev", notifier=said.append).run()
    assert result["total"] == 6
    assert said == ["total is 6"]
'''

#: The schema file, next to the profiles; each profile's first line points editors at it.
_SCHEMA_FILE = "envres.schema.json"

_BASE = """# yaml-language-server: $schema=envres.schema.json
# Shared by every profile: each key is a resource the assets ask for by name.
resources:
  warehouse:
    type: sqlite
    config:
      path: ${WAREHOUSE_PATH:-:memory:}
  notifier:
    type: console
    config:
      prefix: "[{{ profile }}]"
"""

_DEV = """# yaml-language-server: $schema=envres.schema.json
extends: base
"""

_PROD = """# yaml-language-server: $schema=envres.schema.json
extends: base
resources:
  warehouse:
    config:
      path: ${WAREHOUSE_PATH:?set WAREHOUSE_PATH to the production database file}
"""

_PIPELINE = '''"""A small pipeline: replace the SQLite warehouse with yours."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import envres


class Warehouse(envres.Resource):
    """What assets need from a warehouse."""

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError


class SQLiteWarehouse(Warehouse):
    path: str = ":memory:"

    def lifespan(self) -> Iterator[None]:
        self._conn = sqlite3.connect(self.path, check_same_thread=False)
        yield
        self._conn.close()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql).fetchall()


@envres.resource
def console(prefix: str = "") -> Iterator[Callable[[str], None]]:
    yield lambda message: print(prefix, message)


@envres.asset
def numbers(warehouse: Warehouse) -> list[int]:
    return [row[0] for row in warehouse.query("select 1 union all select 2 union all select 3")]


@envres.asset
def total(numbers: list[int], notifier: Callable[[str], None]) -> int:
    result = sum(numbers)
    notifier(f"total is {result}")
    return result


defs = envres.Definitions(
    assets=[numbers, total],
    resource_types={"sqlite": SQLiteWarehouse, "console": console},
)
'''


#: ``envres init --ci github``: validate every profile offline on each pull request, and
#: annotate what it changes in each profile against the target branch.
GITHUB_WORKFLOW = """\
# envres: every profile validated offline, and what the pull request changes in each.
name: envres
on:
  pull_request:
    paths: ["profiles/**", "pyproject.toml", "**.env", "**/.env*", "*.py"]
jobs:
  profiles:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0  # the target branch too: envres diff reads it through git
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: pip install envres  # and what the definitions import (or: pip install .)
      - name: Validate every profile (unset variables are warnings; no secret needed)
        run: envres validate --all --allow-missing-env --format github
      - name: What this pull request changes in each profile
        run: |
          for file in profiles/[!_]*.yaml; do
            name=$(basename "$file" .yaml)
            if git cat-file -e "origin/$GITHUB_BASE_REF:$file" 2>/dev/null; then
              envres diff "$name@origin/$GITHUB_BASE_REF" "$name" --format github
            else
              echo "::notice file=$file::new profile '$name'"
            fi
          done
"""

#: Where ``--ci github`` writes the workflow, relative to the project folder.
GITHUB_WORKFLOW_PATH = ".github/workflows/envres.yml"


def scaffold(folder: Path, ci: str | None = None) -> list[str]:
    """Write the starter files into ``folder``; return what was done, one line each.

    ``ci="github"`` adds a GitHub Actions workflow (:data:`GITHUB_WORKFLOW`).

    The folder may hold files of its own: a ``pyproject.toml`` without
    ``[tool.envres]`` gets the table appended (its dependencies and pytest settings
    stay the user's, and the returned line says to add envres), a ``.gitignore``
    gets ``.env`` appended. Everything is checked before anything is written: an
    existing ``[tool.envres]`` (in any TOML spelling), a starter file that exists, a
    ``profiles`` or ``tests`` that is not a folder, or a ``pyproject.toml`` that is
    not valid TOML refuses the whole scaffold with a :class:`ProfileError`, and
    nothing is written.
    """
    _check_folder(folder)
    pyproject = folder / "pyproject.toml"
    gitignore = folder / ".gitignore"
    files = _starter_files(folder, ci)
    problems = [
        Problem(
            f"{display(p)} already exists; envres init never overwrites a file",
            source=_SOURCE,
            code=INIT,
        )
        for p in files
        if p.exists() or p.is_symlink()
    ]
    ignored = _read_gitignore(gitignore, problems)
    for sub in (folder / "profiles", folder / "tests"):
        if sub.exists() and not sub.is_dir():
            problems.append(
                Problem(f"{display(sub)} exists and is not a folder", source=_SOURCE, code=INIT)
            )
    existing = _read_pyproject(pyproject, problems)
    if problems:
        raise ProfileError(problems)
    folder.mkdir(parents=True, exist_ok=True)
    done = [_write_pyproject(folder, pyproject, existing)]
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        done.append(f"created {display(path)}")
    if ignored is None:
        gitignore.write_text(_GITIGNORE, encoding="utf-8")
        done.append(f"created {display(gitignore)}")
    elif ".env" not in (line.strip() for line in ignored.splitlines()):
        gitignore.write_text(_appended(ignored, ".env\n"), encoding="utf-8")
        done.append(f"added .env to {display(gitignore)}")
    return done


def _check_folder(folder: Path) -> None:
    """Refuse a ``folder`` that is, or sits under, something that is not a folder."""
    for parent in (folder, *folder.parents):
        if parent.is_symlink() or parent.exists():
            if not parent.is_dir():
                raise ProfileError(
                    [
                        Problem(
                            f"{display(parent)} exists and is not a folder",
                            source=_SOURCE,
                            code=INIT,
                        )
                    ]
                )
            break


def _starter_files(folder: Path, ci: str | None) -> dict[Path, str]:
    """The files ``envres init`` creates, by path, with their text."""
    profiles = folder / "profiles"
    files = {
        profiles / "base.yaml": _BASE,
        profiles / "dev.yaml": _DEV,
        profiles / "prod.yaml": _PROD,
        profiles / _SCHEMA_FILE: _schema_text(),
        folder / "pipeline.py": _PIPELINE,
        folder / ".env.example": _ENV_EXAMPLE,
        folder / "tests" / "test_pipeline.py": _TEST,
    }
    if ci == "github":
        files[folder / GITHUB_WORKFLOW_PATH] = GITHUB_WORKFLOW
    return files


def _read_gitignore(gitignore: Path, problems: list[Problem]) -> str | None:
    """The text of an existing ``.gitignore`` (``None`` if there is none, or it is refused)."""
    if gitignore.is_symlink() or (gitignore.exists() and not gitignore.is_file()):
        problems.append(
            Problem(
                f"{display(gitignore)} is not a regular file; envres init leaves it alone",
                source=_SOURCE,
                code=INIT,
            )
        )
    elif gitignore.exists():
        try:
            return read_file(gitignore).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(
                Problem(f"{display(gitignore)} cannot be read: {exc}", source=_SOURCE, code=INIT)
            )
    return None


def _read_pyproject(pyproject: Path, problems: list[Problem]) -> str | None:
    """The text of an existing ``pyproject.toml`` that can take ``[tool.envres]``, if any."""
    if pyproject.is_symlink():
        problems.append(
            Problem(
                f"{display(pyproject)} is a symbolic link; envres init does not write through "
                "links",
                source=_SOURCE,
                code=INIT,
            )
        )
        return None
    if not pyproject.exists():
        return None
    existing: str | None = None
    try:
        existing = read_file(pyproject).decode("utf-8")
        data = tomllib.loads(existing)
    except OSError as exc:
        problems.append(
            Problem(
                f"{display(pyproject)} cannot be read: {exc.strerror or exc}",
                source=_SOURCE,
                code=INIT,
            )
        )
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        problems.append(
            Problem(
                f"{display(pyproject)} cannot be read as TOML ({exc}); fix it first",
                source=_SOURCE,
                code=INIT,
            )
        )
    else:
        _check_tool_table(pyproject, existing, data.get("tool"), problems)
    return existing


def _check_tool_table(pyproject: Path, text: str, tool: object, problems: list[Problem]) -> None:
    """Refuse a ``pyproject.toml`` that has ``[tool.envres]`` or an inline ``[tool]``."""
    if isinstance(tool, dict) and "envres" in tool:
        problems.append(
            Problem(
                f"{display(pyproject)} already has a [tool.envres] table; "
                "envres init only writes into a project without one",
                source=_SOURCE,
                code=INIT,
            )
        )
    elif isinstance(tool, dict) and not _appendable(text):
        problems.append(
            Problem(
                f"{display(pyproject)} defines [tool] inline; add the [tool.envres] "
                "table by hand (see envres's README)",
                source=_SOURCE,
                code=INIT,
            )
        )


def _write_pyproject(folder: Path, pyproject: Path, existing: str | None) -> str:
    """Append ``[tool.envres]`` to ``existing``, or write a new ``pyproject.toml``; say which."""
    if existing is not None:
        pyproject.write_text(_appended(existing, _TOOL_TABLE), encoding="utf-8")
        return (
            f"appended [tool.envres] to {display(pyproject)} (its dependencies are yours: "
            'add envres to them, and pythonpath = ["."] to pytest\'s settings so tests can '
            "import pipeline)"
        )
    name = folder.resolve().name.replace(" ", "-") or "pipeline"
    pyproject.write_text(_PYPROJECT.format(name=name), encoding="utf-8")
    return f"created {display(pyproject)}"


def _appended(text: str, addition: str) -> str:
    """``text`` with ``addition`` after it, on a line of its own."""
    separator = "" if text.endswith("\n") or not text else "\n"
    return text + separator + addition


def _schema_text() -> str:
    """The profile schema for the resource types of ``pipeline.py``, as ``envres schema`` prints it.

    The types come from running the very source that is written to ``pipeline.py``
    (a constant of this module, not the user's file) in a namespace of its own: nothing
    is imported from the folder, ``sys.path`` and ``sys.modules`` are left alone, and
    it happens before anything is written.
    """
    namespace: dict[str, Any] = {"__name__": "envres_init_pipeline"}
    exec(compile(_PIPELINE, "pipeline.py", "exec"), namespace)
    return json.dumps(schema(namespace["defs"].resource_types), indent=2) + "\n"


def _appendable(text: str) -> bool:
    """Whether appending a ``[tool.envres]`` table keeps ``text`` valid TOML."""
    try:
        tomllib.loads(text + "\n" + _TOOL_TABLE)
    except tomllib.TOMLDecodeError:
        return False
    return True
