"""A profile after validation: the data every later step reads (set-up, show, diff, Dask).

Immutable, and careful with its reprs: config inputs hold secrets in clear (they
are what a resource is set up from), so no repr here shows a value.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter

from envres._env import Env
from envres._errors import INTERRUPTS, Loc, Problem
from envres._profiles import MergedProfile
from envres._record import Record
from envres._resources import ResourceType
from envres._secrets import Redactor, SecretNames, Shape, mask
from envres._values import (
    MISSING,
    NOT_SET,
    Origin,
    VarRecord,
    contains_missing,
    contains_ref,
    plain_refs,
)

__all__ = ["Config", "ResolvedProfile", "ResolvedResource", "deps_first"]


class Config(Mapping[str, Any]):
    """A resource's interpolated config inputs: a read-only mapping whose repr hides values."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: Any, default: Any = None) -> Any:
        """``self[key]``, or ``default``: the dict's own, not Mapping's try/except."""
        return self._data.get(key, default)

    def __repr__(self) -> str:
        return f"<Config fields={list(self._data)}>"


class ResolvedResource(Record):
    """One resource key, validated: its type, its config inputs and where they came from.

    ``inputs`` are the interpolated config values, with :class:`~envres._values.Ref`
    where another resource goes; a fresh instance is validated from them at every
    setup. ``shape`` says where secrets sit in them (see :mod:`envres._secrets`).
    ``unresolved`` holds, with ``allow_missing_env``, why a value is missing
    (``environment variable X is not set``): setting the resource up fails with it.
    """

    __slots__ = (
        "key",
        "type_name",
        "rtype",
        "inputs",
        "deps",
        "origins",
        "key_loc",
        "type_loc",
        "validated",
        "shape",
        "names",
        "unresolved",
    )
    key: str
    type_name: str
    rtype: ResourceType
    inputs: Config
    deps: tuple[str, ...]
    origins: Mapping[tuple[str | int, ...], Origin]
    key_loc: Loc
    type_loc: Loc | None
    validated: BaseModel | None
    shape: Shape
    names: SecretNames
    unresolved: tuple[str, ...]

    def __init__(
        self,
        key: str,
        type_name: str,
        rtype: ResourceType,
        inputs: Config,
        deps: tuple[str, ...],
        origins: Mapping[tuple[str | int, ...], Origin],
        key_loc: Loc,
        type_loc: Loc | None,
        validated: BaseModel | None,
        shape: Shape,
        names: SecretNames,
        unresolved: tuple[str, ...] = (),
    ) -> None:
        # Made once per value or resource: each slot written directly.
        (
            set_key,
            set_type_name,
            set_rtype,
            set_inputs,
            set_deps,
            set_origins,
            set_key_loc,
            set_type_loc,
            set_validated,
            set_shape,
            set_names,
            set_unresolved,
        ) = self._setters
        set_key(self, key)
        set_type_name(self, type_name)
        set_rtype(self, rtype)
        set_inputs(self, inputs)
        set_deps(self, deps)
        set_origins(self, origins)
        set_key_loc(self, key_loc)
        set_type_loc(self, type_loc)
        set_validated(self, validated)
        set_shape(self, shape)
        set_names(self, names)
        set_unresolved(self, unresolved)

    def __repr__(self) -> str:
        return f"<ResolvedResource {self.key!r} type={self.type_name!r} deps={list(self.deps)}>"

    def effective_config(self) -> dict[str, Any]:
        """The config as plain JSON-able data with defaults filled in; NOT masked.

        Unset variables show as ``<not set>`` and references as written. Callers
        that print must use :meth:`shown_config`.
        """
        out: dict[str, Any] = {}
        if self.validated is not None:
            # Fields with references hold stand-ins when validated: written back below.
            out = _dump(self.validated, {k for k, v in self.inputs.items() if contains_ref(v)})
        else:
            # Only with --allow-missing-env: an unset required field left the model
            # unbuilt, so validate what is there field by field.
            fields = self.rtype.model.model_fields
            for name, value in self.inputs.items():
                if name in fields and not contains_ref(value) and not contains_missing(value):
                    out[name] = _field_json(fields[name].annotation, value)
            for name, info in fields.items():
                if name not in self.inputs and not info.is_required():
                    default = info.get_default(call_default_factory=True)
                    out[name] = _field_json(info.annotation, default)
        for name, value in self.inputs.items():
            if contains_missing(value):
                out[name] = NOT_SET
            elif contains_ref(value):
                out[name] = plain_refs(value)
        order = [*self.rtype.model.model_fields, *out]
        return {k: out[k] for k in dict.fromkeys(order) if k in out}

    def shown_config(self) -> dict[str, Any]:
        """The effective config with every secret part replaced by the mask."""
        masked: dict[str, Any] = mask(self.effective_config(), self.shape, self.names, _shown)
        return masked


