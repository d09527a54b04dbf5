"""A resolved profile that travels to another process and is rebuilt there (Dask workers).

Only data travels, never a live connection: each resource's type as an import
path (``module:qualname``) and its interpolated config, with every string that is
or holds a secret sealed in ``pydantic.SecretStr`` so a repr or log line on the way
shows the mask, and the folders the types import from. :func:`portable` makes
the form from a :class:`~envres._resolved.ResolvedProfile`; on the other side,
:meth:`PortableProfile.rebuild` makes a resolved profile of it again, ready for a
:class:`~envres._scope.ResourceScope`.

This is the one place that knows how a resolved profile is put together from its
parts (its merged profile, environment and types), so that an executor needs
nothing above the resolved form.
"""

from __future__ import annotations

import sys
import sysconfig
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from envres._env import Env
from envres._errors import DefinitionError, Loc, SetupError
from envres._imports import ImportPathError, import_object
from envres._profiles import MergedProfile, ProfileFile
from envres._record import Record
from envres._resolved import Config, ResolvedProfile, ResolvedResource, deps_first
from envres._secrets import Redactor, SecretNames, Shape, part, seal
from envres._types import TypeResolver

__all__ = ["PortableProfile", "PortableResource", "import_root", "importable_path", "portable"]


class PortableResource(Record):
    """One resource as another process rebuilds it: its type by import path, config sealed."""

    __slots__ = ("key", "type_name", "type_path", "inputs", "deps", "key_loc", "type_loc", "shape")
    key: str
    type_name: str
    type_path: str
    inputs: Mapping[str, Any]
    deps: tuple[str, ...]
    key_loc: Loc
    type_loc: Loc | None
    shape: Shape

    def __init__(
        self,
        key: str,
        type_name: str,
        type_path: str,
        inputs: Mapping[str, Any],
        deps: tuple[str, ...],
        key_loc: Loc,
        type_loc: Loc | None,
        shape: Shape,
    ) -> None:
        self._set(key, type_name, type_path, inputs, deps, key_loc, type_loc, shape)

    def __repr__(self) -> str:
        return f"<resource {self.key!r} type={self.type_path!r} deps={list(self.deps)}>"


class PortableProfile(Record):
    """The part of a resolved profile a run needs elsewhere, and the folders to import from.

    ``paths`` are the folders the types (and the modules given to :func:`portable`)
    were imported from here, most important first; :meth:`rebuild` expects them on
    ``sys.path`` already.
    """

    __slots__ = ("name", "file", "resources", "redactor", "names", "paths")
    name: str
    file: ProfileFile
    resources: Mapping[str, PortableResource]
    redactor: Redactor
    names: SecretNames
    paths: tuple[str, ...]

    def __init__(
        self,
        name: str,
        file: ProfileFile,
        resources: Mapping[str, PortableResource],
        redactor: Redactor,
        names: SecretNames,
        paths: tuple[str, ...],
    ) -> None:
        self._set(name, file, resources, redactor, names, paths)

    def __repr__(self) -> str:
        return f"<profile {self.name!r} resources={list(self.resources)}>"

    def rebuild(self, where: str) -> tuple[ResolvedProfile, dict[str, SetupError]]:
        """The resolved profile again, and the resources that cannot be set up ``where``.

        A resource whose type does not import here is left out, with a
        :class:`SetupError` naming ``where`` (``worker 1``); a resource that refers
        to a left-out one fails with that same error, naming the root cause.
        """
        resources: dict[str, ResolvedResource] = {}
        broken: dict[str, SetupError] = {}
        types = TypeResolver()
        for key, res in self.resources.items():
            found = types.resolve(res.type_path)
            if isinstance(found, str):
                broken[key] = SetupError(key, f"cannot import its type on {where}: {found}")
                continue
            resources[key] = ResolvedResource(
                key=key,
                type_name=res.type_name,
                rtype=found,
                inputs=Config(_unseal(dict(res.inputs))),
                deps=res.deps,
                origins={},
                key_loc=res.key_loc,
                type_loc=res.type_loc,
                validated=None,
                shape=res.shape,
                names=self.names,
            )
        _drop_dependents(resources, broken)
        profile = ResolvedProfile(
            name=self.name,
            merged=MergedProfile(self.name, self.file, (), (), {}),
            env=Env({}, {}),
            resources=resources,
            redactor=self.redactor,
            names=self.names,
        )
        return profile, broken


