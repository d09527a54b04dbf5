"""What a secret is, and how it is kept out of every output: the one module that decides.

A config value is a secret (PRODUCT.md §8) when

- its type is a pydantic secret (``SecretStr``, ``SecretBytes``, ``Secret[T]``), at
  any depth: inside lists, dicts, nested models, dataclasses and TypedDicts;
- its field name or dict key looks like a secret (:class:`SecretNames`: contains
  ``password``, ``token``, ``api_key``... ignoring case, ``-``, ``_`` and ``.``, plus
  the project's ``[tool.envres] secret_names``);
- it came from a variable whose name looks like a secret by the same rule;
- it came from a secret source (``${file:...}``, ``VAR_FILE``, ``${ssm:...}``...,
  PRODUCT.md §10): a secret by construction (:func:`is_secret_origin`).

Three kinds of helper follow from that, and every output path uses them:

- :func:`shape_of` reads a type once and says where secrets sit in its values;
  :func:`secret_leaves` and :func:`mask` walk a value with that shape (keys are
  checked by name as they are met, since a ``dict[str, str]`` can hold anything);
- a :class:`Redactor` knows the secret strings of a profile and masks them in any
  text, in every form an output can give them (quoted, escaped, JSON, YAML, URL
  encoded, split over lines), and in data before it is formatted;
- :data:`MASK` is the only thing ever shown instead: never a length, never a part.

Nothing here reads the environment or prints.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import types
import typing
import urllib.parse
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from envres._errors import INTERRUPTS
from envres._record import Record

if TYPE_CHECKING:
    from pydantic import BaseModel, SecretStr

__all__ = [
    "DEFAULT_SECRET_NAMES",
    "FRAGMENT",
    "MASK",
    "PLAIN",
    "SECRET",
    "CredentialShape",
    "Redactor",
    "SecretNames",
    "Shape",
    "credential_offsets",
    "credential_shapes",
    "derived",
    "environment_secrets",
    "hidden",
    "hide_schema_defaults",
    "holds_mask",
    "holds_secret",
    "is_secret",
    "is_secret_origin",
    "mask",
    "masked_repr",
    "model_shape",
    "names_only",
    "part",
    "seal",
    "secret_at",
    "secret_fields",
    "secret_leaves",
    "secret_name",
    "secret_texts",
    "shape_of",
    "texts",
]

#: What is shown instead of a secret, whatever its length.
MASK: Final = "**********"

#: A run of this many characters of a secret, in text user code wrote, is masked too:
#: a secret cut short (``password[:12]``) or folded over lines is still a secret.
FRAGMENT: Final = 8

# Secrets shorter than this are masked only where they stand as a whole token
# ("pw" in "user:pw@host", not the "pw" inside "npw3"): masking every occurrence of
# two letters would garble the output without hiding anything more.
_MIN_SUBSTRING = 4
_WORD = "A-Za-z0-9"


# -- names -------------------------------------------------------------------------------


def _normal(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(".", "")


class SecretNames(Record):
    """The name rule: a field, key or variable whose name contains a pattern is secret.

    Matching ignores case and the characters ``-``, ``_`` and ``.``, so the pattern
    ``api_key`` matches ``apiKey``, ``API-KEY`` and ``x.api.key``.

        >>> names = SecretNames.default()
        >>> names.match("AWS_SECRET_ACCESS_KEY"), names.match("host")
        (True, False)
    """

    __slots__ = ("patterns",)
    patterns: tuple[str, ...]

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self._set(patterns)

    @classmethod
    def default(cls) -> SecretNames:
        return DEFAULT_SECRET_NAMES

    def extended(self, extra: Iterable[str]) -> SecretNames:
        """These patterns plus ``extra`` (a project's ``secret_names``)."""
        added = tuple(p for p in (_normal(x) for x in extra) if p and p not in self.patterns)
        return SecretNames(self.patterns + added) if added else self

    def match(self, name: str) -> bool:
        return _match(self.patterns, name)


@functools.lru_cache(maxsize=8192)
def _match(patterns: tuple[str, ...], name: str) -> bool:
    normal = _normal(name)
    return any(p in normal for p in patterns)


DEFAULT_SECRET_NAMES: Final = SecretNames(
    tuple(
        _normal(p)
        for p in (
            "password",
            "passwd",
            "secret",
            "token",
            "credential",
            "api_key",
            "apikey",
            "private_key",
            "access_key",
        )
    )
)


def derived(
    computed: Iterable[tuple[str, Iterable[str], bool]],
    secret_variables: Collection[str],
    values: Mapping[str, str],
) -> Iterator[str]:
    """The values computed from a secret: each is a secret as a whole.

    ``computed`` holds each string that interpolation or a template produced, the
    variables it read, and whether a template made it. A secret variable is one
    whose name looks like a secret or that fills a secret field anywhere in the
    profile. An interpolated string is a secret when a secret variable's value went
    into it (``postgresql://u:${PG_PASSWORD}@h/db``, not ``${PG_PASSWORD:+true}``);
    a template's result when the template read a secret variable and the result
    has at least :data:`_DERIVED_MIN` characters (``{{ env('TOKEN') | upper }}``,
    not ``{{ env('TOKEN') | length }}``: masking every ``40`` hides nothing).

        >>> env = {"TOKEN": "abc-123-xyz", "HOST": "db"}
        >>> computed = [("Bearer abc-123-xyz", ["TOKEN"], False), ("db", ["HOST"], False),
        ...             ("true", ["TOKEN"], False), ("ABC-123-XYZ", ["TOKEN"], True)]
        >>> list(derived(computed, {"TOKEN"}, env))
        ['Bearer abc-123-xyz', 'ABC-123-XYZ']
    """
    for value, variables, templated in computed:
        if not value:
            continue
        secret = [name for name in variables if name in secret_variables]
        if not secret:
            continue
        if templated:
            if len(value) >= _DERIVED_MIN:
                yield value
        elif any(values.get(name) and values[name] in value for name in secret):
            yield value


#: A template's result computed from a secret is a secret from this length on.
_DERIVED_MIN: Final = 6


def environment_secrets(
    environ: Mapping[str, str], names: SecretNames = DEFAULT_SECRET_NAMES
) -> Iterator[str]:
    """The values of the variables whose names look like a secret (``PG_PASSWORD``).

    A command masks them from its start, before any profile says more: the project's
    code may print one while it is imported. Values shorter than :data:`FRAGMENT`
    are left to the profile (``DISABLE_TOKEN_CHECK=1`` must not mask every ``1``).

        >>> list(environment_secrets({"API_TOKEN": "t0k3n-abcdef", "HOME": "/root"}))
        ['t0k3n-abcdef']
    """
    for name, value in environ.items():
        if len(value) >= FRAGMENT and names.match(name):
            yield value


def secret_name(name: str, names: SecretNames = DEFAULT_SECRET_NAMES) -> bool:
    """Whether a field, key or variable is a secret by its name alone (``PG_PASSWORD``)."""
    return names.match(name)


def hidden() -> str:
    """What is shown instead of a secret: the mask, never a length, never a part."""
    return MASK


def holds_mask(value: Any) -> bool:
    """Whether a shown value (plain data) has a secret masked somewhere inside it."""
    return MASK in json.dumps(value, default=str)


def hide_schema_defaults(node: Any, names: SecretNames = DEFAULT_SECRET_NAMES) -> None:
    """Drop ``default`` from every property of a JSON Schema that is a secret, at any depth.

    A property is a secret by its name, or by its type: pydantic writes secret types
    as write-only passwords (``SecretStr | None`` too).
    """
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        for key, prop in (item.get("properties") or {}).items():
            if not isinstance(prop, dict):
                continue
            options = [prop, *prop.get("anyOf", ())]
            by_type = any(o.get("writeOnly") or o.get("format") == "password" for o in options)
            if (names.match(key) or by_type) and prop.get("default") is not None:
                del prop["default"]
        stack.extend(item.values())


def is_secret_origin(variable: str, source: str, names: SecretNames) -> bool:
    """Whether a value read from ``variable``, or from the secret source ``source``, is secret.

    A value from any secret source (``source`` not empty) is a secret by construction,
    whatever its name; a variable's value is one when the variable's name looks like a
    secret.

        >>> is_secret_origin("PG_HOST", "", DEFAULT_SECRET_NAMES)
        False
        >>> is_secret_origin("file:/run/secrets/host", "file", DEFAULT_SECRET_NAMES)
        True
    """
    return bool(source) or names.match(variable)


# -- shapes: where secrets sit in the values of a type -----------------------------------


class Shape:
    """Where secrets sit in a value; built by :func:`shape_of`, walked by the helpers."""

    __slots__ = ()


class _Whole(Shape, Record):
    """The whole value is a secret. One instance, :data:`SECRET`, compared with ``is``."""

    __slots__ = ()

    def __reduce__(self) -> str:  # type: ignore[override]
        # Pickled by name, so a Dask worker's copy of a shape still says `is SECRET`.
        return "SECRET"


class _Plain(Shape, Record):
    """Nothing is secret by type (keys met inside are still checked by name). One
    instance, :data:`PLAIN`."""

    __slots__ = ()

    def __reduce__(self) -> str:  # type: ignore[override]
        return "PLAIN"


class _Fields(Shape, Record):
    """A model, dataclass or TypedDict: a shape per field."""

    __slots__ = ("fields",)
    fields: Mapping[str, Shape]

    def __init__(self, fields: Mapping[str, Shape]) -> None:
        self._set(fields)


class _Items(Shape, Record):
    """A list, tuple or set: the items' shape."""

    __slots__ = ("item",)
    item: Shape

    def __init__(self, item: Shape) -> None:
        self._set(item)


class _Values(Shape, Record):
    """A dict: the values' shape (its keys are checked by name)."""

    __slots__ = ("value",)
    value: Shape

    def __init__(self, value: Shape) -> None:
        self._set(value)


class _AnyOf(Shape, Record):
    """A union of several structured shapes: each applies where it fits."""

    __slots__ = ("options",)
    options: tuple[Shape, ...]

    def __init__(self, options: tuple[Shape, ...]) -> None:
        self._set(options)


SECRET: Final[Shape] = _Whole()
PLAIN: Final[Shape] = _Plain()

_UNIONS = (typing.Union, types.UnionType)
_SEQUENCES = (list, tuple, set, frozenset, Sequence, Iterable, typing.AbstractSet)


def shape_of(annotation: Any, names: SecretNames = DEFAULT_SECRET_NAMES) -> Shape:
    """Where secrets sit in values of ``annotation``, by type and by field name.

    >>> from pydantic import SecretStr
    >>> shape_of(dict[str, SecretStr]) == _Values(SECRET)
    True
    """
    return _shape(annotation, names, frozenset())


def model_shape(model: type[BaseModel], names: SecretNames = DEFAULT_SECRET_NAMES) -> Shape:
    """The shape of a config model: one entry per field (cached per model and rule)."""
    return _model_shape(model, names)


@functools.lru_cache(maxsize=1024)
def _model_shape(model: type[BaseModel], names: SecretNames) -> Shape:
    return _shape(model, names, frozenset())


def _shape(ann: Any, names: SecretNames, seen: frozenset[Any]) -> Shape:
    from pydantic import Secret, SecretBytes, SecretStr  # lazy: --help needs no pydantic

    origin = typing.get_origin(ann)
    if origin is typing.Annotated:
        return _shape(typing.get_args(ann)[0], names, seen)
    cls = origin or ann
    if isinstance(cls, type) and issubclass(cls, (SecretStr, SecretBytes, Secret)):
        return SECRET
    if origin in _UNIONS:
        return _union([_shape(a, names, seen) for a in typing.get_args(ann)])
    if not isinstance(cls, type) or cls in (str, bytes):
        return PLAIN
    # Models, dataclasses and TypedDicts first: a model is iterable and a TypedDict is a dict.
    fields = _field_types(cls)
    if fields is not None:
        if ann in seen:
            return PLAIN  # a recursive model: its fields are already being described
        inner = seen | {ann}
        return _Fields(
            {
                name: SECRET if names.match(name) else _shape(t, names, inner)
                for name, t in fields.items()
            }
        )
    args = typing.get_args(ann)
    if issubclass(cls, Mapping):
        return _wrap(_Values, _shape(args[-1], names, seen) if args else PLAIN)
    if issubclass(cls, tuple) and args and args[-1] is not Ellipsis:
        return _wrap(_Items, _union([_shape(a, names, seen) for a in args]))
    if issubclass(cls, _SEQUENCES):
        return _wrap(_Items, _shape(args[0], names, seen) if args else PLAIN)
    return PLAIN


def _field_types(cls: type) -> dict[str, Any] | None:
    """Field names and annotations of a model, dataclass or TypedDict; None for others."""
    from pydantic import BaseModel  # lazy: --help needs no pydantic

    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return {name: f.annotation for name, f in cls.model_fields.items()}
    if dataclasses.is_dataclass(cls) or _is_typeddict(cls):
        try:
            hints = typing.get_type_hints(cls)
        except Exception:
            hints = {}
        if dataclasses.is_dataclass(cls):
            return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls)}
        return hints
    return None


