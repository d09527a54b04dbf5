"""``${VAR}`` interpolation of profile strings, with Docker Compose's grammar.

This module is pure: it never reads ``os.environ`` and does no I/O; the caller
passes the environment as a mapping. ::

    >>> interpolate("${HOST:-localhost}:${PORT}", {"PORT": "5432"}).value
    'localhost:5432'

Grammar
-------
``${VAR}``
    the value of ``VAR``; unset is a :class:`MissingVariableError`.
``${VAR:-default}`` / ``${VAR-default}``
    ``default`` when ``VAR`` is unset or empty / only when it is unset.
``${VAR:?message}`` / ``${VAR?message}``
    a :class:`MissingVariableError` carrying ``message`` when ``VAR`` is unset
    or empty / only when it is unset.
``${VAR:+alt}`` / ``${VAR+alt}``
    ``alt`` when ``VAR`` is set and non-empty / set at all; otherwise ``""``.
``$$``
    a literal ``$``. Any other ``$`` not followed by ``{`` is literal too
    (``^ab$``, ``pa$word``, ``$5``), since only the braced form is interpolated.

A name is ``[A-Za-z_][A-Za-z0-9_]*`` (ASCII). The operator is whatever directly
follows the name, so the first operator written wins: ``${VAR:-a?b}`` has the
default ``a?b``. Anything else after a name (``${VAR!x}``, ``${1A}``, ``${}``) is
an :class:`InterpolationError`, as is an unterminated ``${``. A syntax error is
reported even inside a default that would not be used: the whole string is
parsed before anything is evaluated.

Defaults, alternatives and messages may contain further expressions
(``${A:-${B:-x}}``). They are evaluated lazily: only the branch that is used is
evaluated, so an unset ``${C}`` inside an unused default raises nothing. The
message of ``:?``/``?`` is evaluated only to build the error; if that fails too,
the message is shown as written.

Closing brace
-------------
As in compose-go (``template/template.go``, ``getFirstBraceClosingIndex``),
braces balance inside an expression: a bare ``{`` in a default, alternative or
message opens a pair whose ``}`` is literal text, and the expression ends at the
``}`` that closes its own ``${``. So ``${JSON:-{"json":1}}`` is ``{"json":1}``
when ``JSON`` is unset and the value of ``JSON`` when it is set, with no stray
``}``. An escaped ``$${`` opens a pair the same way (``${A:-$${x}y}`` is
``${x}y``). Where compose-go silently accepts an expression whose closing ``}``
is missing (``${A:-{x}``), envres reports an unterminated ``${``.

Values are never rescanned
--------------------------
The source string is parsed once into a small tree which is then evaluated; a
value taken from the environment is inserted as it is. If ``X`` holds ``${Y}``,
``${X}`` yields the text ``${Y}``. A default's own text is source and is parsed,
but what a nested variable expands to is not.

Expressions nest at most :data:`MAX_DEPTH` levels deep, so no input can make the
parser or the evaluator recurse without bound.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TypeAlias

from envres._errors import InterpolationError, MissingVariableError
from envres._record import Record

__all__ = [
    "MAX_DEPTH",
    "Interpolated",
    "Segment",
    "VarUse",
    "interpolate",
]

#: How deeply ``${...}`` expressions (and ``$${...}`` groups) may nest inside each other.
MAX_DEPTH = 32

# Longest piece of source quoted in an error message; profile strings can be long.
_SNIPPET_MAX = 80

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATOR = re.compile(r":?[-?+]")
# Inside braces "{" and "}" count (compose-go balances them), so they are as special as "$".
_SPECIAL_IN_BRACES = re.compile(r"[${}]")
# Tokens that move the brace counter when quoting an expression in an error.
_BRACE_TOKEN = re.compile(r"\$\$|\{|\}")

_OPERATORS_HINT = 'expected "}" or one of ":-", "-", ":?", "?", ":+", "+"'


class Segment(Record):
    """A run of the interpolated string.

    ``substituted`` is False for text the user wrote (``$$`` already turned into
    ``$``) and True for the result of one top-level ``${...}`` expression, whether
    it came from a variable or from a default written in the expression.
    """

    __slots__ = ("text", "substituted")
    text: str
    substituted: bool

    def __init__(self, text: str, substituted: bool) -> None:
        # Made once per value or resource: each slot written directly.
        set_text, set_substituted = self._setters
        set_text(self, text)
        set_substituted(self, substituted)


class VarUse(Record):
    """One variable looked up while interpolating.

    ``expr`` is the top-level braced expression the lookup belongs to, as written
    (for ``${A:-${B}}`` both ``A`` and ``B`` report ``"${A:-${B}}"``). ``is_set``
    says the variable was in the environment (an empty value counts as set);
    ``default_used`` says a default or alternative branch supplied the value.
    """

    __slots__ = ("name", "expr", "is_set", "default_used")
    name: str
    expr: str
    is_set: bool
    default_used: bool

    def __init__(self, name: str, expr: str, is_set: bool, default_used: bool) -> None:
        # Made once per value or resource: each slot written directly.
        set_name, set_expr, set_is_set, set_default_used = self._setters
        set_name(self, name)
        set_expr(self, expr)
        set_is_set(self, is_set)
        set_default_used(self, default_used)


class Interpolated(Record):
    """The result of :func:`interpolate`.

    ``segments`` alternate between literal text and substituted values: literal
    segments are never empty and never adjacent, and there is exactly one
    substituted segment per top-level ``${...}`` expression, in order (possibly
    with empty text). ``uses`` lists every variable looked up, in lookup order,
    including nested ones that were evaluated.

        >>> r = interpolate("a${X:-b}$$", {})
        >>> r.segments
        (Segment(text='a', substituted=False), Segment(text='b', substituted=True), \
Segment(text='$', substituted=False))
        >>> r.value, r.is_literal
        ('ab$', False)
    """

    __slots__ = ("segments", "uses")
    segments: tuple[Segment, ...]
    uses: tuple[VarUse, ...]

    def __init__(self, segments: tuple[Segment, ...], uses: tuple[VarUse, ...]) -> None:
        # Made once per value or resource: each slot written directly.
        set_segments, set_uses = self._setters
        set_segments(self, segments)
        set_uses(self, uses)

    @property
    def value(self) -> str:
        """The interpolated string."""
        return "".join(s.text for s in self.segments)

    @property
    def is_literal(self) -> bool:
        """True when the source had no ``${...}`` at all (``$$`` is allowed)."""
        return not any(s.substituted for s in self.segments)


class _Expr(Record):
    """A parsed ``${name<op>arg}``; ``op`` is ``""`` for plain ``${name}``."""

    __slots__ = ("name", "op", "arg", "raw_arg", "start", "end")
    name: str
    op: str
    arg: tuple[_Piece, ...]
    raw_arg: str
    start: int  # index of the "$"
    end: int  # index just after the closing "}"

    def __init__(
        self,
        name: str,
        op: str,
        arg: tuple[_Piece, ...],
        raw_arg: str,
        start: int,
        end: int,
    ) -> None:
        self._set(name, op, arg, raw_arg, start, end)


_Piece: TypeAlias = "str | _Expr"


def interpolate(text: str, env: Mapping[str, str]) -> Interpolated:
    """Expand every ``${...}`` expression of ``text`` from ``env``.

    Raises :class:`MissingVariableError` for a required variable that is not set
    and :class:`InterpolationError` for a malformed expression, and nothing else.
    ``offset`` on the error is the index of the ``$`` of the failing expression
    (the innermost one, for a nested expression).

        >>> interpolate("${A:-${B:-x}}/$$HOME", {"B": ""}).value
        'x/$HOME'
        >>> interpolate("${X}", {"X": "${Y}"}).value  # values are never rescanned
        '${Y}'
    """
    if "$" not in text:
        return Interpolated((Segment(text, False),) if text else (), ())
    pieces = _parse(text)
    segments: list[Segment] = []
    uses: list[VarUse] = []
    for piece in pieces:
        if isinstance(piece, str):
            segments.append(Segment(piece, False))
        else:
            source = text[piece.start : piece.end]
            segments.append(Segment(_evaluate(piece, env, uses, source), True))
    return Interpolated(tuple(segments), tuple(uses))


# --- parsing -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[_Piece, ...]:
    """The parsed pieces of one string; cached, as profiles repeat their expressions."""
    return _parse_seq(text, 0, 0, nested=False)[0]


def _parse_seq(text: str, pos: int, depth: int, *, nested: bool) -> tuple[tuple[_Piece, ...], int]:
    """Parse literal text and expressions from ``pos``.

    At top level this runs to the end of ``text``. ``nested`` (inside an
    expression's braces) it stops at the ``}`` that closes the expression and
    returns its index, or ``len(text)`` when there is none (the caller reports
    that). As in compose-go, a bare ``{`` inside the braces opens a pair whose
    ``}`` is literal text, so ``${JSON:-{"a":1}}`` has the default ``{"a":1}``.
    """
    pieces: list[_Piece] = []
    buf: list[str] = []
    n = len(text)
    open_braces = 0  # bare "{" seen inside the expression and not yet closed
    while pos < n:
        if nested:
            m = _SPECIAL_IN_BRACES.search(text, pos)
            i = m.start() if m is not None else -1
        else:
            i = text.find("$", pos)
        if i < 0:
            buf.append(text[pos:])
            pos = n
            break
        buf.append(text[pos:i])
        char = text[i]
        if char == "{":
            open_braces += 1
            buf.append("{")
            pos = i + 1
            continue
        if char == "}":
            if not open_braces:
                pos = i
                break
            open_braces -= 1
            buf.append("}")
            pos = i + 1
            continue
        follower = text[i + 1 : i + 2]
        if follower == "$":
            buf.append("$")
            pos = i + 2
        elif follower == "{":
            _flush(buf, pieces)
            expr = _parse_expr(text, i, depth + 1)
            pieces.append(expr)
            pos = expr.end
        else:
            buf.append("$")
            pos = i + 1
    _flush(buf, pieces)
    return tuple(pieces), pos


def _flush(buf: list[str], pieces: list[_Piece]) -> None:
    """Move the pending literal text into ``pieces`` as one string.

    Callers flush only before an expression and at the end, so two literal
    pieces are never adjacent.
    """
    literal = "".join(buf)
    buf.clear()
    if literal:
        pieces.append(literal)


def _parse_expr(text: str, start: int, depth: int) -> _Expr:
    """Parse the ``${...}`` whose ``$`` is at ``start``."""
    if depth > MAX_DEPTH:
        raise _too_deep(text, start)
    n = len(text)
    name_match = _NAME.match(text, start + 2)
    if name_match is None:
        if start + 2 >= n:
            raise _unterminated(text, start, None)
        raise InterpolationError(
            f"invalid interpolation {_snippet(text, start)}: "
            'expected a variable name after "${" '
            "(letters, digits and _, not starting with a digit)",
            offset=start,
        )
    name = name_match.group()
    k = name_match.end()
    if k >= n:
        raise _unterminated(text, start, name)
    if text[k] == "}":
        return _Expr(name, "", (), "", start, k + 1)
    op_match = _OPERATOR.match(text, k)
    if op_match is None:
        raise InterpolationError(
            f"invalid interpolation {_snippet(text, start)}: "
            f'unexpected "{text[k]}" after the variable name {name}; {_OPERATORS_HINT}',
            variable=name,
            offset=start,
        )
    arg_start = op_match.end()
    arg, close = _parse_seq(text, arg_start, depth, nested=True)
    if close >= n:
        raise _unterminated(text, start, name)
    return _Expr(name, op_match.group(), arg, text[arg_start:close], start, close + 1)


def _snippet(text: str, start: int) -> str:
    """The expression starting at ``start``, quoted and shortened, for error messages."""
    depth = 0
    end = len(text)
    for m in _BRACE_TOKEN.finditer(text, start):
        token = m.group()
        if token == "}":
            depth -= 1
            if depth == 0:
                end = m.end()
                break
        elif token != "$$":
            depth += 1
    snippet = text[start:end]
    if len(snippet) > _SNIPPET_MAX:
        snippet = snippet[: _SNIPPET_MAX - 3] + "..."
    return f'"{snippet}"'


def _unterminated(text: str, start: int, name: str | None) -> InterpolationError:
    return InterpolationError(
        f'invalid interpolation {_snippet(text, start)}: unterminated "${{", missing "}}"',
        variable=name,
        offset=start,
    )


def _too_deep(text: str, start: int) -> InterpolationError:
    return InterpolationError(
        f"invalid interpolation {_snippet(text, start)}: "
        f"expressions are nested more than {MAX_DEPTH} levels deep",
        offset=start,
    )


# --- evaluation ------------------------------------------------------------------------------


def _evaluate(expr: _Expr, env: Mapping[str, str], uses: list[VarUse], source: str) -> str:
    """The value of one expression; ``source`` is its top-level expression as written."""
    name, op = expr.name, expr.op
    value = env.get(name)
    is_set = value is not None
    non_empty = bool(value)
    if op in ("", "?", ":?"):
        if value is None or (op == ":?" and not non_empty):
            raise _missing(expr, env, value, source)
        uses.append(VarUse(name, source, True, False))
        return value
    if op in (":-", "-"):
        use_default = not is_set or (op == ":-" and not non_empty)
    else:  # ":+" / "+": the alternative replaces a present value
        use_default = is_set and (op == "+" or non_empty)
    uses.append(VarUse(name, source, is_set, use_default))
    if use_default:
        return _evaluate_arg(expr.arg, env, uses, source)
    if op in (":+", "+"):
        return ""
    assert value is not None  # use_default is False only for a set variable
    return value


def _evaluate_arg(
    arg: tuple[_Piece, ...], env: Mapping[str, str], uses: list[VarUse], source: str
) -> str:
    return "".join(
        piece if isinstance(piece, str) else _evaluate(piece, env, uses, source) for piece in arg
    )


def _missing(
    expr: _Expr, env: Mapping[str, str], value: str | None, source: str
) -> MissingVariableError:
    state = "is not set" if value is None else "is empty"
    message = f"environment variable {expr.name} {state}"
    if expr.op:
        try:
            # Looked-up variables are discarded: this call is about to raise anyway.
            detail = _evaluate_arg(expr.arg, env, [], source)
        except InterpolationError:
            # The first problem is the variable itself; a broken message must not hide it.
            detail = expr.raw_arg
        detail = detail.strip()
        if detail:
            message = f"{message}: {detail}"
    return MissingVariableError(message, variable=expr.name, offset=expr.start)