def portable(
    profile: ResolvedProfile, uses: Iterable[str], modules: Iterable[str] = ()
) -> PortableProfile:
    """The resources of ``profile`` that ``uses`` names, and what they refer to, portable.

    ``modules`` are further modules the other side imports (a run's assets): the
    folders they come from travel too. Raises :class:`DefinitionError` for a
    resource type that cannot be imported by name (defined in ``__main__`` or in a
    function).
    """
    keys = deps_first(profile.resources, (k for k in uses if k in profile.resources))
    resources: dict[str, PortableResource] = {}
    imported: dict[str, None] = {}
    for key in keys:
        res = profile.resources[key]
        target = res.rtype.target
        path = importable_path(target)
        if path is None:
            raise DefinitionError(
                f"resource '{key}': its type {target.__module__}.{target.__qualname__} cannot "
                "be imported by name on Dask workers; define it at the top level of an "
                "importable module (not in __main__ or inside a function)"
            )
        imported[path.partition(":")[0]] = None
        inputs = {
            name: seal(value, part(res.shape, name, profile.names), profile.names, profile.redactor)
            for name, value in res.inputs.items()
        }
        resources[key] = PortableResource(
            key, res.type_name, path, inputs, res.deps, res.key_loc, res.type_loc, res.shape
        )
    imported.update(dict.fromkeys(modules))
    paths = tuple(dict.fromkeys(p for m in imported if (p := import_root(m)) is not None))
    return PortableProfile(
        profile.name, profile.merged.file, resources, profile.redactor, profile.names, paths
    )


def importable_path(
    obj: object, unwrap: Callable[[object], object] = lambda found: found
) -> str | None:
    """``module:qualname`` of ``obj`` if importing that path gives ``obj`` back here.

    ``unwrap`` turns what the path imports into what is compared with ``obj`` (an
    asset's function, where the module holds the decorated asset).
    """
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return None
    if module == "__main__" or "<locals>" in qualname or module not in sys.modules:
        return None
    path = f"{module}:{qualname}"
    try:
        found = import_object(path)
    except ImportPathError:
        return None
    return path if found is obj or unwrap(found) is obj else None


def import_root(module_name: str) -> str | None:
    """The folder ``module_name`` was imported from (the project folder, usually).

    None for a module that is not imported, has no file, or comes from the
    installed packages or the standard library (the other side has those).
    """
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if not file:
        return None
    path = Path(file).resolve()
    root = path.parent
    for _ in range(module_name.count(".") + (path.name == "__init__.py")):
        root = root.parent
    installed = {
        str(Path(p).resolve())
        for k, p in sysconfig.get_paths().items()
        if k in ("purelib", "platlib", "stdlib", "platstdlib")
    }
    return None if str(root) in installed else str(root)


def _unseal(value: Any) -> Any:
    # Config read from YAML never holds a SecretStr of its own: every one is a seal.
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _unseal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unseal(v) for v in value]
    return value


def _drop_dependents(resources: dict[str, ResolvedResource], broken: dict[str, SetupError]) -> None:
    """Move every resource that refers to a broken one, directly or not, to ``broken``."""
    changed = True
    while changed:
        changed = False
        for key in list(resources):
            error = next((broken[d] for d in resources[key].deps if d in broken), None)
            if error is not None:
                broken[key] = error
                del resources[key]
                changed = True