def _is_typeddict(cls: type) -> bool:
    # pydantic wants typing_extensions.TypedDict on Python < 3.12, which typing's own
    # is_typeddict does not recognise.
    import typing_extensions

    return typing.is_typeddict(cls) or typing_extensions.is_typeddict(cls)


def _wrap(kind: Callable[[Shape], Shape], inner: Shape) -> Shape:
    return inner if inner is PLAIN else kind(inner)  # a list of plain values is plain


def _union(shapes: list[Shape]) -> Shape:
    if any(s is SECRET for s in shapes):
        return SECRET  # the value may be the secret: hide it whatever it turns out to be
    structured: list[Shape] = []
    for s in shapes:  # shapes hold dicts (not hashable): compare, do not hash
        if s is not PLAIN and s not in structured:
            structured.append(s)
    if not structured:
        return PLAIN
    return structured[0] if len(structured) == 1 else _AnyOf(tuple(structured))


def _child(shape: Shape, key: str | int | None) -> Shape:
    """The shape of one part of a value: a field, a dict value, an item."""
    if isinstance(shape, _Fields):
        return shape.fields.get(str(key), PLAIN)
    if isinstance(shape, _Values):
        return shape.value
    if isinstance(shape, _Items):
        return shape.item
    if isinstance(shape, _AnyOf):
        return _union([_child(s, key) for s in shape.options])
    return shape  # SECRET stays secret all the way down; PLAIN stays plain


