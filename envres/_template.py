"""Sandboxed Jinja2 rendering of profile strings that contain ``{{`` or ``{%``.

    >>> render("#alerts-{{ env('TEAM', 'data') }}", env={}, profile="prod")
    '#alerts-data'

What a template can see is deliberately small:

- ``env(name)`` returns the variable ``name`` from the environment mapping given to
  :func:`render` and raises :class:`TemplateError` when it is not set;
  ``env(name, default)`` returns ``default`` (any value, ``none`` included) instead.
- ``profile`` is the name of the selected profile.

Nothing else is defined: Jinja's default globals (``range``, ``dict``, ``lipsum``,
``cycler``, ``joiner``, ``namespace``) are removed, and an undefined name is an error
(``StrictUndefined``), never an empty string. Jinja's built-in filters and tests
(``upper``, ``default``, ``is defined``...) remain. The environment is Jinja's
:class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`: attributes starting with ``_``
and Python internals are refused, and lists and dicts cannot be changed. No loader is
configured, so ``{% include %}``, ``{% import %}`` and ``{% extends %}`` fail.

Every failure becomes a one-line :class:`TemplateError`. Output is bounded to
:data:`MAX_OUTPUT` characters and ``*`` / ``**`` refuse results that large, so a
careless loop or ``'x' * 10**9`` fails fast instead of exhausting memory; deep recursion
(a macro calling itself) is reported too. CPU time is not bounded: these templates are
committed project configuration, not untrusted input, and the sandbox is a guard against
mistakes and against reaching Python internals, not against a hostile author.

Jinja2 is imported on first use only, so ``import envres`` does not pay for it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from envres._errors import TemplateError

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["MAX_OUTPUT", "render"]

#: Longest output (in characters) a single template may produce.
MAX_OUTPUT = 1_000_000

# Exponents above this make int ** int slow and huge; no configuration value needs one.
_MAX_EXPONENT = 4096

# Jinja compiles templates from strings under this name; it is how we spot template
# frames in a traceback to report a line number.
_TEMPLATE_FILENAME = "<template>"

_environment: ImmutableSandboxedEnvironment | None = None
_environment_lock = threading.Lock()

_MISSING: Any = object()


def render(
    text: str,
    *,
    env: Mapping[str, str],
    profile: str,
    variables_read: list[str] | None = None,
) -> str:
    """Render ``text`` in the sandbox and return the result.

    ``env`` is what the template's ``env()`` function reads (never ``os.environ``);
    ``profile`` is exposed as the variable ``profile``. When ``variables_read`` is a
    list, every name passed to ``env()`` is appended to it once, in first-use order,
    whether or not it was set. Raises :class:`TemplateError` and nothing else.

        >>> read: list[str] = []
        >>> render("{{ env('A') }}-{{ profile }}", env={"A": "1"}, profile="dev",
        ...        variables_read=read), read
        ('1-dev', ['A'])
    """

    def env_function(name: str, default: Any = _MISSING) -> Any:
        if not isinstance(name, str):
            raise TemplateError(
                f"env() takes a variable name as a string, not {type(name).__name__}"
            )
        if variables_read is not None and name not in variables_read:
            variables_read.append(name)
        value = env.get(name)
        if value is not None:
            return value
        if default is not _MISSING:
            return default
        raise TemplateError(f"environment variable {name} is not set")

    multiline = "\n" in text.rstrip("\n")
    try:
        template = _compile(text)
        chunks: list[str] = []
        size = 0
        for chunk in template.generate(env=env_function, profile=profile):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateError(
                    f"template error: output is longer than {MAX_OUTPUT} characters"
                )
            chunks.append(chunk)
        return "".join(chunks)
    except TemplateError:
        raise
    except Exception as exc:
        raise _convert(exc, multiline) from exc


def _convert(exc: Exception, multiline: bool) -> TemplateError:
    """A one-line :class:`TemplateError` describing ``exc`` (raised by Jinja or a template)."""
    from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError

    if isinstance(exc, TemplateSyntaxError):
        return TemplateError(f"template syntax error on line {exc.lineno}: {_one_line(exc)}")
    where = ""
    if multiline:
        line = _template_line(exc.__traceback__)
        if line is not None:
            where = f" on line {line}"
    if isinstance(exc, SecurityError):
        return TemplateError(f"template refused by the sandbox{where}: {_one_line(exc)}")
    if isinstance(exc, UndefinedError):
        return TemplateError(f"template error{where}: {_one_line(exc)}")
    if isinstance(exc, RecursionError):
        return TemplateError(f"template error{where}: recursion too deep")
    if isinstance(exc, MemoryError):
        return TemplateError(f"template error{where}: out of memory")
    detail = _one_line(exc)
    kind = type(exc).__name__
    return TemplateError(f"template error{where}: {kind}: {detail}" if detail else kind)


def _one_line(exc: BaseException) -> str:
    # Jinja's messages are usually one line; a stray newline would break the
    # "file:line:col: message" format the caller prints.
    message = getattr(exc, "message", None)
    if not isinstance(message, str):
        message = str(exc)
    return " ".join(message.split())


def _template_line(tb: TracebackType | None) -> int | None:
    """The template line of the innermost template frame in ``tb``, if any."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@functools.lru_cache(maxsize=512)
def _compile(text: str) -> Template:
    # Profiles repeat the same template strings across validate/show/run; compiled
    # templates are immutable and safe to share between threads.
    return _get_environment().from_string(text)


def _get_environment() -> ImmutableSandboxedEnvironment:
    global _environment
    if _environment is None:
        with _environment_lock:
            if _environment is None:
                _environment = _make_environment()
    return _environment


def _make_environment() -> ImmutableSandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.runtime import Context
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _Environment(ImmutableSandboxedEnvironment):
        # Checking * and ** before they run keeps "'x' * 10**9" from allocating
        # gigabytes before the output bound could notice.
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
            if operator == "*":
                _check_repeat(left, right)
                _check_repeat(right, left)
            elif (
                operator == "**"
                and isinstance(left, int)
                and isinstance(right, int)
                and abs(left) > 1
                and right > _MAX_EXPONENT
            ):
                raise SecurityError(f"exponent {right} is larger than {_MAX_EXPONENT}")
            op: Callable[[Any, Any], Any] = self.binop_table[operator]
            return op(left, right)

    def _check_repeat(sequence: Any, count: Any) -> None:
        if (
            isinstance(sequence, str | bytes | list | tuple)
            and isinstance(count, int)
            and len(sequence) * count > MAX_OUTPUT
        ):
            raise SecurityError(f"repeating a sequence gives more than {MAX_OUTPUT} items")

    environment = _Environment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    # The sandbox re-adds its own "range"; clearing afterwards keeps the surface to
    # the two names render() passes in.
    environment.globals.clear()
    return environment
