"""The ready queue of a run, the one both executors keep: which asset can start, what ended.

An asset can start once every planned upstream asset has finished. The first
asset that fails (or does not run) stops the run: no asset starts after it,
whatever it depends on; those running finish, and the rest are not run. The
local executor starts on its threads what this says; the Dask executor hands
every task to Dask up front and follows along, so its events and its stop on
failure are the same as a local run's.

::

    >>> s = Schedule(["a", "b", "c"], {"a": (), "b": ("a",), "c": ("a", "b")})
    >>> s.ready()
    ['a']
    >>> s.done("a")
    >>> s.ready()
    ['b']
    >>> s.done("b", ok=False)
    >>> s.ready(), s.not_run
    ([], ('c',))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet

__all__ = ["Schedule"]


class Schedule:
    """Which of ``order``'s assets can start, given which ended; driven by one thread.

    ``order`` is the plan (upstream first, :meth:`Catalog.plan`); ``upstream``
    maps each asset to the assets it takes (those not in the plan are ignored).
    Assets are handed out in plan order, however their upstream assets finish.
    """

    def __init__(self, order: Sequence[str], upstream: Mapping[str, Iterable[str]]) -> None:
        self.order = tuple(order)
        planned = set(self.order)
        self._upstream = {n: tuple(u for u in upstream[n] if u in planned) for n in self.order}
        self._waiting = {n: set(ups) for n, ups in self._upstream.items()}
        self._dependents: dict[str, list[str]] = {n: [] for n in self.order}
        for n in self.order:
            for u in self._waiting[n]:
                self._dependents[u].append(n)
        self._index = {n: i for i, n in enumerate(self.order)}
        self._ready = [n for n in self.order if not self._waiting[n]]
        self._started: set[str] = set()
        self._running: set[str] = set()
        self.stopped = False

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else f"running={sorted(self._running)}"
        return f"<Schedule assets={len(self.order)} {state}>"

    @property
    def running(self) -> AbstractSet[str]:
        """The assets handed out by :meth:`ready` that have not ended yet (read-only view)."""
        return self._running

    @property
    def not_run(self) -> tuple[str, ...]:
        """The assets not handed out (so far), in plan order."""
        return tuple(n for n in self.order if n not in self._started)

    def ready(self) -> list[str]:
        """The assets that can start now, in plan order, each handed out once.

        First the assets with no upstream asset in the plan; then, after each
        :meth:`done`, those whose upstream assets have all finished. Nothing once
        stopped.
        """
        if self.stopped or not self._ready:
            return []
        ready = sorted(self._ready, key=self._index.__getitem__)
        self._ready = []
        self._started.update(ready)
        self._running.update(ready)
        return ready

    def done(self, name: str, *, ok: bool = True) -> None:
        """``name`` ended; ``ok=False`` (it failed, or never ran) stops the run.

        Once stopped, nothing more starts and this only notes what is still running.
        """
        self._running.discard(name)
        if not ok:
            self.stopped = True
        if self.stopped:
            return
        for d in self._dependents[name]:
            waiting = self._waiting[d]
            waiting.discard(name)
            if not waiting:
                self._ready.append(d)

    def stop(self) -> None:
        """No asset starts from now on (Ctrl-C, SIGTERM, a callback that interrupted)."""
        self.stopped = True

    def levels(self) -> list[list[str]]:
        """The plan in levels: each asset one level after its latest upstream asset.

        Every asset of a level can start once the earlier levels are done, so a
        level can be handed over in one request (the Dask executor's ``client.map``).
        """
        depth: dict[str, int] = {}
        levels: list[list[str]] = []
        for n in self.order:  # upstream first
            depth[n] = 1 + max((depth[u] for u in self._upstream[n]), default=-1)
            if depth[n] == len(levels):
                levels.append([])
            levels[depth[n]].append(n)
        return levels
