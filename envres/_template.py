"""Sandboxed Jinja2 rendering of profile strings that contain ``{{`` or ``{%``.

    >>> render("#alerts-{{ env('TEAM', 'data') }}", env={}, profile="prod")
    '#alerts-data'

What a template can see is deliberately small:

- ``env(name)`` returns the variable ``name`` from the environment mapping given to
  :func:`render` and raises :class:`TemplateError` when it is not set;
  ``env(name, default)`` returns ``default`` (any value, ``none`` included) instead.
- ``profile`` is the name of the selected profile.
- ``project_dir`` is the project folder (absolute), the value of ``${ENVRES_PROJECT_DIR}``.

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

Jinja2 is imported on first use only, so ``import envres`` does not pay for it, and
a template that only names ``profile`` or ``project_dir`` in otherwise plain text
(``out/{{ profile }}``) is rendered without it, to the same result.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from envres._errors import MissingVariableError, TemplateError

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
    project_dir: str = "",
) -> str:
    """Render ``text`` in the sandbox and return the result.

    ``env`` is what the template's ``env()`` function reads (never ``os.environ``);
    ``profile`` is exposed as the variable ``profile``, ``project_dir`` as
    ``project_dir``. When ``variables_read`` is a
    list, every name passed to ``env()`` is appended to it once, in first-use order,
    whether or not it was set. Raises :class:`TemplateError`, or
    :class:`MissingVariableError` when ``env(name)`` names an unset variable.

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
        # The same error as ${NAME}: with --allow-missing-env it is a warning too.
        raise MissingVariableError(f"environment variable {name} is not set", variable=name)

    plain = _render_names(text, profile=profile, project_dir=project_dir)
    if plain is not None:
        return plain
    return _render_sandboxed(text, env_function, profile=profile, project_dir=project_dir)


def _render_sandboxed(
    text: str, env_function: Callable[..., Any], *, profile: str, project_dir: str
) -> str:
    """Render ``text`` with Jinja2's sandbox, within the output and work budgets."""
    multiline = "\n" in text.rstrip("\n")
    outer = getattr(_budget, "current", None)
    _budget.current = _Budget()
    try:
        template = _compile(text)
        chunks: list[str] = []
        size = 0
        for chunk in template.generate(env=env_function, profile=profile, project_dir=project_dir):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateError(
                    f"template error: output is longer than {MAX_OUTPUT} characters"
                )
            chunks.append(chunk)
        return "".join(chunks)
    except (TemplateError, MissingVariableError):
        raise
    except Exception as exc:
        raise _convert(exc, multiline) from exc
    finally:
        _budget.current = outer


#: ``{{ profile }}`` or ``{{ project_dir }}``: all a template of most profiles holds.
_NAME_ONLY = re.compile(r"\{\{ *(profile|project_dir) *\}\}")


def _render_names(text: str, *, profile: str, project_dir: str) -> str | None:
    """``text`` rendered without Jinja2 when it only names ``profile`` / ``project_dir``.

    None when anything else is in it: another expression, a filter, whitespace
    control (``{{-``), a tag or a comment, any other brace, or a carriage return
    (Jinja normalizes line endings). What is left is what Jinja renders such a
    template to (``keep_trailing_newline``, no autoescape): the text with each name
    replaced by its value. Saves importing Jinja2 (tens of milliseconds) on start-up.
    """
    if "\r" in text:
        return None
    parts = _NAME_ONLY.split(text)  # literal, name, literal, name, ..., literal
    if any("{" in literal or "}" in literal for literal in parts[::2]):
        return None
    names = {"profile": profile, "project_dir": project_dir}
    rendered = "".join(names[part] if i % 2 else part for i, part in enumerate(parts))
    return rendered if len(rendered) <= MAX_OUTPUT else None


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
    from jinja2 import nodes

    environment = _get_environment()
    tree = environment.parse(text)
    # Every loop counts its iterations and every "~" checks its size: plain Python
    # code once compiled, they are otherwise out of the sandbox's reach.
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Call(nodes.Name(_ITER, "load"), [loop.iter], [], None, None)
    for concat in list(tree.find_all(nodes.Concat)):
        call = nodes.Call(nodes.Name(_CONCAT, "load"), list(concat.nodes), [], None, None)
        concat.nodes = [call]
    code = environment.compile(tree)
    return environment.template_class.from_code(
        environment, code, environment.make_globals(None), None
    )