def part(shape: Shape, key: str | int, names: SecretNames) -> Shape:
    """The shape of ``value[key]``: secret when the key's name looks like a secret."""
    if isinstance(key, str) and names.match(key):
        return SECRET
    return _child(shape, key)


def secret_fields(shape: Shape, fields: Iterable[str]) -> Shape:
    """``shape`` with each of the top-level ``fields`` made wholly secret.

    For a value fed by a secret (a secret source) in a field that is not secret by
    type or name: the whole field is masked, whatever its type (an ``int`` port read
    from a file is masked as a password is).
    """
    marked = dict.fromkeys(fields, SECRET)
    if not marked or shape is SECRET:
        return shape
    if isinstance(shape, _Fields):
        return _Fields({**shape.fields, **marked})
    return _Fields(marked)


def secret_at(shape: Shape, path: Iterable[str | int], names: SecretNames) -> bool:
    """Whether the value at ``path`` (field names, keys, indexes) is in a secret position."""
    for key in path:
        if shape is SECRET:
            return True
        shape = part(shape, key, names)
    return shape is SECRET


def names_only() -> Shape:
    """The shape of a value whose type is unknown: secret only where a key's name says so."""
    return PLAIN


def is_secret(shape: Shape) -> bool:
    """Whether a value of this shape is a secret as a whole."""
    return shape is SECRET


