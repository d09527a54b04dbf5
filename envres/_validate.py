"""Validation at launch: from a merged profile and an environment to resolved resources.

The steps, each in its own module: resolve every ``type`` (:mod:`envres._types`),
read every config value (:mod:`envres._values`), validate each config with its
type's pydantic model (here), then check references and what the assets need
(:mod:`envres._checks`). Every problem is collected before anything is raised, and
every secret of the profile is known before the first message is written, so no
secret reaches a message (:mod:`envres._secrets`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticUndefined

from envres._catalog import Catalog
from envres._checks import check_assets, check_refs, satisfies
from envres._codes import CONFIG_INVALID, NO_TYPE, UNKNOWN_TYPE
from envres._env import Env
from envres._errors import INTERRUPTS, Loc, Problem, ProfileError, suggest
from envres._imports import one_line
from envres._interpolate import Unavailable
from envres._nodes import Node
from envres._profiles import Entry, MergedProfile
from envres._record import Record
from envres._resolved import Config, ResolvedProfile, ResolvedResource
from envres._resources import ResourceType, attach_masking
from envres._secrets import (
    DEFAULT_SECRET_NAMES,
    Redactor,
    SecretNames,
    Shape,
    derived,
    hidden,
    model_shape,
    names_only,
    secret_at,
    secret_fields,
    secret_texts,
)
from envres._sources import DEFAULT_TIMEOUT, SourceRegistry, resolve_all
from envres._types import TypeResolver
from envres._values import ConfigReader, ReadConfig, Ref, contains_missing

__all__ = ["resolve"]


class _Prepared(Record):
    """A resource entry with its type resolved and its config read."""

    __slots__ = ("entry", "type_name", "rtype", "shape", "config")
    entry: Entry
    type_name: str
    rtype: ResourceType
    shape: Shape
    config: ReadConfig

    def __init__(
        self,
        entry: Entry,
        type_name: str,
        rtype: ResourceType,
        shape: Shape,
        config: ReadConfig,
    ) -> None:
        # Made once per value or resource: each slot written directly.
        set_entry, set_type_name, set_rtype, set_shape, set_config = self._setters
        set_entry(self, entry)
        set_type_name(self, type_name)
        set_rtype(self, rtype)
        set_shape(self, shape)
        set_config(self, config)


def _prepare(
    entry: Entry, types: TypeResolver, reader: ConfigReader, shapes: dict[type[BaseModel], Shape]
) -> _Prepared | None:
    base = f"resources.{entry.key}"
    if entry.type is None:
        reader.problems.append(
            Problem(
                "no type: add `type:` (a short name, an entry point or 'package.module:Class')",
                entry.key_loc,
                base,
                code=NO_TYPE,
            )
        )
        return None
    type_name = str(entry.type.value)
    found = types.resolve(type_name)
    if isinstance(found, str):
        reader.problems.append(Problem(found, entry.type.loc, f"{base}.type", code=UNKNOWN_TYPE))
        _secrets_by_name(entry, reader)
        return None
    shape = shapes.get(found.model)
    if shape is None:
        shape = shapes[found.model] = model_shape(found.model, reader.names)
    config = reader.read(entry.config, f"{base}.config", shape)
    if config.sourced:
        shape = secret_fields(shape, config.sourced)
    return _Prepared(entry, type_name, found, shape, config)


def _secrets_by_name(entry: Entry, reader: ConfigReader) -> None:
    """The secrets of an entry whose type is unknown, by field and variable names only.

    Its config is not validated, but what it would hold is still masked in every
    message (its problems, those of others, what the project's code prints).
    """
    scratch = reader.scratch()
    scratch.read(entry.config, f"resources.{entry.key}.config", names_only())
    reader.secrets.extend(scratch.secrets)
    reader.secret_variables.update(scratch.secret_variables)
    reader.computed.extend(scratch.computed)


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
    err: Mapping[str, Any], p: _Prepared, redactor: Redactor, names: SecretNames
) -> str:
    rtype, origins = p.rtype, p.config.origins
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
    exprs = [u.expr for u in origin.uses] if origin is not None else []
    source = f" from {', '.join(exprs)}" if exprs else ""
    quote = ""
    if kind == "string_type" and isinstance(inp, int | float | bool) and not exprs:
        # `token: 12345` in YAML is a number; the field wants text.
        what = "true or false" if isinstance(inp, bool) else "a number"
        quote = f"; YAML reads it as {what}: quote it to keep it text"
    if secret_at(p.shape, loc, names) or (isinstance(inp, str) and redactor.hides(inp)):
        secret = _secret_message(kind, msg, err.get("ctx") or {}, inp)
        return f"{secret} (got '{hidden()}'{source}){quote}"
    if isinstance(inp, str | int | float | bool) and len(repr(inp)) <= 60:
        return f"{msg} (got {inp!r}{source}){quote}"
    return msg + quote


def _secret_message(kind: str, msg: str, ctx: Mapping[str, Any], value: object) -> str:
    """What failed about a secret, saying nothing of it: not its length, not a part.

    pydantic's length errors for secret types say "at least 20 items after
    validation, not 13": the constraint is kept, the actual length dropped.
    """
    unit = "characters" if isinstance(value, str | bytes) else "items"
    if kind in ("too_short", "string_too_short", "bytes_too_short"):
        return f"should have at least {ctx.get('min_length', '?')} {unit}"
    if kind in ("too_long", "string_too_long", "bytes_too_long"):
        return f"should have at most {ctx.get('max_length', '?')} {unit}"
    return re.sub(r",? not \d+$", "", msg)


class _Unknown(Exception):
    """A reference to a resource whose class is not known until it is set up."""


def _placeholder(rtype: ResourceType) -> object | None:
    """An unvalidated instance of what a resource type provides, to stand for a reference."""
    provides = rtype.provides
    if isinstance(provides, type) and issubclass(provides, BaseModel):
        return provides.model_construct()
    return None


def _with_placeholders(value: Any, placeholders: Mapping[str, object | None]) -> Any:
    if isinstance(value, Ref):
        found = placeholders.get(value.key)
        if found is None:
            raise _Unknown(value.key)
        return found
    if isinstance(value, dict):
        return {k: _with_placeholders(v, placeholders) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_placeholders(v, placeholders) for v in value]
    return value


def _checked_as_a_reference(ref: Ref, info: Any, placeholders: Mapping[str, object | None]) -> bool:
    """Whether check_refs judges this field (a class it can compare); if not, validate it."""
    stand_in = placeholders.get(ref.key)
    if stand_in is None or info is None:
        return True
    return satisfies(type(stand_in), info.annotation) is not None


class _Validation:
    """Validating each entry's config with its type's model, reporting into ``problems``.

    Messages are masked with ``redactor``; ``placeholders`` are the unvalidated
    instances standing in for resources that nested references name, and
    ``standing_in`` maps each one's ``id`` back to the resource key.
    """

    __slots__ = ("problems", "redactor", "names", "placeholders", "standing_in")

    def __init__(
        self,
        problems: list[Problem],
        redactor: Redactor,
        names: SecretNames,
        placeholders: Mapping[str, object | None],
        standing_in: Mapping[int, str],
    ) -> None:
        self.problems = problems
        self.redactor = redactor
        self.names = names
        self.placeholders = placeholders
        self.standing_in = standing_in

    def entry(self, p: _Prepared) -> ResolvedResource:
        """The resolved resource of ``p``, validated when its config is valid."""
        entry = p.entry
        to_validate, dropped = self._inputs(p)
        if p.rtype.dagster:
            to_validate = self._without_unknown(p, to_validate)
        validated = self._validated(p, to_validate, dropped)
        assert entry.type is not None
        if validated is not None:
            attach_masking(validated, (self.names, self.redactor))
        return ResolvedResource(
            key=entry.key,
            type_name=p.type_name,
            rtype=p.rtype,
            inputs=Config(p.config.inputs),
            deps=tuple(dict.fromkeys(r.key for r in p.config.refs)) if p.config.refs else (),
            origins=p.config.origins,
            key_loc=entry.key_loc,
            type_loc=entry.type.loc,
            validated=validated,
            shape=p.shape,
            names=self.names,
        )

    def _inputs(self, p: _Prepared) -> tuple[dict[str, Any], set[str]]:
        """What the model validates, and the fields left out of it.

        A field fed by an unset variable is validated when it is set (or never). A
        field that is a reference is checked against the referenced type
        (check_refs). A reference deeper inside a field ([{resource: db}]) is
        validated here, with an unvalidated instance of the referenced class
        standing in for the resource.
        """
        inputs = p.config.inputs
        if p.config.flat:
            # Scalars only, each read as written or interpolated: nothing to leave out or
            # stand in for. pydantic copies nothing it is not asked to, and scalars are
            # immutable, so the inputs can be validated as they are.
            return inputs, set()
        dropped: set[str] = set()
        to_validate: dict[str, Any] = {}
        fields = p.rtype.model.model_fields
        for name, value in inputs.items():
            if contains_missing(value) or (
                isinstance(value, Ref)
                and _checked_as_a_reference(value, fields.get(name), self.placeholders)
            ):
                dropped.add(name)
                continue
            try:
                to_validate[name] = _with_placeholders(value, self.placeholders)
            except _Unknown:
                dropped.add(name)
        return to_validate, dropped

    def _without_unknown(self, p: _Prepared, to_validate: dict[str, Any]) -> dict[str, Any]:
        """``to_validate`` without the fields a Dagster class does not know, each reported.

        Dagster's classes ignore a field they do not know: a typo would silently fall
        back to the default.
        """
        unknown = _unknown_fields(p.rtype.model, p.config.inputs)
        for name in unknown:
            at = _node_at(p.entry.config, (name,))
            where = (at.key_loc or at.loc) if at is not None else p.entry.key_loc
            message = _field_message(
                {"type": "extra_forbidden", "loc": (name,)}, p, self.redactor, self.names
            )
            self.problems.append(
                Problem(
                    message, where, f"resources.{p.entry.key}.config.{name}", code=CONFIG_INVALID
                )
            )
        if not unknown:
            return to_validate
        return {k: v for k, v in to_validate.items() if k not in unknown}

    def _validated(
        self, p: _Prepared, to_validate: dict[str, Any], dropped: set[str]
    ) -> BaseModel | None:
        """The model validated from ``to_validate``, or ``None`` with the problems reported."""
        try:
            return p.rtype.model.model_validate(to_validate)
        except ValidationError as exc:
            self._report(exc, p, dropped)
        except INTERRUPTS:
            raise
        except BaseException as exc:  # a user validator raising anything, SystemExit included
            config = p.entry.config
            where = (config.key_loc if config is not None else None) or p.entry.key_loc
            self.problems.append(
                Problem(
                    f"validating the config of type '{p.type_name}' raised {one_line(exc)}",
                    where,
                    f"resources.{p.entry.key}.config",
                    code=CONFIG_INVALID,
                )
            )
        return None

    def _report(self, exc: ValidationError, p: _Prepared, dropped: set[str]) -> None:
        """One problem per pydantic error, but one per field given a whole resource."""
        inputs = p.config.inputs
        direct = {n for n, v in inputs.items() if isinstance(v, Ref) and n not in dropped}
        reported: set[str] = set()
        for err in exc.errors():
            loc = tuple(err["loc"])
            if loc and loc[0] in dropped:
                continue
            if loc and loc[0] in direct:
                # A whole field given {resource: key}: one problem, not one per item of a
                # stand-in that pydantic took apart.
                name = str(loc[0])
                if name not in reported:
                    reported.add(name)
                    at = _node_at(p.entry.config, (name,))
                    self.problems.append(
                        Problem(
                            "a resource does not fit this field's type "
                            f"(got resource '{inputs[name].key}')",
                            at.loc if at is not None else p.entry.key_loc,
                            f"resources.{p.entry.key}.config.{name}",
                            code=CONFIG_INVALID,
                        )
                    )
                continue
            self.problems.append(self._error_problem(err, loc, p))

    def _error_problem(
        self, err: Mapping[str, Any], loc: tuple[int | str, ...], p: _Prepared
    ) -> Problem:
        """The problem of one pydantic error, placed at the value (or key) it is about."""
        base = f"resources.{p.entry.key}"
        config = p.entry.config
        at = _node_at(config, loc)
        if err["type"] == "extra_forbidden" and at is not None:
            where = at.key_loc or at.loc
        elif at is not None:
            where = at.loc
        else:
            where = (config.key_loc if config is not None else None) or p.entry.key_loc
        path = ".".join([f"{base}.config", *(str(x) for x in loc)]) if loc else base
        key = self.standing_in.get(id(err.get("input")))
        if key is not None:
            message = _field_message({**err, "input": None}, p, self.redactor, self.names)
            message += f" (got resource '{key}')"
        else:
            message = _field_message(err, p, self.redactor, self.names)
        return Problem(message, where, path, code=CONFIG_INVALID)


def _unknown_fields(model: type[BaseModel], inputs: Mapping[str, Any]) -> list[str]:
    """The names in ``inputs`` that are neither a field of ``model`` nor a field's alias."""
    known = set(model.model_fields)
    known.update(info.alias for info in model.model_fields.values() if info.alias)
    return [name for name in inputs if name not in known]


def _secret_defaults(prepared: list[_Prepared], names: SecretNames) -> Iterator[str]:
    """Secret values written as defaults in code (``password: str = "changeme"``)."""
    defaults: dict[type[BaseModel], list[tuple[str, Any]]] = {}
    for p in prepared:
        model = p.rtype.model
        given = defaults.get(model)
        if given is None:
            given = defaults[model] = [
                (name, info.default)
                for name, info in model.model_fields.items()
                if info.default is not None and info.default is not PydanticUndefined
            ]
        for name, default in given:
            if name not in p.config.inputs:
                yield from secret_texts({name: default}, p.shape, names)


def resolve(
    merged: MergedProfile,
    env: Env,
    catalog: Catalog | None,
    *,
    types: TypeResolver | None = None,
    names: SecretNames = DEFAULT_SECRET_NAMES,
    allow_missing_env: bool = False,
    overrides: frozenset[str] = frozenset(),
    earlier: list[Problem] | None = None,
    sources: SourceRegistry | None = None,
    source_timeout: float = DEFAULT_TIMEOUT,
) -> ResolvedProfile:
    """Validate ``merged`` against ``catalog`` in ``env``; one ProfileError with every problem.

    ``earlier`` are problems found before (bad env files) to report together.
    With ``allow_missing_env`` an unset variable is a warning and the field it
    feeds is left out of type checking; no secret source is contacted then.
    ``sources`` are the secret sources references may name (none: ``${x:...}`` is
    never a reference), each reference given ``source_timeout`` seconds.
    """
    if types is None:
        types = TypeResolver(catalog.resource_types if catalog is not None else {})
    found: dict[tuple[str, str], str | Unavailable] = {}
    while True:
        reader = ConfigReader(env, merged.name, allow_missing_env, names, sources, found)
        reader.problems.extend(earlier or ())
        shapes: dict[type[BaseModel], Shape] = {}
        prepared = [
            p
            for key, entry in merged.resources.items()
            if key not in overrides and (p := _prepare(entry, types, reader, shapes)) is not None
        ]
        if not reader.pending or sources is None:
            break
        # Every reference the profile needs, fetched at once; then read again. More
        # rounds only for references in defaults that turn out to be used.
        found.update(resolve_all(reader.pending, sources, source_timeout))
    redactor = _profile_redactor(reader, env, prepared, names)
    problems = reader.problems
    resources = _validate_all(prepared, problems, redactor, names)
    _mark_unresolved(resources, reader.warnings, redactor)
    _check_profile(merged, catalog, resources, overrides, problems)
    if problems:
        error = ProfileError(_masked(redactor, [*problems, *reader.warnings]), merged.name)
        error.redactor = redactor  # what the command line masks, though the profile failed
        raise error
    return ResolvedProfile(
        name=merged.name,
        merged=merged,
        env=env,
        resources=resources,
        redactor=redactor,
        names=names,
        warnings=tuple(_masked(redactor, reader.warnings)),
        variables=tuple(reader.records),
    )


def _profile_redactor(
    reader: ConfigReader, env: Env, prepared: list[_Prepared], names: SecretNames
) -> Redactor:
    """A redactor that knows every secret of the profile, read, derived or defaulted.

    Every secret is known before any message is written, so a value shared by a
    secret field and another field is masked in both.
    """
    secrets: set[str] = set(reader.secrets)
    secrets.update(env.values[v] for v in reader.secret_variables if v in env.values)
    secrets.update(derived(reader.computed, reader.secret_variables, env.values))
    secrets.update(_secret_defaults(prepared, names))
    return Redactor(secrets)


def _validate_all(
    prepared: list[_Prepared], problems: list[Problem], redactor: Redactor, names: SecretNames
) -> dict[str, ResolvedResource]:
    """Every prepared entry validated, by key, its problems added to ``problems``."""
    # Stand-ins only for the resources that nested references name (rare, and
    # model_construct is not free at 10,000 resources).
    by_key = {p.entry.key: p for p in prepared}
    nested = {ref.key for p in prepared for ref in p.config.refs}
    placeholders = {k: _placeholder(by_key[k].rtype) for k in nested if k in by_key}
    standing_in = {id(obj): key for key, obj in placeholders.items() if obj is not None}
    validation = _Validation(problems, redactor, names, placeholders, standing_in)
    return {p.entry.key: validation.entry(p) for p in prepared}


def _mark_unresolved(
    resources: dict[str, ResolvedResource], warnings: list[Problem], redactor: Redactor
) -> None:
    """Note on each resource the unset variables it needs (with allow_missing_env).

    Such a resource fails at its setup, saying which.
    """
    unresolved: dict[str, list[str]] = {}
    for w in warnings:
        if w.path and w.path.startswith("resources."):
            unresolved.setdefault(w.path.split(".")[1], []).append(
                f"{w.path}: {redactor.redact(w.message)}"
            )
    for key, messages in unresolved.items():
        if key in resources:
            resources[key] = resources[key].replace(unresolved=tuple(messages))


def _check_profile(
    merged: MergedProfile,
    catalog: Catalog | None,
    resources: Mapping[str, ResolvedResource],
    overrides: frozenset[str],
    problems: list[Problem],
) -> None:
    """The checks across resources: references, and what the catalog's assets need."""
    defined = frozenset(merged.resources) | overrides
    check_refs(resources, defined, problems)
    if catalog is not None:
        nothing = not merged.resources and not merged.extends and not merged.removed
        check_assets(
            catalog,
            resources,
            merged.name,
            defined,
            merged.removed,
            problems,
            empty_at=Loc(merged.file.display, 1, 1) if nothing and not overrides else None,
        )


def _masked(redactor: Redactor, problems: list[Problem]) -> list[Problem]:
    """``problems`` with any secret in their messages masked."""
    return [dataclasses.replace(p, message=redactor.redact_untrusted(p.message)) for p in problems]
