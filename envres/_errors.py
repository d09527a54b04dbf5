"""The errors envres raises, and the problem records that validation collects.

Every error is an :class:`EnvresError`; where a builtin fits, the error is also
that builtin, so ``except ValueError`` in user code keeps working::

    EnvresError(Exception)
    ├── ProfileError(EnvresError, ValueError)      a profile or the definitions are invalid
    │   └── ProfileNotFoundError(ProfileError, LookupError)
    ├── YamlError(EnvresError, ValueError)         one YAML file cannot be read (file, line, col)
    ├── InterpolationError(EnvresError, ValueError) one string cannot be interpolated
    │   ├── MissingVariableError(InterpolationError)  a required variable is not set
    │   └── SourceError(InterpolationError)   a secret source did not give a reference's value
    ├── TemplateError(EnvresError, ValueError)     a ``{{ }}`` template failed to render
    ├── DefinitionError(EnvresError, TypeError)    a resource or asset is malformed in Python
    ├── UsageError(EnvresError, ValueError)        a caller asked for something that does not exist
    └── RunError(EnvresError, RuntimeError)        a run failed; carries every failure
        ├── SetupError(RunError)                   a resource's setup raised
        ├── AssetError(RunError)                   an asset raised
        └── TeardownError(RunError)                a resource's teardown raised

Only the command line turns these into exit codes (see ``envres._cli``).

:class:`Terminated` is not an error: it is how SIGTERM (or SIGHUP) reaches the code
that is running, as ``KeyboardInterrupt`` does for Ctrl-C, so teardown runs the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from envres._codes import YAML_SYNTAX
from envres._record import Record

__all__ = [
    "INTERRUPTS",
    "AssetError",
    "DefinitionError",
    "EnvresError",
    "InterpolationError",
    "Loc",
    "MissingVariableError",
    "Problem",
    "ProfileError",
    "ProfileNotFoundError",
    "Reason",
    "RunError",
    "SetupError",
    "SourceError",
    "TeardownError",
    "TemplateError",
    "Terminated",
    "UsageError",
    "YamlError",
    "suggest",
]


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _one_line(text: str) -> str:
    """Control characters (a newline in a file name) escaped, as repr() writes them."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def suggest(word: str, choices: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` for a near miss among ``choices``, else ``""``."""
    import difflib  # only when there is something to suggest

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class Loc(Record):
    """A place in a file: 1-based line and column, as editors count.

    A :class:`~envres._record.Record`, not a frozen dataclass: the YAML reader makes
    one per key and value (130,000 for a 10,000-resource profile), and a frozen
    dataclass's ``__init__`` costs twice as much.
    """

    __slots__ = ("file", "line", "col")
    file: str
    line: int
    col: int

    def __init__(self, file: str, line: int, col: int) -> None:
        _set_file(self, file)
        _set_line(self, line)
        _set_col(self, col)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


_set_file, _set_line, _set_col = Loc._setters


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong, in the compiler style ``file:line:col: CODE path: message``.

    ``loc`` is ``None`` for problems with no place in a profile file: they print
    as ``source: CODE message`` (``definitions: ...`` for the Python definitions).
    ``code`` is the kind's stable code (``E301``; see :mod:`envres._codes`).
    """

    message: str
    loc: Loc | None = None
    path: str | None = None
    severity: Literal["error", "warning"] = "error"
    source: str = "definitions"
    code: str = ""

    def __str__(self) -> str:
        where = str(self.loc) if self.loc is not None else self.source
        what = f"{self.path}: {self.message}" if self.path else self.message
        prefix = "warning: " if self.severity == "warning" else ""
        code = f"{self.code} " if self.code else ""
        # One problem, one line, whatever a file or profile name holds.
        return _one_line(f"{where}: {prefix}{code}{what}")


class EnvresError(Exception):
    """Base of every error envres raises."""


class ProfileError(EnvresError, ValueError):
    """A profile (or the definitions it is checked against) is invalid.

    ``problems`` holds every problem found, in file order; ``str()`` prints one
    per line followed by a count, ready for a terminal or an editor.
    """

    #: The secrets the profile holds, as far as validation got (an ``envres._secrets.
    #: Redactor``): the command line masks with them though the profile failed.
    redactor: Any = None

    def __init__(self, problems: Sequence[Problem], profile: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.profile = profile
        super().__init__(self._render())

    def summary(self) -> str | None:
        """The count line that ends ``str()``: ``2 problems in profile 'prod'``."""
        n = sum(1 for p in self.problems if p.severity == "error")
        noun = "problem" if n == 1 else "problems"
        where = f" in profile '{self.profile}'" if self.profile else ""
        return f"{n} {noun}{where}"

    def _render(self) -> str:
        lines = [str(p) for p in self.problems]
        summary = self.summary()
        if summary is not None:
            lines.append(summary)
        return "\n".join(lines)


class ProfileNotFoundError(ProfileError, LookupError):
    """The selected profile (or the profiles folder) does not exist."""

    def summary(self) -> str | None:
        return None


class YamlError(EnvresError, ValueError):
    """A YAML file cannot be loaded; ``loc`` says where, ``code`` which kind of problem."""

    def __init__(self, message: str, loc: Loc, code: str = YAML_SYNTAX) -> None:
        self.message = message
        self.loc = loc
        self.code = code
        super().__init__(f"{loc}: {message}")


class InterpolationError(EnvresError, ValueError):
    """A ``${...}`` expression cannot be expanded.

    ``variable`` names the variable involved, when there is one; ``offset`` is the
    0-based index in the string where the bad expression starts.
    """

    def __init__(self, message: str, *, variable: str | None = None, offset: int = 0) -> None:
        self.message = message
        self.variable = variable
        self.offset = offset
        super().__init__(message)


class MissingVariableError(InterpolationError):
    """A variable that the string requires is not set (``${VAR}``, ``${VAR:?msg}``...)."""


class SourceError(InterpolationError):
    """A ``${source:reference}`` (or ``VAR_FILE``) whose value could not be had.

    ``source`` and ``reference`` say which; ``offline`` is true when no source was
    contacted (``--allow-missing-env``), so the value is only unknown, not wrong.
    ``variable`` is ``VAR`` when the file was named by ``VAR_FILE``; ``uses`` are
    the variables the string read before this reference (``VarUse`` records), so
    they are still listed. The message never holds a value.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str,
        reference: str,
        offline: bool = False,
        offset: int = 0,
        variable: str | None = None,
    ) -> None:
        self.source = source
        self.reference = reference
        self.offline = offline
        self.uses: tuple[object, ...] = ()
        super().__init__(message, variable=variable, offset=offset)


