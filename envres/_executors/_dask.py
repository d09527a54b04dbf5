"""Running assets on a Dask cluster: ``envres run --executor dask``.

Only the validated profile travels to the workers, never a live connection, in
its portable form (:mod:`envres._portable`: types as import paths, secrets
sealed). A :class:`WorkerResources` plugin rebuilds the resources on each worker
from that, sets each one up on first use by a task on that worker (once per
worker process, shared by its tasks, through the same :class:`ResourceScope` as
local runs) and tears them down when the run ends or the worker closes.

Each asset is one Dask task whose arguments are the plugin's name, the asset's
name and its upstream assets' futures, so upstream values flow through Dask;
what an asset is travels once, in the plugin. Each level of the asset graph is
submitted with one ``client.map``, under keys of one task prefix. The client
gathers finished assets in batches (:meth:`_DaskRun._batches`), emits the same
events as local runs (following the same :class:`Schedule`), and on the first
failure cancels what has not finished, waits on every worker for running assets,
then tears down there.

This module imports ``distributed`` at once: import it only for the dask
executor. Without the ``envres[dask]`` extra, importing it raises a
:class:`UsageError` that says how to install it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import pickle
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from envres._assets import AssetDef
from envres._errors import (
    AssetError,
    Reason,
    RunError,
    SetupError,
    TeardownError,
    UsageError,
)
from envres._events import Event
from envres._executors._base import Job
from envres._executors._schedule import Schedule
from envres._gate import masked_stream, redacted_logs
from envres._imports import ImportPathError, import_object
from envres._portable import PortableProfile, importable_path, portable
from envres._resolved import ResolvedProfile
from envres._run import RunResult, asset_failure, failure_reason, run_then_close
from envres._scope import ResourceScope
from envres._secrets import Redactor

try:
    import dask
    from distributed import Client, Future, LocalCluster, WorkerPlugin, as_completed, get_worker
    from distributed.protocol import pickle as dask_pickle
    from distributed.scheduler import KilledWorker
except ImportError as exc:  # pragma: no cover - tested with distributed hidden
    raise UsageError(
        "the dask executor needs dask.distributed, which is not installed: "
        "pip install 'envres[dask]'"
    ) from exc

if TYPE_CHECKING:
    from distributed import Worker

__all__ = ["DaskExecutor", "WorkerResources", "profile_spec"]


# -- what travels to the workers -------------------------------------------------------


@dataclass(frozen=True)
class _AssetTask:
    """One asset as a task: where to import it from (or the function itself), its params."""

    name: str
    path: str | None
    fn: Callable[..., Any] | None
    upstream: tuple[str, ...]
    resources: tuple[str, ...]
    is_async: bool


@dataclass(frozen=True, slots=True)
class _Batch:
    """Resource events of one worker, numbered from ``first`` in that worker's run log.

    Tasks carry the events recorded since the last task finished there; closing
    returns the whole log. The client emits each numbered event once, so an
    event carried by a task whose result never arrived (cancelled) is still
    reported when the run closes.
    """

    worker: str
    instance: str
    first: int
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class _Done:
    """A finished asset: its value, how long it took, and its worker's latest events.

    ``batch`` is None when the worker recorded nothing since its last task (most
    tasks, once the resources are set up): less to pickle for each result.
    """

    value: Any
    seconds: float
    batch: _Batch | None


@dataclass(frozen=True, slots=True)
class _WorkerReport:
    """What closing the run on one worker did: its events and failed teardowns."""

    worker: str
    pid: int
    batch: _Batch
    teardown_failures: tuple[tuple[str, Reason, BaseException | None], ...]


class _TaskFailure(Exception):
    """An asset or a setup failed on a worker; picklable, secret-free, and short in logs.

    ``kind`` is ``"asset"`` or ``"setup"``; ``key`` the asset or resource key.
    The user's exception rides along as ``cause`` when it survives pickling.
    """

    def __init__(self, asset: str, kind: str, key: str, detail: str | Reason) -> None:
        super().__init__(asset, kind, key, detail)
        self.asset = asset
        self.kind = kind
        self.key = key
        self.detail = detail
        self.seconds = 0.0
        self.batch: _Batch | None = None
        self.cause: BaseException | None = None

    def __str__(self) -> str:
        return self.error().message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def error(self) -> RunError:
        """The error the client raises for this failure, with the user's exception as cause."""
        error: RunError
        if self.kind == "setup":
            error = SetupError(self.key, self.detail)
        else:
            error = AssetError(self.key, self.detail)
        error.__cause__ = self.cause
        return error