def secret_texts(value: Any, shape: Shape, names: SecretNames) -> Iterator[str]:
    """Every string (or long number, as text) inside ``value`` that is a secret."""
    if shape is SECRET:
        return texts(value)
    if isinstance(value, dict | list):
        return secret_leaves(value, shape, names)
    return iter(())


def holds_secret(value: Any, shape: Shape, names: SecretNames, redactor: Redactor) -> bool:
    """Whether ``value`` (of this shape) is a secret or holds one anywhere inside it.

    By position (its type or a key's name, at any depth) or by content (a string the
    redactor knows as a secret, or holding one).
    """
    if shape is SECRET:
        return True
    if any(secret_leaves(value, shape, names)):
        return True
    if isinstance(value, str | int):
        return redactor.hides(str(value))
    return any(redactor.hides(text) for text in texts(value))


def seal(value: Any, shape: Shape, names: SecretNames, redactor: Redactor) -> Any:
    """``value`` with every string that is or holds a secret wrapped in ``SecretStr``.

    For values that travel (to a Dask worker): a repr or a log of them shows the mask.
    """
    from pydantic import SecretStr  # lazy: --help needs no pydantic

    if isinstance(value, str):
        if shape is SECRET or redactor.hides(value):
            return SecretStr(value)
        return value
    if isinstance(value, dict):
        return {k: seal(v, part(shape, k, names), names, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [seal(v, part(shape, i, names), names, redactor) for i, v in enumerate(value)]
    return value


def secret_leaves(value: Any, shape: Shape, names: SecretNames) -> Iterator[str]:
    """Every string (or number, as text) inside ``value`` that is a secret."""
    stack: list[tuple[Any, Shape]] = [(value, shape)]
    while stack:
        v, s = stack.pop()
        if s is SECRET:
            yield from texts(v)
        elif isinstance(v, Mapping):
            stack.extend((child, part(s, k, names)) for k, child in v.items())
        elif isinstance(v, list | tuple):
            stack.extend((child, _child(s, i)) for i, child in enumerate(v))


def texts(value: Any) -> Iterator[str]:
    """Every string inside a value in a secret position, as it is masked in text."""
    from pydantic import Secret, SecretBytes, SecretStr  # lazy: --help needs no pydantic

    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, Mapping):
            stack.extend(v.values())
        elif isinstance(v, list | tuple | set | frozenset):
            stack.extend(v)
        elif isinstance(v, SecretStr | SecretBytes | Secret):
            inner = v.get_secret_value()
            stack.append(inner.decode("utf-8", "replace") if isinstance(inner, bytes) else inner)
        elif isinstance(v, str):
            if v:
                yield v
        elif isinstance(v, bytes):
            if v:
                yield v.decode("utf-8", "replace")
        elif isinstance(v, int | float) and not isinstance(v, bool):
            # A number is masked in text only when it is long enough to mean something:
            # `max_tokens: 256` is a "secret" by name, and every 256 in the output is not.
            text = str(v)
            if len(text) >= _MIN_SUBSTRING:
                yield text


def mask(value: Any, shape: Shape, names: SecretNames, keep: Callable[[Any], bool]) -> Any:
    """``value`` (plain data) with each secret part replaced by :data:`MASK`.

    ``keep(v)`` says a value is shown as is even where it is a secret (``None``,
    or a marker such as ``<not set>``): saying a secret is unset reveals nothing.
    """
    if shape is SECRET:
        return value if keep(value) else MASK
    if isinstance(value, Mapping):
        return {k: mask(v, part(shape, k, names), names, keep) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v, _child(shape, i), names, keep) for i, v in enumerate(value)]
    return value


