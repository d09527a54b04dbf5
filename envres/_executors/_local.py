"""The local executor: assets on threads of this process, resources in one scope.

With one job, assets run on the calling thread, so Ctrl-C interrupts the asset
itself; with more, they run on daemon worker threads while the calling thread
waits, so a signal still reaches it at once.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from envres._assets import AssetDef
from envres._catalog import Catalog
from envres._errors import INTERRUPTS
from envres._events import Event
from envres._executors._base import Job
from envres._executors._schedule import Schedule
from envres._run import RunResult, asset_failure, failure_reason, run_then_close
from envres._scope import ResourceScope
from envres._secrets import Redactor
from envres._signals import from_signal, watching

__all__ = ["ASSET_GRACE_SECONDS", "LocalExecutor", "plan_call", "run_assets"]

#: After Ctrl-C, how long assets still running on other threads are waited for
#: before their resources are torn down.
ASSET_GRACE_SECONDS = 2.0


class LocalExecutor:
    """Threads here: ``jobs`` independent assets at once, resources shared by all."""

    def describe(self, jobs: int) -> str:
        return f"{jobs} job" if jobs == 1 else f"{jobs} jobs"

    def run(self, job: Job) -> RunResult:
        scope = ResourceScope(job.profile, job.overrides, job.on_event)
        with watching():  # so a Ctrl-C is told apart from an asset's own KeyboardInterrupt
            return run_then_close(
                lambda: run_assets(job.catalog, scope, job.order, jobs=job.jobs, emit=job.emit),
                scope.close,
            )


def plan_call(
    asset: AssetDef, catalog: Catalog, scope: ResourceScope, available: set[str]
) -> Callable[[dict[str, Any]], Any]:
    """The asset as a one-argument call: upstream outputs in, its return value out.

    The argument plan is computed here, once; the returned closure is the hot
    path (within 2x of a direct keyword call, bench/injection.py), hence locals
    and loops.
    """
    fn = asset.fn
    ups = set(catalog.upstream[asset.name])
    upstream = tuple(p for p in asset.params if p in ups)
    resources = tuple(p for p in asset.params if p not in ups and p in available)
    live = scope.values
    get = scope.get

    def call(outputs: dict[str, Any]) -> Any:
        kwargs: dict[str, Any] = {}
        for p in upstream:
            kwargs[p] = outputs[p]
        for p in resources:
            try:
                kwargs[p] = live[p]
            except KeyError:  # first use: set it up (once, even across threads)
                kwargs[p] = get(p)
        return fn(**kwargs)

    if not asset.is_async:
        return call

    def call_async(outputs: dict[str, Any]) -> Any:
        import asyncio  # ~13 ms at import: paid only by pipelines with async assets

        return asyncio.run(call(outputs))

    return call_async


def run_assets(
    catalog: Catalog,
    scope: ResourceScope,
    order: Sequence[str],
    *,
    jobs: int = 1,
    emit: Callable[[Event], None] = lambda e: None,
) -> RunResult:
    """Run ``order`` (from :meth:`Catalog.plan`) using ``scope``; raise on the first failure.

    After a failure no new asset starts; running ones finish. The caller closes
    the scope.
    """
    available = set(scope.keys)
    calls = {n: plan_call(catalog.assets[n], catalog, scope, available) for n in order}
    result = RunResult()
    redactor = scope.profile.redactor
    if jobs <= 1:
        return _run_in_order(order, calls, emit, redactor, result)
    return _ParallelRun(Schedule(order, catalog.upstream), calls, emit, redactor).run(jobs, result)


def _run_in_order(
    order: Sequence[str],
    calls: dict[str, Callable[[dict[str, Any]], Any]],
    emit: Callable[[Event], None],
    redactor: Redactor,
    result: RunResult,
) -> RunResult:
    """One job: each asset on this thread, in plan order, so Ctrl-C interrupts the asset."""
    for n in order:
        started = time.perf_counter()
        emit(Event("asset_started", n))
        try:
            result.outputs[n] = calls[n](result.outputs)
        except BaseException as exc:  # SystemExit too: the asset's code failed
            if isinstance(exc, INTERRUPTS) and from_signal(exc):
                raise
            error = asset_failure(n, exc, redactor)
            emit(Event("asset_failed", n, time.perf_counter() - started, failure_reason(error)))
            if error is exc:
                raise
            raise error from exc
        result.seconds[n] = time.perf_counter() - started
        emit(Event("asset_done", n, result.seconds[n]))
    return result


#: How an asset ended on a worker thread: its name, seconds, what it raised, its value.
_Ended = tuple[str, float, BaseException | None, Any]

#: How often the waiting thread wakes up while assets run, to handle a pending signal.
_WAKE_SECONDS = 0.1


class _Threads:
    """Daemon threads that run the assets handed to them and report how each one ended.

    A thread reports whatever happens, or the run would wait forever: the asset's
    value, its exception, or an interrupt raised by the ``asset_started`` callback
    (then the asset did not run).
    """

    def __init__(
        self,
        calls: dict[str, Callable[[dict[str, Any]], Any]],
        outputs: dict[str, Any],
        emit: Callable[[Event], None],
        count: int,
    ) -> None:
        self._calls = calls
        self._outputs = outputs
        self._emit = emit
        self._todo: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._ended: queue.SimpleQueue[_Ended] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"envres-job-{i}", daemon=True)
            for i in range(count)
        ]
        for t in self._threads:
            t.start()

    def start(self, names: Sequence[str]) -> None:
        """Hand ``names`` to the threads, to run in that order as threads are free."""
        for name in names:
            self._todo.put(name)

    def next(self) -> _Ended:
        """The next asset that ended. Waits in slices: a signal that lands just before a
        blocking wait begins would otherwise be handled only once an asset ends."""
        while True:
            with contextlib.suppress(queue.Empty):
                return self._ended.get(timeout=_WAKE_SECONDS)

    def next_within(self, seconds: float) -> _Ended | None:
        """The next asset that ended within ``seconds``, or None."""
        try:
            return self._ended.get(timeout=seconds)
        except queue.Empty:
            return None

    def close(self) -> None:
        """Let every thread end once it is free (a running asset runs on)."""
        for _ in self._threads:
            self._todo.put(None)

    def _work(self) -> None:
        while (name := self._todo.get()) is not None:
            started = time.perf_counter()
            try:
                self._emit(Event("asset_started", name))
            except BaseException as exc:  # a callback's: an interrupt stops the run
                self._ended.put((name, time.perf_counter() - started, exc, None))
                continue
            try:
                value = self._calls[name](self._outputs)
            except BaseException as exc:
                if isinstance(exc, INTERRUPTS) and not from_signal(exc):
                    exc = _Own(exc)  # the asset's own, not a signal: its failure
                self._ended.put((name, time.perf_counter() - started, exc, None))
            else:
                self._ended.put((name, time.perf_counter() - started, None, value))


class _ParallelRun:
    """Up to ``jobs`` assets at once on :class:`_Threads`, in the order the schedule says.

    After a failure no new asset starts; running ones finish, and the first
    failure is raised. An interrupt raised by an event callback stops the run the
    same way and is raised instead.
    """

    def __init__(
        self,
        schedule: Schedule,
        calls: dict[str, Callable[[dict[str, Any]], Any]],
        emit: Callable[[Event], None],
        redactor: Redactor,
    ) -> None:
        self.schedule = schedule
        self.calls = calls
        self.emit = emit
        self.redactor = redactor
        self.failure: tuple[str, BaseException] | None = None
        self.interrupt: BaseException | None = None  # raised by an event callback

    def run(self, jobs: int, result: RunResult) -> RunResult:
        threads = _Threads(
            self.calls, result.outputs, self.emit, min(jobs, len(self.schedule.order)) or 1
        )
        try:
            threads.start(self.schedule.ready())
            while self.schedule.running:
                self._ended(*threads.next(), result)
                threads.start(self.schedule.ready())
        except INTERRUPTS as stop:
            # Ctrl-C or SIGTERM: no new asset starts. Assets already running use resources
            # that are about to be torn down, so they are waited for, briefly.
            self.schedule.stop()
            _wait_for(self.schedule, threads, stop)
            raise
        finally:
            threads.close()
        if self.interrupt is not None:
            raise self.interrupt
        if self.failure is not None:
            name, exc = self.failure
            error = asset_failure(name, exc, self.redactor)
            if error is exc:
                raise error
            raise error from exc
        return result

    def _ended(
        self, name: str, elapsed: float, exc: BaseException | None, value: Any, result: RunResult
    ) -> None:
        """Take in how ``name`` ended: its value, or the failure that stops the run."""
        if isinstance(exc, _Own):
            exc = exc.interrupt  # the asset's own KeyboardInterrupt: a failure
        elif isinstance(exc, INTERRUPTS):
            # An event callback interrupted (the asset did not start): once the running
            # assets are done, the run stops as with one job.
            self.interrupt = self.interrupt or exc
            self.schedule.done(name, ok=False)
            return
        self.schedule.done(name, ok=exc is None)
        if exc is not None:
            error = asset_failure(name, exc, self.redactor)
            self.emit(Event("asset_failed", name, elapsed, failure_reason(error)))
            if self.failure is None:
                self.failure = (name, exc)
            return
        result.outputs[name] = value
        result.seconds[name] = elapsed
        self.emit(Event("asset_done", name, elapsed))


class _Own(Exception):
    """An interrupt that an asset's own code raised, without a signal, on its way to the
    waiting thread: the asset's failure, like any other exception."""

    def __init__(self, interrupt: BaseException) -> None:
        super().__init__(type(interrupt).__name__)
        self.interrupt = interrupt


def _wait_for(schedule: Schedule, threads: _Threads, stop: BaseException) -> None:
    """Wait up to :data:`ASSET_GRACE_SECONDS` for the running assets; note any left running."""
    deadline = time.monotonic() + ASSET_GRACE_SECONDS
    try:
        while schedule.running and (left := deadline - time.monotonic()) > 0:
            ended = threads.next_within(left)
            if ended is not None:
                schedule.done(ended[0])
    except INTERRUPTS:
        pass  # a second Ctrl-C: stop waiting
    if schedule.running:
        names = ", ".join(sorted(schedule.running))
        stop.add_note(
            f"still running when the resources were torn down: {names} (waited "
            f"{ASSET_GRACE_SECONDS:g} s; their threads end with the process)"
        )