def profile_spec(job: Job) -> PortableProfile:
    """What the workers need of the job's profile: the resources its assets use, portable."""
    params = job.catalog.resource_params
    return portable(
        job.profile,
        (p for n in job.order for p in params[n]),
        (job.catalog.assets[n].fn.__module__ for n in job.order),
    )


def _asset_fn(found: object) -> object:
    """What an asset's import path gives, as compared with its function."""
    return found.fn if isinstance(found, AssetDef) else found


def _tasks(job: Job) -> dict[str, _AssetTask]:
    available = set(job.profile.resources)
    tasks: dict[str, _AssetTask] = {}
    for name in job.order:
        asset = job.catalog.assets[name]
        ups = set(job.catalog.upstream[name])
        path = importable_path(asset.fn, _asset_fn)
        tasks[name] = _AssetTask(
            name=name,
            path=path,
            # Not importable by name (a notebook, a closure): cloudpickle sends it by value.
            fn=asset.fn if path is None else None,
            upstream=tuple(p for p in asset.params if p in ups),
            resources=tuple(p for p in asset.params if p not in ups and p in available),
            is_async=asset.is_async,
        )
    return tasks


# -- the worker side -------------------------------------------------------------------


class WorkerResources(WorkerPlugin):
    """The resources of one run on one worker: set up on first use, torn down on close.

    ``setup`` makes the project importable and imports every resource type;
    a type that does not import there fails the plugin with the key and the
    worker named. Tasks then share one :class:`ResourceScope` per worker.
    """

    _label: str
    _profile: ResolvedProfile
    _scope: ResourceScope
    _broken: dict[str, SetupError]
    _instance: str
    _events: list[Event]
    _reported: int
    _idle: threading.Condition
    _running: int
    _closing: bool
    _functions: dict[str, Callable[..., Any]]

    def __init__(
        self, spec: PortableProfile, tasks: Mapping[str, _AssetTask] | None = None
    ) -> None:
        self.spec = spec
        # The run's assets travel once, with the plugin: a task names its asset.
        self.tasks: Mapping[str, _AssetTask] = tasks or {}

    def __repr__(self) -> str:
        return f"<envres resources {self.spec!r}>"

    def setup(self, worker: Worker) -> None:
        self._label = str(worker.name)
        self._instance = uuid.uuid4().hex
        self._events = []
        self._reported = 0
        self._idle = threading.Condition()
        self._running = 0
        self._closing = False
        self._functions = {}
        _importable(self.spec.paths)
        self._profile, self._broken = self.spec.rebuild(where=f"worker {self._label}")
        self._scope = ResourceScope(self._profile, on_event=self._record)
        self._masking = _masked_output(self._profile.redactor)
        if self._broken:
            error = next(iter(self._broken.values()))
            raise _TaskFailure("", "setup", error.key, error.detail)

    def teardown(self, worker: Worker) -> None:
        # The worker is closing (or the plugin was removed): do not wait for tasks.
        self.close(wait=False)

    def _record(self, event: Event) -> None:
        with self._idle:
            self._events.append(event)

    def _latest(self) -> _Batch | None:
        """The events recorded since the last call, None if there are none."""
        with self._idle:
            first, self._reported = self._reported, len(self._events)
            events = tuple(self._events[first:])
        return _Batch(self._label, self._instance, first, events) if events else None

    def _resource(self, key: str) -> Any:
        if key in self._broken:
            raise self._broken[key]
        return self._scope.get(key)

    def _function(self, task: _AssetTask) -> Callable[..., Any]:
        if task.fn is not None:
            return task.fn
        assert task.path is not None
        try:
            return self._functions[task.path]
        except KeyError:
            pass
        try:
            found = import_object(task.path)
        except ImportPathError as exc:
            failure = _TaskFailure(
                task.name,
                "asset",
                task.name,
                f"{self._profile.redactor.redact(str(exc))} on worker {self._label}",
            )
            raise failure from None
        fn = found.fn if isinstance(found, AssetDef) else found
        if not callable(fn):
            raise _TaskFailure(
                task.name,
                "asset",
                task.name,
                f"{task.path} on worker {self._label} is not callable",
            )
        self._functions[task.path] = fn
        return fn

    def run_asset(self, name: str, upstream: Sequence[_Done]) -> _Done:
        """Run one asset here with this worker's resources; raise a _TaskFailure if it fails."""
        task = self.tasks[name]
        with self._idle:
            if self._closing:
                raise _TaskFailure(task.name, "asset", task.name, "the run was stopped")
            self._running += 1
        started = time.perf_counter()
        try:
            fn = self._function(task)
            try:
                kwargs = {p: done.value for p, done in zip(task.upstream, upstream, strict=True)}
                for key in task.resources:
                    kwargs[key] = self._resource(key)
                value = fn(**kwargs)
                if task.is_async:
                    value = asyncio.run(value)
            except BaseException as exc:  # anything the asset raises, SystemExit included
                error = asset_failure(task.name, exc, self._profile.redactor)
                if isinstance(error, SetupError):
                    failure = _TaskFailure(task.name, "setup", error.key, error.reason)
                    failure.cause = _portable(error.__cause__)
                else:
                    failure = _TaskFailure(task.name, "asset", task.name, error.reason)
                    failure.cause = _portable(exc)
                failure.seconds = time.perf_counter() - started
                failure.batch = self._latest()
                raise failure from None
            self._sendable(task.name, value, started)
            return _Done(value, time.perf_counter() - started, self._latest())
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def _sendable(self, name: str, value: Any, started: float) -> None:
        """Fail the asset here if its value cannot leave this worker.

        Dask would find out only when sending it on (an asset of another worker, the
        client), logging a traceback at each try, while an asset downstream on this
        worker had run with it already. Pickled as Dask pickles it (pickle, else
        cloudpickle), large buffers out of band, so they are not copied.
        """
        try:
            dask_pickle.dumps(value, buffer_callback=_discard)
        except Exception as exc:
            failure = _TaskFailure(
                name,
                "asset",
                name,
                f"it returned {_type_name(value)}, which cannot be sent from a Dask worker: "
                f"{self._profile.redactor.describe(exc)}",
            )
            failure.cause = _portable(exc)
            failure.seconds = time.perf_counter() - started
            failure.batch = self._latest()
            raise failure from None

    def close(self, wait: bool = True) -> _WorkerReport:
        """Stop taking assets, wait for running ones (if ``wait``), tear everything down."""
        with self._idle:
            self._closing = True
            while wait and self._running:
                self._idle.wait()
        scope: ResourceScope | None = getattr(self, "_scope", None)
        errors = scope.close() if scope is not None else []
        masking: contextlib.ExitStack | None = getattr(self, "_masking", None)
        if masking is not None:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
            masking.close()
        failures = tuple((e.key, e.reason, _portable(e.__cause__)) for e in errors)
        with self._idle:
            batch = _Batch(self._label, self._instance, 0, tuple(self._events))
        return _WorkerReport(self._label, os.getpid(), batch, failures)


