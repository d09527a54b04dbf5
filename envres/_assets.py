"""Assets: functions whose parameters name the resources and upstream assets they take."""

from __future__ import annotations

import contextlib
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, overload

from envres._errors import DefinitionError
from envres._paths import display

__all__ = ["NAME_RULE", "AssetDef", "asset", "check_name"]


class AssetDef:
    """An asset: a function whose parameters name resources or upstream assets.

    Calling an ``AssetDef`` calls the function unchanged, so assets stay easy to
    unit-test. ``params`` is computed once, here, never per call; ``source`` is
    the file and line of the definition, for messages and ``envres assets``.
    """

    def __init__(self, fn: Callable[..., Any], name: str, description: str | None) -> None:
        if not callable(fn):
            raise DefinitionError(f"@asset needs a function, got {fn!r}")
        self.fn = fn
        self.name = name
        self._description = description
        self.__doc__ = fn.__doc__
        code = getattr(fn, "__code__", None)
        plain = type(fn) is types.FunctionType and "__wrapped__" not in fn.__dict__
        if plain and code is not None:
            # A plain function (the common case, 10,000 times in a big project): its code
            # object says all that inspect would, at a fraction of the cost.
            flags = code.co_flags
            self.is_async = bool(flags & inspect.CO_COROUTINE)
            generator = bool(flags & (inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR))
            source: tuple[str, int] | None = (code.co_filename, code.co_firstlineno)
        else:
            self.is_async = inspect.iscoroutinefunction(fn)
            generator = inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)
            code = getattr(inspect.unwrap(fn), "__code__", None)
            source = (code.co_filename, code.co_firstlineno) if code is not None else None
        check_name(name, source)
        if generator:
            raise DefinitionError(
                f"@asset {name} is a generator; an asset returns its value (only resources "
                "use `yield`)."
            )
        params, optional = _parameters(fn, name, plain)
        self.params: tuple[str, ...] = params
        self.optional: frozenset[str] = optional
        annotations = getattr(fn, "__annotations__", None) or {}
        if str in map(type, annotations.values()):  # a string annotation: resolve them
            with contextlib.suppress(Exception):
                annotations = typing.get_type_hints(fn)
        self.annotations: dict[str, Any] = {k: v for k, v in annotations.items() if k in params}
        #: The file and line of the definition (for messages and ``envres assets``).
        self.source: tuple[str, int] | None = source

    #: What the definition is: an ``asset``, or, for a Dagster project, a ``job``,
    #: ``sensor`` or ``schedule`` that needs resources too.
    kind: str = "asset"
    #: Defined elsewhere (:meth:`declared`): read by validation, never run by envres.
    declared_only: bool = False

    @classmethod
    def declared(
        cls,
        name: str,
        params: tuple[str, ...],
        *,
        kind: str = "asset",
        source: tuple[str, int] | None = None,
        description: str | None = None,
    ) -> AssetDef:
        """A definition known only by its name and what it takes, defined elsewhere (a
        Dagster asset, job, sensor or schedule): validation reads it, envres never runs it.
        """
        self = object.__new__(cls)

        def not_here(*_: Any, **__: Any) -> Any:
            raise DefinitionError(f"{kind} '{name}' is defined by Dagster; run it with Dagster")

        self.fn = not_here
        self.name = name
        self._description = description
        self.__doc__ = description
        self.is_async = False
        self.params = params
        self.optional = frozenset()
        self.annotations = {}
        self.source = source
        self.kind = kind
        self.declared_only = True
        return self

    @property
    def description(self) -> str | None:
        """The description given to ``@asset``, else the function's docstring."""
        return self._description if self._description is not None else inspect.getdoc(self.fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<asset {self.name}>"


#: The rule every asset name follows, as error messages and the README state it.
NAME_RULE = (
    "letters, digits, '_', '-' and '.', starting with a letter, a digit or '_' "
    "(so that `envres run NAME` can select it)"
)


def check_name(name: object, source: tuple[str, int] | None = None) -> None:
    """Raise :class:`DefinitionError` unless ``name`` follows :data:`NAME_RULE`.

    ``source``, the file and line of the definition, starts the message.

    Letters and digits are those of Python names (every function name qualifies);
    ``-`` and ``.`` allow names such as ``raw.orders`` or ``daily-report``. Nothing
    else: no space, quote, bracket, ``+``, ``*``, ``@``, ``:``, ``,`` or ``/`` (which
    selection syntaxes use), no control character, and no leading ``-`` (which would
    read as an option).

    >>> check_name("raw.orders-2024")
    >>> check_name("-x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    envres.DefinitionError: asset name '-x' is not allowed: letters, digits, '_', '-' and '.', ...
    """
    if type(name) is str and name.isidentifier():
        return  # every function name: the common case, without a loop over characters
    if (
        isinstance(name, str)
        and name
        and name[0] not in "-."
        and all(c in "-." or f"_{c}".isidentifier() for c in name)
    ):
        return
    where = f"{display(source[0])}:{source[1]}: " if source is not None else ""
    raise DefinitionError(
        f"{where}asset name {name!r} is not allowed: {NAME_RULE}; give the asset one with "
        "@envres.asset(name=...)"
    )


_NONE: frozenset[str] = frozenset()


def _parameters(
    fn: Callable[..., Any], name: str, plain: bool
) -> tuple[tuple[str, ...], frozenset[str]]:
    """Parameter names and those with defaults; read from the code object when ``plain``
    (a function, not wrapped): ``inspect.signature`` costs ~5 us per function, which
    10,000 assets notice.
    """
    code = getattr(fn, "__code__", None)
    if plain and code is not None:
        if code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS) or code.co_posonlyargcount:
            _bad_parameter(name, "*args, **kwargs or positional-only")
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        if fn.__defaults__ is None and fn.__kwdefaults__ is None:
            return names, _NONE
        defaults = fn.__defaults__ or ()
        optional = set(names[code.co_argcount - len(defaults) : code.co_argcount])
        optional.update(fn.__kwdefaults__ or {})
        return names, frozenset(optional)
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

    ``name`` (the function's name by default) is what ``envres run NAME`` selects:
    letters, digits, ``_``, ``-`` and ``.``, starting with a letter, a digit or ``_``
    (``@envres.asset(name="raw.orders")``); any other is a :class:`DefinitionError`.
    """

    def wrap(f: Callable[..., Any]) -> AssetDef:
        return AssetDef(f, str(getattr(f, "__name__", "")) if name is None else name, description)

    if fn is not None:
        return wrap(fn)
    return wrap