def _get_environment() -> ImmutableSandboxedEnvironment:
    global _environment
    if _environment is None:
        with _environment_lock:
            if _environment is None:
                _environment = _make_environment()
    return _environment


# -- the budget of one rendering ------------------------------------------------------------

#: Steps (calls, filter calls, loop iterations, checked operators) one template may take.
MAX_STEPS = 50_000
#: Wall-clock time one template may take, in seconds.
MAX_SECONDS = 0.5
# Integers above this many bits are refused: no configuration value needs them, and
# Python's arithmetic on them takes seconds.
_MAX_BITS = 65_536
_ITER = "__envres_iter__"
_CONCAT = "__envres_concat__"
_budget = threading.local()


class _Budget:
    __slots__ = ("deadline", "steps")

    def __init__(self) -> None:
        self.steps = 0
        self.deadline = time.monotonic() + MAX_SECONDS


def _step(n: int = 1) -> None:
    """Count ``n`` steps of the template being rendered; refuse past the budget."""
    from jinja2.exceptions import SecurityError

    budget: _Budget | None = getattr(_budget, "current", None)
    if budget is None:
        return
    budget.steps += n
    if budget.steps > MAX_STEPS:
        raise SecurityError(f"the template takes more than {MAX_STEPS} steps")
    if budget.steps % 256 < n and time.monotonic() > budget.deadline:
        raise SecurityError(f"the template takes longer than {MAX_SECONDS} s")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple | dict) else 0


def _refuse(what: str) -> None:
    from jinja2.exceptions import SecurityError

    raise SecurityError(f"{what} would be larger than {MAX_OUTPUT} characters")