def _importable(paths: Sequence[str]) -> None:
    """Put the project's folders first on this worker's ``sys.path``, for its imports."""
    for path in reversed(paths):
        if path not in sys.path:
            sys.path.insert(0, path)
    importlib.invalidate_caches()


def _masked_output(redactor: Redactor) -> contextlib.ExitStack:
    """Mask what user code prints on this worker, and the worker's own log lines, like
    everything envres shows; closing the stack puts the streams back."""
    masking = contextlib.ExitStack()
    masking.enter_context(redacted_logs(redactor))
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        masking.callback(setattr, sys, name, stream)
        setattr(sys, name, masked_stream(stream, redactor))
    return masking


def _discard(buffer: object) -> None:
    """Out-of-band pickle buffers: only whether the value pickles matters here."""


def _type_name(value: object) -> str:
    """``a _thread.lock``: the type of a value, as a message names it."""
    cls = type(value)
    module = "" if cls.__module__ == "builtins" else f"{cls.__module__}."
    return f"a {module}{cls.__qualname__}"


def _portable(exc: BaseException | None) -> BaseException | None:
    """``exc`` if it survives pickling (to be the client's ``__cause__``), else None."""
    if exc is None:
        return None
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return None
    exc.__traceback__ = None
    return exc


def _run_asset(plugin: str, name: str, upstream: tuple[_Done, ...]) -> _Done:
    """The Dask task of one asset: run it with the resources of the worker it landed on."""
    worker = get_worker()
    resources = worker.plugins.get(plugin)
    if not isinstance(resources, WorkerResources):
        raise _TaskFailure(
            name,
            "asset",
            name,
            f"worker {worker.name} has no envres resources for this run (plugin {plugin})",
        )
    return resources.run_asset(name, upstream)


