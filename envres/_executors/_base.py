"""The interface every executor implements: describe itself, run one :class:`Job`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from envres._catalog import Catalog
from envres._errors import INTERRUPTS
from envres._events import Event
from envres._resolved import ResolvedProfile
from envres._run import RunResult
from envres._signals import mark_stop

__all__ = ["Executor", "Job"]


@dataclass(frozen=True)
class Job:
    """One run: which assets, in which order, with which validated resources.

    ``order`` comes from :meth:`Catalog.plan` (upstream first). ``overrides``
    binds keys to live objects of the caller's (local runs only). ``jobs`` is how
    many assets may run at once (for Dask, how many worker processes to start).
    """

    catalog: Catalog
    profile: ResolvedProfile
    order: tuple[str, ...]
    overrides: Mapping[str, Any] = field(default_factory=dict)
    jobs: int = 1
    on_event: Callable[[Event], None] | None = None

    def emit(self, event: Event) -> None:
        """Report ``event``; a callback that raises (a closed pipe, a bug) is ignored."""
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except INTERRUPTS as exc:
            mark_stop(exc)  # the caller's callback: it stops the run
            raise
        except Exception:
            pass  # reporting must never change what a run does


class Executor(Protocol):
    """Where assets run. Set up only what the assets need; tear everything down."""

    def describe(self, jobs: int) -> str:
        """How a run's header names this executor (``1 job``, ``dask: ...``)."""
        ...

    def run(self, job: Job) -> RunResult:
        """Run ``job``; raise a :class:`~envres.RunError` when an asset, setup or teardown fails."""
        ...
