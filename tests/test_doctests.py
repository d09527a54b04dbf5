"""The examples in envres's docstrings run, and say what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import envres

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(envres.__path__, "envres.")
    if not info.name.startswith(("envres.dagster", "envres._integrations._dagster"))
    and info.name not in ("envres._executors._dask", "envres.__main__")
)


def test_the_modules_with_examples_are_all_found() -> None:
    assert {"envres._secrets", "envres._interpolate", "envres._template"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
