"""Resources: typed config plus one lifecycle shape, setup / ``yield`` / teardown.

A resource type is either a :class:`Resource` subclass (typed config fields plus a
``lifespan`` generator) or a generator function decorated with :func:`resource`.
Internally both become a :class:`ResourceType`, the one shape the validator and
the runner deal with.
"""

from __future__ import annotations

import collections.abc
import contextlib
import inspect
import typing
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from pydantic import BaseModel, ConfigDict, create_model

from envres._dagster_classes import is_dagster_class, provided_by, refusal
from envres._errors import DefinitionError
from envres._record import Record

if TYPE_CHECKING:
    from envres._secrets import Redactor, SecretNames

__all__ = [
    "Lifespan",
    "Resource",
    "ResourceFunction",
    "ResourceType",
    "attach_masking",
    "lifespan_cm",
    "resource",
    "resource_type_of",
]

T = TypeVar("T")

_CONFIG = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class _Masked(BaseModel):
    """Config models whose repr and str mask what is secret (resources, function configs)."""

    model_config = _CONFIG

    # repr() and str() of a resource (in a log line, a traceback, a debugger) mask what
    # is secret by type or by name, as `envres show` does; once set up from a profile,
    # with the project's secret names and every secret value the profile knows.

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        from envres._secrets import masked_repr, model_shape, part

        names, _ = _masking_of(self)
        shape = model_shape(type(self), names)
        for name, value in super().__repr_args__():
            yield (
                name,
                value if name is None else masked_repr(value, part(shape, name, names), names),
            )

    def __repr__(self) -> str:
        _, redactor = _masking_of(self)
        return redactor.redact_untrusted(super().__repr__())

    def __str__(self) -> str:
        _, redactor = _masking_of(self)
        return redactor.redact_untrusted(super().__str__())


class Resource(_Masked):
    """A configurable resource with a lifecycle.

    Subclass it to declare an interface (``class Warehouse(Resource)``) and again
    for each implementation. Config fields are pydantic fields, immutable once
    validated; unknown fields are rejected. ``lifespan`` is a generator: the code
    before its single ``yield`` sets up, the code after tears down. Runtime
    state lives in private attributes (names starting with ``_``)::

        class DuckDBWarehouse(Warehouse):
            path: str = ":memory:"

            def lifespan(self) -> Iterator[None]:
                self._conn = duckdb.connect(self.path)
                yield
                self._conn.close()

    The asset that asks for the resource receives the instance itself.
    """

    model_config = _CONFIG

    def lifespan(self) -> Iterator[None]:
        """Set up before ``yield``, tear down after it. The default does nothing."""
        yield

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        lifespan = cls.__dict__.get("lifespan")
        if lifespan is None:
            return
        if inspect.isasyncgenfunction(lifespan) or inspect.iscoroutinefunction(lifespan):
            raise DefinitionError(
                f"{cls.__qualname__}.lifespan is async; envres runs lifespans synchronously. "
                "Write it as a plain generator (use asyncio.run inside it if you must)."
            )
        if not inspect.isgeneratorfunction(lifespan):
            raise DefinitionError(
                f"{cls.__qualname__}.lifespan must be a generator: put setup code, then "
                "`yield`, then teardown code (a lifespan with nothing to tear down still "
                "needs its `yield`)."
            )


