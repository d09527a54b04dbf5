"""Ctrl-C and SIGTERM: stop a run once, and never cut the teardown short.

A signal's handler raises in whatever the main thread is running. During
teardown that would abandon the teardowns still to come, so :func:`deferred`
records SIGINT and SIGTERM instead, and the caller re-delivers them afterwards
with :func:`redeliver`, to the handlers that were there before. One exception: a
teardown that is still running :data:`PATIENCE_SECONDS` after a signal arrived
is interrupted (it looks hung; Ctrl-C must not wait for it forever), and counts
as a failed teardown; the others still run. Only works in the main thread, where
Python runs signal handlers; elsewhere :func:`deferred` does nothing.

The command line goes further with :func:`stop_once`: the first signal of a run
raises (``KeyboardInterrupt`` or :class:`~envres._errors.Terminated`) and every
later one is only counted, so a burst of signals stops the run exactly once and
cannot land between two lines of the code that unwinds it.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from envres._errors import Terminated

__all__ = ["PATIENCE_SECONDS", "Deferred", "deferred", "redeliver", "stop_once"]

#: How long a teardown may keep running after Ctrl-C or SIGTERM before it is interrupted.
PATIENCE_SECONDS = 1.0

_SIGNALS: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)
_Handler = Callable[[int, FrameType | None], Any] | int


def _exception(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


class Deferred:
    """The signals received while deferred, and the user code they may interrupt."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._started: float | None = None  # when the running user code began
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if signum not in self.received:
            self.received.append(signum)
        started = self._started
        if started is None:
            return  # between teardowns: held back, delivered after the last one
        waited = time.monotonic() - started
        if waited >= PATIENCE_SECONDS:
            raise _exception(signum)
        with self._lock:
            if self._timer is None:
                # Come back when patience runs out, if this teardown is still running.
                self._timer = threading.Timer(
                    PATIENCE_SECONDS - waited, self._poke, args=(signum, started)
                )
                self._timer.daemon = True
                self._timer.start()

    def _poke(self, signum: int, started: float) -> None:
        if self._started == started:
            _thread.interrupt_main(signal.Signals(signum))

    @contextlib.contextmanager
    def user_code(self) -> Iterator[None]:
        """Mark a teardown that a signal may interrupt once patience runs out."""
        self._started = time.monotonic()
        try:
            yield
        finally:
            self._started = None
            with self._lock:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None


@contextlib.contextmanager
def deferred() -> Iterator[Deferred]:
    """Hold SIGINT/SIGTERM back for the block; yields what was received."""
    state = Deferred()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    previous: dict[int, _Handler] = {}
    try:
        for signum in _SIGNALS:
            handler = signal.getsignal(signum)
            if handler is None or handler is signal.SIG_IGN:
                continue  # installed outside Python, or ignored: leave it alone
            previous[signum] = handler
            signal.signal(signum, state.handle)
        yield state
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def redeliver(state: Deferred) -> None:
    """Deliver the first held-back signal again, now that its handler is back."""
    if state.received:
        signal.raise_signal(state.received[0])


@contextlib.contextmanager
def stop_once() -> Iterator[list[int]]:
    """While the block runs, the first SIGINT/SIGTERM raises; later ones are recorded.

    Yields the list of signals received, in order. Main thread only.
    """
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:
            raise _exception(signum)

    previous = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    for signum in _SIGNALS:
        signal.signal(signum, handler)
    try:
        yield received
    finally:
        for signum, old in previous.items():
            if old is not None:
                signal.signal(signum, old)
