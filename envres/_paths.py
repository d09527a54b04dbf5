"""How paths are shown in messages: relative to the working directory when inside it."""

from __future__ import annotations

from pathlib import Path

__all__ = ["display"]


def display(path: Path | str) -> str:
    """``path`` as errors print it: relative to the working directory when inside it.

    Editors and terminals link ``file:line:col`` relative to where the command ran.
    """
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(resolved)