class _Shown:
    """Stands for a value in a repr: ``Login(user='svc', password='**********')``."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text


def masked_repr(value: Any, shape: Shape, names: SecretNames) -> Any:
    """``value`` for a repr: secret parts replaced by :data:`MASK`, nested models too."""
    from pydantic import BaseModel  # lazy: --help needs no pydantic

    if shape is SECRET:
        return value if value is None else MASK
    if isinstance(value, BaseModel):
        fields = ", ".join(
            f"{k}={masked_repr(getattr(value, k), part(shape, k, names), names)!r}"
            for k in type(value).model_fields
        )
        return _Shown(f"{type(value).__name__}({fields})")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ", ".join(
            f"{f.name}={masked_repr(getattr(value, f.name), part(shape, f.name, names), names)!r}"
            for f in dataclasses.fields(value)
        )
        return _Shown(f"{type(value).__name__}({fields})")
    if isinstance(value, Mapping):
        return {k: masked_repr(v, part(shape, k, names), names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked_repr(v, part(shape, i, names), names) for i, v in enumerate(value)]
    return value


# -- redacting text ----------------------------------------------------------------------


class Redactor:
    """The secret strings of a profile, and every way to keep them out of text.

    A Redactor is immutable; ``a | b`` knows the secrets of both. Its repr never
    shows a secret, nor how many characters one has.

        >>> r = Redactor(["s3cr3t-pw"])
        >>> r.redact("login failed: 's3cr3t-pw'")
        "login failed: '**********'"
    """

    __slots__ = ("_grams", "_pattern", "_prefixes", "_secrets")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: frozenset[str] = frozenset(s for s in secrets if s and s != MASK)
        self._pattern: re.Pattern[str] | None = _pattern(self._secrets) if self._secrets else None
        self._grams: frozenset[str] | None = None  # built on first use by redact_untrusted
        self._prefixes: frozenset[str] | None = None  # built on first use by risky_tail

    def __repr__(self) -> str:
        return f"<Redactor of {len(self._secrets)} secret(s)>"

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def __or__(self, other: Redactor) -> Redactor:
        if not other._secrets or other._secrets <= self._secrets:
            return self
        if not self._secrets:
            return other
        return Redactor(self._secrets | other._secrets)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Redactor) and other._secrets == self._secrets

    def __hash__(self) -> int:
        return hash(self._secrets)

    def __contains__(self, text: object) -> bool:
        return text in self._secrets

    def __reduce__(self) -> tuple[Callable[..., Redactor], tuple[tuple[SecretStr, ...]]]:
        # Pickled (for Dask workers) as SecretStr values, so a repr or a log of what
        # travels shows the mask; the values still travel: use Dask's TLS across hosts.
        from pydantic import SecretStr  # lazy: --help needs no pydantic

        return (_unsealed, (tuple(SecretStr(s) for s in sorted(self._secrets)),))

    def sparing(self, structure: Iterable[str]) -> Redactor:
        """These secrets but those equal to a word of the output's structure.

        Structure is never masked: a password that happens to be ``duckdb`` must not
        turn ``type: duckdb`` or a key into the mask. Values are masked by their
        position before they are formatted, so such a secret is still hidden where it
        stands as a value.

            >>> Redactor(["duckdb", "s3cr3t-pw"]).sparing(["duckdb"]).redact("duckdb s3cr3t-pw")
            'duckdb **********'
        """
        kept = self._secrets - frozenset(structure)
        return self if kept == self._secrets else Redactor(kept)

    def shown(self, value: str, secret: bool) -> str:
        """A value as shown: the mask when it is a secret, else with any secret in it masked."""
        return MASK if secret else self.redact(value)

    def redact(self, text: str) -> str:
        """``text`` with every secret masked, in any of the forms output can give it."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def redact_untrusted(self, text: str) -> str:
        """Like :meth:`redact`, and any run of :data:`FRAGMENT` characters of a secret too.

        For text that user code wrote (an exception's message, what an asset prints, a
        traceback), which may hold a secret cut short or split over lines. envres's own
        output (``show``, tables) uses :meth:`redact`: a fragment there would mask a
        legitimate value that happens to share eight characters with a secret.
        """
        text = self.redact(text)
        if not self._secrets or len(text) < FRAGMENT:
            return text
        if self._grams is None:
            self._grams = frozenset(
                s[i : i + FRAGMENT]
                for s in self._secrets
                for i in range(len(s) - FRAGMENT + 1)
                if MASK not in s[i : i + FRAGMENT]
            )
        grams = self._grams
        marked: list[tuple[int, int]] = []
        for i in range(len(text) - FRAGMENT + 1):
            if text[i : i + FRAGMENT] in grams:
                if marked and i <= marked[-1][1]:
                    marked[-1] = (marked[-1][0], i + FRAGMENT)
                else:
                    marked.append((i, i + FRAGMENT))
        if not marked:
            return text
        parts: list[str] = []
        last = 0
        for start, end in marked:
            parts.append(text[last:start])
            parts.append(MASK)
            last = end
        parts.append(text[last:])
        return "".join(parts)

    def risky_tail(self, text: str) -> int:
        """How many characters at the end of ``text`` could be the start of a secret.

        For a line that user code has not finished (no newline yet): shown now, that
        end could be the first characters of a secret whose rest comes later, too few
        to be masked as a fragment. They wait for the rest of the line.

            >>> Redactor(["s3cr3t-pw"]).risky_tail("password: s3c")
            3
        """
        if not self._secrets or not text:
            return 0
        if self._prefixes is None:
            self._prefixes = frozenset(
                form[:n]
                for secret in self._secrets
                for form in _forms(secret)
                for n in range(1, min(len(form), FRAGMENT + 1))
            )
        prefixes = self._prefixes
        for n in range(min(len(text), FRAGMENT), 0, -1):
            if text[-n:] in prefixes:
                return n
        return 0

    def hides(self, text: str) -> bool:
        """Whether ``text`` holds a secret (in any form)."""
        return self._pattern is not None and self._pattern.search(text) is not None

    def mask_data(self, data: Any) -> Any:
        """``data`` (plain JSON-like data) with every secret inside a string value masked."""
        if self._pattern is None:
            return data
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, Mapping):
            return {k: self.mask_data(v) for k, v in data.items()}  # keys are structure
        if isinstance(data, list | tuple):
            return [self.mask_data(v) for v in data]
        if isinstance(data, int | float) and not isinstance(data, bool):
            # A number equal to a secret (a password of digits that is also a port) is
            # the mask as a string, so a dump of the data stays valid YAML and JSON.
            return MASK if str(data) in self._secrets else data
        return data

    def describe(self, exc: BaseException) -> str:
        """``Type: first line`` of an exception, masked before it is cut to one line."""
        try:
            text = self.redact_untrusted(str(exc)).strip()
        except INTERRUPTS:
            raise
        except BaseException:  # an exception whose __str__ raises
            return type(exc).__name__
        first = text.splitlines()[0] if text else ""
        return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _unsealed(sealed: tuple[SecretStr, ...]) -> Redactor:
    return Redactor(s.get_secret_value() for s in sealed)


