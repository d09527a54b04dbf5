"""Live resources: set up lazily, once each, torn down in reverse order whatever happens.

:class:`ResourceScope` is the one stateful object of envres. Like svcs'
``Container``, it records every setup as it completes and, on close, tears each
down in reverse order in its own ``try``; a failing teardown is reported and the
others still run; closing twice is harmless. What holds whatever happens:

- reporting never stops a teardown: an event callback that raises (a closed pipe,
  a bug) is ignored;
- while tearing down, Ctrl-C, SIGTERM and SIGHUP are held back (in the main thread)
  and delivered afterwards; a burst of them is one;
- user code that raises anything (``SystemExit`` included) in a setup or teardown
  is that setup's or teardown's failure, and so is a ``KeyboardInterrupt`` that no
  signal caused in a setup; only a real interrupt is an interrupt (and a
  ``KeyboardInterrupt`` raised by a teardown, once the other teardowns ran);
- a child process forked by user code never tears down its parent's resources;
- a setup still running on another thread when ``close`` starts is waited for
  (up to :data:`SETUP_GRACE_SECONDS`); if it is still running after that, the
  resources it depends on stay up until it finishes, so it is torn down before
  them, and ``close`` says which resources are not torn down yet. If the process
  exits first (the setup hangs), they are torn down as it exits.
"""

from __future__ import annotations

import atexit
import contextlib
import inspect
import os
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from envres._causes import reason
from envres._errors import INTERRUPTS, Reason, SetupError, TeardownError, UsageError
from envres._events import Event
from envres._resolved import ResolvedProfile, deps_first
from envres._resources import Resource, lifespan_cm
from envres._signals import (
    Deferred,
    TimedOut,
    deferred,
    from_signal,
    mark_stop,
    progressed,
    redeliver,
)
from envres._values import Ref

__all__ = ["SETUP_GRACE_SECONDS", "ResourceScope", "still_up"]

#: How long close() waits for setups still running on other threads.
SETUP_GRACE_SECONDS = 2.0

_Entry = tuple[str, contextlib.AbstractContextManager[Any]]


class _Unresolved(Exception):
    """A value's variable was not set when the profile was loaded (allow_missing_env)."""


# Scopes holding resources up for a setup still running after close(). When the
# process exits, that setup will never finish: tear them down then.
_pinned_scopes: weakref.WeakSet[ResourceScope] = weakref.WeakSet()
# Every scope of this process, for what a shutdown cut short must name.
_scopes: weakref.WeakSet[ResourceScope] = weakref.WeakSet()


@atexit.register
def _release_at_exit() -> None:
    for scope in list(_pinned_scopes):
        scope.release_pinned(force=True)


