"""A project's definitions: importing ``[tool.envres] definitions`` and ``envres.load``."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envres._codes import DEFINITIONS
from envres._dagster_defs import from_dagster
from envres._definitions import Definitions
from envres._errors import Problem, ProfileError, UsageError
from envres._imports import ImportPathError, import_object
from envres._load import gc_paused
from envres._paths import display
from envres._profiles import check_profile_name

if TYPE_CHECKING:
    from envres._bound import BoundDefinitions

__all__ = ["import_definitions", "load", "selected_profile"]


def import_definitions(spec: str, project: Path) -> Definitions:
    """Import ``module:attribute`` with the project folder importable.

    Raises :class:`ProfileError` (exit code 1) when it cannot be imported or is
    not a Definitions; the user's exception is kept as ``__cause__``.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ProfileError(
            [
                Problem(
                    f"definitions '{spec}' must be of the form 'module:attribute'", code=DEFINITIONS
                )
            ]
        )
    root = str(project.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        with gc_paused():
            obj = import_object(spec)
    except ImportPathError as exc:
        if exc.kind == "no_module":
            message = (
                f"cannot import definitions module '{module_name}' from {display(project)}"
                " (set [tool.envres] definitions or --definitions)"
            )
        elif exc.kind == "no_attribute":
            message = f"module '{module_name}' has no attribute '{attr}'"
        elif exc.kind == "malformed":
            message = f"definitions '{spec}' must be of the form 'module:attribute'"
        else:
            message = f"importing '{module_name}' {exc.reason.removeprefix('importing it ')}"
        raise ProfileError([Problem(message, code=DEFINITIONS)]) from exc.__cause__
    if not isinstance(obj, Definitions):
        dagster_defs = from_dagster(obj)
        if dagster_defs is not None:
            return dagster_defs
        raise ProfileError(
            [
                Problem(
                    f"'{spec}' is a {type(obj).__name__}, not an envres.Definitions",
                    code=DEFINITIONS,
                )
            ]
        )
    return obj


def load(
    profile: str | None = None,
    *,
    project: str | Path | None = None,
    definitions: str | None = None,
    profiles_dir: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    allow_missing_env: bool = False,
) -> BoundDefinitions:
    """Import the project's definitions (``[tool.envres] definitions``) and bind a profile.

    The same lookups as the command line: ``profile`` else ``ENVRES_PROFILE``
    else ``default_profile`` else ``dev``; ``project`` else ``ENVRES_PROJECT``
    else the current folder.
    """
    from envres._bound import bind  # the runner: paid only when binding
    from envres._settings import load_settings  # pydantic-settings: paid only when loading

    environ = os.environ if env is None else env
    settings = load_settings(
        project=project,
        environ=environ,
        profile=profile,
        profiles_dir=profiles_dir,
        definitions=definitions,
    )
    if settings.definitions is None:
        raise ProfileError(
            [
                Problem(
                    "no definitions: set [tool.envres] definitions = 'module:attribute'",
                    code=DEFINITIONS,
                )
            ]
        )
    defs = import_definitions(settings.definitions, settings.project)
    return bind(
        defs,
        profile=settings.profile,
        project=settings.project,
        profiles_dir=settings.profiles_dir,
        env=environ,
        overrides=overrides,
        allow_missing_env=allow_missing_env,
    )


def selected_profile(
    project: str | Path | None = None, env: Mapping[str, str] | None = None
) -> str:
    """The name of the profile envres would select, without loading it.

    ``ENVRES_PROFILE``, else ``[tool.envres] default_profile``, else ``dev``;
    ``project`` else ``ENVRES_PROJECT`` else the current folder; ``env`` replaces
    the process environment. For sensors and schedules that branch on the profile::

        if envres.selected_profile() == "prod":
            ...

    Raises :class:`envres.UsageError` when the name is not a plain profile name
    (a path, an empty string).
    """
    from envres._settings import load_settings  # pydantic-settings: paid only when asked

    settings = load_settings(project=project, environ=os.environ if env is None else env)
    why = check_profile_name(settings.profile)
    if why is not None:
        raise UsageError(f"the selected profile {why} (from ENVRES_PROFILE or default_profile)")
    return settings.profile
