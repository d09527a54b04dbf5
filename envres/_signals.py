"""Ctrl-C and SIGTERM: stop a run once, and never cut the teardown short without cause.

A signal's handler raises in whatever the main thread is running. During
teardown that would abandon the teardowns still to come, so :func:`deferred`
records SIGINT and SIGTERM instead, and the caller re-delivers them afterwards
with :func:`redeliver`, to the handlers that were there before. One exception:
a teardown that looks hung is interrupted, and counts as a failed teardown (the
others still run): one still running :data:`PATIENCE_SECONDS` after a signal that
arrived during the teardown, or :data:`STOP_PATIENCE_SECONDS` after it started
when a signal had already stopped the run. Only works in the main thread, where
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

__all__ = [
    "PATIENCE_SECONDS",
    "STOP_PATIENCE_SECONDS",
    "Deferred",
    "deferred",
    "redeliver",
    "signal_of",
    "stop_once",
]

#: How long a teardown may keep running after a Ctrl-C or SIGTERM received during it.
PATIENCE_SECONDS = 1.0
#: How long each teardown may run when a signal has already stopped the run.
STOP_PATIENCE_SECONDS = 2.0

_SIGNALS: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)
_Handler = Callable[[int, FrameType | None], Any] | int


def _exception(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


def signal_of(exc: BaseException) -> int:
    """The signal an interrupt stands for: SIGINT for KeyboardInterrupt, else SIGTERM."""
    return signal.SIGINT if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM


class Deferred:
    """The signals received while deferred, and the teardown they may interrupt.

    Everything here runs on the main thread (signal handlers do), so it takes no
    lock: a handler that interrupts another one would deadlock on it.
    """

    def __init__(self, stopping: int | None = None) -> None:
        self.received: list[int] = []
        self.stopping = stopping  # the signal that already stopped the run, if any
        self._started: float | None = None  # when the running teardown began
        self._timer: threading.Timer | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if signum not in self.received:
            self.received.append(signum)
        started = self._started
        if started is None:
            return  # between teardowns: held back, delivered after the last one
        waited = time.monotonic() - started
        if waited >= PATIENCE_SECONDS:
            raise _exception(signum)
        self._arm(signum, started, PATIENCE_SECONDS - waited)

    def _arm(self, signum: int, started: float, delay: float) -> None:
        if self._timer is not None:
            return
        timer = threading.Timer(delay, self._poke, args=(signum, started))
        timer.daemon = True
        self._timer = timer  # before start(): a signal during start() sees it armed
        timer.start()

    def _poke(self, signum: int, started: float) -> None:
        if self._started == started:  # the same teardown is still running
            _thread.interrupt_main(signal.Signals(signum))

    @contextlib.contextmanager
    def user_code(self) -> Iterator[None]:
        """Mark a teardown that a signal may interrupt once patience runs out."""
        self._started = started = time.monotonic()
        if self.stopping is not None:
            self._arm(self.stopping, started, STOP_PATIENCE_SECONDS)
        try:
            yield
        finally:
            self._started = None
            timer, self._timer = self._timer, None
            if timer is not None:
                timer.cancel()


@contextlib.contextmanager
def deferred(stopping: BaseException | None = None) -> Iterator[Deferred]:
    """Hold SIGINT/SIGTERM back for the block; yields what was received.

    ``stopping`` is the interrupt that stopped the run, when one did: teardowns are
    then given :data:`STOP_PATIENCE_SECONDS` each.
    """
    state = Deferred(signal_of(stopping) if stopping is not None else None)
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
def stop_once(final: bool = False) -> Iterator[list[int]]:
    """While the block runs, the first SIGINT/SIGTERM raises; later ones are recorded.

    Yields the list of signals received, in order. With ``final`` (the process
    exits after the block), signals stay ignored once one has stopped the run, so
    a late one cannot kill the process and change its exit code. Main thread only.
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
            if final and received:
                signal.signal(signum, signal.SIG_IGN)
            elif old is not None:
                signal.signal(signum, old)