def still_up() -> list[str]:
    """The resources of this process set up and not torn down yet, in setup order."""
    keys: list[str] = []
    scopes: list[ResourceScope] = []
    for _ in range(10):  # called from another thread: a scope may be added meanwhile
        try:
            scopes = list(_scopes)
            break
        except RuntimeError:
            continue
    for scope in scopes:
        if scope.owned:
            keys.extend(k for k in scope.up if k not in keys)
    return keys


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
        self._stack: list[_Entry] = []
        self._pinned: list[_Entry] = []  # kept up after close for setups still running
        self._closing = False  # close() has begun: no new setups
        self._closed = False  # the stack has been unwound
        self._inflight: dict[str, int] = {}  # keys whose setup is running, by thread count
        self._idle = threading.Condition()
        self._unwinding: list[str] = []  # being torn down, not done yet
        self._pid = os.getpid()  # a forked child must not tear down its parent's resources
        _scopes.add(self)

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
        """Report ``event``; whatever the callback raises, the caller carries on."""
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except INTERRUPTS as exc:
            if not self._closing:
                mark_stop(exc)  # the caller's callback: it stops the run
                raise
        except BaseException:  # SystemExit from a callback included
            pass  # reporting must never stop a setup or a teardown

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

    @property
    def owned(self) -> bool:
        """Whether this process set these resources up (not a child forked since)."""
        return os.getpid() == self._pid

    @property
    def up(self) -> tuple[str, ...]:
        """The keys set up and not torn down yet (in setup order), at any moment."""
        with self._lock:
            entries = [*self._pinned, *self._stack]
            keys = [key for key, _ in entries] + list(self._unwinding)
        return tuple(dict.fromkeys(keys))

    @property
    def not_torn_down(self) -> tuple[str, ...]:
        """After close: resources still up, waiting for a setup that is still running."""
        with self._lock:
            return (*self._inflight, *(key for key, _ in self._pinned))

    def get(self, key: str) -> Any:
        """What assets receive for ``key``, setting it (and what it needs) up first.

        Dependencies are set up one by one in dependency order, never by recursion,
        so a chain of references of any length sets up.
        """
        try:
            return self._values[key]
        except KeyError:
            pass
        for dep in deps_first(self.profile.resources, (key,), self._values)[:-1]:
            try:
                self._get_one(dep)
            except SetupError as exc:
                # A dependency failed: this key fails with it, naming the root cause.
                self._failed.setdefault(key, exc)
                raise
        return self._get_one(key)

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
            self._inflight[key] = self._inflight.get(key, 0) + 1
        try:
            return self._setup_counted(key)
        finally:
            with self._idle:
                self._inflight[key] -= 1
                if not self._inflight[key]:
                    del self._inflight[key]
                self._idle.notify_all()
            if self._closed:
                self.release_pinned()

    def _setup_counted(self, key: str) -> Any:
        started = time.perf_counter()
        cm: contextlib.AbstractContextManager[Any] | None = None
        try:
            cm = self._lifecycle(key)
            value = cm.__enter__()
            with self._lock:
                closed = self._closed
                if not closed:
                    self._stack.append((key, cm))
                    self._values[key] = value
        except BaseException as exc:
            if isinstance(exc, INTERRUPTS) and from_signal(exc):
                # Ctrl-C may land just after the setup's own code finished: it is set up,
                # and owes its teardown (in reverse order, with the others).
                if cm is not None and getattr(cm, "live", False):
                    with self._lock:
                        if not self._closed and all(c is not cm for _, c in self._stack):
                            self._stack.append((key, cm))
                raise
            if isinstance(exc, SetupError):
                if exc.key != key:
                    self._failed[key] = exc
                raise
            # Anything else user code raised (SystemExit, a KeyboardInterrupt of its own
            # without a signal): the setup's failure.
            detail = str(exc) if isinstance(exc, _Unresolved) else None
            error = SetupError(key, detail or reason(exc, self.profile.redactor))
            self._failed[key] = error
            self._emit(Event("setup_failed", key, time.perf_counter() - started, error.detail))
            raise error from exc
        if closed:
            # close() stopped waiting for this setup and unwound everything else; what
            # this setup depends on is still up (pinned), so tearing it down now keeps
            # the reverse order. The pinned resources follow in _setup's finally.
            self._unwind([(key, cm)])
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
        if res.unresolved:
            # Validated with --allow-missing-env: the variable is still not set here.
            raise _Unresolved("; ".join(res.unresolved))
        config = {name: self._live(value) for name, value in res.inputs.items()}
        return res.rtype.lifecycle(config, (self.profile.names, self.profile.redactor))

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

    def close(self, timeout: float | None = None) -> list[TeardownError]:
        """Tear down every live resource, last set up first; return the teardowns that failed.

        Each teardown runs in its own ``try``: one failing does not stop the rest,
        and no signal stops them (Ctrl-C and SIGTERM are delivered once all have
        run, unless the caller is already handling an interrupt). Calling ``close``
        again does nothing, and so does calling it in a child process forked since
        the setups: the resources are the parent's.

        ``timeout`` (main thread only): a teardown still running that many seconds
        after it began is interrupted and fails with "timed out after N s"; setups
        still in flight are waited for no longer than that either.
        """
        with self._lock:
            if self._closing or not self.owned:
                return []
            self._closing = True
        handling = sys.exc_info()[1]
        stopping = handling if isinstance(handling, INTERRUPTS) else None
        with deferred(stopping, timeout) as held:
            # A setup still in flight (another thread, --jobs) joins the stack when it
            # completes; waiting for it keeps teardown in exact reverse order. The wait
            # is bounded: a setup hung on a network call must not hold up Ctrl-C.
            grace = SETUP_GRACE_SECONDS if timeout is None else min(timeout, SETUP_GRACE_SECONDS)
            deadline = time.monotonic() + grace
            with self._idle:
                while self._inflight and time.monotonic() < deadline:
                    self._idle.wait(0.05)
            with self._lock:
                self._closed = True
                pinned = self._dependencies_of(set(self._inflight))
                unwind = [entry for entry in self._stack if entry[0] not in pinned]
                self._pinned = [entry for entry in self._stack if entry[0] in pinned]
                self._stack = []
                if self._pinned:
                    _pinned_scopes.add(self)
            errors, interrupt = self._unwind(unwind, held)
        self._values.clear()
        waiting = self.not_torn_down
        if waiting and isinstance(handling, BaseException):
            pinned_keys = [key for key, _ in self._pinned]
            handling.add_note(
                f"the setup of {', '.join(self._inflight)} was still running "
                f"{grace:g} s after the run stopped"
                + (
                    f"; {', '.join(pinned_keys)} stay up until it ends (or the process exits) "
                    "and are torn down then"
                    if pinned_keys
                    else ""
                )
            )
        if not isinstance(handling, INTERRUPTS):
            if interrupt is not None:
                for error in errors:
                    interrupt.add_note(f"also: {error.message}")
                raise interrupt
            redeliver(held)
        return errors

    def _dependencies_of(self, keys: set[str]) -> set[str]:
        """Every key that ``keys`` depend on, directly or not (not ``keys`` themselves)."""
        resources = self.profile.resources
        found: set[str] = set()
        stack = [dep for key in keys if key in resources for dep in resources[key].deps]
        while stack:
            dep = stack.pop()
            if dep not in found:
                found.add(dep)
                if dep in resources:
                    stack.extend(resources[dep].deps)
        return found

    def _unwind(
        self, entries: list[_Entry], held: Deferred | None = None
    ) -> tuple[list[TeardownError], BaseException | None]:
        """Tear ``entries`` down in reverse, each in its own ``try``; report each.

        With ``held`` (signals held back), a teardown still running a while after
        Ctrl-C is interrupted, and counts as failed.
        """
        errors: list[TeardownError] = []
        interrupt: BaseException | None = None
        with self._lock:
            self._unwinding.extend(key for key, _ in entries)
        for key, cm in reversed(entries):
            started = time.perf_counter()
            try:
                with held.user_code() if held is not None else contextlib.nullcontext():
                    cm.__exit__(None, None, None)
            except BaseException as exc:
                if isinstance(exc, INTERRUPTS) and interrupt is None:
                    interrupt = exc  # raised by the teardown itself: after the others
                try:
                    detail: str | Reason
                    if isinstance(exc, TimedOut):
                        detail = str(exc)
                    else:
                        detail = reason(exc, self.profile.redactor)
                except BaseException as again:  # its __str__ raised an interrupt
                    interrupt = interrupt or again
                    detail = type(exc).__name__
                error = TeardownError(key, detail)
                error.__cause__ = exc
                errors.append(error)
                self._emit(
                    Event("teardown_failed", key, time.perf_counter() - started, error.detail)
                )
            else:
                self._emit(Event("teardown", key, time.perf_counter() - started))
            finally:
                with self._lock:
                    if key in self._unwinding:
                        self._unwinding.remove(key)
                progressed()
        return errors, interrupt

    def release_pinned(self, *, force: bool = False) -> None:
        """After close: tear down the held-up resources no running setup needs any more.

        ``force`` releases them all (the process is exiting: the setups they wait
        for will never finish).
        """
        if not self.owned:
            return  # a forked child: these are the parent's to tear down
        with self._lock:
            needed = set() if force else self._dependencies_of(set(self._inflight))
            release = [entry for entry in self._pinned if entry[0] not in needed]
            self._pinned = [entry for entry in self._pinned if entry[0] in needed]
        if release:
            self._unwind(release)
