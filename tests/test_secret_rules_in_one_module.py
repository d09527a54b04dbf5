"""The design that keeps secrets out of output, kept by a test.

One module, ``envres/_secrets.py``, decides what a secret is: the name rule, the
type rule, what a computed value inherits, every spelling, the mask itself. One
module, ``envres/_gate.py``, is the door output leaves by (descriptors, streams,
log records). Every other module asks them; none decides on its own. A new output
path written with its own masking (``if "password" in key``, ``"**********"``, a
logging filter) fails here, before it leaks somewhere nobody tested.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import envres
from envres._secrets import DEFAULT_SECRET_NAMES, MASK

PACKAGE = Path(envres.__file__).parent
RULES = "_secrets.py"
GATE = "_gate.py"

#: What only the rules module may use: the mask, the shape markers, the raw walkers.
RULE_PRIMITIVES = {"MASK", "SECRET", "PLAIN", "texts", "secret_leaves", "_forms", "_SPELLINGS"}
#: What only the gate may do with the output.
GATE_CALLS = {"setLogRecordFactory", "addFilter"}


def violations(source: str, name: str) -> list[str]:
    """What in ``source`` (the module file ``name``) decides about secrets by itself."""
    tree = ast.parse(source)
    found: list[str] = []
    # Documentation may say what the mask looks like; code may not write it.
    docstrings = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
    }
    patterns = set(DEFAULT_SECRET_NAMES.patterns)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.ImportFrom) and node.module == "envres._secrets":
            for alias in node.names:
                if alias.name in RULE_PRIMITIVES:
                    found.append(f"{name}:{line}: imports {alias.name} from the rules")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if MASK in node.value and id(node) not in docstrings:
                found.append(f"{name}:{line}: writes the mask itself")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            receiver_name = (
                receiver.id
                if isinstance(receiver, ast.Name)
                else receiver.attr
                if isinstance(receiver, ast.Attribute)
                else ""
            )
            if node.func.attr == "match" and receiver_name.lower().endswith("names"):
                found.append(f"{name}:{line}: matches secret names itself")
            if node.func.attr in GATE_CALLS and name != GATE:
                found.append(f"{name}:{line}: {node.func.attr} outside the gate")
        elif isinstance(node, ast.List | ast.Tuple | ast.Set):
            words = {
                e.value.lower().replace("_", "")
                for e in node.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)
            }
            if len(words & patterns) >= 2:
                found.append(f"{name}:{line}: a list of secret names of its own")
        elif isinstance(node, ast.ClassDef):
            bases = {
                b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases
            }
            if "Filter" in bases and name != GATE:
                found.append(f"{name}:{line}: a logging filter outside the gate")
    return found


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != RULES)


def test_no_module_but_the_rules_decides_what_a_secret_is_and_none_but_the_gate_masks_output() -> (
    None
):
    found = [
        v
        for path in modules()
        for v in violations(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE)))
    ]
    assert found == []


def test_the_rules_and_the_gate_are_where_this_test_looks() -> None:
    rules = (PACKAGE / RULES).read_text(encoding="utf-8")
    assert "MASK: Final" in rules and "class SecretNames" in rules
    assert "class Gate" in (PACKAGE / GATE).read_text(encoding="utf-8")
    assert len(modules()) > 40  # the whole package is looked at, subpackages included


@pytest.mark.parametrize(
    ("snippet", "why"),
    [
        ("from envres._secrets import MASK\n", "imports MASK"),
        ("shown = '**********'\n", "writes the mask itself"),
        ("def f(names, key):\n    return names.match(key)\n", "matches secret names itself"),
        ("def f(p):\n    return p.names.match('x')\n", "matches secret names itself"),
        ("SENSITIVE = ('password', 'token', 'host')\n", "a list of secret names"),
        ("import logging\nlogging.setLogRecordFactory(print)\n", "setLogRecordFactory"),
        ("import logging\nclass F(logging.Filter):\n    pass\n", "a logging filter"),
        ("def f(h, x):\n    h.addFilter(x)\n", "addFilter outside the gate"),
    ],
)
def test_the_check_catches_each_way_of_deciding_elsewhere(snippet: str, why: str) -> None:
    found = violations(snippet, "_cli/_new_output.py")
    assert len(found) == 1 and why in found[0], found


def test_the_check_leaves_ordinary_code_alone() -> None:
    snippet = (
        "from envres._secrets import Redactor, secret_name\n"
        "import re\n"
        "PATTERN = re.compile('x')\n"
        "def f(r: Redactor, key: str) -> str:\n"
        "    return r.redact(key) if secret_name(key) else PATTERN.match(key)\n"
    )
    assert violations(snippet, "_cli/_new_output.py") == []