def _check_args(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """No integer argument may ask for more than the output bound (widths, counts)."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_OUTPUT:
            _refuse(f"an argument of {value}")


# str methods whose result can be far larger than their inputs, and its size.
_GROWING: dict[str, Callable[[str, tuple[Any, ...]], int]] = {
    "center": lambda s, a: a[0] if a and isinstance(a[0], int) else 0,
    "ljust": lambda s, a: a[0] if a and isinstance(a[0], int) else 0,
    "rjust": lambda s, a: a[0] if a and isinstance(a[0], int) else 0,
    "zfill": lambda s, a: a[0] if a and isinstance(a[0], int) else 0,
    "expandtabs": lambda s, a: s.count("\t") * (a[0] if a and isinstance(a[0], int) else 8),
    "replace": lambda s, a: (
        s.count(a[0]) * len(a[1])
        if len(a) > 1 and isinstance(a[0], str) and isinstance(a[1], str)
        else 0
    ),
    "join": lambda s, a: len(s) * _size(a[0]) if a else 0,
}
_FORMAT_WIDTH = re.compile(r"[0-9]+")


def _check_format(fmt: str) -> None:
    """A %- or {}-format string may not ask for a field wider than the output bound."""
    for digits in _FORMAT_WIDTH.findall(fmt):
        if len(digits) > 7 or int(digits) > MAX_OUTPUT:
            _refuse(f"a format field of width {digits}")


def _bounded_iter(iterable: Any) -> Iterator[Any]:
    for item in iterable:
        _step()
        yield item


def _bounded_concat(*parts: Any) -> str:
    _step()
    texts = [str(p) for p in parts]
    if sum(map(len, texts)) > MAX_OUTPUT:
        _refuse("joining with ~")
    return "".join(texts)


def _make_environment() -> ImmutableSandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.runtime import Context
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _Environment(ImmutableSandboxedEnvironment):
        # Operators that can make huge values out of small ones are checked before
        # they run, so "'x' * 10**9" fails at once instead of allocating gigabytes.
        intercepted_binops = frozenset({"*", "**", "%", "+"})

        def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
            _step()
            _check_binop(operator, left, right)
            op: Callable[[Any, Any], Any] = self.binop_table[operator]
            return op(left, right)

        def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            _step()
            _check_args(args, kwargs)
            owner = getattr(__obj, "__self__", None)
            name = getattr(__obj, "__name__", "")
            if (
                isinstance(owner, str)
                and name in _GROWING
                and _GROWING[name](owner, args) > MAX_OUTPUT
            ):
                _refuse(f"str.{name}()")
            return super().call(__context, __obj, *args, **kwargs)

        def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
            wrapped = super().wrap_str_format(value)
            if wrapped is None:
                return None
            fmt: str = value.__self__

            def checked(*args: Any, **kwargs: Any) -> str:
                _check_format(fmt)
                _check_args(args, kwargs)
                return wrapped(*args, **kwargs)

            return checked

    environment = _Environment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    _narrow(environment)
    return environment


def _check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``left operator right`` when its result would pass the output bound."""
    if operator == "*":
        _check_repeat(left, right)
        _check_repeat(right, left)
        _check_bits(left, right, lambda a, b: a + b)
    elif (
        operator == "**"
        and isinstance(left, int)
        and isinstance(right, int)
        and abs(left) > 1
        and (right > _MAX_BITS or math.log2(abs(left)) * right > _MAX_BITS)
    ):
        _refuse_number(f"{left} ** {right} is too large a number")
    elif operator == "%" and isinstance(left, str):
        _check_format(left)
        _check_args(right if isinstance(right, tuple) else (right,), {})
    elif operator == "+" and _size(left) + _size(right) > MAX_OUTPUT:
        _refuse("adding these")


def _check_repeat(sequence: Any, count: Any) -> None:
    """Refuse repeating a sequence ``count`` times past the output bound."""
    if (
        isinstance(sequence, str | bytes | list | tuple)
        and isinstance(count, int)
        and len(sequence) * count > MAX_OUTPUT
    ):
        _refuse("repeating a sequence")


def _check_bits(left: Any, right: Any, bits: Callable[[int, int], int]) -> None:
    """Refuse integers whose result would need more than ``_MAX_BITS`` bits."""
    if (
        isinstance(left, int)
        and isinstance(right, int)
        and bits(abs(left).bit_length(), abs(right).bit_length()) > _MAX_BITS
    ):
        _refuse_number("the result is too large a number")


def _refuse_number(message: str) -> None:
    """Refuse, as the sandbox does, a number the template would make too large."""
    from jinja2.exceptions import SecurityError

    raise SecurityError(message)


def _narrow(environment: ImmutableSandboxedEnvironment) -> None:
    """Leave templates only render()'s names, the bounded helpers and checked filters."""
    # The sandbox re-adds its own "range"; clearing afterwards keeps the surface to
    # the three names render() passes in (and the two helpers compiled into templates).
    environment.globals.clear()
    environment.globals[_ITER] = _bounded_iter
    environment.globals[_CONCAT] = _bounded_concat
    # Filters are called directly by compiled templates, not through call(): each one
    # counts as a step and has its arguments checked the same way.
    for name, fn in list(environment.filters.items()):
        environment.filters[name] = _checked_filter(name, fn)


def _checked_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    # Filters marked pass_context/pass_environment receive that first: skip it.
    skip = 1 if getattr(fn, "jinja_pass_arg", None) is not None else 0

    def checked(*args: Any, **kwargs: Any) -> Any:
        _step()
        values = args[skip:]
        _check_args(tuple(values[1:]), kwargs)
        if values and isinstance(values[0], str):
            text = values[0]
            if name == "format":
                _check_format(text)
            elif name == "indent":
                width = values[1] if len(values) > 1 else kwargs.get("width", 4)
                per_line = len(width) if isinstance(width, str) else int(width or 0)
                if per_line * (text.count("\n") + 1) + len(text) > MAX_OUTPUT:
                    _refuse("indent")
            elif name == "replace" and len(values) > 2:
                old, new = values[1], values[2]
                count = text.count(old) if old else len(text) + 1
                if isinstance(old, str) and isinstance(new, str) and count * len(new) > MAX_OUTPUT:
                    _refuse("replace")
        if name == "join" and values:
            sep = values[1] if len(values) > 1 else kwargs.get("d", "")
            if isinstance(sep, str) and len(sep) * _size(values[0]) > MAX_OUTPUT:
                _refuse("join")
        return fn(*args, **kwargs)

    # update_wrapper copies __dict__, and with it Jinja's pass_context mark.
    return functools.update_wrapper(checked, fn)
