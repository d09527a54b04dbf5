"""``envres init``: a small working project to start from."""

from __future__ import annotations

from pathlib import Path

from envres._errors import Problem, ProfileError

__all__ = ["scaffold"]

_PYPROJECT = """[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["envres"]

[tool.envres]
definitions = "pipeline:defs"
profiles_dir = "profiles"
default_profile = "dev"
"""

_TOOL_TABLE = """
[tool.envres]
definitions = "pipeline:defs"
profiles_dir = "profiles"
default_profile = "dev"
"""

_BASE = """# Shared by every profile: each key is a resource the assets ask for by name.
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

_DEV = """extends: base
"""

_PROD = """extends: base
resources:
  warehouse:
    config:
      path: ${WAREHOUSE_PATH:?set WAREHOUSE_PATH to the production database file}
"""

_PIPELINE = '''"""A small pipeline: replace the SQLite warehouse with yours."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import envres


class Warehouse(envres.Resource):
    """What assets need from a warehouse."""

    def query(self, sql: str) -> list[tuple[object, ...]]:
        raise NotImplementedError


class SQLiteWarehouse(Warehouse):
    path: str = ":memory:"

    def lifespan(self) -> Iterator[None]:
        self._conn = sqlite3.connect(self.path, check_same_thread=False)
        yield
        self._conn.close()

    def query(self, sql: str) -> list[tuple[object, ...]]:
        return self._conn.execute(sql).fetchall()


@envres.resource
def console(prefix: str = "") -> Iterator[object]:
    yield lambda message: print(prefix, message)


@envres.asset
def numbers(warehouse: Warehouse) -> list[int]:
    return [row[0] for row in warehouse.query("select 1 union all select 2 union all select 3")]


@envres.asset
def total(numbers: list[int], notifier) -> int:  # type: ignore[no-untyped-def]
    result = sum(numbers)
    notifier(f"total is {result}")
    return result


defs = envres.Definitions(
    assets=[numbers, total],
    resource_types={"sqlite": SQLiteWarehouse, "console": console},
)
'''


def scaffold(folder: Path) -> list[Path]:
    """Write the starter files into ``folder``; refuse to overwrite anything."""
    folder.mkdir(parents=True, exist_ok=True)
    pyproject = folder / "pyproject.toml"
    files = {
        folder / "profiles" / "base.yaml": _BASE,
        folder / "profiles" / "dev.yaml": _DEV,
        folder / "profiles" / "prod.yaml": _PROD,
        folder / "pipeline.py": _PIPELINE,
    }
    clashes = [p for p in files if p.exists()]
    if pyproject.exists() and "[tool.envres]" in pyproject.read_text(encoding="utf-8"):
        clashes.append(pyproject)
    if clashes:
        raise ProfileError(
            [
                Problem(f"{p} already exists; envres init only writes into an empty folder")
                for p in clashes
            ]
        )
    written: list[Path] = []
    if pyproject.exists():
        with pyproject.open("a", encoding="utf-8") as fh:
            fh.write(_TOOL_TABLE)
    else:
        name = folder.resolve().name.replace(" ", "-") or "pipeline"
        pyproject.write_text(_PYPROJECT.format(name=name), encoding="utf-8")
    written.append(pyproject)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
