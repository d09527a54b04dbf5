"""What happens during a run, as events for progress output, logs and tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Event", "EventKind"]

EventKind = Literal[
    "setup",
    "setup_failed",
    "teardown",
    "teardown_failed",
    "asset_started",
    "asset_done",
    "asset_failed",
]


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened during a run, for progress output and tests.

    ``name`` is a resource key or an asset name; ``seconds`` how long it took;
    ``error`` a one-line, secret-free message for failures; ``worker`` names the
    Dask worker a resource event happened on (empty for local runs).
    """

    kind: EventKind
    name: str
    seconds: float = 0.0
    error: str | None = None
    worker: str = ""
