"""Where a project and its profiles are, found without building the settings.

Light on purpose (no pydantic): shell completion asks for the profiles folder on
every key press, and :mod:`envres._settings` builds its model when imported.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from envres._codes import SETTINGS
from envres._errors import Loc, Problem, ProfileError
from envres._paths import display, read_file

__all__ = ["find_project", "profiles_folder", "read_table"]


def find_project(start: Path) -> Path:
    """The nearest folder from ``start`` upward whose ``pyproject.toml`` has ``[tool.envres]``.

    As git and ruff find theirs, so every command works from any folder of a
    project (``tests/``, ``notebooks/``). ``start`` itself is returned as ``.``,
    a parent as its absolute path; with none found, ``.`` (the commands then say
    what is missing there). A ``pyproject.toml`` that names envres but is not valid
    TOML ends the walk there, so its error is reported rather than a parent used.
    """
    absolute = Path(os.path.abspath(start))
    for folder in (absolute, *absolute.parents):
        try:
            text = read_file(folder / "pyproject.toml").decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "envres" not in text:  # most pyproject.toml files: no TOML parse needed
            continue
        try:
            tool = tomllib.loads(text).get("tool")
        except tomllib.TOMLDecodeError:
            tool = {"envres": None}
        if isinstance(tool, dict) and "envres" in tool:
            return Path() if folder == absolute else folder
    return Path()


def read_table(pyproject: Path) -> dict[str, Any]:
    """The ``[tool.envres]`` table of ``pyproject`` (empty when the file does not exist)."""
    try:
        data = tomllib.loads(read_file(pyproject).decode("utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ProfileError(
            [Problem(f"cannot read it: {reason}", Loc(display(pyproject), 1, 1), code=SETTINGS)]
        ) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(
            [Problem(f"cannot read it: {exc}", Loc(display(pyproject), 1, 1), code=SETTINGS)]
        ) from None
    tool = data.get("tool", {})
    table = tool.get("envres", {}) if isinstance(tool, dict) else {}
    return table if isinstance(table, dict) else {}


def profiles_folder(
    *, project: str | Path | None, environ: Mapping[str, str], profiles_dir: str | Path | None
) -> Path:
    """The profiles folder :func:`envres._settings.load_settings` would give, for completion.

    The same layers for the one setting: the flag, then ``ENVRES_PROFILES_DIR``
    (the name after the prefix in any case, as the settings read it), then
    ``[tool.envres] profiles_dir``, then ``profiles``, under the project found as
    the settings find it (``tests/test_startup_paths.py`` checks the two agree).
    """
    if project is not None:
        root = Path(project)
    elif "ENVRES_PROJECT" in environ:
        root = Path(environ["ENVRES_PROJECT"])
    else:
        root = find_project(Path.cwd())
    if profiles_dir is None:
        lowered = {k.lower(): v for k, v in environ.items() if k.startswith("ENVRES_")}
        if "envres_profiles_dir" in lowered:
            profiles_dir = lowered["envres_profiles_dir"]
        else:
            written = read_table(root / "pyproject.toml").get("profiles_dir", "profiles")
            if not isinstance(written, str):
                raise ProfileError(
                    [
                        Problem(
                            "profiles_dir must be a string", Loc(display(root), 1, 1), code=SETTINGS
                        )
                    ]
                )
            profiles_dir = written
    return root / profiles_dir
