"""Ctrl-C, SIGTERM and SIGHUP: stop a run once, and never cut the teardown short without cause.

A signal's handler raises in whatever the main thread is running. During
teardown that would abandon the teardowns still to come, so :func:`deferred`
records SIGINT, SIGTERM and SIGHUP instead, and the caller re-delivers them
afterwards with :func:`redeliver`, to the handlers that were there before. One
exception: a teardown that looks hung is interrupted, and counts as a failed
teardown (the others still run): one still running :data:`PATIENCE_SECONDS` after
a signal that arrived during the teardown, or :data:`STOP_PATIENCE_SECONDS` after
it started when a signal had already stopped the run. Only works in the main
thread, where Python runs signal handlers; elsewhere :func:`deferred` does nothing.

The command line goes further with :func:`stop_once`: the first signal of a run
raises (``KeyboardInterrupt`` or :class:`~envres._errors.Terminated`) and every
later one is only counted, so a burst of signals stops the run exactly once and
cannot land between two lines of the code that unwinds it. A later signal that
is not part of that burst (more than :data:`BURST_SECONDS` after the first) means
"stop now": from then on, if the shutdown makes no progress (no teardown ends)
for :data:`FORCE_SECONDS`, the process ends at once (``give_up``), even when the
main thread is stuck where no Python handler can run (a C call, a thread that
never returns, interpreter exit waiting for a thread).

Every handler acts only in the process that installed it: a child forked by user
code (``os.fork``, ``multiprocessing`` with fork) gets back the handlers that were
there before envres's, at the fork and again if a handler of envres's runs there.
"""

from __future__ import annotations

import _thread
import atexit
import contextlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from envres._errors import Terminated

__all__ = [
    "BURST_SECONDS",
    "FORCE_SECONDS",
    "PATIENCE_SECONDS",
    "STOP_PATIENCE_SECONDS",
    "Deferred",
    "TimedOut",
    "deferred",
    "from_signal",
    "mark_stop",
    "progressed",
    "redeliver",
    "signal_of",
    "stop_once",
    "watching",
]

#: How long a teardown may keep running after a Ctrl-C or SIGTERM received during it.
PATIENCE_SECONDS = 1.0
#: How long each teardown may run when a signal has already stopped the run.
STOP_PATIENCE_SECONDS = 2.0
#: Signals within this long of the first are one burst: they only count as the first.
BURST_SECONDS = 0.5
#: After a later signal, how long the shutdown may go without progress before the
#: process ends without waiting for it: longer than :data:`PATIENCE_SECONDS`, so a
#: hung teardown that can be interrupted is, and the others still run.
FORCE_SECONDS = 2.0

_SIGNALS: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_Handler = Callable[[int, FrameType | None], Any] | int
_MARK = "envres_signal"  # set on the interrupts envres's handlers raise


def _exception(signum: int) -> BaseException:
    exc: BaseException = KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)
    setattr(exc, _MARK, signum)
    return exc


def signal_of(exc: BaseException) -> int:
    """The signal an interrupt stands for: SIGINT for KeyboardInterrupt, else its own."""
    if isinstance(exc, KeyboardInterrupt):
        return signal.SIGINT
    return exc.signum if isinstance(exc, Terminated) else signal.SIGTERM


def mark_stop(exc: BaseException) -> None:
    """Mark an interrupt that stops the run though no signal raised it: the caller's own
    (an event callback's), not a setup's or an asset's."""
    if getattr(exc, _MARK, None) is None:
        setattr(exc, _MARK, 0)


def from_signal(exc: BaseException) -> bool:
    """Whether ``exc`` (an interrupt) stops the run: a signal's, not user code's.

    The interrupts envres's handlers raise are marked (and those :func:`mark_stop`
    marks). A ``KeyboardInterrupt`` that is not marked was raised by user code,
    unless SIGINT is handled by someone else (Python's default handler outside a
    run, a notebook's), who cannot be asked.
    """
    if isinstance(exc, Terminated) or getattr(exc, _MARK, None) is not None:
        return True
    if not isinstance(exc, KeyboardInterrupt):
        return False
    return not getattr(signal.getsignal(signal.SIGINT), _MARK, False)


# -- one process only --------------------------------------------------------------------

_pid = os.getpid()
_original: dict[int, _Handler | None] = {}  # the handler before envres's first one, by signal
_depth: dict[int, int] = {}  # how many of envres's installations are open, by signal


def _install(signum: int, handler: Callable[[int, FrameType | None], None]) -> _Handler | None:
    """Install ``handler`` for ``signum``; return the one it replaces."""
    global _pid
    previous = signal.getsignal(signum)
    if not _depth.get(signum):
        _pid = os.getpid()
        _original[signum] = previous
    _depth[signum] = _depth.get(signum, 0) + 1
    setattr(handler, _MARK, True)
    signal.signal(signum, handler)
    return previous


