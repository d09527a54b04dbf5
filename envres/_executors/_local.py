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
from envres._run import RunResult, asset_failure, failure_reason, run_then_close
from envres._scope import ResourceScope
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
    return _run_parallel(catalog, scope, order, calls, jobs, emit, result)


def _run_parallel(
    catalog: Catalog,
    scope: ResourceScope,
    order: Sequence[str],
    calls: dict[str, Callable[[dict[str, Any]], Any]],
    jobs: int,
    emit: Callable[[Event], None],
    result: RunResult,
) -> RunResult:
    planned = set(order)
    waiting = {n: {u for u in catalog.upstream[n] if u in planned} for n in order}
    dependents: dict[str, list[str]] = {n: [] for n in order}
    for n in order:
        for u in waiting[n]:
            dependents[u].append(n)
    todo: queue.SimpleQueue[str | None] = queue.SimpleQueue()
    done: queue.SimpleQueue[tuple[str, float, BaseException | None, Any]] = queue.SimpleQueue()

    def worker() -> None:
        while True:
            name = todo.get()
            if name is None:
                return
            started = time.perf_counter()
            try:  # the worker reports whatever happens, or the run would wait forever
                emit(Event("asset_started", name))
            except BaseException as exc:  # a callback's: an interrupt stops the run
                done.put((name, time.perf_counter() - started, exc, None))
                continue
            try:
                value = calls[name](result.outputs)
            except BaseException as exc:
                if isinstance(exc, INTERRUPTS) and not from_signal(exc):
                    exc = _Own(exc)  # the asset's own, not a signal: its failure
                done.put((name, time.perf_counter() - started, exc, None))
            else:
                done.put((name, time.perf_counter() - started, None, value))

    workers = [
        threading.Thread(target=worker, name=f"envres-job-{i}", daemon=True)
        for i in range(min(jobs, len(order)) or 1)
    ]
    for w in workers:
        w.start()
    running: set[str] = set()
    failure: tuple[str, BaseException] | None = None
    interrupt: BaseException | None = None  # raised by an event callback

    def start(name: str) -> None:
        running.add(name)
        todo.put(name)

    try:
        for n in order:
            if not waiting[n]:
                start(n)
        while running:
            name, elapsed, exc, value = _next(done)
            running.discard(name)
            if isinstance(exc, _Own):
                exc = exc.interrupt  # the asset's own KeyboardInterrupt: a failure
            elif isinstance(exc, INTERRUPTS):
                # An event callback interrupted (no asset started): once the running
                # assets are done, the run stops as with one job.
                interrupt = interrupt or exc
                continue
            if exc is not None:
                error = asset_failure(name, exc, scope.profile.redactor)
                emit(Event("asset_failed", name, elapsed, failure_reason(error)))
                if failure is None:
                    failure = (name, exc)
                continue
            result.outputs[name] = value
            result.seconds[name] = elapsed
            emit(Event("asset_done", name, elapsed))
            if failure is not None or interrupt is not None:
                continue
            for d in dependents[name]:
                waiting[d].discard(name)
                if not waiting[d]:
                    start(d)
    except INTERRUPTS as stop:
        # Ctrl-C or SIGTERM: no new asset starts. Assets already running use resources
        # that are about to be torn down, so they are waited for, briefly.
        _wait_for(running, done, stop)
        raise
    finally:
        for _ in workers:
            todo.put(None)
    if interrupt is not None:
        raise interrupt
    if failure is not None:
        name, exc = failure
        error = asset_failure(name, exc, scope.profile.redactor)
        if error is exc:
            raise error
        raise error from exc
    return result


#: How often the waiting thread wakes up while assets run, to handle a pending signal.
_WAKE_SECONDS = 0.1


def _next(
    done: queue.SimpleQueue[tuple[str, float, BaseException | None, Any]],
) -> tuple[str, float, BaseException | None, Any]:
    """The next finished asset. Waits in slices: a signal that lands just before a
    blocking wait begins would otherwise be handled only once an asset finishes."""
    while True:
        with contextlib.suppress(queue.Empty):
            return done.get(timeout=_WAKE_SECONDS)


class _Own(Exception):
    """An interrupt that an asset's own code raised, without a signal, on its way to the
    waiting thread: the asset's failure, like any other exception."""

    def __init__(self, interrupt: BaseException) -> None:
        super().__init__(type(interrupt).__name__)
        self.interrupt = interrupt


def _wait_for(
    running: set[str],
    done: queue.SimpleQueue[tuple[str, float, BaseException | None, Any]],
    stop: BaseException,
) -> None:
    """Wait up to :data:`ASSET_GRACE_SECONDS` for ``running`` assets; note any left running."""
    deadline = time.monotonic() + ASSET_GRACE_SECONDS
    try:
        while running and (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(queue.Empty):
                running.discard(done.get(timeout=left)[0])
    except INTERRUPTS:
        pass  # a second Ctrl-C: stop waiting
    if running:
        names = ", ".join(sorted(running))
        stop.add_note(
            f"still running when the resources were torn down: {names} (waited "
            f"{ASSET_GRACE_SECONDS:g} s; their threads end with the process)"
        )
