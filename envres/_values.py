"""Config values: from located YAML nodes to interpolated, rendered Python values.

Each string under ``config:`` goes through ``${...}`` interpolation, then (when it
holds ``{{`` or ``{%``) the Jinja sandbox; values from the environment are put in
after both, so they are never scanned. What comes out is plain data plus two kinds
of placeholder: :class:`Ref` for ``{resource: key}`` and :data:`MISSING` for a value
whose variable is not set. Alongside, :class:`ConfigReader` records where each
value came from (:class:`Origin`), every variable read (:class:`VarRecord`), and
which variables fed a secret, so their values are masked everywhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from envres._codes import INTERPOLATION, SOURCE, TEMPLATE, UNSET_VARIABLE
from envres._env import PROCESS, PROJECT_DIR, Env
from envres._errors import (
    InterpolationError,
    Loc,
    MissingVariableError,
    Problem,
    SourceError,
    TemplateError,
)
from envres._interpolate import (
    NOTHING_FOUND,
    Found,
    Interpolated,
    Segment,
    Unavailable,
    VarUse,
    interpolate,
    references,
)
from envres._nodes import Node
from envres._record import Record
from envres._secrets import (
    SecretNames,
    Shape,
    is_secret,
    is_secret_origin,
    part,
    secret_name,
    secret_texts,
)
from envres._sources import SourceRegistry

__all__ = [
    "MISSING",
    "NOT_SET",
    "ConfigReader",
    "Origin",
    "Origins",
    "ReadConfig",
    "Ref",
    "VarRecord",
    "contains_missing",
    "contains_ref",
    "leaves",
    "plain_refs",
    "refs_in",
    "resolve_string",
]

#: How an unset variable's value is shown (``--allow-missing-env``, ``env``, ``diff``).
NOT_SET: Final = "<not set>"


class _Missing:
    """The value of a field whose variable is not set (only with ``allow_missing``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return NOT_SET

    def __reduce__(self) -> str:
        # Pickled by name: a Dask worker's copy of a config still says `is MISSING`.
        return "MISSING"


MISSING: Final = _Missing()
_PLACEHOLDER = re.compile("\ue000([0-9]+)\ue001")


class Ref(Record):
    """A config value that is another resource of the profile: ``{resource: key}``."""

    __slots__ = ("key", "loc")
    key: str
    loc: Loc

    def __init__(self, key: str, loc: Loc) -> None:
        # Made once per value or resource: each slot written directly.
        set_key, set_loc = self._setters
        set_key(self, key)
        set_loc(self, loc)


class Origin(Record):
    """Where one config value came from: the line that wrote it and the variables read."""

    __slots__ = ("loc", "uses", "template")
    loc: Loc
    uses: tuple[VarUse, ...]
    template: bool

    def __init__(self, loc: Loc, uses: tuple[VarUse, ...] = (), template: bool = False) -> None:
        # Made once per value or resource: each slot written directly.
        set_loc, set_uses, set_template = self._setters
        set_loc(self, loc)
        set_uses(self, uses)
        set_template(self, template)


class VarRecord(Record):
    """One variable read by the profile: where, whether set, and whether it fed a secret."""

    __slots__ = ("use", "path", "loc", "secret")
    use: VarUse
    path: str
    loc: Loc
    secret: bool

    def __init__(self, use: VarUse, path: str, loc: Loc, secret: bool) -> None:
        # Made once per value or resource: each slot written directly.
        set_use, set_path, set_loc, set_secret = self._setters
        set_use(self, use)
        set_path(self, path)
        set_loc(self, loc)
        set_secret(self, secret)


def resolve_string(
    text: str,
    env: Mapping[str, str],
    profile: str,
    read: list[str] | None = None,
    sources: frozenset[str] = frozenset(),
    found: Found = NOTHING_FOUND,
) -> tuple[str, Interpolated]:
    """Interpolate ``${...}`` and render ``{{ }}`` templates in one user-written string.

    Values that came from the environment are put in after rendering, so they are
    never scanned by either grammar. ``read`` (when given) receives the name of
    every variable the template's ``env()`` looked up, even when rendering fails.
    ``sources`` and ``found`` are the secret source names and their values.
    """
    result = interpolate(text, env, sources, found)
    if "{{" not in text and "{%" not in text:
        return result.value, result
    from envres._template import render

    values: list[str] = []
    parts: list[str] = []
    for seg in result.segments:
        if seg.substituted:
            parts.append(f"\ue000{len(values)}\ue001")
            values.append(seg.text)
        else:
            parts.append(seg.text)
    for use in result.uses:
        if "{{" in use.expr or "{%" in use.expr:
            raise TemplateError(
                f"a template inside {use.expr} is not rendered; move it out of the ${{...}}, "
                "e.g. {{ env('NAME', 'default') }}"
            )
    names: list[str] = [] if read is None else read
    rendered = render(
        "".join(parts),
        env=env,
        profile=profile,
        variables_read=names,
        project_dir=env.get(PROJECT_DIR, ""),
    )
    final = _PLACEHOLDER.sub(lambda m: values[int(m.group(1))], rendered) if values else rendered
    extra = tuple(
        VarUse(name=n, expr=f"env('{n}')", is_set=n in env, default_used=n not in env)
        for n in names
    )
    return final, Interpolated(segments=(Segment(final, True),), uses=result.uses + extra)


class Origins(Mapping[tuple[str | int, ...], Origin]):
    """Where each value of one config came from, by path (``("auth", "key")``).

    Built on first use: only an error message, ``show --explain`` or the docs site
    asks, and recording an :class:`Origin` for every literal of a 10,000-resource
    profile would cost more than validating it. The config's nodes know where each
    literal was written; only what interpolation found out is kept up front
    (``found``), along with the paths whose value could not be read (``failed``,
    which have no origin).
    """

    __slots__ = ("_all", "config", "failed", "found", "written_secrets")

    def __init__(self, config: Node | None) -> None:
        self.config = config
        self.found: dict[tuple[str | int, ...], Origin] = {}
        self.failed: set[tuple[str | int, ...]] = set()
        #: Values in a secret position (by type or name) written out in the profile,
        #: not read from a ``${...}`` reference or a template: the committed-profile
        #: rule's finds (:mod:`envres._rules`), noted as the values are read.
        self.written_secrets: list[tuple[tuple[str | int, ...], Loc]] = []
        self._all: dict[tuple[str | int, ...], Origin] | None = None

    def _built(self) -> dict[tuple[str | int, ...], Origin]:
        if self._all is None:
            out: dict[tuple[str | int, ...], Origin] = {}
            if self.config is not None and isinstance(self.config.value, dict):
                # Depth first in written order, leaves and references only: the order
                # in which values were read.
                stack: list[tuple[tuple[str | int, ...], Node]] = [
                    ((k,), n) for k, n in reversed(self.config.value.items())
                ]
                while stack:
                    path, node = stack.pop()
                    v = node.value
                    if isinstance(v, dict) and not _is_ref(v):
                        stack.extend(((*path, k), n) for k, n in reversed(v.items()))
                    elif isinstance(v, list):
                        stack.extend(((*path, i), n) for i, n in reversed(list(enumerate(v))))
                    elif path not in self.failed:
                        out[path] = self.found.get(path) or Origin(node.loc)
            self._all = out
        return self._all

    def __getitem__(self, path: tuple[str | int, ...]) -> Origin:
        return self._built()[path]

    def __iter__(self) -> Iterator[tuple[str | int, ...]]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())

    def __repr__(self) -> str:
        return f"<Origins of {len(self)} values>"