@functools.lru_cache(maxsize=64)
def _pattern(secrets: frozenset[str]) -> re.Pattern[str]:
    long_forms: set[str] = set()
    short_forms: set[str] = set()
    for secret in secrets:
        for form in _forms(secret):
            if len(form) >= _MIN_SUBSTRING:
                long_forms.add(form)
            elif form.strip():
                short_forms.add(form)
    alternatives = [re.escape(f) for f in sorted(long_forms, key=len, reverse=True)]
    alternatives += [
        f"(?<![{_WORD}]){re.escape(f)}(?![{_WORD}])"
        for f in sorted(short_forms, key=len, reverse=True)
    ]
    return re.compile("|".join(alternatives))


def _yaml_quoted(text: str, unicode: bool) -> str:
    import yaml

    dumped = yaml.safe_dump(text, default_style='"', width=2**31, allow_unicode=unicode)
    return dumped.strip().removesuffix("...").strip()[1:-1]


# How output spells a string: escaped for Python, JSON, YAML or a URL, or as UTF-8 bytes.
_SPELLINGS: tuple[Callable[[str], str], ...] = (
    lambda s: repr(s)[1:-1],
    lambda s: ascii(s)[1:-1],
    lambda s: s.encode("unicode_escape").decode("ascii"),
    lambda s: repr(s.encode("utf-8", "surrogatepass"))[2:-1],
    lambda s: json.dumps(s)[1:-1],
    lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    lambda s: s.replace("'", "''"),  # YAML single-quoted
    lambda s: _yaml_quoted(s, unicode=True),
    lambda s: _yaml_quoted(s, unicode=False),
    lambda s: urllib.parse.quote(s, safe=""),
    urllib.parse.quote,  # a URL's path: `/` left as it is
    lambda s: urllib.parse.quote_plus(s, safe=""),
)