async def _close_on_worker(plugin: str, dask_worker: Worker) -> _WorkerReport | None:
    resources = dask_worker.plugins.get(plugin)
    if not isinstance(resources, WorkerResources):
        return None
    # Waiting for running assets blocks: do it off the worker's event loop.
    return await asyncio.get_running_loop().run_in_executor(None, resources.close)


# -- the client side -------------------------------------------------------------------

#: Seconds between two gathers of finished assets' results (and their events), and
#: how often the client looks, meanwhile, for the last future or a failed one.
_GATHER_EVERY = 0.1
_GATHER_POLL = 0.01


def _worker_order(item: tuple[str, object]) -> tuple[int, str]:
    """Workers named 0, 1, ... 10 in that order, then by address."""
    label = item[1].worker if isinstance(item[1], _WorkerReport) else item[0]
    return (len(label), label)


class DaskExecutor:
    """Assets as Dask tasks: ``"dask"`` (a local cluster of ``jobs`` worker processes,
    closed after the run), a scheduler address, or a connected ``distributed.Client``."""

    def __init__(self, target: object) -> None:
        if (isinstance(target, str) and target != "dask" and ":" not in target) or (
            not isinstance(target, str) and not isinstance(target, Client)
        ):
            raise UsageError(
                f"unknown executor {target!r}: use 'local', 'dask', a scheduler address "
                "such as 'tcp://10.0.0.5:8786', or a distributed.Client"
            )
        self.target = target

    def describe(self, jobs: int) -> str:
        """How a run header names it: ``dask: a local cluster of 2 worker processes``."""
        if self.target == "dask":
            noun = "process" if jobs == 1 else "processes"
            return f"dask: a local cluster of {jobs} worker {noun}"
        if isinstance(self.target, str):
            return f"dask: scheduler {self.target}"
        return f"dask: scheduler {self.target.scheduler_info().get('address', '?')}"

    def run(self, job: Job) -> RunResult:
        """Run the job on the cluster; the same result, events and errors as a local run."""
        return run_on_dask(job, self.target)


@contextlib.contextmanager
def _connect(executor: str | Client, jobs: int) -> Iterator[Client]:
    if isinstance(executor, Client):
        yield executor
        return
    if executor == "dask":
        try:
            # An asset runs at most once per run: a task whose worker died is a failed
            # run, not a task to try again elsewhere (Dask's default is 3 more tries).
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                cluster = LocalCluster(
                    n_workers=jobs,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # no fixed port: several runs may share a machine
                    # Failures are reported once, by envres, without the workers' log lines.
                    silence_logs=logging.CRITICAL,
                )
        except Exception as exc:
            raise RunError(
                f"cannot start a local Dask cluster: {Redactor().describe(exc)} (from a "
                "script, start the run under `if __name__ == '__main__':`)"
            ) from exc
        with cluster, Client(cluster, set_as_default=False) as client:
            yield client
        return
    try:
        client = Client(executor, set_as_default=False)
    except Exception as exc:
        raise RunError(
            f"cannot reach the Dask scheduler at {executor}: {Redactor().describe(exc)}"
        ) from exc
    with client:
        yield client


def run_on_dask(job: Job, executor: str | Client) -> RunResult:
    """Run ``job`` on a Dask cluster; the same result, events and errors as a local run.

    ``executor`` is ``"dask"`` (a new local cluster of ``job.jobs`` worker
    processes, closed after the run), a scheduler address, or a connected
    ``distributed.Client`` (left open). Resource events from workers carry the
    worker's name in ``Event.worker``.
    """
    if job.overrides:
        raise UsageError(
            "overrides are live objects and cannot be sent to Dask workers; "
            "run with the local executor, or bind the keys in a profile"
        )
    if not job.order:
        return RunResult()
    token = uuid.uuid4().hex[:8]
    plugin = f"envres-{token}"
    spec = profile_spec(job)
    tasks = _tasks(job)
    with _connect(executor, job.jobs) as client:
        return _DaskRun(client, plugin, token, spec, tasks, job.emit, job.profile.redactor).run()