def _is_ref(value: dict[str, Node]) -> bool:
    """``{resource: key}``: a reference to another resource, not a nested mapping."""
    return len(value) == 1 and "resource" in value and isinstance(value["resource"].value, str)


class ReadConfig:
    """One resource's config after interpolation: values, their origins, its references.

    ``flat`` is true when every value is a scalar that was read as it is (no
    container, no reference, no unset variable): validation can take the inputs
    as they are. ``sourced`` names the fields a secret source fed (masked whole).
    """

    __slots__ = ("flat", "inputs", "origins", "refs", "sourced")

    def __init__(self, config: Node | None = None) -> None:
        self.inputs: dict[str, Any] = {}
        self.origins = Origins(config)
        self.refs: list[Ref] = []
        self.flat = True
        self.sourced: set[str] = set()


_NO_SOURCES: frozenset[str] = frozenset()

# `${name:x` where x is not an operator: a string that may hold a source reference.
_MAY_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:[^-?+]")


class _Located(Mapping[tuple[str, str], "str | Unavailable"]):
    """What the sources found, as one string's references spell them.

    A ``file`` path is relative to the folder of the profile that wrote it, so the
    same text can mean two files; the fetched values are keyed by absolute path.
    ``touched`` collects the keys read, so their values can be marked secret.
    """

    __slots__ = ("found", "folder", "registry", "touched")

    def __init__(
        self,
        found: dict[tuple[str, str], str | Unavailable],
        registry: SourceRegistry,
        folder: Path,
    ) -> None:
        self.found = found
        self.registry = registry
        self.folder = folder
        self.touched: list[tuple[str, str]] = []

    def key(self, written: tuple[str, str]) -> tuple[str, str]:
        source, reference = written
        return source, self.registry.locate(source, reference, self.folder)

    def __getitem__(self, written: tuple[str, str]) -> str | Unavailable:
        key = self.key(written)
        value = self.found[key]
        self.touched.append(key)
        return value

    def __contains__(self, written: object) -> bool:
        return isinstance(written, tuple) and self.key(written) in self.found

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.found)

    def __len__(self) -> int:
        return len(self.found)


