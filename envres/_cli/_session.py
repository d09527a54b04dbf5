"""One invocation of the command: its output streams, its flags, the secrets it has seen.

Everything the command prints goes through :meth:`Session.out` or
:meth:`Session.err`, which show it through the command's :class:`~envres._gate.Gate`
(every secret learned so far masked); there is no other way to print from the
command line, and what user code writes meanwhile passes the same gate.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

import click

from envres._cli._report import github_line, problem_record
from envres._errors import Problem, ProfileError
from envres._gate import Gate
from envres._secrets import Redactor

__all__ = ["Session", "current"]


class Session:
    """The state of one ``envres`` invocation (several run in one process in tests)."""

    def __init__(self) -> None:
        self.debug = False
        self.process = False  # the process exits after this command
        self.gate = Gate()
        # The streams of the invocation, kept apart from sys.stdout/sys.stderr, which a
        # run replaces (see _progress.guarded_streams) for the user code's own prints.
        self.stdout: TextIO = sys.stdout
        self.stderr: TextIO = sys.stderr
        self.broken: set[TextIO] = set()  # streams whose reader has gone away
        # How problems are reported (--format): "text" lines on stderr, "github"
        # workflow commands on stdout, or "json", one document on stdout at the end
        # holding the problems and what the command put in `data`.
        self.fmt = "text"
        self.problems: list[dict[str, Any]] = []
        self.data: dict[str, Any] = {}

    @property
    def color(self) -> bool:
        """Colour on a terminal, unless NO_COLOR is set (https://no-color.org)."""
        return not os.environ.get("NO_COLOR") and self.gate.isatty(self.stdout)

    @property
    def redactor(self) -> Redactor:
        """The secrets learned so far."""
        return self.gate.redactor

    def style(self, text: str, **styles: Any) -> str:
        """``text`` with click's ANSI styles when colour is on, else unchanged."""
        return click.style(text, **styles) if self.color else text

    def learn(self, redactor: Redactor, structure: Iterable[str] = ()) -> None:
        """Mask these secrets too from now on (never the words of ``structure``)."""
        self.gate.learn(redactor, structure)

    def out(self, text: str) -> None:
        self._write(text, self.stdout)

    def err(self, text: str) -> None:
        self._write(text, self.stderr, error=True)

    def report(
        self, problems: Sequence[Problem], profile: str | None = None, *, tag: bool = False
    ) -> None:
        """Report problems in the session's format; ``tag`` names the profile in text too."""
        for p in problems:
            if self.fmt == "github":
                self.out(github_line(p, profile))
            elif self.fmt == "json":
                self.problems.append(problem_record(p, profile))
            else:
                self.err(f"{p} (profile '{profile}')" if tag and profile else str(p))

    def report_error(self, exc: ProfileError) -> None:
        """An invalid profile: its problems in the session's format, its count as text."""
        if self.fmt == "text":
            self.err(str(exc))
            return
        self.report(exc.problems, exc.profile)
        summary = exc.summary()
        if summary is not None:
            self.err(summary)

    def finish(self) -> None:
        """With ``--format json``: print the one document the command built."""
        if self.fmt == "json":
            self.out(json.dumps({**self.data, "problems": self.problems}, indent=2))

    def _write(self, text: str, stream: TextIO, *, error: bool = False) -> None:
        # A closed pipe (`envres run | head`) must not stop a run or its teardown: what
        # cannot be printed is dropped, and the run carries on to its end.
        if stream in self.broken:
            return
        try:
            self.gate.show(text, stream, error=error)
        except OSError:
            self.broken.add(stream)


def current() -> Session:
    """The session of the command being run (click's context object)."""
    session = click.get_current_context().find_object(Session)
    if session is None:  # pragma: no cover - every command runs under invoke()
        raise RuntimeError("no envres session: run commands through envres._cli.invoke")
    return session
