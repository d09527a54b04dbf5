"""Running assets in dependency order, independent ones in parallel.

The scheduler knows nothing of profiles: it asks a :class:`ResourceScope` for
resources by key and passes upstream return values by name. With one job,
assets run on the calling thread, so Ctrl-C interrupts the asset itself; with
more, they run on daemon worker threads while the calling thread waits, so a
signal still reaches it at once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from envres._errors import AssetError, RunError, SetupError, UsageError
from envres._profiles import suggest
from envres._scope import Event, ResourceScope, _describe

if TYPE_CHECKING:
    from envres._definitions import AssetDef, Definitions

__all__ = ["RunResult", "plan", "run_assets", "run_then_close"]


@dataclass
class RunResult:
    """What a run produced: each asset's return value and how long it took."""

    outputs: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def __getitem__(self, asset: str) -> Any:
        return self.outputs[asset]


def run_then_close(
    execute: Callable[[], RunResult], close: Callable[[], Sequence[RunError]]
) -> RunResult:
    """Run, then tear down whatever happened; the one place failures are combined.

    A run error keeps its place and gains the failed teardowns in ``failures``;
    an interrupt (Ctrl-C, SIGTERM) stays the interrupt, the failed teardowns noted
    on it; after a clean run, the first failed teardown is raised.
    """
    try:
        result = execute()
    except RunError as exc:
        exc.failures = (*exc.failures, *close())
        raise
    except BaseException as exc:
        for error in close():
            exc.add_note(f"also: {error.message}")
        raise
    errors = close()
    if errors:
        errors[0].failures = tuple(errors)
        raise errors[0] from errors[0].__cause__
    return result


def plan(defs: Definitions, selection: Sequence[str] | None) -> list[str]:
    """The assets to run, upstream first: the selection and everything it needs.

    Raises :class:`UsageError` for an unknown asset name.
    """
    names = list(defs.assets) if not selection else list(selection)
    for n in names:
        if n not in defs.assets:
            raise UsageError(
                f"unknown asset '{n}'{suggest(n, sorted(defs.assets))} "
                f"(assets: {', '.join(sorted(defs.assets)) or 'none'})"
            )
    order: list[str] = []
    seen: set[str] = set()

    def visit(n: str) -> None:
        if n in seen:
            return
        seen.add(n)
        for up in defs.upstream[n]:
            visit(up)
        order.append(n)

    for n in names:
        visit(n)
    return order


def _plan_call(
    asset: AssetDef, defs: Definitions, scope: ResourceScope, available: set[str]
) -> Callable[[dict[str, Any]], Any]:
    """The asset as a one-argument call: upstream outputs in, its return value out.

    The argument plan is computed here, once; the returned closure is the hot
    path (issue #5: within 2x of a direct keyword call), hence locals and loops.
    """
    fn = asset.fn
    ups = set(defs.upstream[asset.name])
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
    defs: Definitions,
    scope: ResourceScope,
    order: Sequence[str],
    *,
    jobs: int = 1,
    on_event: Callable[[Event], None] | None = None,
) -> RunResult:
    """Run ``order`` (from :func:`plan`) using ``scope``; raise AssetError on the first failure.

    After a failure no new asset starts; running ones finish. The caller closes
    the scope.
    """
    emit = on_event or (lambda e: None)
    available = set(scope.keys)
    calls = {n: _plan_call(defs.assets[n], defs, scope, available) for n in order}
    result = RunResult()
    secrets = scope.profile.secrets
    if jobs <= 1:
        for n in order:
            started = time.perf_counter()
            emit(Event("asset_started", n))
            try:
                result.outputs[n] = calls[n](result.outputs)
            except Exception as exc:
                error = _failure(n, exc, secrets)
                emit(Event("asset_failed", n, time.perf_counter() - started, _why(error)))
                if error is exc:
                    raise
                raise error from exc
            result.seconds[n] = time.perf_counter() - started
            emit(Event("asset_done", n, result.seconds[n]))
        return result
    return _run_parallel(defs, scope, order, calls, jobs, emit, result)


def _run_parallel(
    defs: Definitions,
    scope: ResourceScope,
    order: Sequence[str],
    calls: dict[str, Callable[[dict[str, Any]], Any]],
    jobs: int,
    emit: Callable[[Event], None],
    result: RunResult,
) -> RunResult:
    planned = set(order)
    waiting = {n: {u for u in defs.upstream[n] if u in planned} for n in order}
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
            emit(Event("asset_started", name))
            try:
                value = calls[name](result.outputs)
            except BaseException as exc:
                done.put((name, time.perf_counter() - started, exc, None))
            else:
                done.put((name, time.perf_counter() - started, None, value))

    workers = [
        threading.Thread(target=worker, name=f"envres-job-{i}", daemon=True)
        for i in range(min(jobs, len(order)) or 1)
    ]
    for w in workers:
        w.start()
    running = 0
    failure: tuple[str, BaseException] | None = None
    interrupt: BaseException | None = None
    try:
        for n in order:
            if not waiting[n]:
                todo.put(n)
                running += 1
        while running:
            name, elapsed, exc, value = done.get()
            running -= 1
            if exc is not None and not isinstance(exc, Exception):
                # KeyboardInterrupt or SystemExit raised by the asset's own code: the
                # same outcome as with one job, once running assets are done.
                if interrupt is None:
                    interrupt = exc
                continue
            if exc is not None:
                error = _failure(name, exc, scope.profile.secrets)
                emit(Event("asset_failed", name, elapsed, _why(error)))
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
                    todo.put(d)
                    running += 1
    finally:
        for _ in workers:
            todo.put(None)
    if interrupt is not None:
        raise interrupt
    if failure is not None:
        name, exc = failure
        error = _failure(name, exc, scope.profile.secrets)
        if error is exc:
            raise error
        raise error from exc
    return result


def _failure(asset: str, exc: BaseException, secrets: frozenset[str]) -> RunError:
    """The error a failed asset stops the run with: a resource's own SetupError as is."""
    if isinstance(exc, SetupError):
        return exc
    return AssetError(asset, _describe(exc, secrets))


def _why(error: RunError) -> str:
    if isinstance(error, SetupError):
        return f"not run: resource '{error.key}' could not be set up"
    return error.detail if isinstance(error, AssetError) else error.message