class ConfigReader:
    """Reads the configs of one profile, collecting problems, variables and secrets.

    ``allow_missing`` turns an unset variable into a warning (the value becomes
    :data:`MISSING`). ``secret_variables`` ends up holding every variable read in a
    secret position, or whose own name looks like a secret: their values are secrets.
    ``secrets`` collects every value read in a secret position (by type or by name).
    ``computed`` holds every string computed from variables, with their names: those
    computed from a secret variable are secrets too (:func:`~envres._secrets.derived`).
    """

    def __init__(
        self,
        env: Env,
        profile: str,
        allow_missing: bool,
        names: SecretNames,
        sources: SourceRegistry | None = None,
        found: dict[tuple[str, str], str | Unavailable] | None = None,
    ) -> None:
        self.env = env
        self.profile = profile
        self.allow_missing = allow_missing
        self.names = names
        self.sources = sources
        # What the secret sources gave, by (source, reference as fetched): filled by
        # the caller between two reads (see pending), never written to disk.
        self.found: dict[tuple[str, str], str | Unavailable] = {} if found is None else found
        #: References a string needed that ``found`` does not hold yet (online only).
        self.pending: dict[tuple[str, str], None] = {}
        self._file_vars = any(k.endswith("_FILE") for k in env.values)
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.records: list[VarRecord] = []
        self.secret_variables: set[str] = set()
        self.secrets: list[str] = []
        # Each string that interpolation or a template computed, with the variables read.
        self.computed: list[tuple[str, tuple[str, ...], bool]] = []
        # The same string is often written in many resources (`${DB_HOST}`): interpolated
        # once. Strings with templates are rendered each time (they may read env()).
        self._interpolated: dict[str, tuple[str, Interpolated]] = {}
        self._parts: dict[tuple[int, str], Shape] = {}
        self._nearest: dict[str, str] = {}

    def _source_names(self, text: str) -> frozenset[str]:
        """The source names to parse ``text`` with (none when it cannot hold a reference)."""
        if self.sources is None or ":" not in text or not _MAY_REFERENCE.search(text):
            return _NO_SOURCES
        return self.sources.names()

    def _part(self, shape: Shape, name: str) -> Shape:
        key = (id(shape), name)
        found = self._parts.get(key)
        if found is None:
            found = self._parts[key] = part(shape, name, self.names)
        return found

    def scratch(self) -> ConfigReader:
        """A reader of the same environment that reports nothing (unset is no problem)."""
        return ConfigReader(self.env, self.profile, True, self.names, self.sources, self.found)

    def read(self, config: Node | None, base: str, shape: Shape) -> ReadConfig:
        """The values of a ``config:`` mapping (``base`` is ``resources.KEY.config``)."""
        out = ReadConfig(config)
        if config is None or not isinstance(config.value, dict):
            return out
        inputs = out.inputs
        for name, node in config.value.items():
            v = node.value
            field_shape = self._part(shape, name)
            value: Any
            if isinstance(v, str):
                if "$" in v or "{{" in v or "{%" in v:
                    value = self._string(v, node, (name,), f"{base}.{name}", field_shape, out)
                    if value is MISSING:
                        out.flat = False
                else:
                    value = v
                    if v and is_secret(field_shape):
                        out.origins.written_secrets.append(((name,), node.loc))
            elif isinstance(v, dict | list):
                out.flat = False
                value = self._convert(node, (name,), f"{base}.{name}", field_shape, out)
            else:
                value = v
            inputs[name] = value
            self.secrets.extend(secret_texts(value, field_shape, self.names))
        return out

    def _record(self, use: VarUse, dotted: str, loc: Loc, secret: bool) -> None:
        if use.source and not use.via:
            return  # a source reference, not a variable
        if use.via:
            # VAR came from the file VAR_FILE names: VAR_FILE was read too.
            via = VarUse(use.via, use.expr, True, False)
            via_secret = is_secret_origin(use.via, "", self.names)
            if via_secret:
                self.secret_variables.add(use.via)
            self.records.append(VarRecord(via, dotted, loc, via_secret))
        secret = secret or is_secret_origin(use.name, use.source, self.names)
        if secret and not use.source:
            self.secret_variables.add(use.name)
        self.records.append(VarRecord(use, dotted, loc, secret))

    def _convert(
        self,
        node: Node,
        path: tuple[str | int, ...],
        dotted: str,
        shape: Shape,
        out: ReadConfig,
    ) -> Any:
        v = node.value
        if isinstance(v, str):
            if "$" not in v and "{{" not in v and "{%" not in v:
                if v and is_secret(shape):
                    out.origins.written_secrets.append((path, node.loc))
                return v
            return self._string(v, node, path, dotted, shape, out)
        if isinstance(v, dict):
            if _is_ref(v):
                ref = Ref(v["resource"].value, v["resource"].loc)  # type: ignore[arg-type]
                out.refs.append(ref)
                return ref
            return {
                k: self._convert(
                    child, (*path, k), f"{dotted}.{k}", part(shape, k, self.names), out
                )
                for k, child in v.items()
            }
        if isinstance(v, list):
            return [
                self._convert(child, (*path, i), f"{dotted}[{i}]", part(shape, i, self.names), out)
                for i, child in enumerate(v)
            ]
        return v

    def _string(
        self,
        text: str,
        node: Node,
        path: tuple[str | int, ...],
        dotted: str,
        shape: Shape,
        out: ReadConfig,
    ) -> Any:
        """A string value interpolated (or rendered), each variable it read recorded."""
        secret = is_secret(shape)
        templated = "{{" in text or "{%" in text
        if secret and not templated and "${" not in text.replace("$$", ""):
            out.origins.written_secrets.append((path, node.loc))  # `pa$$word`: written out
        read: list[str] = []
        view: _Located | None = None
        try:
            cached = None if templated else self._interpolated.get(text)
            if cached is None:
                names = self._source_names(text)
                if self.sources is not None and "${" in text and (names or self._file_vars):
                    view = _Located(self.found, self.sources, _folder(node.loc))
                found: Found = NOTHING_FOUND if view is None else view
                cached = resolve_string(text, self.env.values, self.profile, read, names, found)
                if not templated and not (view is not None and view.touched):
                    self._interpolated[text] = cached
            value, result = cached
        except SourceError as exc:
            return self._source_failed(exc, text, node, path, dotted, secret, view, out)
        except MissingVariableError as exc:
            self._failed_reads(read, dotted, node.loc, secret)
            self._unset(exc, node, path, dotted, secret, templated, out)
            return MISSING
        except (InterpolationError, TemplateError) as exc:
            out.origins.failed.add(path)
            self._failed_reads(read, dotted, node.loc, secret)
            code = TEMPLATE if isinstance(exc, TemplateError) else INTERPOLATION
            self.problems.append(Problem(exc.message, node.loc, dotted, code=code))
            return MISSING
        out.origins.found[path] = Origin(node.loc, result.uses, templated)
        for use in result.uses:
            self._record(use, dotted, node.loc, secret)
        if result.uses and isinstance(value, str):
            # Whether it was computed from a secret is known once every config is read.
            self.computed.append((value, tuple(use.name for use in result.uses), templated))
        if view is not None and view.touched:
            # A value from a secret source is a secret, and so is what it is part of.
            out.sourced.add(str(path[0]))
            self.secrets.append(value)
            self.secrets.extend(
                v for v in (self.found[k] for k in view.touched) if isinstance(v, str)
            )
        return value

    def _source_failed(
        self,
        exc: SourceError,
        text: str,
        node: Node,
        path: tuple[str | int, ...],
        dotted: str,
        secret: bool,
        view: _Located | None,
        out: ReadConfig,
    ) -> Any:
        """Note a secret source that failed (or is not fetched yet) for ``text``: MISSING."""
        templated = "{{" in text or "{%" in text
        if exc.offline and not self.allow_missing and view is not None:
            # Not fetched yet: note every reference the string needs now; the
            # caller fetches them all at once and reads the profile again.
            needed = references(text, self.env.values, self._source_names(text), view)
            if needed:
                self.pending.update(dict.fromkeys(view.key(w) for w in needed))
                return MISSING
        # The field fed by a secret source stays masked whole, even left unset.
        out.sourced.add(str(path[0]))
        for read_before in exc.uses:
            if isinstance(read_before, VarUse):
                self._record(read_before, dotted, node.loc, secret)
        if exc.offline and self.allow_missing:
            self.warnings.append(Problem(exc.message, node.loc, dotted, "warning", code=SOURCE))
        else:
            self.problems.append(Problem(exc.message, node.loc, dotted, code=SOURCE))
        if exc.variable:  # VAR, from the file VAR_FILE names
            use = VarUse(exc.variable, text, False, False, exc.source, f"{exc.variable}_FILE")
            self._record(use, dotted, node.loc, secret)
        else:
            use = VarUse(f"{exc.source}:{exc.reference}", text, False, False, exc.source)
        out.origins.found[path] = Origin(node.loc, (use,), templated)
        return MISSING

    def _unset(
        self,
        exc: MissingVariableError,
        node: Node,
        path: tuple[str | int, ...],
        dotted: str,
        secret: bool,
        templated: bool,
        out: ReadConfig,
    ) -> None:
        """Report an unset variable (a warning with allow_missing) and where it was needed."""
        message = exc.message + self._near(exc.variable)
        if self.allow_missing:
            self.warnings.append(Problem(message, node.loc, dotted, "warning", code=UNSET_VARIABLE))
        else:
            self.problems.append(Problem(message, node.loc, dotted, code=UNSET_VARIABLE))
        if exc.variable:
            use = VarUse(exc.variable, f"${{{exc.variable}}}", False, False)
            self._record(use, dotted, node.loc, secret)
            # `show --explain` names the line and the unset variable, not a default.
            out.origins.found[path] = Origin(node.loc, (use,), templated)
        else:
            out.origins.failed.add(path)

    def _near(self, variable: str | None) -> str:
        """``"; did you mean API_TOKN (set in .env)?"`` for an unset variable with a near name.

        The names are those set in the process environment and the env files; only
        a name is ever shown, never a value.
        """
        if variable is None or variable in self.env.values:
            return ""  # set but empty: the name is right
        found = self._nearest.get(variable)
        if found is None:
            import difflib  # only when a variable is missing

            names = [n for n in self.env.values if n != PROJECT_DIR]
            close = difflib.get_close_matches(variable, names, n=1, cutoff=0.8)
            source = self.env.sources[close[0]] if close else ""
            where = "the environment" if source == PROCESS else source
            found = self._nearest[variable] = (
                f"; did you mean {close[0]} (set in {where})?" if close else ""
            )
        return found

    def _failed_reads(self, read: list[str], dotted: str, loc: Loc, secret: bool) -> None:
        """Variables a failing template read: a secret's must still be masked in its error."""
        for name in read:
            if secret or secret_name(name, self.names):
                self.secret_variables.add(name)


def _folder(loc: Loc) -> Path:
    """The folder of the file ``loc`` is in (its display path is relative to the cwd)."""
    return Path(os.path.abspath(loc.file)).parent


def leaves(value: Any) -> Iterator[Any]:
    """Every scalar, :class:`Ref` or :data:`MISSING` inside an interpolated config value."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(reversed(list(v.values())))
        elif isinstance(v, list):
            stack.extend(reversed(v))
        else:
            yield v


def contains_missing(value: Any) -> bool:
    return any(leaf is MISSING for leaf in leaves(value))


def contains_ref(value: Any) -> bool:
    return any(isinstance(leaf, Ref) for leaf in leaves(value))


def refs_in(value: Any) -> Iterator[Ref]:
    return (leaf for leaf in leaves(value) if isinstance(leaf, Ref))


def plain_refs(value: Any) -> Any:
    """``value`` with each :class:`Ref` written back as ``{"resource": key}``."""
    if isinstance(value, Ref):
        return {"resource": value.key}
    if isinstance(value, dict):
        return {k: plain_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_refs(v) for v in value]
    return value
