"""Validation at launch: from a merged profile and an environment to resolved resources.

Resolves every ``type``, interpolates every config string, validates every config
with its type's pydantic model, checks resource references and what the assets
need. Every problem is collected before anything is raised, and no secret value
reaches a message: values bound for secret fields are masked wherever they
would appear.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from envres._env import Env
from envres._errors import (
    DefinitionError,
    InterpolationError,
    Loc,
    MissingVariableError,
    Problem,
    ProfileError,
    TemplateError,
)
from envres._interpolate import Interpolated, Segment, VarUse, interpolate
from envres._nodes import Node
from envres._profiles import Entry, MergedProfile, suggest
from envres._resources import ResourceType, resource_type_of

if TYPE_CHECKING:
    from envres._definitions import Definitions

__all__ = [
    "MASK",
    "NOT_SET",
    "Origin",
    "Ref",
    "ResolvedProfile",
    "ResolvedResource",
    "VarRecord",
    "resolve",
    "resolve_type",
]

MASK = "**********"
NOT_SET = "<not set>"
ENTRY_POINT_GROUP = "envres.resource_types"
_MIN_SECRET = 4


@dataclass(frozen=True, slots=True)
class Ref:
    """A config value that is another resource of the profile: ``{resource: key}``."""

    key: str
    loc: Loc


@dataclass(frozen=True, slots=True)
class Origin:
    """Where one config value came from: the line that wrote it and the variables read."""

    loc: Loc
    uses: tuple[VarUse, ...] = ()
    template: bool = False


@dataclass(frozen=True, slots=True)
class VarRecord:
    """One variable read by the profile: where, whether set, and whether it is secret."""

    use: VarUse
    path: str
    loc: Loc
    secret: bool


@dataclass(frozen=True, repr=False)
class ResolvedResource:
    """One resource key, validated: its type and its config inputs.

    ``inputs`` are the interpolated config values, with :class:`Ref` where another
    resource goes; a fresh instance is validated from them at every setup.
    """

    key: str
    type_name: str
    rtype: ResourceType
    inputs: Mapping[str, Any]
    deps: tuple[str, ...]
    origins: Mapping[tuple[str | int, ...], Origin]
    key_loc: Loc
    type_loc: Loc | None
    validated: BaseModel | None

    def __repr__(self) -> str:
        # Never the inputs: they hold secrets in clear.
        return f"<ResolvedResource {self.key!r} type={self.type_name!r} deps={list(self.deps)}>"

    def shown_config(self) -> dict[str, Any]:
        """The effective config as plain JSON-able data, secrets masked, refs as written."""
        out: dict[str, Any] = {}
        if self.validated is not None:
            out = _dump(self.validated)
        else:
            # Only with --allow-missing-env: an unset required field left the model
            # unbuilt, so validate what is there field by field.
            fields = self.rtype.model.model_fields
            for name, value in self.inputs.items():
                if name in fields and not _contains_ref(value) and not _contains(value, _MISSING):
                    out[name] = _field_json(fields[name].annotation, value)
            for name, info in fields.items():
                if name not in self.inputs and not info.is_required():
                    default = info.get_default(call_default_factory=True)
                    out[name] = _field_json(info.annotation, default)
        for name, value in self.inputs.items():
            if _contains(value, _MISSING):
                out[name] = NOT_SET
            elif _contains_ref(value):
                out[name] = _plain_refs(value)
        for name in self.rtype.secret_fields:
            if name in out and out[name] not in (None, NOT_SET):
                out[name] = MASK
        order = [*self.rtype.model.model_fields, *out]
        return {k: out[k] for k in dict.fromkeys(order) if k in out}


@dataclass(frozen=True, repr=False)
class ResolvedProfile:
    """A profile merged, interpolated and validated: ready to set up."""

    name: str
    merged: MergedProfile
    env: Env
    resources: Mapping[str, ResolvedResource]
    warnings: tuple[Problem, ...] = ()
    secrets: frozenset[str] = frozenset()
    variables: tuple[VarRecord, ...] = field(default=())

    def __repr__(self) -> str:
        # Never the environment or the secrets.
        return f"<ResolvedProfile {self.name!r} resources={list(self.resources)}>"

    def redact(self, text: str) -> str:
        """``text`` with every secret value of this profile masked."""
        return redact(text, self.secrets)


def redact(text: str, secrets: frozenset[str]) -> str:
    """Mask every occurrence of every secret in ``text``, also quoted or escaped.

    A secret is also looked for as ``repr`` and JSON would escape it, and line
    by line, so a secret with a quote or a newline in it is masked in a
    validation message or in JSON output too.
    """
    if not secrets:
        return text
    for form in _secret_forms(secrets):
        if form in text:
            text = text.replace(form, MASK)
    return text


@functools.lru_cache(maxsize=32)
def _secret_forms(secrets: frozenset[str]) -> tuple[str, ...]:
    forms: set[str] = set()
    for s in secrets:
        forms.add(s)
        forms.add(repr(s)[1:-1])
        forms.add(json.dumps(s)[1:-1])
        forms.update(line for line in s.splitlines() if len(line.strip()) >= _MIN_SECRET)
    return tuple(sorted((f for f in forms if len(f) >= _MIN_SECRET), key=len, reverse=True))


# -- types -----------------------------------------------------------------------------

_import_lock = threading.Lock()
_imported: dict[str, ResourceType | str] = {}
_entry_points: dict[str, Any] | None = None


def _plugin_entry_points() -> dict[str, Any]:
    global _entry_points
    if _entry_points is None:
        import importlib.metadata  # scanning installed packages costs ~15 ms: only on a miss

        _entry_points = {
            ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        }
    return _entry_points


def resolve_type(name: str, known: Mapping[str, ResourceType]) -> ResourceType | str:
    """The resource type ``name`` refers to, or a message saying why it cannot be found.

    Looks in ``known`` (the Definitions' short names), then ``package.module:Class``
    import paths, then installed plugins' entry points (group
    ``envres.resource_types``).
    """
    if name in known:
        return known[name]
    with _import_lock:
        if name in _imported:
            return _imported[name]
        result = _resolve_uncached(name, known)
        _imported[name] = result
        return result


def _resolve_uncached(name: str, known: Mapping[str, ResourceType]) -> ResourceType | str:
    if ":" in name:
        module_name, _, qualname = name.partition(":")
        if not module_name or not qualname:
            return f"type '{name}' is not an import path of the form 'package.module:Class'"
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                return f"cannot import type '{name}': no module named '{exc.name}'"
            return f"cannot import type '{name}': importing it raised {_one_line(exc)}"
        except Exception as exc:
            return f"cannot import type '{name}': importing it raised {_one_line(exc)}"
        for part in qualname.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                return f"cannot import type '{name}': module '{module_name}' has no '{qualname}'"
        return _wrap(obj, name)
    eps = _plugin_entry_points()
    if name in eps:
        try:
            obj = eps[name].load()
        except Exception as exc:
            return f"cannot load plugin type '{name}' ({eps[name].value}): {_one_line(exc)}"
        return _wrap(obj, name)
    choices = sorted({*known, *eps})
    listing = f" (known types: {', '.join(choices)})" if choices else ""
    hint = suggest(name, choices)
    if hint:
        return f"unknown resource type '{name}'{hint}{listing}"
    return (
        f"unknown resource type '{name}'{listing}; a type is a short name from "
        "Definitions(resource_types=...), a plugin's entry point, or 'package.module:Class'"
    )


def _wrap(obj: object, name: str) -> ResourceType | str:
    try:
        return resource_type_of(obj, name)
    except DefinitionError:
        what = (
            "a class"
            if isinstance(obj, type)
            else "a module"
            if isinstance(obj, type(importlib))
            else "a function"
            if callable(obj)
            else f"a {type(obj).__name__}"
        )
        return (
            f"type '{name}' is {what}, not a resource type: subclass envres.Resource or "
            "decorate a generator function with @envres.resource"
        )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# -- interpolation of config values ----------------------------------------------------

_MISSING = object()
_PLACEHOLDER = re.compile("\ue000([0-9]+)\ue001")


class _Ctx:
    """What resolving one profile accumulates."""

    def __init__(self, env: Env, profile: str, allow_missing: bool) -> None:
        self.env = env
        self.profile = profile
        self.allow_missing = allow_missing
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.records: list[VarRecord] = []


def resolve_string(text: str, env: Mapping[str, str], profile: str) -> tuple[str, Interpolated]:
    """Interpolate ``${...}`` and render ``{{ }}`` templates in one user-written string.

    Values that came from the environment are put in after rendering, so they are
    never scanned by either grammar.
    """
    result = interpolate(text, env)
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
    read: list[str] = []
    rendered = render("".join(parts), env=env, profile=profile, variables_read=read)
    final = _PLACEHOLDER.sub(lambda m: values[int(m.group(1))], rendered) if values else rendered
    extra = tuple(
        VarUse(name=n, expr=f"env('{n}')", is_set=n in env, default_used=n not in env) for n in read
    )
    return final, Interpolated(segments=(Segment(final, True),), uses=result.uses + extra)


def _convert(
    node: Node,
    path: tuple[str | int, ...],
    dotted: str,
    secret: bool,
    ctx: _Ctx,
    origins: dict[tuple[str | int, ...], Origin],
    refs: list[Ref],
) -> Any:
    v = node.value
    if isinstance(v, str):
        if "$" not in v and "{{" not in v and "{%" not in v:
            origins[path] = Origin(node.loc)
            return v
        try:
            value, result = resolve_string(v, ctx.env.values, ctx.profile)
        except MissingVariableError as exc:
            problem = Problem(exc.message, node.loc, dotted)
            if ctx.allow_missing:
                ctx.warnings.append(Problem(exc.message, node.loc, dotted, "warning"))
            else:
                ctx.problems.append(problem)
            if exc.variable:
                ctx.records.append(
                    VarRecord(
                        VarUse(exc.variable, f"${{{exc.variable}}}", False, False),
                        dotted,
                        node.loc,
                        secret,
                    )
                )
            return _MISSING
        except (InterpolationError, TemplateError) as exc:
            ctx.problems.append(Problem(exc.message, node.loc, dotted))
            return _MISSING
        origins[path] = Origin(node.loc, result.uses, "{{" in v or "{%" in v)
        for use in result.uses:
            ctx.records.append(VarRecord(use, dotted, node.loc, secret))
        return value
    if isinstance(v, dict):
        if len(v) == 1 and "resource" in v and isinstance(v["resource"].value, str):
            ref = Ref(v["resource"].value, v["resource"].loc)
            refs.append(ref)
            origins[path] = Origin(node.loc)
            return ref
        out: dict[str, Any] = {}
        for k, child in v.items():
            out[k] = _convert(child, (*path, k), f"{dotted}.{k}", secret, ctx, origins, refs)
        return out
    if isinstance(v, list):
        return [
            _convert(child, (*path, i), f"{dotted}[{i}]", secret, ctx, origins, refs)
            for i, child in enumerate(v)
        ]
    origins[path] = Origin(node.loc)
    return v


def _leaves(value: Any) -> Iterator[Any]:
    """Every scalar, Ref or sentinel inside an interpolated config value."""
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _contains(value: Any, marker: object) -> bool:
    return any(leaf is marker for leaf in _leaves(value))


def _contains_ref(value: Any) -> bool:
    return any(isinstance(leaf, Ref) for leaf in _leaves(value))


def _iter_refs(value: Any) -> Iterator[Ref]:
    return (leaf for leaf in _leaves(value) if isinstance(leaf, Ref))


def _secret_strings(value: Any) -> Iterator[str]:
    return (leaf for leaf in _leaves(value) if isinstance(leaf, str) and leaf)


def _plain_refs(value: Any) -> Any:
    if isinstance(value, Ref):
        return {"resource": value.key}
    if isinstance(value, dict):
        return {k: _plain_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_refs(v) for v in value]
    return value


def _field_json(annotation: Any, value: Any) -> Any:
    from pydantic import TypeAdapter

    try:
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        return adapter.dump_python(adapter.validate_python(value), mode="json")
    except Exception:
        return value


def _dump(model: BaseModel) -> dict[str, Any]:
    try:
        return model.model_dump(mode="json")
    except Exception:
        return {k: repr(getattr(model, k)) for k in type(model).model_fields}


# -- one resource ----------------------------------------------------------------------


def _node_at(config: Node | None, loc: tuple[int | str, ...]) -> Node | None:
    node = config
    for part in loc:
        if node is None:
            return None
        v = node.value
        if isinstance(v, dict) and isinstance(part, str) and part in v:
            node = v[part]
        elif isinstance(v, list) and isinstance(part, int) and 0 <= part < len(v):
            node = v[part]
        else:
            return None
    return node


def _field_message(
    err: Mapping[str, Any],
    rtype: ResourceType,
    origins: Mapping[tuple[str | int, ...], Origin],
    secrets: _Secrets,
) -> str:
    kind = err["type"]
    loc: tuple[int | str, ...] = tuple(err["loc"])
    if kind == "extra_forbidden":
        fields = list(rtype.model.model_fields)
        name = str(loc[-1]) if loc else "?"
        known = f" (fields: {', '.join(fields)})" if fields and len(loc) == 1 else ""
        return f"unknown field '{name}'{suggest(name, fields) if len(loc) == 1 else ''}{known}"
    if kind == "missing":
        return f"missing required field '{loc[-1]}'" if loc else "missing required field"
    msg = str(err["msg"]).split(", unable to", 1)[0]
    msg = msg[:1].lower() + msg[1:]
    inp = err.get("input")
    origin = origins.get(loc)
    if (loc and loc[0] in rtype.sensitive_fields) or secrets.hides(inp, origin):
        source = f" from {', '.join(u.expr for u in origin.uses)}" if origin and origin.uses else ""
        return f"{msg} (got '{MASK}'{source})"
    if isinstance(inp, str | int | float | bool) and len(repr(inp)) <= 60:
        exprs = [u.expr for u in origin.uses] if origin is not None else []
        source = f" from {', '.join(exprs)}" if exprs else ""
        return f"{msg} (got {inp!r}{source})"
    return msg


@dataclass
class _Prepared:
    """A resource entry with its type resolved and its config interpolated."""

    entry: Entry
    type_name: str
    rtype: ResourceType
    inputs: dict[str, Any]
    origins: dict[tuple[str | int, ...], Origin]
    refs: list[Ref]


def _prepare(entry: Entry, known: Mapping[str, ResourceType], ctx: _Ctx) -> _Prepared | None:
    base = f"resources.{entry.key}"
    if entry.type is None:
        ctx.problems.append(
            Problem(
                "no type: add `type:` (a short name, an entry point or 'package.module:Class')",
                entry.key_loc,
                base,
            )
        )
        return None
    type_name = str(entry.type.value)
    found = resolve_type(type_name, known)
    if isinstance(found, str):
        ctx.problems.append(Problem(found, entry.type.loc, f"{base}.type"))
        return None
    prepared = _Prepared(entry, type_name, found, {}, {}, [])
    config = entry.config
    if config is not None and isinstance(config.value, dict):
        for name, node in config.value.items():
            prepared.inputs[name] = _convert(
                node,
                (name,),
                f"{base}.config.{name}",
                name in found.sensitive_fields,
                ctx,
                prepared.origins,
                prepared.refs,
            )
    return prepared


@dataclass(frozen=True)
class _Secrets:
    """What must never be shown: values fed to secret fields and the variables behind them."""

    values: frozenset[str]
    variables: frozenset[str]

    def hides(self, value: object, origin: Origin | None) -> bool:
        if isinstance(value, str) and value in self.values:
            return True
        return origin is not None and any(u.name in self.variables for u in origin.uses)


def _validate_entry(p: _Prepared, ctx: _Ctx, secrets: _Secrets) -> ResolvedResource:
    entry, rtype, inputs = p.entry, p.rtype, p.inputs
    base = f"resources.{entry.key}"
    config = entry.config
    # Fields fed by an unset variable or another resource are validated later (or never).
    dropped = {
        name
        for name, v in inputs.items()
        if not isinstance(v, str)
        and any(leaf is _MISSING or isinstance(leaf, Ref) for leaf in _leaves(v))
    }
    to_validate = {k: v for k, v in inputs.items() if k not in dropped}
    validated: BaseModel | None = None
    try:
        validated = rtype.model.model_validate(to_validate)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            if loc and loc[0] in dropped:
                continue
            at = _node_at(config, loc)
            if err["type"] == "extra_forbidden" and at is not None:
                where = at.key_loc or at.loc
            elif at is not None:
                where = at.loc
            else:
                where = (config.key_loc if config is not None else None) or entry.key_loc
            path = ".".join([f"{base}.config", *(str(x) for x in loc)]) if loc else base
            message = _field_message(err, rtype, p.origins, secrets)
            ctx.problems.append(Problem(message, where, path))
    except Exception as exc:
        where = (config.key_loc if config is not None else None) or entry.key_loc
        ctx.problems.append(
            Problem(
                f"validating the config of type '{p.type_name}' raised {_one_line(exc)}",
                where,
                f"{base}.config",
            )
        )
    assert entry.type is not None
    return ResolvedResource(
        key=entry.key,
        type_name=p.type_name,
        rtype=rtype,
        inputs=inputs,
        deps=tuple(dict.fromkeys(r.key for r in p.refs)),
        origins=p.origins,
        key_loc=entry.key_loc,
        type_loc=entry.type.loc,
        validated=validated,
    )


# -- the whole profile -----------------------------------------------------------------


def _check_refs(
    resources: Mapping[str, ResolvedResource],
    ctx: _Ctx,
    defined: frozenset[str],
) -> None:
    for res in resources.values():
        for name, value in res.inputs.items():
            for ref in _iter_refs(value):
                if ref.key not in defined:
                    ctx.problems.append(
                        Problem(
                            f"refers to resource '{ref.key}', which the profile does not define"
                            f"{suggest(ref.key, sorted(resources))}",
                            ref.loc,
                            f"resources.{res.key}.config.{name}",
                        )
                    )
                    continue
                target = resources.get(ref.key)
                ann = (
                    res.rtype.model.model_fields[name].annotation
                    if (name in res.rtype.model.model_fields)
                    else None
                )
                if (
                    target is not None
                    and isinstance(value, Ref)
                    and isinstance(ann, type)
                    and target.rtype.provides is not None
                    and not issubclass(target.rtype.provides, ann)
                ):
                    ctx.problems.append(
                        Problem(
                            f"needs a {ann.__qualname__}, but resource '{ref.key}' is "
                            f"'{target.type_name}' ({target.rtype.provides.__qualname__})",
                            ref.loc,
                            f"resources.{res.key}.config.{name}",
                        )
                    )
    # Cycles: a depth-first walk that reports each cycle once, at its first reference.
    state: dict[str, int] = {}

    def visit(key: str, path: list[str]) -> None:
        state[key] = 1
        path.append(key)
        res = resources[key]
        for dep in res.deps:
            if dep not in resources:
                continue
            if state.get(dep) == 1:
                cycle = [*path[path.index(dep) :], dep]
                loc = next(
                    (r.loc for v in res.inputs.values() for r in _iter_refs(v) if r.key == dep),
                    res.key_loc,
                )
                ctx.problems.append(
                    Problem(
                        f"resource dependency cycle: {' -> '.join(cycle)}",
                        loc,
                        f"resources.{key}",
                    )
                )
            elif dep not in state:
                visit(dep, path)
        path.pop()
        state[key] = 2

    for key in resources:
        if key not in state:
            visit(key, [])


def _check_assets(
    defs: Definitions,
    resources: Mapping[str, ResolvedResource],
    profile: str,
    ctx: _Ctx,
    defined: frozenset[str],
) -> None:
    for a in defs.assets.values():
        sig_defaults = a.optional
        for param in defs.resource_params[a.name]:
            res = resources.get(param)
            if res is None:
                # Defined but invalid (already reported), overridden, or optional.
                if param in defined or param in sig_defaults:
                    continue
                ctx.problems.append(
                    Problem(
                        f"asset '{a.name}' needs resource '{param}', which profile '{profile}' "
                        f"does not define{suggest(param, sorted(resources))}"
                    )
                )
                continue
            ann = a.annotations.get(param)
            provided = res.rtype.provides
            if isinstance(ann, type) and provided is not None and not issubclass(provided, ann):
                ctx.problems.append(
                    Problem(
                        f"asset '{a.name}' expects a {ann.__qualname__} for '{param}', but type "
                        f"'{res.type_name}' is a {provided.__qualname__}",
                        res.type_loc,
                        f"resources.{param}.type",
                    )
                )


def resolve(
    merged: MergedProfile,
    env: Env,
    defs: Definitions | None,
    *,
    allow_missing_env: bool = False,
    overrides: frozenset[str] = frozenset(),
    earlier: list[Problem] | None = None,
) -> ResolvedProfile:
    """Validate ``merged`` against ``defs`` in ``env``; raise one ProfileError with every problem.

    ``earlier`` are problems found before (bad env files) to report together.
    With ``allow_missing_env`` an unset variable is a warning and the field it
    feeds is left out of type checking.
    """
    ctx = _Ctx(env, merged.name, allow_missing_env)
    ctx.problems.extend(earlier or ())
    known = defs.resource_types if defs is not None else {}
    prepared = [
        p
        for key, entry in merged.resources.items()
        if key not in overrides and (p := _prepare(entry, known, ctx)) is not None
    ]
    # Every secret of the profile is known before any message is written, so a value
    # shared by a secret field and another field is masked in both.
    values: set[str] = set()
    for p in prepared:
        for name in p.rtype.sensitive_fields:
            if name in p.inputs:
                values.update(_secret_strings(p.inputs[name]))
    secret = _Secrets(frozenset(values), frozenset(r.use.name for r in ctx.records if r.secret))
    resources = {p.entry.key: _validate_entry(p, ctx, secret) for p in prepared}
    secrets = {v for v in values if len(v) >= _MIN_SECRET}
    defined = frozenset(merged.resources) | overrides
    _check_refs(resources, ctx, defined)
    if defs is not None:
        _check_assets(defs, resources, merged.name, ctx, defined)
    frozen_secrets = frozenset(secrets)
    if ctx.problems:
        problems = [
            Problem(redact(p.message, frozen_secrets), p.loc, p.path, p.severity)
            for p in [*ctx.problems, *ctx.warnings]
        ]
        raise ProfileError(problems, merged.name)
    return ResolvedProfile(
        name=merged.name,
        merged=merged,
        env=env,
        resources=resources,
        warnings=tuple(
            Problem(redact(p.message, frozen_secrets), p.loc, p.path, p.severity)
            for p in ctx.warnings
        ),
        secrets=frozen_secrets,
        variables=tuple(ctx.records),
    )
