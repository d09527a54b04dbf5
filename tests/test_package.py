"""The shape of the package itself: what STYLE.md asks of the house, checked on every run.

- no import cycle among envres's modules, function-local and TYPE_CHECKING imports
  included (they only hide a cycle);
- no private name (``_x``) imported from another envres module: what crosses a
  module boundary has a public name in its module;
- only the modules that own the job read the process environment.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "envres"


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[tuple[str, str | None]]:
    """(module, imported name) for every envres import in the module, at any depth."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[tuple[str, str | None]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update((a.name, None) for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:
                    out.add((sub, None))
                if base in known:  # `from pkg import mod` imports pkg/__init__ too
                    out.add((base, None if sub in known else alias.name))
    return {(m, n) for m, n in out if m not in (name, "envres")}


def test_no_import_cycle_among_the_package_modules() -> None:
    known = modules()
    graph = {name: {m for m, _ in imports(name, path, set(known))} for name, path in known.items()}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_no_private_name_crosses_a_module_boundary() -> None:
    known = modules()
    crossing = sorted(
        f"{name} imports {imported} from {module}"
        for name, path in known.items()
        for module, imported in imports(name, path, set(known))
        if imported is not None and imported.startswith("_") and not imported.startswith("__")
    )
    assert crossing == []


def test_only_the_loader_and_the_entry_points_read_the_process_environment() -> None:
    def reads_environ(path: Path) -> bool:
        return any(
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "getenv")
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )

    readers = sorted(name for name, path in modules().items() if reads_environ(path))
    assert readers == [
        "envres._bound",
        "envres._cli",  # the entry point: secret-named variables are masked from the start
        "envres._cli._app",
        "envres._cli._session",  # NO_COLOR
        "envres._integrations._dagster",  # writes the variables Dagster's EnvVar reads
        "envres._integrations.pytest_plugin",  # pytest's entry point: ENVRES_PROJECT first
        "envres._load",
        "envres._project",
    ]