def _forms(secret: str) -> set[str]:
    """The ways output can spell ``secret``: each spelling, and each spelling of a spelling
    (a JSON document quoted in an exception's repr), and each line of a multi-line one."""
    once = {secret} | {spell(secret) for spell in _SPELLINGS}
    forms = once | {spell(form) for form in once for spell in _SPELLINGS}
    lines = [line for line in secret.splitlines() if line.strip()]
    if len(lines) > 1:
        forms.update(lines)
    return forms


# -- credentials by their shape ----------------------------------------------------------


class CredentialShape(Record):
    """A stretch of text shaped like a known credential: ``kind`` names it, never the text.

    ``start`` and ``end`` are 0-based offsets of the credential in the text searched.
    """

    __slots__ = ("kind", "start", "end")
    kind: str
    start: int
    end: int

    def __init__(self, kind: str, start: int, end: int) -> None:
        self._set(kind, start, end)


# Each pattern is the credential's published format, anchored so that a longer word
# holding the same letters (a hash, a UUID, an identifier) does not match. The named
# group ``c`` is the credential itself when it is only part of the match.
_CREDENTIALS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    (
        "an AWS access key id",
        re.compile(r"(?<![A-Za-z0-9])(?P<c>(?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Za-z0-9])"),
    ),
    (
        "a private key block",
        re.compile(r"(?P<c>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)"),
    ),
    (
        "a Slack token",
        re.compile(r"(?<![A-Za-z0-9])(?P<c>xox[abeoprs]-[A-Za-z0-9]+-[A-Za-z0-9-]{8,})"),
    ),
    (
        "a Slack webhook URL",
        re.compile(
            r"(?P<c>https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,})"
        ),
    ),
    (
        "a GitHub token",
        re.compile(r"(?<![A-Za-z0-9_])(?P<c>gh[pousr]_[A-Za-z0-9]{36,255})(?![A-Za-z0-9_])"),
    ),
    ("a GitHub token", re.compile(r"(?<![A-Za-z0-9_])(?P<c>github_pat_[A-Za-z0-9_]{22,255})")),
    # scheme://user:password@host, the password written out; a ${...} reference or a
    # template in its place is where a secret should come from, and is not one.
    (
        "a password in a URL",
        re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]*:(?P<c>(?!\$\{|\{\{)[^\s/@]+)@"),
    ),
)


def credential_shapes(text: str) -> list[CredentialShape]:
    """Every stretch of ``text`` shaped like a known credential, in order.

    The shapes: AWS access key ids, private key blocks, Slack tokens and webhook
    URLs, GitHub tokens, and a password written inside a URL
    (``postgresql://user:pw@host``, not ``...:${PG_PASSWORD}@host``).

        >>> [c.kind for c in credential_shapes("dsn: postgresql://app:hunter2@db/x")]
        ['a password in a URL']
        >>> credential_shapes("id: 123e4567-e89b-12d3-a456-426614174000")
        []
    """
    if _MAYBE_CREDENTIAL.search(text) is None:  # most lines: one scan, not one per shape
        return []
    found = [
        CredentialShape(kind, m.start("c"), m.end("c"))
        for kind, pattern in _CREDENTIALS
        for m in pattern.finditer(text)
    ]
    return sorted(found, key=lambda c: (c.start, c.end))


#: The fixed part every shape above holds (a password in a URL: ``://``, then no space,
#: slash or ``@`` before an ``@``); tests/test_credential_shapes.py checks they agree.
#: One pattern per part, each starting with its letters: over a whole file, six scans
#: that jump to their first letters are ten times faster than one alternation.
_FIXED_PARTS: Final = (
    re.compile(r"AKIA|ASIA"),
    re.compile(r"-----BEGIN "),
    re.compile(r"xox[abeoprs]-"),
    re.compile(r"https://hooks\.slack\.com/"),
    re.compile(r"gh[pousr]_|github_pat_"),
    re.compile(r"://[^\s/@]*@"),
)
#: The same parts as one pattern, for one short text (one scan, not six).
_MAYBE_CREDENTIAL: Final = re.compile("|".join(p.pattern for p in _FIXED_PARTS))


def credential_offsets(text: str) -> list[int]:
    """Where in ``text`` (a whole file) a credential shape may start, in order.

    Every stretch :func:`credential_shapes` finds on a line holds one of these offsets
    on the same line, so a caller scanning a file line by line need only look at the
    lines they fall on; most files give none.
    """
    return sorted({m.start() for part in _FIXED_PARTS for m in part.finditer(text)})
