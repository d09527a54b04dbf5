"""Which resource type a profile's ``type:`` names: a short name, an import path or a plugin.

A :class:`TypeResolver` looks in the Definitions' short names first, then
``package.module:Class`` import paths (through :mod:`envres._imports`, under the
project's :class:`~envres._imports.ImportPolicy`), then installed plugins'
entry points in the group ``envres.resource_types``. It caches what it found, so
``validate --all`` imports each path once; make one per command or binding.
"""

from __future__ import annotations

import functools
import threading
import types
from collections.abc import Mapping
from typing import Any

from envres._errors import INTERRUPTS, DefinitionError, suggest
from envres._imports import ANY_MODULE, ImportPathError, ImportPolicy, import_object, one_line
from envres._resources import ResourceType, resource_type_of

__all__ = ["ENTRY_POINT_GROUP", "TypeResolver", "type_path"]

ENTRY_POINT_GROUP = "envres.resource_types"


@functools.cache
def _entry_points() -> Mapping[str, Any]:
    import importlib.metadata  # scanning installed packages costs ~15 ms: only on a miss

    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def type_path(rtype: ResourceType) -> str:
    """``module:qualname`` of a resource type's class or function."""
    target = rtype.target
    return f"{target.__module__}:{target.__qualname__}"


class TypeResolver:
    """Resolves ``type:`` names to :class:`ResourceType` objects, or says why it cannot."""

    def __init__(
        self, known: Mapping[str, ResourceType] | None = None, policy: ImportPolicy = ANY_MODULE
    ) -> None:
        self.known: Mapping[str, ResourceType] = known or {}
        self.policy = policy
        self._lock = threading.Lock()
        self._found: dict[str, ResourceType | str] = {}

    def __repr__(self) -> str:
        return f"<TypeResolver known={sorted(self.known)}>"

    def resolve(self, name: str) -> ResourceType | str:
        """The resource type ``name`` refers to, or a one-line message saying why not."""
        if name in self.known:
            return self.known[name]
        with self._lock:
            if name not in self._found:
                self._found[name] = self._resolve(name)
            return self._found[name]

    def _resolve(self, name: str) -> ResourceType | str:
        if ":" in name:
            refused = self.policy.refusal(name)
            if refused is not None:
                return f"type '{name}' is not allowed: {refused}"
            try:
                obj = import_object(name)
            except ImportPathError as exc:
                if exc.kind == "malformed":
                    return f"type '{name}' is not an import path of the form 'package.module:Class'"
                return f"cannot import type '{name}': {exc.reason}"
            return _wrap(obj, name)
        eps = _entry_points()
        if name in eps:
            try:
                obj = eps[name].load()
            except INTERRUPTS:
                raise
            except BaseException as exc:
                return f"cannot load plugin type '{name}' ({eps[name].value}): {one_line(exc)}"
            return _wrap(obj, name)
        choices = sorted({*self.known, *eps})
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
            if isinstance(obj, types.ModuleType)
            else "a function"
            if callable(obj)
            else f"a {type(obj).__name__}"
        )
        return (
            f"type '{name}' is {what}, not a resource type: subclass envres.Resource or "
            "decorate a generator function with @envres.resource"
        )