def _shown(value: Any) -> bool:
    """Shown as is even in a secret position: saying a secret is unset reveals nothing."""
    return value is None or value is MISSING or value == NOT_SET


def _field_json(annotation: Any, value: Any) -> Any:
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        return adapter.dump_python(adapter.validate_python(value), mode="json")
    except INTERRUPTS:
        raise
    except BaseException:  # a user validator or serializer: show the input as written
        return value


def _dump(model: BaseModel, exclude: set[str]) -> dict[str, Any]:
    try:
        return model.model_dump(mode="json", exclude=exclude)
    except INTERRUPTS:
        raise
    except BaseException:  # a user serializer that raises: show each field's repr
        return {k: repr(getattr(model, k)) for k in type(model).model_fields}


def deps_first(
    resources: Mapping[str, ResolvedResource], starts: Iterable[str], done: Container[str] = ()
) -> list[str]:
    """``starts`` and every key they refer to, dependencies first, each key once.

    Keys in ``done`` (set up already) are left out, and so is what only they refer
    to. A key missing from ``resources`` is listed with no dependencies, for the
    caller to report. An explicit stack, not recursion: a chain of references may
    be longer than Python's recursion limit.
    """
    order: list[str] = []
    seen: set[str] = set()
    for start in starts:
        if start in seen or start in done:
            continue
        seen.add(start)
        stack = [(start, iter(resources[start].deps if start in resources else ()))]
        while stack:
            node, deps = stack[-1]
            for dep in deps:
                if dep not in seen and dep not in done:
                    seen.add(dep)
                    stack.append((dep, iter(resources[dep].deps if dep in resources else ())))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


class ResolvedProfile(Record):
    """A profile merged, interpolated and validated: ready to set up.

    ``redactor`` masks every secret of the profile; ``variables`` lists every
    variable read, in reading order.
    """

    __slots__ = ("name", "merged", "env", "resources", "redactor", "names", "warnings", "variables")
    name: str
    merged: MergedProfile
    env: Env
    resources: Mapping[str, ResolvedResource]
    redactor: Redactor
    names: SecretNames
    warnings: tuple[Problem, ...]
    variables: tuple[VarRecord, ...]

    def __init__(
        self,
        name: str,
        merged: MergedProfile,
        env: Env,
        resources: Mapping[str, ResolvedResource],
        redactor: Redactor,
        names: SecretNames,
        warnings: tuple[Problem, ...] = (),
        variables: tuple[VarRecord, ...] = (),
    ) -> None:
        self._set(name, merged, env, resources, redactor, names, warnings, variables)

    def __repr__(self) -> str:
        return f"<ResolvedProfile {self.name!r} resources={list(self.resources)}>"

    def structure(self) -> frozenset[str]:
        """The words of this profile's structure: its name, keys, types and field names."""
        words = {self.name, *self.resources}
        for res in self.resources.values():
            words.add(res.type_name)
            words.update(res.rtype.model.model_fields)
        return frozenset(words)
