"""What every executor shares: the result of a run, how failures are named and combined.

The executors (:mod:`envres._executors`) run assets; this module says what a
failed asset becomes (:func:`asset_failure`), the one-line reason a progress
line shows (:func:`failure_reason`), and how a run's failures and its teardowns'
are put together (:func:`run_then_close`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from envres._causes import reason
from envres._errors import AssetError, RunError, SetupError
from envres._secrets import Redactor

__all__ = ["RunResult", "asset_failure", "failure_reason", "run_then_close"]


@dataclass
class RunResult:
    """What a run produced: each asset's return value and how long it took."""

    outputs: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def __getitem__(self, asset: str) -> Any:
        return self.outputs[asset]

    def __repr__(self) -> str:
        # Asset values are the user's data: name them, do not print them.
        return f"<RunResult assets={list(self.outputs)}>"


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


def asset_failure(asset: str, exc: BaseException, redactor: Redactor) -> SetupError | AssetError:
    """The error a failed asset stops the run with: a resource's own SetupError as is.

    Its reason is taken here, where the exception is caught: the line of the user's
    code it came from and the rest of its message travel as text (from a Dask worker).
    """
    if isinstance(exc, SetupError):
        return exc
    return AssetError(asset, reason(exc, redactor))


def failure_reason(error: RunError) -> str:
    """What a progress line says about a failed asset, without repeating its name:
    ``pipeline.py:38: OperationalError: no such column: nosuch`` (one line)."""
    if isinstance(error, SetupError):
        return f"not run: resource '{error.key}' could not be set up"
    return error.detail if isinstance(error, AssetError) else error.message
