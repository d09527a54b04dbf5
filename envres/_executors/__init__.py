"""Executors: where a run's assets execute, behind one small interface (:class:`Executor`).

``"local"`` runs them on threads of this process (:mod:`._local`); ``"dask"``, a
scheduler address or a ``distributed.Client`` hands them to Dask (:mod:`._dask`,
imported only then). The binding picks one with :func:`executor_for` and gives it
a :class:`Job`; executors never reach back into the binding. Both keep one ready
queue (:mod:`._schedule`: which asset can start, and when a run stops), and the
Dask executor sends the profile in its portable form (:mod:`envres._portable`).
"""

from __future__ import annotations

from envres._executors._base import Executor, Job

__all__ = ["Executor", "Job", "executor_for"]


def executor_for(target: object) -> Executor:
    """The executor for ``target``: ``"local"``, ``"dask"``, an address or a Dask client.

    Raises :class:`~envres.UsageError` when the Dask extra is missing or the target
    is not one of those.
    """
    if target == "local":
        from envres._executors._local import LocalExecutor

        return LocalExecutor()
    from envres._executors._dask import DaskExecutor  # imports distributed: only for this

    return DaskExecutor(target)
