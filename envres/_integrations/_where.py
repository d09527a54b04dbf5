"""Where an integration's project is: the one a file of the user's is in.

A Dagster code location and a test file know where they are, whatever the current
folder: the definitions module that calls ``envres.dagster.resources`` and the test
that asks for ``envres_bind`` each name their project by their own file.
"""

from __future__ import annotations

from pathlib import Path

from envres._locate import find_project

__all__ = ["project_of"]


def project_of(path: str | Path) -> Path | None:
    """The project ``path`` (a file or a folder) is in, absolute; None outside any.

    The nearest folder, from ``path`` upward, whose ``pyproject.toml`` has
    ``[tool.envres]``. The walk starts below ``path`` (at ``path/pyproject.toml``,
    never a folder), so :func:`~envres._locate.find_project` names a project it
    finds by its absolute path: its ``.`` then always means "none".
    """
    found = find_project(Path(path, "pyproject.toml"))
    return None if found == Path() else found