class _DaskRun:
    """One run on one client: register, submit, wait, tear down."""

    def __init__(
        self,
        client: Client,
        plugin: str,
        token: str,
        spec: PortableProfile,
        tasks: dict[str, _AssetTask],
        emit: Callable[[Event], None],
        redactor: Redactor,
    ) -> None:
        self.client = client
        self.plugin = plugin
        self.token = token
        self.spec = spec
        self.tasks = tasks
        self.emit = emit
        self.redactor = redactor
        self.schedule = Schedule(list(tasks), {n: t.upstream for n, t in tasks.items()})
        self.seen: dict[str, set[int]] = {}
        self.names: dict[str, str] = {}  # task key -> asset name

    def run(self) -> RunResult:
        # Dask's and tornado's own log lines (a task that failed, a worker that died)
        # can quote values: they go through the profile's redactor like any output.
        with redacted_logs(self.redactor):
            return run_then_close(self._execute, self._teardown)

    def _execute(self) -> RunResult:
        self._register()
        futures = self._submit()
        self.names = {str(f.key): n for n, f in futures.items()}
        result = RunResult()
        failure = self._follow(futures, result)
        if failure is None:
            return result
        self._after_failure(futures, result)
        raise failure from failure.__cause__

    def _register(self) -> None:
        """Send the run (profile and assets) to every worker, which sets it up there."""
        try:
            self.client.register_plugin(WorkerResources(self.spec, self.tasks), name=self.plugin)
        except _TaskFailure as exc:
            error = exc.error()
            raise error from error.__cause__
        except Exception as exc:
            raise RunError(
                f"cannot start the run on the Dask workers: {self.redactor.describe(exc)}"
            ) from exc

    def _follow(self, futures: dict[str, Future[Any]], result: RunResult) -> RunError | None:
        """Take in the assets as they finish, with a local run's events; the first failure.

        Dask runs the tasks; the schedule says when an asset counts as started (its
        upstream assets finished) and stops the run at the first failure.
        """
        self._started()
        failure: RunError | None = None
        # Results come back in batches, each in one request (gathering future by future
        # cost a round trip per asset, most of a quick asset's time on Dask).
        for batch in self._batches(list(futures.values())):
            values = self._gather(batch)
            for future in batch:
                name = self.names[str(future.key)]
                done = values.get(future.key)
                if done is None:
                    if failure is not None:
                        continue  # the run stops at the first failure
                    outcome = self._outcome(name, future)
                    if isinstance(outcome, RunError):
                        failure = outcome
                        self.schedule.done(name, ok=False)
                        continue
                    done = outcome
                self._record(name, done, result)
                self.schedule.done(name)
                self._started()
            if failure is not None:
                return failure
        return None

    def _started(self) -> None:
        for name in self.schedule.ready():
            self.emit(Event("asset_started", name))

    def _after_failure(self, futures: dict[str, Future[Any]], result: RunResult) -> None:
        """No new asset starts: cancel the rest. Those that finished meanwhile still count."""
        self.client.cancel([f for f in futures.values() if not f.done()])
        late = [f for n, f in futures.items() if n not in result.outputs and f.status == "finished"]
        values = self._gather(late)
        for future in late:
            name = self.names[str(future.key)]
            outcome = values.get(future.key) or self._outcome(name, future)
            if not isinstance(outcome, RunError):
                self._record(name, outcome, result)

    def _batches(self, futures: list[Future[Any]]) -> Iterator[list[Future[Any]]]:
        """The futures as they finish, in batches at most one per ``_GATHER_EVERY``.

        The first finished future comes at once; then what finishes within the
        interval is collected (looking every ``_GATHER_POLL``) for one gather, and a
        batch goes as soon as it holds the last future or a failed one. Each gather
        costs the scheduler and the workers a request whatever its size: a batch per
        completion made 2,000 quick assets cost 160 of them.
        """
        pending = as_completed(futures, loop=self.client.loop)
        left = len(futures)
        last = float("-inf")
        while left:
            try:
                batch = pending.next_batch(block=True)
            except StopIteration:
                return
            ok = all(f.status == "finished" for f in batch)
            while ok and len(batch) < left:
                wait = last + _GATHER_EVERY - time.monotonic()
                if wait <= 0:
                    break
                time.sleep(min(wait, _GATHER_POLL))
                more = pending.next_batch(block=False)
                ok = all(f.status == "finished" for f in more)
                batch += more
            left -= len(batch)
            last = time.monotonic()
            yield batch

    def _gather(self, futures: Sequence[Future[Any]]) -> dict[Any, _Done]:
        """The finished ones of ``futures``, by key, in one request; {} if that fails.

        A failed asset, or a value that does not come back, is then asked for on its
        own (:meth:`_outcome`), which names the asset in the error.
        """
        finished = [f for f in futures if f.status == "finished"]
        if not finished:
            return {}
        try:
            values = self.client.gather(finished)
        except Exception:
            return {}
        return {f.key: v for f, v in zip(finished, values, strict=True) if isinstance(v, _Done)}

    def _submit(self) -> dict[str, Future[Any]]:
        """Every asset as a task: one ``client.map`` (one message) per level of the graph.

        A level is the assets whose upstream assets are all on earlier levels, so
        independent assets go in one request; a task's arguments are the plugin's
        name, the asset's and its upstream futures (the asset itself is in the plugin).
        """
        futures: dict[str, Future[Any]] = {}
        for level in self.schedule.levels():
            submitted = self.client.map(
                _run_asset,
                [self.plugin] * len(level),
                level,
                [tuple(futures[u] for u in self.tasks[n].upstream) for n in level],
                # One task prefix ("envres") for every asset: Dask's scheduler sums its
                # per-prefix duration estimates over the prefixes a worker is processing on
                # each transition, so a prefix per asset makes a run quadratic in its size.
                key=[f"envres-{self.token}-{n}" for n in level],
                pure=False,
            )
            futures.update(zip(level, submitted, strict=True))
        return futures

    def _outcome(self, name: str, future: Future[Any]) -> _Done | RunError:
        """The finished asset, or the error it failed with (its events already emitted)."""
        try:
            done = future.result()
        except _TaskFailure as exc:
            if exc.batch is not None:
                self._emit_batch(exc.batch)
            error = exc.error()
            # A dependent can surface first, carrying its upstream's failure: name the culprit.
            self.emit(Event("asset_failed", exc.asset or name, exc.seconds, failure_reason(error)))
            return error
        except KilledWorker as exc:
            # The worker died while running it (os._exit, a crash, out of memory).
            culprit = self.names.get(str(exc.task), name)
            error = AssetError(
                culprit, "the Dask worker running it died; it is not run again (KilledWorker)"
            )
            error.__cause__ = exc
            self.emit(Event("asset_failed", culprit, 0.0, failure_reason(error)))
            return error
        except Exception as exc:
            # The cluster's own failure: a value did not pickle, the scheduler went away...
            error = AssetError(name, self.redactor.describe(exc))
            error.__cause__ = exc
            self.emit(Event("asset_failed", name, 0.0, failure_reason(error)))
            return error
        assert isinstance(done, _Done)
        return done

    def _record(self, name: str, done: _Done, result: RunResult) -> None:
        if done.batch is not None:
            self._emit_batch(done.batch)
        result.outputs[name] = done.value
        result.seconds[name] = done.seconds
        self.emit(Event("asset_done", name, done.seconds))

    def _emit_batch(self, batch: _Batch) -> None:
        seen = self.seen.setdefault(batch.instance, set())
        for number, e in enumerate(batch.events, batch.first):
            if number not in seen:
                seen.add(number)
                self.emit(Event(e.kind, e.name, e.seconds, e.error, worker=batch.worker))

    def _teardown(self) -> list[RunError]:
        """Close the run on every worker (waiting for running assets); the failed teardowns."""
        errors: list[RunError] = []
        try:
            reports = self.client.run(_close_on_worker, self.plugin, on_error="return")
        except Exception as exc:
            errors.append(
                RunError(f"teardown on the Dask workers failed: {self.redactor.describe(exc)}")
            )
            reports = {}
        for address, report in sorted(reports.items(), key=_worker_order):
            if isinstance(report, BaseException):
                errors.append(
                    RunError(
                        f"teardown on Dask worker {address} failed: "
                        f"{self.redactor.describe(report)}"
                    )
                )
                continue
            if not isinstance(report, _WorkerReport):
                continue
            self._emit_batch(report.batch)
            for key, detail, cause in report.teardown_failures:
                error = TeardownError(key, detail.noted(f"(on worker {report.worker})"))
                error.__cause__ = cause
                errors.append(error)
        with contextlib.suppress(Exception):
            self.client.unregister_worker_plugin(self.plugin)
        return errors
