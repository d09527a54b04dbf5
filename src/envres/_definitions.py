"""Assets and the Definitions object that holds them with the resource types."""

from __future__ import annotations

import contextlib
import inspect
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, overload

from envres._bound import BoundDefinitions, bind
from envres._errors import DefinitionError
from envres._resources import Resource, ResourceFunction, ResourceType, resource_type_of

__all__ = ["AssetDef", "Definitions", "asset"]


class AssetDef:
    """An asset: a function whose parameters name resources or upstream assets.

    Calling an ``AssetDef`` calls the function unchanged, so assets stay easy to
    unit-test. ``params`` is computed once, here, never per call.
    """

    def __init__(self, fn: Callable[..., Any], name: str, description: str | None) -> None:
        if not callable(fn):
            raise DefinitionError(f"@asset needs a function, got {fn!r}")
        self.fn = fn
        self.name = name
        self._description = description
        self.__doc__ = fn.__doc__
        self.is_async = inspect.iscoroutinefunction(fn)
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise DefinitionError(
                f"@asset {name} is a generator; an asset returns its value (only resources "
                "use `yield`)."
            )
        params, optional = _parameters(fn, name)
        self.params: tuple[str, ...] = params
        self.optional: frozenset[str] = optional
        annotations = getattr(fn, "__annotations__", None) or {}
        if any(isinstance(v, str) for v in annotations.values()):
            with contextlib.suppress(Exception):
                annotations = typing.get_type_hints(fn)
        self.annotations: dict[str, Any] = {k: v for k, v in annotations.items() if k in params}

    @property
    def description(self) -> str | None:
        """The description given to ``@asset``, else the function's docstring."""
        return self._description if self._description is not None else inspect.getdoc(self.fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<asset {self.name}>"


def _parameters(fn: Callable[..., Any], name: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """Parameter names and those with defaults; read from the code object when it is plain.

    ``inspect.signature`` costs ~5 us per function, which 10,000 assets notice.
    """
    code = getattr(fn, "__code__", None)
    if inspect.isfunction(fn) and code is not None and not hasattr(fn, "__wrapped__"):
        if code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS) or code.co_posonlyargcount:
            _bad_parameter(name, "*args, **kwargs or positional-only")
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        defaults = fn.__defaults__ or ()
        optional = set(names[code.co_argcount - len(defaults) : code.co_argcount])
        optional.update(fn.__kwdefaults__ or {})
        return tuple(names), frozenset(optional)
    params: list[str] = []
    with_default: set[str] = set()
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            _bad_parameter(name, f"'{p.name}'")
        params.append(p.name)
        if p.default is not p.empty:
            with_default.add(p.name)
    return tuple(params), frozenset(with_default)


def _bad_parameter(asset_name: str, what: str) -> None:
    raise DefinitionError(
        f"@asset {asset_name}: parameters must be plain named parameters, not {what}; "
        "envres passes resources and upstream values by name"
    )


@overload
def asset(fn: Callable[..., Any]) -> AssetDef: ...
@overload
def asset(
    *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], AssetDef]: ...
def asset(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
) -> AssetDef | Callable[[Callable[..., Any]], AssetDef]:
    """Declare an asset. Parameters name resource keys or upstream assets::

        @envres.asset
        def orders(warehouse: Warehouse) -> int:
            return warehouse.count("orders")

        @envres.asset
        def report(orders: int, notifier) -> None:   # `orders` is the upstream value
            notifier.send(f"{orders} orders")

    An annotation with a Resource class on a resource parameter makes validation
    check that the profile's implementation is a subclass. ``async def`` assets
    are run with ``asyncio.run`` on their worker.
    """

    def wrap(f: Callable[..., Any]) -> AssetDef:
        return AssetDef(f, name or f.__name__, description)

    if fn is not None:
        return wrap(fn)
    return wrap


class Definitions:
    """The assets of a pipeline and the resource types its profiles may name.

    ::

        defs = envres.Definitions(
            assets=[orders, report],
            resource_types={"duckdb": DuckDBWarehouse, "console": console},
        )
        with defs.with_profile("dev") as bound:   # validated, nothing set up yet
            bound.run()

    A parameter of an asset that names another asset is a dependency on it;
    every other parameter is a resource key the profile must bind (unless the
    parameter has a default).
    """

    def __init__(
        self,
        assets: Sequence[AssetDef] = (),
        resource_types: Mapping[str, type[Resource] | ResourceFunction[Any]] | None = None,
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
        self.resource_types: Mapping[str, ResourceType] = {
            key: resource_type_of(target, key) for key, target in (resource_types or {}).items()
        }
        self.upstream: Mapping[str, tuple[str, ...]] = {
            a.name: tuple(p for p in a.params if p in by_name) for a in by_name.values()
        }
        self.resource_params: Mapping[str, tuple[str, ...]] = {
            a.name: tuple(p for p in a.params if p not in by_name) for a in by_name.values()
        }
        self._check_asset_cycles()

    def _check_asset_cycles(self) -> None:
        state: dict[str, int] = {}
        for start in self.assets:
            stack: list[tuple[str, Iterator[str]]] = [(start, iter(self.upstream[start]))]
            if state.get(start) == 2:
                continue
            state[start] = 1
            path = [start]
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    state[node] = 2
                    stack.pop()
                    path.pop()
                elif state.get(nxt) == 1:
                    cycle = [*path[path.index(nxt) :], nxt]
                    raise DefinitionError(f"assets depend on each other: {' -> '.join(cycle)}")
                elif state.get(nxt) is None:
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append((nxt, iter(self.upstream[nxt])))

    def with_profile(
        self,
        profile: str | None = None,
        *,
        project: str | None = None,
        profiles_dir: str | None = None,
        env: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
        allow_missing_env: bool = False,
    ) -> BoundDefinitions:
        """Load, merge and validate a profile; return the bound definitions.

        Raises :class:`envres.ProfileError` listing every problem. Nothing is set
        up until you run or open a scope. ``env`` replaces the process environment
        (handy in tests); ``overrides`` binds keys to objects of your own.
        """
        return bind(
            self,
            profile=profile,
            project=project,
            profiles_dir=profiles_dir,
            env=env,
            overrides=overrides,
            allow_missing_env=allow_missing_env,
        )

    def __repr__(self) -> str:
        return (
            f"Definitions(assets={sorted(self.assets)}, "
            f"resource_types={sorted(self.resource_types)})"
        )
