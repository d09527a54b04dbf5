"""Progress of a run: one line per asset and resource event, and a live status line.

On a terminal the status line (a bar and the running assets) sits on stderr and
is cleared before anything else is written, by envres or by the assets
themselves: :func:`guarded_streams` routes what user code prints through the
same lock, so the two never mix on one line.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from envres._events import Event

__all__ = ["Progress", "guarded_streams"]


class Progress:
    """Turns events into lines; on a terminal, keeps a live status line on stderr.

    Events arrive from worker threads, hence the lock. ``write`` is how lines are
    printed (the session's masked ``out``).
    """

    def __init__(
        self,
        total: int,
        write: Callable[[str], None],
        status: TextIO | None,
        style: Callable[..., str] = lambda text, **_: text,
    ) -> None:
        self.total = total
        self.write = write
        self.style = style
        self.done = 0
        self.failed = 0
        self.running: dict[str, None] = {}
        self.status_stream = status  # a terminal, or None for no status line
        self._shown = 0
        self.lock = threading.RLock()

    def __call__(self, event: Event) -> None:
        name = f"{event.name} (worker {event.worker})" if event.worker else event.name
        with self.lock:
            self._handle(event, name)

    def _handle(self, event: Event, name: str) -> None:
        ms = f"{event.seconds * 1000:8.0f} ms"
        kind = event.kind
        if kind == "asset_started":
            self.running[name] = None
            self.draw_status()
            return
        self.clear()
        if kind in ("asset_done", "asset_failed"):
            self.running.pop(name, None)
            self.done += 1
        ok = self.style("ok    ", fg="green")
        failed = self.style("FAILED", fg="red", bold=True)
        if kind == "asset_done":
            self.write(f"  {ok}  {name:<32}{ms}")
        elif kind == "asset_failed":
            self.failed += 1
            self.write(f"  {failed}  {name:<32}{ms}  {event.error}")
        elif kind == "setup":
            self.write(f"  setup   {name:<32}{ms}")
        elif kind == "setup_failed":
            self.write(f"  {failed}  setup of {name:<23}{ms}  {event.error}")
        elif kind == "teardown":
            self.write(f"  down    {name:<32}{ms}")
        elif kind == "teardown_failed":
            self.write(f"  {failed}  teardown of {name:<20}{ms}  {event.error}")
        self.draw_status()

    def draw_status(self) -> None:
        """Show the status line (call with the lock held); nothing off a terminal."""
        stream = self.status_stream
        if stream is None or not self.running:
            return
        self.clear()
        filled = 20 * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (20 - filled)
        text = f"[{bar}] {self.done}/{self.total} running {', '.join(self.running)}"[:79]
        stream.write(text)
        stream.flush()
        self._shown = len(text)

    def clear(self) -> None:
        """Erase the status line, if one is shown (call with the lock held)."""
        stream = self.status_stream
        if stream is not None and self._shown:
            self._shown = 0
            stream.write("\r" + " " * 79 + "\r")
            stream.flush()

    def finish(self) -> None:
        with self.lock:
            self.running.clear()
            self.clear()

    def summary(self, seconds: float) -> str:
        ok = self.done - self.failed
        skipped = self.total - self.done
        parts = [f"{ok} succeeded"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if skipped:
            parts.append(f"{skipped} not run")
        return f"{', '.join(parts)} in {seconds:.2f} s"


class _Guarded(io.TextIOBase):
    """A text stream that clears the status line before user output.

    Masking is the output gate's, beneath it (``envres._gate``).
    """

    def __init__(self, inner: TextIO, progress: Progress) -> None:
        self._inner = inner
        self._progress = progress
        self._pending = ""
        self._broken = False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._progress.lock:
            # Whole lines only: the status line is cleared and drawn again around each.
            self._pending += text
            if "\n" not in self._pending:
                return len(text)
            lines, _, self._pending = self._pending.rpartition("\n")
            self._progress.clear()
            self._put(lines + "\n")
            self._progress.draw_status()
        return len(text)

    def _put(self, text: str) -> None:
        # A closed pipe (`envres run | head`) must not fail the asset or the teardown
        # that prints: what cannot be printed is dropped.
        if self._broken:
            return
        try:
            self._inner.write(text)
            self._inner.flush()
        except OSError:
            self._broken = True

    def flush(self) -> None:
        with self._progress.lock:
            if self._pending:
                self._progress.clear()
                pending, self._pending = self._pending, ""
                self._put(pending)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._inner, "encoding", "utf-8")

    def isatty(self) -> bool:
        return self._inner.isatty()

    @property
    def buffer(self) -> Any:
        """The binary stream beneath, for code that writes bytes (``sys.stdout.buffer``)."""
        return self._inner.buffer

    def fileno(self) -> int:
        return self._inner.fileno()


@contextlib.contextmanager
def guarded_streams(progress: Progress) -> Iterator[None]:
    """While a run lasts, what user code prints never lands on the status line."""
    out, err = sys.stdout, sys.stderr
    guarded_out = _Guarded(out, progress)
    guarded_err = _Guarded(err, progress)
    sys.stdout, sys.stderr = guarded_out, guarded_err
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
        for stream in (guarded_out, guarded_err):
            with contextlib.suppress(Exception):
                stream.flush()
