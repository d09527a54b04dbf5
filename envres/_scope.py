"""Live resources: set up lazily, once each, torn down in reverse order whatever happens.

:class:`ResourceScope` is the one stateful object of envres. Like svcs'
``Container``, it records every setup as it completes and, on close, tears each
down in reverse order in its own ``try``; a failing teardown is reported and the
others still run; closing twice is harmless.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from envres._errors import SetupError, TeardownError, UsageError
from envres._events import Event
from envres._resolved import ResolvedProfile
from envres._resources import Resource, lifespan_cm
from envres._values import Ref

__all__ = ["SETUP_GRACE_SECONDS", "ResourceScope"]

#: How long close() waits for setups still running on other threads before it
#: unwinds without them (each then tears itself down when it completes).
SETUP_GRACE_SECONDS = 2.0


class ResourceScope:
    """The live resources of one run (or one ``with`` block).

    ``get(key)`` sets the resource up on first use (its dependencies first) and
    returns what assets receive; concurrent callers wait for the one setup.
    ``close()`` tears down everything set up, in reverse order.
    """

    def __init__(
        self,
        profile: ResolvedProfile,
        overrides: Mapping[str, Any] | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.profile = profile
        self._overrides = dict(overrides or {})
        self._on_event = on_event
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._values: dict[str, Any] = {}
        self._failed: dict[str, SetupError] = {}
        self._stack: list[tuple[str, contextlib.AbstractContextManager[Any]]] = []
        self._closing = False  # close() has begun: no new setups
        self._closed = False  # the stack has been unwound
        self._inflight = 0
        self._idle = threading.Condition()

    def __repr__(self) -> str:
        live = [key for key, _ in self._stack]
        state = "closed" if self._closing else f"live={live}"
        return f"<ResourceScope profile={self.profile.name!r} {state}>"

    def __enter__(self) -> ResourceScope:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_stack", None) and not getattr(self, "_closed", True):
            warnings.warn(
                f"{self!r} was garbage-collected with live resources; use it as a context "
                "manager or call close()",
                ResourceWarning,
                stacklevel=1,
            )

    def _emit(self, event: Event) -> None:
        if self._on_event is not None:
            self._on_event(event)

    @property
    def keys(self) -> tuple[str, ...]:
        """Every resource key this scope can set up."""
        return tuple(dict.fromkeys([*self.profile.resources, *self._overrides]))

    @property
    def values(self) -> Mapping[str, Any]:
        """What assets receive, for the keys set up so far (read-only view)."""
        return self._values

    @property
    def live(self) -> tuple[str, ...]:
        """The keys set up so far, in setup order."""
        return tuple(key for key, _ in self._stack)

    def get(self, key: str) -> Any:
        """What assets receive for ``key``, setting it (and what it needs) up first.

        Dependencies are set up one by one in dependency order, never by recursion,
        so a chain of references of any length sets up.
        """
        try:
            return self._values[key]
        except KeyError:
            pass
        order = self._closure(key)
        for dep in order[:-1]:
            try:
                self._get_one(dep)
            except SetupError as exc:
                # A dependency failed: this key fails with it, naming the root cause.
                self._failed.setdefault(key, exc)
                raise
        return self._get_one(key)

    def _closure(self, key: str) -> list[str]:
        """``key`` and every key it refers to, dependencies first (a stack-based walk)."""
        resources = self.profile.resources
        order: list[str] = []
        seen = {key}
        stack = [(key, iter(resources[key].deps if key in resources else ()))]
        while stack:
            node, deps = stack[-1]
            for dep in deps:
                if dep not in seen and dep not in self._values:
                    seen.add(dep)
                    stack.append((dep, iter(resources[dep].deps if dep in resources else ())))
                    break
            else:
                stack.pop()
                order.append(node)
        return order

    def _get_one(self, key: str) -> Any:
        """Set ``key`` up once (its dependencies are live already) and return its value."""
        try:
            return self._values[key]
        except KeyError:
            pass
        with self._lock:
            if self._closing:
                raise UsageError(f"{self!r} is closed; open a new scope")
            if key not in self.profile.resources and key not in self._overrides:
                raise UsageError(
                    f"resource '{key}' is not defined in profile '{self.profile.name}'"
                )
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._values:
                return self._values[key]
            if key in self._failed:
                raise self._failed[key]
            return self._setup(key)

    def _setup(self, key: str) -> Any:
        with self._idle:
            self._inflight += 1
        try:
            return self._setup_counted(key)
        finally:
            with self._idle:
                self._inflight -= 1
                self._idle.notify_all()

    def _setup_counted(self, key: str) -> Any:
        started = time.perf_counter()
        try:
            cm = self._lifecycle(key)
            value = cm.__enter__()
        except SetupError as exc:
            if exc.key != key:
                self._failed[key] = exc
            raise
        except BaseException as exc:
            error = SetupError(key, self.profile.redactor.describe(exc))
            self._failed[key] = error
            self._emit(Event("setup_failed", key, time.perf_counter() - started, error.detail))
            if isinstance(exc, Exception):
                raise error from exc
            raise
        with self._lock:
            closed = self._closed
            if not closed:
                self._stack.append((key, cm))
                self._values[key] = value
        if closed:
            # close() stopped waiting for this setup (a second Ctrl-C) and has
            # unwound already: nobody else will tear this one down.
            cm.__exit__(None, None, None)
            raise UsageError(f"{self!r} was closed while '{key}' was being set up")
        self._emit(Event("setup", key, time.perf_counter() - started))
        return value

    def _lifecycle(self, key: str) -> contextlib.AbstractContextManager[Any]:
        if key in self._overrides:
            obj = self._overrides[key]
            if isinstance(obj, Resource):
                return lifespan_cm(obj.lifespan, obj)
            return contextlib.nullcontext(obj)
        res = self.profile.resources[key]
        config = {name: self._live(value) for name, value in res.inputs.items()}
        return res.rtype.lifecycle(config)

    def _live(self, value: Any) -> Any:
        if isinstance(value, Ref):
            return self._get_one(value.key)
        if isinstance(value, dict):
            return {k: self._live(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._live(v) for v in value]
        return value

    def call(self, fn: Callable[..., Any], /, **given: Any) -> Any:
        """Call ``fn`` with the resources its parameters name (``given`` wins).

        ::

            with bound.scope() as scope:
                rows = scope.call(lambda warehouse: warehouse.query("select 1"))
        """
        kwargs = dict(given)
        for p in inspect.signature(fn).parameters.values():
            if p.name in kwargs:
                continue
            if p.name in self.profile.resources or p.name in self._overrides:
                kwargs[p.name] = self.get(p.name)
        return fn(**kwargs)

    def close(self) -> list[TeardownError]:
        """Tear down every live resource, last set up first; return the teardowns that failed.

        Each teardown runs in its own ``try``: one failing does not stop the rest.
        Calling ``close`` again does nothing.
        """
        with self._lock:
            if self._closing:
                return []
            self._closing = True
        interrupt: BaseException | None = None
        try:
            # A setup still in flight (another thread, --jobs) joins the stack when it
            # completes; waiting for it keeps teardown in exact reverse order. The wait
            # is bounded: a setup hung on a network call must not hold up Ctrl-C.
            deadline = time.monotonic() + SETUP_GRACE_SECONDS
            with self._idle:
                while self._inflight and time.monotonic() < deadline:
                    self._idle.wait(0.05)
        except BaseException as exc:  # a second Ctrl-C: stop waiting, unwind what we have
            interrupt = exc
        with self._lock:
            self._closed = True
            stack, self._stack = self._stack, []
        errors: list[TeardownError] = []
        for key, cm in reversed(stack):
            started = time.perf_counter()
            try:
                cm.__exit__(None, None, None)
            except BaseException as exc:
                if not isinstance(exc, Exception) and interrupt is None:
                    # A second Ctrl-C must not skip the remaining teardowns.
                    interrupt = exc
                error = TeardownError(key, self.profile.redactor.describe(exc))
                error.__cause__ = exc
                errors.append(error)
                self._emit(
                    Event("teardown_failed", key, time.perf_counter() - started, error.detail)
                )
            else:
                self._emit(Event("teardown", key, time.perf_counter() - started))
        self._values.clear()
        if interrupt is not None:
            raise interrupt
        return errors