def _uninstall(signum: int, previous: _Handler | None) -> None:
    _depth[signum] = max(0, _depth.get(signum, 0) - 1)
    if not _depth[signum]:
        _original.pop(signum, None)
    if previous is not None:
        signal.signal(signum, previous)


def _elsewhere(signum: int) -> bool:
    """In a forked child: give the signal to the handler there was before envres's."""
    if os.getpid() == _pid:
        return False
    _restore_in_child()
    signal.raise_signal(signum)
    return True


def _restore_in_child() -> None:
    """A forked child runs none of envres's handlers: put back what was there before."""
    global _pid
    for signum, handler in list(_original.items()):
        if handler is None:
            continue  # installed outside Python: nothing to put back from here
        with contextlib.suppress(ValueError, OSError, TypeError):
            signal.signal(signum, handler)
    _original.clear()
    _depth.clear()
    _pid = os.getpid()
    with contextlib.suppress(ValueError, OSError):
        signal.set_wakeup_fd(-1)


os.register_at_fork(after_in_child=_restore_in_child)


# -- progress, as the watcher of a stopping run sees it ------------------------------------

_progress = [0]  # bumped each time the shutdown gets somewhere (a teardown ended)
_pokes = [0]  # interrupt_main() calls envres made itself: not signals from outside


def progressed() -> None:
    """Say that the shutdown got somewhere (a teardown ended): a later signal waits on."""
    _progress[0] += 1


# -- held back during teardown --------------------------------------------------------------


class Deferred:
    """The signals received while deferred, and the teardown they may interrupt.

    Everything here runs on the main thread (signal handlers do), so it takes no
    lock: a handler that interrupts another one would deadlock on it.
    """

    def __init__(self, stopping: int | None = None, budget: float | None = None) -> None:
        self.received: list[int] = []
        self.stopping = stopping  # the signal that already stopped the run, if any
        self.budget = budget  # how long each teardown may run, signal or not
        self._started: float | None = None  # when the running teardown began
        self._timer: threading.Thread | None = None
        self._due = 0.0  # when the armed timer pokes
        self._deadline: threading.Timer | None = None
        self._expired: float | None = None  # the teardown whose budget ran out

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if _elsewhere(signum):
            return
        if self._expired is not None and self._expired == self._started:
            self._expired = None  # not a signal: the budget's own interruption
            raise TimedOut(self.budget or 0.0)
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
        due = time.monotonic() + delay
        if self._timer is not None:
            # Armed already: a signal may only bring the moment closer. A plain write:
            # a handler must take no lock (cancelling a Timer does).
            self._due = min(self._due, due)
            return
        self._due = due
        timer = threading.Thread(
            target=self._poke, args=(signum, started), name="envres-patience", daemon=True
        )
        self._timer = timer  # before start(): a signal during start() sees it armed
        timer.start()

    def _poke(self, signum: int, started: float) -> None:
        while self._started == started and time.monotonic() < self._due:
            time.sleep(0.01)
        if self._started == started:  # the same teardown is still running
            _pokes[0] += 1
            _thread.interrupt_main(signal.Signals(signum))

    def _expire(self, started: float) -> None:
        if self._started == started:
            self._expired = started
            _pokes[0] += 1
            _thread.interrupt_main(signal.SIGINT)

    @contextlib.contextmanager
    def user_code(self) -> Iterator[None]:
        """Mark a teardown that a signal may interrupt once patience runs out."""
        self._started = started = time.monotonic()
        if self.stopping is not None:
            self._arm(self.stopping, started, STOP_PATIENCE_SECONDS)
        if self.budget is not None:
            self._deadline = threading.Timer(self.budget, self._expire, args=(started,))
            self._deadline.daemon = True
            self._deadline.start()
        try:
            yield
        finally:
            self._started = None  # the patience thread sees it and ends
            self._expired = None
            if self._deadline is not None:
                self._deadline.cancel()
            self._timer = self._deadline = None