class ResourceFunction(Generic[T]):
    """A generator function turned into a resource type by :func:`resource`.

    Its parameters are its config (validated like a Resource's fields); what it
    yields is what assets receive. Calling it still calls the function.
    """

    def __init__(self, fn: Callable[..., Iterator[T]], name: str) -> None:
        self.fn = fn
        self.__name__ = name
        self.__qualname__ = getattr(fn, "__qualname__", name)
        self.__module__ = fn.__module__
        self.__doc__ = fn.__doc__
        self.config_model: type[BaseModel] = _model_from_signature(fn, name)
        self.provides: type | None = _yielded_type(fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Iterator[T]:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<resource function {self.__module__}.{self.__qualname__}>"


@overload
def resource(fn: Callable[..., Iterator[T]]) -> ResourceFunction[T]: ...
@overload
def resource(
    *, name: str | None = None
) -> Callable[[Callable[..., Iterator[T]]], ResourceFunction[T]]: ...
def resource(
    fn: Callable[..., Iterator[T]] | None = None, *, name: str | None = None
) -> ResourceFunction[T] | Callable[[Callable[..., Iterator[T]]], ResourceFunction[T]]:
    """Make a generator function a resource type.

    ::

        @envres.resource
        def console(prefix: str = "") -> Iterator[Notifier]:
            yield Notifier(prefix)        # what assets receive
            # teardown goes here

    Its parameters become the config fields (annotate them; ``SecretStr`` works).
    """

    def wrap(f: Callable[..., Iterator[T]]) -> ResourceFunction[T]:
        if inspect.isasyncgenfunction(f) or inspect.iscoroutinefunction(f):
            raise DefinitionError(
                f"@resource {f.__qualname__} is async; resource functions must be plain "
                "generators (setup, `yield value`, teardown)."
            )
        if not inspect.isgeneratorfunction(f):
            raise DefinitionError(
                f"@resource {getattr(f, '__qualname__', f)!s} must be a generator function: "
                "`yield` the value assets receive (teardown code goes after the yield)."
            )
        return ResourceFunction(f, name or f.__name__)

    if fn is not None:
        return wrap(fn)
    return wrap


def _model_from_signature(fn: Callable[..., Any], name: str) -> type[BaseModel]:
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:
        raise DefinitionError(
            f"cannot read the annotations of @resource {fn.__qualname__}: {exc}"
        ) from exc
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise DefinitionError(
                f"@resource {fn.__qualname__}: parameter '{param.name}' must be a plain "
                "keyword-capable parameter (no *args, **kwargs or positional-only)."
            )
        annotation = hints.get(param.name, Any)
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (annotation, default)
    model: type[BaseModel] = create_model(f"{name}_config", __base__=_Masked, **fields)
    return model


def _yielded_type(fn: Callable[..., Any]) -> type | None:
    """The class a resource function yields, from ``-> Iterator[X]``, if it says so."""
    try:
        ret = typing.get_type_hints(fn).get("return")
    except Exception:
        return None
    origin = typing.get_origin(ret)
    if origin in (
        collections.abc.Iterator,
        collections.abc.Generator,
        collections.abc.Iterable,
    ):
        args = typing.get_args(ret)
        if args and isinstance(args[0], type):
            return args[0]
    return None


class ResourceType(Record):
    """One resource implementation, whichever way it was written.

    ``model`` validates the config; ``provides`` is the class assets receive (for
    interface checks; ``None`` when unknown). Which of its values are secrets is
    ``envres._secrets``' business (``model_shape(model)``). ``dagster`` says the
    target is one of Dagster's own resource classes (:mod:`envres._dagster_classes`):
    its fields are validated here, its lifecycle is Dagster's.
    """

    __slots__ = ("name", "target", "model", "provides", "dagster")
    name: str
    target: type[Resource] | ResourceFunction[Any] | type[BaseModel]
    model: type[BaseModel]
    provides: type | None
    dagster: bool

    def __init__(
        self,
        name: str,
        target: type[Resource] | ResourceFunction[Any] | type[BaseModel],
        model: type[BaseModel],
        provides: type | None,
        dagster: bool = False,
    ) -> None:
        self._set(name, target, model, provides, dagster)

    def lifecycle(
        self, config: Mapping[str, Any], masking: Masking | None = None
    ) -> contextlib.AbstractContextManager[Any]:
        """Validate ``config`` into a fresh instance and return its setup/teardown.

        Entering the context manager sets up and returns what assets receive.
        ``masking`` (the profile's secret names and redactor) is what the instance's
        repr masks with.
        """
        target = self.target
        if self.dagster:
            raise DefinitionError(refusal(self.name, self.model))
        if isinstance(target, type):
            if not issubclass(target, Resource):
                raise DefinitionError(f"{target!r} is not a resource type")
            instance = target.model_validate(dict(config))
            if masking is not None:
                attach_masking(instance, masking)
            return lifespan_cm(instance.lifespan, instance)
        validated = self.model.model_validate(dict(config))
        kwargs = {name: getattr(validated, name) for name in type(validated).model_fields}
        return lifespan_cm(lambda: target.fn(**kwargs), None)


class Lifespan:
    """One lifespan as a context manager: entering sets up, leaving tears down.

    Entering returns ``instance`` (a Resource is what assets receive) or, for a
    resource function, what the generator yielded. ``live`` tells, from the
    generator itself, whether the setup has run and the teardown is still owed:
    an interrupt that lands just after the setup's last line cannot hide that.
    """

    __slots__ = ("_gen", "_instance", "_make")

    def __init__(self, make: Callable[[], Iterator[Any]], instance: Any) -> None:
        self._make = make
        self._instance = instance
        self._gen: Generator[Any, None, None] | None = None

    @property
    def live(self) -> bool:
        gen = self._gen
        return gen is not None and inspect.getgeneratorstate(gen) == inspect.GEN_SUSPENDED

    def __enter__(self) -> Any:
        gen = self._make()
        if not isinstance(gen, Generator):
            raise DefinitionError("a lifespan must return a generator")
        self._gen = gen
        yielded = next(gen)  # the setup half; a failure in it is the setup's error
        return self._instance if self._instance is not None else yielded

    def __exit__(self, *exc_info: object) -> None:
        gen = self._gen
        if gen is None or not self.live:
            return
        try:
            next(gen)  # the teardown half
        except StopIteration:
            return
        gen.close()
        raise DefinitionError("lifespan yielded more than once; it must yield exactly once")


def lifespan_cm(make: Callable[[], Iterator[Any]], instance: Any) -> Lifespan:
    """The context manager of one lifespan (see :class:`Lifespan`)."""
    return Lifespan(make, instance)


Masking = tuple["SecretNames", "Redactor"]


def _masking_of(resource: BaseModel) -> Masking:
    found: Masking | None = resource.__dict__.get("_envres_masking")
    if found is not None:
        return found
    # Not set up from a profile: the default names, no known secrets. The secrets
    # module loads here, on the first repr, not with `import envres`.
    from envres._secrets import DEFAULT_SECRET_NAMES, Redactor

    return DEFAULT_SECRET_NAMES, Redactor()


def attach_masking(instance: BaseModel, masking: Masking) -> None:
    """Make ``instance``'s repr mask with a profile's secret names and secrets."""
    object.__setattr__(instance, "_envres_masking", masking)


def resource_type_of(target: object, name: str | None = None) -> ResourceType:
    """Wrap a Resource subclass, a @resource function or one of Dagster's resource
    classes as a :class:`ResourceType`.

    Raises :class:`DefinitionError` for anything else.
    """
    if is_dagster_class(target):
        assert isinstance(target, type) and issubclass(target, BaseModel)
        label = name or f"{target.__module__}:{target.__qualname__}"
        return ResourceType(label, target, target, provided_by(target), dagster=True)
    if isinstance(target, type) and issubclass(target, Resource):
        model: type[BaseModel] = target
        provides: type | None = target
        label = name or f"{target.__module__}:{target.__qualname__}"
    elif isinstance(target, ResourceFunction):
        model = target.config_model
        provides = target.provides
        label = name or f"{target.__module__}:{target.__qualname__}"
    else:
        raise DefinitionError(
            f"{target!r} is not a resource type: subclass envres.Resource or decorate a "
            "generator function with @envres.resource"
        )
    return ResourceType(label, target, model, provides)
