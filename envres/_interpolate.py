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
``${source:reference}``
    the value a secret source gives for ``reference`` (``${file:/run/secrets/pg}``,
    ``${ssm:/shop/pg}``), when ``source`` is one of the registered source names passed
    in and the character after the ``:`` is not ``-``, ``?`` or ``+`` (so every
    compose expression keeps its meaning). The reference is literal text up to the
    closing ``}`` or the first ``:-``, ``:?`` or ``:+``, which work as for a variable:
    a reference the source does not find counts as an unset variable.
``${VAR}`` with ``VAR`` unset and ``VAR_FILE`` set
    the content of the file ``VAR_FILE`` names (Docker images' convention), through
    the ``file`` source.
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

Secret sources
--------------
Evaluation does no I/O either: the values of source references come in as
``found``, a mapping from ``(source, reference)`` to the value or an
:class:`Unavailable`. :func:`references` says which references a string needs
(lazily, as evaluation does: a reference inside an unused default is not
needed), so the caller can fetch them all at once, then interpolate. A reference
missing from ``found`` is a :class:`~envres._errors.SourceError` saying it was
not resolved (offline).

Expressions nest at most :data:`MAX_DEPTH` levels deep, so no input can make the
parser or the evaluator recurse without bound.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TypeAlias

from envres._errors import InterpolationError, MissingVariableError, SourceError, suggest
from envres._record import Record

__all__ = [
    "MAX_DEPTH",
    "NOTHING_FOUND",
    "Found",
    "Interpolated",
    "Segment",
    "Unavailable",
    "VarUse",
    "interpolate",
    "references",
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

# Where a source reference ends: its closing brace or operator, or what it may not hold.
_REFERENCE_END = re.compile(r"\}|:[-?+]|[${]")

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
    """One variable (or secret source reference) looked up while interpolating.

    ``expr`` is the top-level braced expression the lookup belongs to, as written
    (for ``${A:-${B}}`` both ``A`` and ``B`` report ``"${A:-${B}}"``). ``is_set``
    says the variable was in the environment (an empty value counts as set);
    ``default_used`` says a default or alternative branch supplied the value.

    ``source`` is ``""`` for a variable read from the environment. For a secret
    source reference it is the source's name and ``name`` is the reference as
    written (``"ssm:/shop/pg"``), ``is_set`` saying the source found it. For ``VAR``
    read from the file ``VAR_FILE`` names, ``source`` is ``"file"``, ``name`` is
    ``VAR`` and ``via`` is ``VAR_FILE``.
    """

    __slots__ = ("name", "expr", "is_set", "default_used", "source", "via")
    name: str
    expr: str
    is_set: bool
    default_used: bool
    source: str
    via: str

    def __init__(
        self,
        name: str,
        expr: str,
        is_set: bool,
        default_used: bool,
        source: str = "",
        via: str = "",
    ) -> None:
        # Made once per value or resource: each slot written directly.
        set_name, set_expr, set_is_set, set_default_used, set_source, set_via = self._setters
        set_name(self, name)
        set_expr(self, expr)
        set_is_set(self, is_set)
        set_default_used(self, default_used)
        set_source(self, source)
        set_via(self, via)


class Unavailable(Record):
    """Why a secret source gave no value for a reference; never holds a value.

    ``not_found`` says the source looked and there is no such secret (or key): the
    reference then counts as an unset variable (a default applies). Any other
    reason (access denied, a timeout) is an error whatever the expression says.
    """

    __slots__ = ("reason", "not_found")
    reason: str
    not_found: bool

    def __init__(self, reason: str, not_found: bool = False) -> None:
        self._set(reason, not_found)


#: What interpolation knows of secret sources: ``(source, reference)`` -> value or why not.
Found: TypeAlias = Mapping[tuple[str, str], "str | Unavailable"]

#: No source reference resolved (the default: every reference is reported offline).
NOTHING_FOUND: Found = {}


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
    """A parsed ``${name<op>arg}``; ``op`` is ``""`` for plain ``${name}``.

    For ``${source:reference<op>arg}`` ``source`` is the source's name and ``name``
    the reference; ``source`` is ``""`` for a variable.
    """

    __slots__ = ("name", "op", "arg", "raw_arg", "start", "end", "source")
    name: str
    op: str
    arg: tuple[_Piece, ...]
    raw_arg: str
    start: int  # index of the "$"
    end: int  # index just after the closing "}"
    source: str

    def __init__(
        self,
        name: str,
        op: str,
        arg: tuple[_Piece, ...],
        raw_arg: str,
        start: int,
        end: int,
        source: str = "",
    ) -> None:
        self._set(name, op, arg, raw_arg, start, end, source)


class _Pending(InterpolationError):
    """A reference :func:`references` found still unknown; only raised while collecting."""


class _Reading:
    """What one evaluation reads and records: the environment, the sources' values, uses.

    ``pending`` is a list only while :func:`references` collects what is needed: an
    unknown reference is added to it and stops that expression.
    """

    __slots__ = ("env", "found", "pending", "uses")

    def __init__(
        self,
        env: Mapping[str, str],
        found: Found,
        uses: list[VarUse],
        pending: list[tuple[str, str]] | None = None,
    ) -> None:
        self.env = env
        self.found = found
        self.uses = uses
        self.pending = pending


_Piece: TypeAlias = "str | _Expr"


def interpolate(
    text: str,
    env: Mapping[str, str],
    sources: frozenset[str] = frozenset(),
    found: Found = NOTHING_FOUND,
) -> Interpolated:
    """Expand every ``${...}`` expression of ``text`` from ``env``.

    ``sources`` are the registered secret source names (``${file:...}`` is a
    reference only when ``"file"`` is one of them) and ``found`` their values.

    Raises :class:`MissingVariableError` for a required variable that is not set,
    :class:`SourceError` for a reference with no value, and
    :class:`InterpolationError` for a malformed expression, and nothing else.
    ``offset`` on the error is the index of the ``$`` of the failing expression
    (the innermost one, for a nested expression).

        >>> interpolate("${A:-${B:-x}}/$$HOME", {"B": ""}).value
        'x/$HOME'
        >>> interpolate("${X}", {"X": "${Y}"}).value  # values are never rescanned
        '${Y}'
        >>> interpolate("${file:pw:-none}", {}, frozenset({"file"}),
        ...             {("file", "pw"): Unavailable("no such file", not_found=True)}).value
        'none'
    """
    if "$" not in text:
        return Interpolated((Segment(text, False),) if text else (), ())
    pieces = _parse(text, sources)
    segments: list[Segment] = []
    reading = _Reading(env, found, [])
    try:
        for piece in pieces:
            if isinstance(piece, str):
                segments.append(Segment(piece, False))
            else:
                source = text[piece.start : piece.end]
                segments.append(Segment(_evaluate(piece, reading, source), True))
    except SourceError as exc:
        exc.uses = tuple(reading.uses)  # what was read before it, still worth listing
        raise
    return Interpolated(tuple(segments), tuple(reading.uses))


def references(
    text: str, env: Mapping[str, str], sources: frozenset[str], found: Found = NOTHING_FOUND
) -> list[tuple[str, str]]:
    """The ``(source, reference)`` pairs evaluating ``text`` needs and ``found`` lacks.

    Lazy as evaluation is: a reference in a default is needed only once the value
    before it is known to be unset, so call again with what was found until
    nothing more is needed. ``VAR`` unset with ``VAR_FILE`` set needs
    ``("file", <VAR_FILE's value>)``. A malformed string needs nothing (interpolating
    it reports the error).

        >>> references("${ssm:/a:-${file:b}}", {}, frozenset({"ssm", "file"}))
        [('ssm', '/a')]
        >>> references("${PW}", {"PW_FILE": "/run/secrets/pw"}, frozenset())
        [('file', '/run/secrets/pw')]
    """
    if "$" not in text:
        return []
    try:
        pieces = _parse(text, sources)
    except InterpolationError:
        return []
    pending: list[tuple[str, str]] = []
    reading = _Reading(env, found, [], pending)
    for piece in pieces:
        if isinstance(piece, _Expr):
            try:
                _evaluate(piece, reading, "")
            except InterpolationError:
                continue  # pending, or an error that interpolating will report
    return list(dict.fromkeys(pending))


# --- parsing -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _parse(text: str, sources: frozenset[str]) -> tuple[_Piece, ...]:
    """The parsed pieces of one string; cached, as profiles repeat their expressions."""
    return _parse_seq(text, 0, 0, sources, nested=False)[0]


def _parse_seq(
    text: str, pos: int, depth: int, sources: frozenset[str], *, nested: bool
) -> tuple[tuple[_Piece, ...], int]:
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
            expr = _parse_expr(text, i, depth + 1, sources)
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


def _parse_expr(text: str, start: int, depth: int, sources: frozenset[str]) -> _Expr:
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
    if text[k] == ":" and name in sources and text[k + 1 : k + 2] not in ("-", "?", "+"):
        return _parse_reference(text, start, k + 1, depth, name, sources)
    op_match = _OPERATOR.match(text, k)
    if op_match is None:
        hint = suggest(name, sorted(sources)) if text[k] == ":" else ""
        if hint:
            hint = hint.replace("did you mean", "did you mean the secret source", 1)
        raise InterpolationError(
            f"invalid interpolation {_snippet(text, start)}: "
            f'unexpected "{text[k]}" after the variable name {name}; {_OPERATORS_HINT}{hint}',
            variable=name,
            offset=start,
        )
    arg_start = op_match.end()
    arg, close = _parse_seq(text, arg_start, depth, sources, nested=True)
    if close >= n:
        raise _unterminated(text, start, name)
    return _Expr(name, op_match.group(), arg, text[arg_start:close], start, close + 1)


def _parse_reference(
    text: str, start: int, ref_start: int, depth: int, source: str, sources: frozenset[str]
) -> _Expr:
    """Parse ``${source:reference<op>arg}`` from just after the ``source:``.

    The reference is literal text: it ends at ``}`` or at the first ``:-``, ``:?``
    or ``:+`` (an ARN's own ``:`` characters are part of it), and holds no ``$`` or
    ``{`` (no expression inside a reference).
    """
    n = len(text)
    match = _REFERENCE_END.search(text, ref_start)
    if match is None:
        raise _unterminated(text, start, None)
    reference = text[ref_start : match.start()]
    if match.group() in ("$", "{"):
        raise InterpolationError(
            f"invalid interpolation {_snippet(text, start)}: a {source} reference is literal "
            f'text and cannot hold "{match.group()}"; use a default for a fallback instead '
            f"(${{{source}:REF:-${{OTHER}}}})",
            offset=start,
        )
    if not reference.strip():
        raise InterpolationError(
            f"invalid interpolation {_snippet(text, start)}: "
            f'expected a reference after "{source}:"',
            offset=start,
        )
    if match.group() == "}":
        return _Expr(reference, "", (), "", start, match.end(), source)
    arg_start = match.end()
    arg, close = _parse_seq(text, arg_start, depth, sources, nested=True)
    if close >= n:
        raise _unterminated(text, start, None)
    return _Expr(reference, match.group(), arg, text[arg_start:close], start, close + 1, source)


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


def _evaluate(expr: _Expr, reading: _Reading, source: str) -> str:
    """The value of one expression; ``source`` is its top-level expression as written."""
    op = expr.op
    value, use = _lookup(expr, reading, source)
    is_set = value is not None
    non_empty = bool(value)
    if op in ("", "?", ":?"):
        if value is None or (op == ":?" and not non_empty):
            raise _missing(expr, reading, value, source)
        reading.uses.append(use)
        return value
    if op in (":-", "-"):
        use_default = not is_set or (op == ":-" and not non_empty)
    else:  # ":+" / "+": the alternative replaces a present value
        use_default = is_set and (op == "+" or non_empty)
    reading.uses.append(use.replace(is_set=is_set, default_used=use_default))
    if use_default:
        return _evaluate_arg(expr.arg, reading, source)
    if op in (":+", "+"):
        return ""
    assert value is not None  # use_default is False only for a set variable
    return value


def _lookup(expr: _Expr, reading: _Reading, source: str) -> tuple[str | None, VarUse]:
    """The value of an expression's variable or reference (None: unset), and its use."""
    if expr.source:
        key = (expr.source, expr.name)
        label = f"{expr.source}:{expr.name}"
        return _found(key, label, expr, reading), VarUse(label, source, True, False, expr.source)
    value = reading.env.get(expr.name)
    if value is not None:
        return value, VarUse(expr.name, source, True, False)
    via = f"{expr.name}_FILE"
    path = reading.env.get(via)
    if path is None:
        return None, VarUse(expr.name, source, False, False)
    key = ("file", path)
    found = _found(key, f"{expr.name} (from the file named by {via})", expr, reading)
    return found, VarUse(expr.name, source, True, False, "file", via)


def _found(key: tuple[str, str], label: str, expr: _Expr, reading: _Reading) -> str | None:
    """A reference's value; None when the source found nothing there (it counts as unset)."""
    if key not in reading.found:
        if reading.pending is not None:
            reading.pending.append(key)
            raise _Pending(label)
        raise SourceError(
            f"{label}: not resolved (offline)",
            source=key[0],
            reference=key[1],
            offline=True,
            offset=expr.start,
            variable=None if expr.source else expr.name,
        )
    got = reading.found[key]
    if isinstance(got, str):
        return got
    if got.not_found:
        return None
    raise SourceError(
        f"{label}: {got.reason}",
        source=key[0],
        reference=key[1],
        offset=expr.start,
        variable=None if expr.source else expr.name,
    )


def _evaluate_arg(arg: tuple[_Piece, ...], reading: _Reading, source: str) -> str:
    return "".join(
        piece if isinstance(piece, str) else _evaluate(piece, reading, source) for piece in arg
    )


def _missing(expr: _Expr, reading: _Reading, value: str | None, source: str) -> InterpolationError:
    if expr.source or (value is None and f"{expr.name}_FILE" in reading.env):
        message = _not_found(expr, reading)
    else:
        state = "is not set" if value is None else "is empty"
        message = f"environment variable {expr.name} {state}"
    if expr.op:
        try:
            # Looked-up variables are discarded: this call is about to raise anyway.
            detail = _evaluate_arg(expr.arg, _Reading(reading.env, reading.found, []), source)
        except InterpolationError:
            # The first problem is the variable itself; a broken message must not hide it.
            detail = expr.raw_arg
        detail = detail.strip()
        if detail:
            message = f"{message}: {detail}"
    if expr.source:
        return SourceError(message, source=expr.source, reference=expr.name, offset=expr.start)
    if value is None and f"{expr.name}_FILE" in reading.env:
        path = reading.env[f"{expr.name}_FILE"]
        return SourceError(
            message, source="file", reference=path, offset=expr.start, variable=expr.name
        )
    return MissingVariableError(message, variable=expr.name, offset=expr.start)


def _not_found(expr: _Expr, reading: _Reading) -> str:
    """Why a reference (or ``VAR_FILE``'s file) has no value: what the source said."""
    if expr.source:
        key, label = (expr.source, expr.name), f"{expr.source}:{expr.name}"
    else:
        via = f"{expr.name}_FILE"
        key, label = ("file", reading.env[via]), f"{expr.name} (from the file named by {via})"
    got = reading.found.get(key)
    if isinstance(got, Unavailable):
        return f"{label}: {got.reason}"
    return f"{label}: is empty"
