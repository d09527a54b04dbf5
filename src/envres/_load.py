"""The loader's entry point: the one place (with the CLI) that touches files and os.environ.

It ties the pure pieces together: settings -> profile files -> merge -> env ->
validation, and imports the user's definitions module.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envres._env import build_env
from envres._errors import Problem, ProfileError
from envres._profiles import ProfileFile, discover, load_merged
from envres._validate import ResolvedProfile, resolve

if TYPE_CHECKING:
    from envres._definitions import Definitions
    from envres._settings import Settings

__all__ = ["display", "import_definitions", "load_profile", "profile_files", "read_bytes"]


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects.

    Loading creates tens of thousands of nodes and models and frees almost none;
    collections during it cost a quarter of a 10,000-resource validation.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_bytes(path: Path) -> bytes:
    return path.read_bytes()


def display(path: Path) -> str:
    """``path`` as errors print it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def profile_files(settings: Settings) -> dict[str, ProfileFile]:
    return discover(settings.profiles_path, display)


def load_profile(
    settings: Settings,
    defs: Definitions | None,
    *,
    name: str | None = None,
    process_env: Mapping[str, str] | None = None,
    allow_missing_env: bool = False,
    overrides: frozenset[str] = frozenset(),
    files: Mapping[str, ProfileFile] | None = None,
    parsed: dict[str, Any] | None = None,
) -> ResolvedProfile:
    """Load, merge, interpolate and validate one profile (default: the selected one).

    ``files`` (from :func:`profile_files`) and ``parsed`` (a cache of parsed files)
    let a command that loads several profiles read each file once.
    """
    with _gc_paused():
        return _load_profile(
            settings, defs, name, process_env, allow_missing_env, overrides, files, parsed
        )


def _load_profile(
    settings: Settings,
    defs: Definitions | None,
    name: str | None,
    process_env: Mapping[str, str] | None,
    allow_missing_env: bool,
    overrides: frozenset[str],
    files: Mapping[str, ProfileFile] | None,
    parsed: dict[str, Any] | None,
) -> ResolvedProfile:
    files = profile_files(settings) if files is None else files
    merged = load_merged(name or settings.profile, files, read_bytes, cache=parsed)
    env, problems = build_env(
        os.environ if process_env is None else process_env,
        [(ef.path, ef.display, ef.loc) for ef in merged.env_files],
        (settings.project / ".env", display(settings.project / ".env")),
        read_bytes,
    )
    return resolve(
        merged,
        env,
        defs,
        allow_missing_env=allow_missing_env,
        overrides=overrides,
        earlier=problems,
    )


def import_definitions(spec: str, project: Path) -> Definitions:
    """Import ``module:attribute`` with the project folder importable.

    Raises :class:`ProfileError` (exit code 1) when it cannot be imported or is
    not a Definitions; the user's exception is kept as ``__cause__``.
    """
    from envres._definitions import Definitions

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ProfileError(
            [Problem(f"definitions '{spec}' must be of the form 'module:attribute'")]
        )
    root = str(project.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        with _gc_paused():
            module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ProfileError(
                [
                    Problem(
                        f"cannot import definitions module '{module_name}' from {display(project)}"
                        " (set [tool.envres] definitions or --definitions)"
                    )
                ]
            ) from exc
        raise ProfileError(
            [Problem(f"importing '{module_name}' raised {type(exc).__name__}: {exc}")]
        ) from exc
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ProfileError(
            [Problem(f"importing '{module_name}' raised {type(exc).__name__}: {first}")]
        ) from exc
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ProfileError([Problem(f"module '{module_name}' has no attribute '{attr}'")])
        obj = getattr(obj, part)
    if not isinstance(obj, Definitions):
        raise ProfileError(
            [Problem(f"'{spec}' is a {type(obj).__name__}, not an envres.Definitions")]
        )
    return obj