class TemplateError(EnvresError, ValueError):
    """A ``{{ }}`` / ``{% %}`` string failed to render (syntax, undefined name, sandbox)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class DefinitionError(EnvresError, TypeError):
    """A resource, an asset or the Definitions are malformed in Python code."""


class UsageError(EnvresError, ValueError):
    """A caller asked for something that does not exist (an unknown asset, say)."""


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a setup, an asset or a teardown failed, already masked, as it is shown.

    ``text`` is one line (``OperationalError: no such column: nosuch``, with any
    ``; caused by ...`` links); ``where`` the line of the user's own code it came
    from (``pipeline.py:38``, empty when none); ``more`` the rest of a message
    that has more lines (DuckDB's ``LINE 1`` context, pydantic's actual cause).
    Plain strings only: it travels from a Dask worker as it is.

        >>> str(Reason("ValueError: boom", "pipeline.py:38"))
        'pipeline.py:38: ValueError: boom'
    """

    text: str
    where: str = ""
    more: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.where}: {self.text}" if self.where else self.text

    def noted(self, note: str) -> Reason:
        """The same reason with ``note`` after its one line (``(on worker 1)``)."""
        return Reason(f"{self.text} {note}", self.where, self.more)


def _reason(reason: str | Reason) -> Reason:
    return reason if isinstance(reason, Reason) else Reason(reason)


class RunError(EnvresError, RuntimeError):
    """A run failed. ``failures`` lists every failure in the order it happened.

    The first failure is the one that stopped the run; the others are teardowns
    that also failed. The original exception of each is its ``__cause__``.
    ``message`` is one line; ``reason`` (for a setup, an asset, a teardown) says
    why in parts, and ``str()`` ends with the rest of a long message, indented.
    """

    def __init__(
        self, message: str, failures: Sequence[RunError] = (), reason: Reason | None = None
    ) -> None:
        self.message = message
        self.reason = reason
        self.failures: tuple[RunError, ...] = tuple(failures) or (self,)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """The message, then the rest of the user's message indented under it."""
        more = self.reason.more if self.reason is not None else ()
        return [self.message, *(f"  {line}" if line else "" for line in more)]


class SetupError(RunError):
    """Setting up the resource ``key`` raised; ``detail`` is the reason on one line."""

    reason: Reason

    def __init__(self, key: str, reason: str | Reason) -> None:
        self.key = key
        full = _reason(reason)
        self.detail = str(full)
        super().__init__(f"setup of resource '{key}' failed: {self.detail}", reason=full)


class AssetError(RunError):
    """The asset ``asset`` raised; ``detail`` is the reason on one line."""

    reason: Reason

    def __init__(self, asset: str, reason: str | Reason) -> None:
        self.asset = asset
        full = _reason(reason)
        self.detail = str(full)
        super().__init__(f"asset '{asset}' failed: {self.detail}", reason=full)


class TeardownError(RunError):
    """Tearing down the resource ``key`` raised; ``detail`` is the reason on one line."""

    reason: Reason

    def __init__(self, key: str, reason: str | Reason) -> None:
        self.key = key
        full = _reason(reason)
        self.detail = str(full)
        super().__init__(f"teardown of resource '{key}' failed: {self.detail}", reason=full)


class Terminated(BaseException):
    """Raised in the main thread by the command line's SIGTERM or SIGHUP handler.

    ``signum`` says which (exit code 143 for SIGTERM, 129 for SIGHUP).
    """

    def __init__(self, signum: int = 15) -> None:  # 15: SIGTERM
        super().__init__()
        self.signum = signum


#: What stops a run from outside: never turned into an error, always passed through.
INTERRUPTS: tuple[type[BaseException], ...] = (KeyboardInterrupt, Terminated)
