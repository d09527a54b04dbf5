"""Problems in the forms CI reads: GitHub Actions workflow commands, and JSON records.

Pure functions from a :class:`~envres._errors.Problem` to text or data; the
session prints them (and masks them, as it masks everything).

A GitHub workflow command is one line, ``::error file=F,line=L,col=C,title=T::MESSAGE``;
the runner turns it into an annotation on that line of the pull request. Its
values are escaped as the runner's own toolkit escapes them (``%``, CR and LF in
the message; also ``:`` and ``,`` in the properties), so a file name or a message
can never end the command early or forge another.
"""

from __future__ import annotations

from typing import Any

from envres._errors import Loc, Problem

__all__ = ["FORMATS", "github_command", "github_line", "problem_record"]

#: The values of ``--format`` for validate, diff and check.
FORMATS = ("text", "github", "json")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_command(kind: str, message: str, loc: Loc | None = None, title: str = "") -> str:
    """One workflow command (``error``, ``warning`` or ``notice``), its values escaped."""
    props: list[str] = []
    if loc is not None:
        props += [f"file={_escape_property(loc.file)}", f"line={loc.line}", f"col={loc.col}"]
    if title:
        props.append(f"title={_escape_property(title)}")
    head = f"{kind} {','.join(props)}" if props else kind
    return f"::{head}::{_escape_data(message)}"


def _message(problem: Problem) -> str:
    return f"{problem.path}: {problem.message}" if problem.path else problem.message


def github_line(problem: Problem, profile: str | None = None) -> str:
    """A problem as a GitHub annotation: error or warning, on its file, line and column."""
    message = _message(problem)
    if problem.loc is None:
        message = f"{problem.source}: {message}"
    if profile:
        message += f" (profile '{profile}')"
    kind = "warning" if problem.severity == "warning" else "error"
    return github_command(kind, message, problem.loc, problem.code or "envres")


def problem_record(problem: Problem, profile: str | None = None) -> dict[str, Any]:
    """A problem as JSON data: file, line, column (null when it has no place), code..."""
    loc = problem.loc
    return {
        "file": loc.file if loc is not None else None,
        "line": loc.line if loc is not None else None,
        "column": loc.col if loc is not None else None,
        "code": problem.code or None,
        "severity": problem.severity,
        "path": problem.path,
        "message": problem.message,
        "source": problem.source if loc is None else None,
        "profile": profile,
    }