class TimedOut(BaseException):
    """A teardown ran past its budget (``envres check --timeout``) and was interrupted.

    A BaseException, so that user code's ``except Exception`` does not swallow it.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(f"timed out after {seconds:g} s")
        self.seconds = seconds


@contextlib.contextmanager
def deferred(
    stopping: BaseException | None = None, budget: float | None = None
) -> Iterator[Deferred]:
    """Hold SIGINT/SIGTERM/SIGHUP back for the block; yields what was received.

    ``stopping`` is the interrupt that stopped the run, when one did: teardowns are
    then given :data:`STOP_PATIENCE_SECONDS` each. ``budget``: each teardown still
    running that many seconds after it began is interrupted with :class:`TimedOut`.
    """
    state = Deferred(signal_of(stopping) if stopping is not None else None, budget)
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        state.handle(signum, frame)

    previous: dict[int, _Handler | None] = {}
    try:
        for signum in _SIGNALS:
            current = signal.getsignal(signum)
            if current is None or current is signal.SIG_IGN:
                continue  # installed outside Python, or ignored: leave it alone
            previous[signum] = _install(signum, handler)
        yield state
    finally:
        for signum, old in previous.items():
            _uninstall(signum, old)


def redeliver(state: Deferred) -> None:
    """Deliver the first held-back signal again, now that its handler is back."""
    if state.received:
        signal.raise_signal(state.received[0])


@contextlib.contextmanager
def watching() -> Iterator[None]:
    """While the block runs (main thread), Ctrl-C raises a KeyboardInterrupt envres can tell
    from one user code raises (:func:`from_signal`). Only replaces Python's default handler.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if _elsewhere(signum):
            return
        raise _exception(signum)

    previous = _install(signal.SIGINT, handler)
    try:
        yield
    finally:
        _uninstall(signal.SIGINT, previous)


# -- the command line's: the first signal stops, a later one insists --------------------


class _Watcher:
    """Reads every signal's number from the wakeup pipe, on its own thread.

    Python writes the number there from its C-level handler, so this thread hears
    a signal even while the main thread is stuck and cannot run a Python handler.
    """

    def __init__(self, give_up: Callable[[int], int]) -> None:
        self.give_up = give_up
        self.first: int | None = None
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._old_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._watch, name="envres-signals", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (the run ended and the process goes on: the API, tests)."""
        with contextlib.suppress(ValueError, OSError):
            signal.set_wakeup_fd(self._old_fd)
        os.close(self._write)  # the thread reads EOF and ends; it closes the read end

    def _watch(self) -> None:
        first_at: float | None = None
        insisted_at: float | None = None
        seen = 0
        while True:
            timeout = None
            if insisted_at is not None:
                timeout = 0.05
            try:
                ready, _, _ = select.select([self._read], [], [], timeout)
                data = os.read(self._read, 256) if ready else b""
            except OSError:
                return
            if ready and not data:
                os.close(self._read)
                return
            now = time.monotonic()
            for signum in data:
                if signum not in _SIGNALS:
                    continue
                if _pokes[0]:
                    _pokes[0] -= 1  # envres's own interrupt of a hung teardown
                    continue
                if first_at is None:
                    first_at, self.first = now, signum
                elif insisted_at is None and now - first_at >= BURST_SECONDS:
                    insisted_at, seen = now, _progress[0]
            if insisted_at is None:
                continue
            if _progress[0] != seen:
                insisted_at, seen = now, _progress[0]
            elif now - insisted_at >= FORCE_SECONDS:
                self._end()

    def _end(self) -> None:
        assert self.first is not None
        code = self.give_up(self.first)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


@contextlib.contextmanager
def stop_once(
    final: bool = False, give_up: Callable[[int], int] | None = None
) -> Iterator[list[int]]:
    """While the block runs, the first SIGINT/SIGTERM/SIGHUP raises; later ones are recorded.

    Yields the list of signals received, in order. With ``final`` (the process
    exits after the block), signals are only counted once one has stopped the run,
    so a late one cannot kill the process and change its exit code.

    ``give_up(first_signal)`` (with ``final``): a later signal that found the
    shutdown stuck calls it, from another thread, to say what was left undone and
    return the exit code; the process then ends with it at once. Main thread only.
    """
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if _elsewhere(signum):
            return
        received.append(signum)
        if len(received) == 1:
            raise _exception(signum)

    watcher: _Watcher | None = None
    if final and give_up is not None:
        with contextlib.suppress(ValueError, OSError):
            watcher = _Watcher(give_up)
    previous = {signum: _install(signum, handler) for signum in _SIGNALS}
    try:
        yield received
    finally:
        if final and received:
            # Keep counting until the process is gone: a handler (not SIG_IGN yet), so
            # the watcher still hears a later signal while the exit waits for threads.
            _ignore_at_exit.append(True)
        else:
            for signum, old in previous.items():
                _uninstall(signum, old)
            if watcher is not None:
                watcher.stop()


_ignore_at_exit: list[bool] = []


@atexit.register  # registered first, so it runs last: after the scopes' own at-exit work
def _quiet_at_exit() -> None:
    """Ignore the signals from here on when a signal already stopped this process.

    Python puts the default disposition back for every signal with a Python handler
    as it finalizes; a late SIGTERM would then kill the process and change its exit
    code. An ignored signal is left alone.
    """
    if _ignore_at_exit and os.getpid() == _pid:
        for signum in _SIGNALS:
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, signal.SIG_IGN)
