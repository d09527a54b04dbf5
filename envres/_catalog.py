"""The catalog of a pipeline: its assets, the graph between them, and its resource types.

This is the data of :class:`envres.Definitions`, kept below the loader and the
binding so that validation and execution can read it without importing the
class that binds profiles (``Definitions`` adds ``with_profile`` on top of it).
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from envres._assets import AssetDef
from envres._errors import DefinitionError, UsageError, suggest

if TYPE_CHECKING:
    from envres._resources import ResourceFunction, ResourceType

__all__ = ["Catalog"]


class Catalog:
    """Assets by name, the asset graph, and the resource types profiles may name.

    A parameter of an asset that names another asset is a dependency on it;
    every other parameter is a resource key the profile must bind (unless the
    parameter has a default). A cycle between assets is a :class:`DefinitionError`.
    """

    def __init__(
        self,
        assets: Sequence[AssetDef] = (),
        resource_types: Mapping[str, type[Any] | ResourceFunction[Any]] | None = None,
    ) -> None:
        by_name: dict[str, AssetDef] = {}
        for a in assets:
            if not isinstance(a, AssetDef):
                raise DefinitionError(
                    f"Definitions(assets=...) takes functions decorated with @envres.asset; "
                    f"got {a!r}"
                )
            if a.name in by_name:
                raise DefinitionError(f"two assets are named '{a.name}'")
            by_name[a.name] = a
        self.assets: Mapping[str, AssetDef] = by_name
        # pydantic loads with the first resource type (or the first Resource subclass).
        from envres._resources import resource_type_of

        self.resource_types: Mapping[str, ResourceType] = {
            key: resource_type_of(target, key) for key, target in (resource_types or {}).items()
        }
        upstream: dict[str, tuple[str, ...]] = {}
        resource_params: dict[str, tuple[str, ...]] = {}
        for a in by_name.values():
            ups = [p for p in a.params if p in by_name]
            upstream[a.name] = tuple(ups)
            resource_params[a.name] = (
                tuple(p for p in a.params if p not in by_name) if ups else a.params
            )
        self.upstream: Mapping[str, tuple[str, ...]] = upstream
        self.resource_params: Mapping[str, tuple[str, ...]] = resource_params
        # Only assets with upstream assets can be on a cycle.
        linked = {name: ups for name, ups in upstream.items() if ups}
        if not linked:
            return
        try:
            graphlib.TopologicalSorter(linked).prepare()
        except graphlib.CycleError as exc:
            cycle = list(reversed(exc.args[1]))
            raise DefinitionError(f"assets depend on each other: {' -> '.join(cycle)}") from None

    def plan(self, selection: Iterable[str] | None = None) -> list[str]:
        """The assets to run, upstream first: the selection and everything it needs.

        Every asset when ``selection`` is empty. The order is a depth-first
        post-order (upstream assets in parameter order), walked with a stack, so a
        chain of any length plans. Raises :class:`UsageError` for an unknown name.
        """
        names = list(selection or ()) or list(self.assets)
        for n in names:
            if n not in self.assets:
                raise UsageError(
                    f"unknown asset '{n}'{suggest(n, sorted(self.assets))} "
                    f"(assets: {', '.join(sorted(self.assets)) or 'none'})"
                )
        order: list[str] = []
        seen: set[str] = set()
        for start in names:
            if start in seen:
                continue
            seen.add(start)
            stack = [(start, iter(self.upstream[start]))]
            while stack:
                node, ups = stack[-1]
                for up in ups:
                    if up not in seen:
                        seen.add(up)
                        stack.append((up, iter(self.upstream[up])))
                        break
                else:
                    stack.pop()
                    order.append(node)
        return order

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(assets={sorted(self.assets)}, "
            f"resource_types={sorted(self.resource_types)})"
        )
