"""Importing user code by name: the one place ``"package.module:attr"`` is resolved.

Profiles name resource types as import paths, ``[tool.envres]`` names the
definitions object, and Dask workers find assets and types again by path. All of
them come here, so they share the rules:

- the path is ``module:qualname`` (``pkgutil.resolve_name`` does the lookup);
- whatever the imported module prints goes to stderr, never into a command's
  stdout (``show --format json`` must stay JSON);
- any exception raised while importing, ``SystemExit`` included, becomes one
  :class:`ImportPathError` (the original kept as ``__cause__``); only an
  interrupt (Ctrl-C, SIGTERM) passes through.
- :class:`ImportPolicy` lets a project restrict which modules profiles may name.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import sys
from collections.abc import Iterator
from typing import Final, Literal

from envres._errors import INTERRUPTS, EnvresError
from envres._record import Record

__all__ = ["ImportPathError", "ImportPolicy", "import_object", "one_line", "stdout_to_stderr"]


ImportFailure = Literal["malformed", "no_module", "no_attribute", "raised"]


class ImportPathError(EnvresError, ImportError):
    """``path`` could not be imported; ``reason`` says why in one line, ``kind`` what failed.

    ``kind`` is ``"malformed"`` (not ``module:name``), ``"no_module"`` (the module
    itself is not found), ``"no_attribute"`` or ``"raised"`` (importing raised; the
    exception is the ``__cause__``).
    """

    def __init__(self, path: str, reason: str, kind: ImportFailure) -> None:
        self.path = path
        self.reason = reason
        self.kind: ImportFailure = kind
        super().__init__(f"cannot import '{path}': {reason}")


class ImportPolicy(Record):
    """Which import paths a profile's ``type:`` may name.

    ``prefixes`` is ``None`` to allow any module, or the module prefixes allowed
    (``("mycompany.resources",)`` allows that package and its submodules); an
    empty tuple turns import paths off, leaving short names and plugins.
    """

    __slots__ = ("prefixes",)
    prefixes: tuple[str, ...] | None

    def __init__(self, prefixes: tuple[str, ...] | None = None) -> None:
        self._set(prefixes)

    def refusal(self, path: str) -> str | None:
        """Why ``path`` is not allowed, or ``None`` when it is."""
        if self.prefixes is None:
            return None
        module = path.partition(":")[0]
        if any(module == p or module.startswith(p + ".") for p in self.prefixes):
            return None
        if not self.prefixes:
            return (
                "import paths are turned off in this project ([tool.envres] allowed_imports = [])"
            )
        allowed = ", ".join(self.prefixes)
        return f"module '{module}' is not in [tool.envres] allowed_imports ({allowed})"


ANY_MODULE: Final = ImportPolicy()


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message``, or just the type when there is no message."""
    try:
        text = str(exc).strip()
    except INTERRUPTS:
        raise
    except BaseException:  # an exception whose __str__ raises still gets described
        text = ""
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what user code prints to stderr while it is imported or set up."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def import_object(path: str) -> object:
    """The object at ``module:qualname``, importing the module.

    Raises :class:`ImportPathError` for a malformed path, a missing module or
    attribute, and any exception the module raises at import.
    """
    module_name, sep, qualname = path.partition(":")
    if not sep or not module_name or not qualname or not _dotted(module_name, qualname):
        raise ImportPathError(path, "expected the form 'package.module:Name'", "malformed")
    try:
        with stdout_to_stderr():
            module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise ImportPathError(path, f"no module named '{exc.name}'", "no_module") from exc
        raise ImportPathError(path, f"importing it raised {one_line(exc)}", "raised") from exc
    except INTERRUPTS:
        raise
    except BaseException as exc:
        raise ImportPathError(path, f"importing it raised {one_line(exc)}", "raised") from exc
    try:
        return pkgutil.resolve_name(f"{module.__name__}:{qualname}")
    except AttributeError:
        raise ImportPathError(
            path, f"module '{module_name}' has no '{qualname}'", "no_attribute"
        ) from None
    except INTERRUPTS:
        raise
    except BaseException as exc:  # a lazy module attribute that raises
        raise ImportPathError(
            path, f"looking up '{qualname}' raised {one_line(exc)}", "raised"
        ) from exc


def _dotted(module: str, qualname: str) -> bool:
    return all(part.isidentifier() for part in (*module.split("."), *qualname.split(".")))
