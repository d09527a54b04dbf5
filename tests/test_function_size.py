"""No function in envres runs past 60 lines: each reads as one step of the pipeline.

A longer function has, so far every time, mixed jobs (parse and merge, locate and
report); splitting it where the jobs are gave each step a name and a docstring.
Lines are counted from ``def`` to the function's last line, docstring and nested
functions included, decorators not.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 60


def long_functions(root: Path, package: str) -> list[str]:
    """``path:line name (N lines)`` of every function under ``root/package`` past LIMIT."""
    found: list[str] = []
    for path in sorted((root / package).rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), relative)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            if length > LIMIT:
                found.append(f"{relative}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_in_envres_is_longer_than_60_lines() -> None:
    too_long = long_functions(ROOT, "envres")
    assert too_long == [], (
        "split these where their jobs are (each step a function with a docstring line):\n"
        + "\n".join(too_long)
    )


def _function(name: str, lines: int, indent: str = "") -> str:
    body = [f"{indent}    x = {i}\n" for i in range(lines - 2)]
    return f"{indent}def {name}() -> int:\n" + "".join(body) + f"{indent}    return x\n"


def test_the_count_flags_61_lines_and_passes_60_methods_and_nested_included(
    tmp_path: Path,
) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text(_function("fits", 60) + "\n\n" + _function("over", 61))
    nested = "class C:\n" + _function("method", 61, "    ")
    nested += "\n\ndef outer() -> None:\n" + _function("inner", 59, "    ")
    (package / "sub" / "b.py").write_text(nested)
    assert long_functions(tmp_path, "pkg") == [
        "pkg/a.py:63 over (61 lines)",
        "pkg/sub/b.py:2 method (61 lines)",
        # outer is its own line plus inner's 59: 60, within the limit.
    ]
