"""The output gate: everything an ``envres`` command shows passes here, masked.

:mod:`envres._secrets` decides what a secret is and how each is spelled; this
module is the one door through which output leaves. A :class:`Gate` holds the
secrets a command has learned so far (it learns more as profiles load) and
masks with them, at the moment of writing, on every path:

- envres's own lines (:meth:`Gate.show`), masked as a whole and in every spelling,
  never by fragment, so keys and type names stay readable;
- everything the process writes to file descriptors 1 and 2 while the command
  runs (:meth:`Gate.descriptors`, in the ``envres`` process): ``print``,
  ``warnings``, logging handlers made at any time (they hold ``sys.stderr`` or
  the descriptor itself), C extensions and the subprocesses an asset starts (a
  dbt CLI inherits the descriptors). A thread reads what was written from a pipe,
  whole lines at a time, and writes it on masked, fragments included;
- when a command runs inside another Python program (tests, a notebook),
  ``sys.stdout`` and ``sys.stderr`` are replaced for the command instead
  (:meth:`Gate.streams`);
- log records, whatever handler (a file, a socket) they go to: each record is
  masked when it is made (:meth:`Gate.logs`).

Nothing else in envres writes to the standard streams during a command.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import logging
import os
import select
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, TextIO

from envres._errors import EnvresError
from envres._secrets import Redactor, hidden

__all__ = ["Gate", "GateError", "RedactingFilter", "masked_stream", "redacted_logs"]

# How long a line without its newline (a prompt, a progress bar) waits for the rest
# before it is shown as it is.
_PARTIAL_WAIT: Final = 0.05
# A line longer than this is passed on in pieces, keeping back enough of its end that a
# secret it holds is never cut in two.
_LONG_LINE: Final = 1 << 16
# Written into a pipe to learn when the thread has seen all that came before it.
_SYNC: Final = b"\x00sync\n"
_SYNC_WAIT: Final = 2.0
# At the very end, a risky tail shorter than this is shown as it is.
_SHORTEST_TAIL: Final = 3
# How long closing the gate waits for a subprocess that still holds the pipe.
_DRAIN_WAIT: Final = 2.0


class GateError(EnvresError):
    """The gate could not take descriptors 1 and 2: nothing runs unguarded."""


class Gate:
    """What one command shows, masked with every secret it has learned.

    ``learn`` may be called from any thread; masking always uses the newest set.
    Two views of the same secrets: user output is masked with all of them; envres's
    own lines spare the words of the output's structure (see :meth:`learn`).
    """

    def __init__(self) -> None:
        self._redactor = Redactor()
        self._shown = self._redactor  # the same, sparing the structure's words
        self._structure: set[str] = set()
        self._tty: dict[int, bool] = {}
        self._pipes: dict[int, tuple[int, int]] = {}  # fd -> the pipe's (st_dev, st_ino)
        self._nonce: bytes | None = None  # marks envres's own lines inside the pipes
        self.held = False
        self._sinks: list[_Pump | _MaskedStream] = []
        #: Called once before held-back output (or an error) is shown, to learn every
        #: secret the project's profiles can tell (set by the command line).
        self.learner: Callable[[], None] | None = None
        self._closer: Callable[[], None] | None = None

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    def learn(self, redactor: Redactor, structure: Iterable[str] = ()) -> None:
        """Mask these secrets too from now on.

        ``structure``: words of the output's structure (keys, type names) that
        envres's own lines never mask, even when a secret equals one (see
        :meth:`~envres._secrets.Redactor.sparing`); user output is masked with every
        secret all the same.
        """
        self._redactor = self._redactor | redactor
        self._structure.update(structure)
        self._shown = self._redactor.sparing(self._structure)

    def hold(self) -> None:
        """Hold back what user code writes until the secrets are known.

        Importing a project's definitions runs its code before the profile, and so
        its secrets, is loaded: what that code writes meanwhile is shown at envres's
        next line (or the end of the command), after :attr:`learner` has learned
        what every profile of the project can tell.
        """
        self.held = True

    def _holding(self) -> bool:
        _flush_standard_streams()
        return any(sink.holding() for sink in self._sinks)

    def _learn_all(self) -> None:
        learner, self.learner = self.learner, None
        if learner is not None:
            learner()

    def release(self, *, error: bool = False) -> None:
        """Show what was held back, masked with what is known now.

        Before that (and before an error is shown) the learner, if any, learns every
        secret the project's profiles can tell, once.
        """
        if self.held and (error or self._holding()):
            self._learn_all()
        if self.held:
            self.held = False
            for sink in self._sinks:
                sink.release()

    def mask(self, text: str) -> str:
        """``text`` as envres shows it: every secret, in every spelling, masked."""
        return self._shown.redact(text)

    def mask_untrusted(self, text: str) -> str:
        """``text`` that user code wrote: secrets masked, and any eight of their characters."""
        return self._redactor.redact_untrusted(text)

    def describe(self, exc: BaseException) -> str:
        """``Type: first line`` of an exception, masked."""
        return self._redactor.describe(exc)

    def hide(self) -> str:
        """What stands for a secret."""
        return hidden()

    def isatty(self, stream: TextIO) -> bool:
        """Whether ``stream`` was a terminal before the gate took its descriptor."""
        try:
            fd = stream.fileno()
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            return False
        if fd in self._tty:
            return self._tty[fd]
        try:
            return stream.isatty()
        except (OSError, ValueError):
            return False

    def show(self, text: str, stream: TextIO, *, error: bool = False) -> None:
        """Write one line of envres's own output (a newline is added), masked.

        ``error``: the line reports a failure (it may quote the project's code).
        Raises ``OSError`` when the reader has gone away, so the caller can stop
        writing to that stream.
        """
        # What user code wrote before this line comes first, masked with what is known.
        self.release(error=error)
        text = self.mask(text)
        fd = _fileno(stream)
        if self._nonce is not None and fd is not None and self._is_pipe(fd):
            # Inside the pipe, the mark tells the reader this line is envres's own: masked
            # as a whole already, and not by fragment (a key that shares eight letters
            # with a secret stays readable).
            mark = self._nonce.decode("ascii")
            text = "\n".join(mark + line for line in text.split("\n"))
            with contextlib.suppress(OSError):
                os.set_blocking(fd, True)  # user code may have made it non-blocking
        stream.write(text + "\n")
        stream.flush()

    def _is_pipe(self, fd: int) -> bool:
        """Whether ``fd`` still leads into the gate's pipe (user code may have moved it)."""
        expected = self._pipes.get(fd)
        if expected is None:
            return False
        try:
            st = os.fstat(fd)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == expected

    # -- the ways in ----------------------------------------------------------------------

    @contextlib.contextmanager
    def installed(self, *, process: bool) -> Iterator[None]:
        """The gate on every path for the block: descriptors when this process is the
        command's own (``process``), the Python streams otherwise, log records always.

        In the command's own process the descriptors stay guarded after the block,
        until the interpreter's exit handlers have run (what an ``atexit`` handler or a
        thread still running prints is masked too). :class:`GateError` when they cannot
        be taken: nothing runs unguarded.
        """
        with contextlib.ExitStack() as stack:
            if process:
                self._take_descriptors()
            else:
                stack.enter_context(self.streams())
            stack.enter_context(self.logs())
            try:
                yield
            finally:
                self.release(error=True)
                if process:
                    _flush_standard_streams()

    @contextlib.contextmanager
    def streams(self) -> Iterator[None]:
        """``sys.stdout`` and ``sys.stderr`` masked for the block (in-process commands)."""
        out, err = sys.stdout, sys.stderr
        masked_out, masked_err = _MaskedStream(out, self), _MaskedStream(err, self)
        sys.stdout, sys.stderr = masked_out, masked_err
        self._sinks.extend((masked_out, masked_err))
        try:
            yield
        finally:
            self.release(error=True)
            self._sinks.clear()
            for masked in (masked_out, masked_err):
                with contextlib.suppress(Exception):
                    masked.flush()
            if sys.stdout is masked_out:
                sys.stdout = out
            if sys.stderr is masked_err:
                sys.stderr = err

    @contextlib.contextmanager
    def logs(self) -> Iterator[None]:
        """Every log record made during the block is masked as it is made.

        At creation, not in a handler: a handler made before envres started, or one
        that writes to a file or a socket, gets the record already masked.
        """
        previous = logging.getLogRecordFactory()
        gate = self

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            gate.mask_record(record)
            return record

        # A record's `extra` fields are set after the factory made it, in makeRecord.
        make_record = logging.Logger.makeRecord

        def masked_make_record(logger: logging.Logger, *args: Any, **kwargs: Any) -> Any:
            record = make_record(logger, *args, **kwargs)
            gate.mask_record(record)
            return record

        logging.setLogRecordFactory(factory)
        logging.Logger.makeRecord = masked_make_record  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            if logging.getLogRecordFactory() is factory:
                logging.setLogRecordFactory(previous)
            if logging.Logger.makeRecord is masked_make_record:
                logging.Logger.makeRecord = make_record  # type: ignore[method-assign]

    def mask_record(self, record: logging.LogRecord) -> None:
        """Mask a log record in place: its message, traceback, stack and ``extra`` fields."""
        redactor = self._redactor
        if not redactor:
            return
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg, record.args = redactor.redact_untrusted(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redactor.redact_untrusted(
                logging.Formatter().formatException(record.exc_info)
            )
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redactor.redact_untrusted(record.stack_info)
        for name, value in list(vars(record).items()):
            if name in _RECORD_FIELDS or value is None:
                continue
            text = value if isinstance(value, str) else _text_of(value)
            if text is not None and redactor.redact_untrusted(text) != text:
                setattr(record, name, redactor.redact_untrusted(text))

    def _take_descriptors(self) -> None:
        """Descriptors 1 and 2 go through pipes read by a masking thread until exit.

        Whatever holds them (Python's streams, a handler, a C library, a child
        process) writes into the pipe; the thread writes each line on to the real
        stream, masked. At the interpreter's exit (after its other exit handlers)
        the descriptors are restored and whatever was still in the pipes is shown.
        """
        _flush_standard_streams()
        pumps: list[_Pump] = []
        nonce = os.urandom(8).hex().encode("ascii")  # secrets.token_hex(8), without its imports
        try:
            for fds in _targets():
                for fd in fds:
                    self._tty[fd] = os.isatty(fd)
                pump = _Pump(fds, self, nonce)
                pumps.append(pump)
                for fd in fds:
                    st = os.fstat(fd)
                    self._pipes[fd] = (st.st_dev, st.st_ino)
        except OSError as exc:
            for pump in pumps:
                pump.close()
            self._pipes.clear()
            raise GateError(
                f"cannot guard the output ({exc.strerror or exc}); nothing was run"
            ) from exc
        self._nonce = nonce
        self._sinks.extend(pumps)

        def close() -> None:
            _flush_standard_streams()
            self.held = False
            for pump in pumps:
                pump.close()
            self._nonce = None
            self._pipes.clear()

        self._closer = close
        # Registered now, before the project's code runs, so it runs after every exit
        # handler registered later (atexit runs last in, first out).
        atexit.register(self.shutdown)

    def shutdown(self) -> None:
        """Show what is left in the pipes and give the descriptors back (once).

        At exit; or at once, before a process that cannot finish its shutdown ends
        with ``os._exit`` (which runs no exit handler).
        """
        closer, self._closer = self._closer, None
        if closer is not None:
            closer()


_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}


def _text_of(value: object) -> str | None:
    try:
        return str(value)
    except Exception:
        return None


def _flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()


def _targets() -> list[tuple[int, ...]]:
    """Descriptors 1 and 2 in groups that share one pipe.

    When both lead to the same place (a terminal, ``2>&1``), one pipe and one thread
    serve both, so lines keep the order in which they were written (a status line
    on stderr is cleared before a line on stdout, and stays so).
    """
    found: list[tuple[int, os.stat_result]] = []
    for fd in (1, 2):
        try:
            found.append((fd, os.fstat(fd)))
        except OSError:
            continue  # no such descriptor (a daemon): nothing to guard
    if len(found) == 2:
        (_, a), (_, b) = found
        if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
            return [(1, 2)]
    return [(fd,) for fd, _ in found]


def _fileno(stream: TextIO) -> int | None:
    try:
        return stream.fileno()
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None


class _Pump:
    """One guarded descriptor: a pipe in its place and a thread that masks what comes."""

    def __init__(self, fds: tuple[int, ...], gate: Gate, nonce: bytes) -> None:
        self.fds = fds
        self.gate = gate
        self.nonce = nonce
        self.real = [os.dup(fd) for fd in fds]  # where the masked output goes back to
        for real in self.real:
            os.set_inheritable(real, False)
        read, write = os.pipe()
        self.read = read
        self.wake, self.waker = os.pipe()  # close() wakes the thread through this one
        for own in (read, self.wake, self.waker):
            os.set_inheritable(own, False)
        for fd in fds:
            os.dup2(write, fd)  # inheritable, so child processes write into the pipe too
        os.close(write)
        self.broken = False
        self.closing = threading.Event()
        self.pending = b""
        self.waiting = False  # what is pending is held until more comes (see _emit_partial)
        self.lock = threading.Lock()
        self.held: list[bytes] = []
        self.synced = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"envres-gate-{fds[0]}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                if self.closing.is_set():
                    wait: float | None = _PARTIAL_WAIT if self.pending else 0.1
                elif self.pending and not self.waiting:
                    wait = _PARTIAL_WAIT
                else:
                    wait = None  # nothing to show until more comes
                ready, _, _ = select.select([self.read, self.wake], [], [], wait)
                if self.wake in ready:
                    os.read(self.wake, 64)  # close() asked: drain what is left, then stop
                if self.read not in ready:
                    if self.pending and not self.waiting and not self.closing.is_set():
                        self._emit_partial()
                        continue
                    if self.closing.is_set() and self.wake not in ready:
                        break  # a child may still hold the pipe, but it has gone quiet
                    continue
                chunk = os.read(self.read, 1 << 16)
                if not chunk:
                    break
                self.waiting = False
                self._take(chunk)
            if self.pending:
                self._emit_partial(last=True)
        finally:
            os.close(self.read)
            os.close(self.wake)

    def _take(self, chunk: bytes) -> None:
        data = self.pending + chunk
        self.pending = b""
        # envres's own line starts a line of its own: what user code left unfinished
        # before it ends there (and a risky end of it is masked, as at the very end).
        start = data.find(self.nonce, 1)
        while start > 0:
            head, data = data[:start], data[start:]
            cut = head.rfind(b"\n")
            for line in head[: cut + 1].splitlines(keepends=True):
                self._emit(line)
            if head[cut + 1 :]:
                self.pending = head[cut + 1 :]
                user = not self.pending.startswith(self.nonce)
                self._emit_partial(last=True)
                if user:
                    self._emit(b"\n")  # envres's own line starts on a line of its own
            start = data.find(self.nonce, 1)
        cut = data.rfind(b"\n")
        if cut < 0:
            self.pending = data
            if len(data) > _LONG_LINE:
                self._emit_long()
            return
        self.pending = data[cut + 1 :]
        for line in data[: cut + 1].splitlines(keepends=True):
            self._emit(line)

    def _emit_partial(self, last: bool = False) -> None:
        """Show a line that has no newline yet (a prompt, a progress bar)."""
        line, self.pending = self.pending, b""
        if line.startswith(self.nonce):
            self._emit(line)  # envres's own status line
            return
        text = _decode(line)
        keep = self.gate.redactor.risky_tail(text)
        if last and keep < _SHORTEST_TAIL:
            keep = 0  # a letter or two proves nothing, and masking it garbles the line
        if keep and last:
            # The output ends with what may be the start of a secret: mask it.
            self._emit(_encode(text[:-keep] + self.gate.hide()))
            return
        if keep:
            # The start of a secret may stand at the end: it waits for the rest.
            self.pending = _encode(text[-keep:])
            self.waiting = True
            line = _encode(text[:-keep])
        if line:
            self._emit(line)

    def _emit_long(self) -> None:
        # Keep back the end: a secret (in its longest spelling) may start there.
        keep = 4096
        head, self.pending = self.pending[:-keep], self.pending[-keep:]
        self._emit(head)

    def _emit(self, line: bytes) -> None:
        if line == self.nonce + _SYNC:
            self.synced.set()  # everything written before it has been seen
            return
        with self.lock:
            if self.gate.held or self.held:  # nothing overtakes what is still held
                self.held.append(line)
                return
            self._show(line)

    def holding(self) -> bool:
        """Whether anything written so far is held back (waits for the thread to see it)."""
        self.synced.clear()
        try:
            os.write(self.fds[0], self.nonce + _SYNC)
        except OSError:
            return bool(self.held)
        self.synced.wait(_SYNC_WAIT)
        return bool(self.held)

    def release(self) -> None:
        with self.lock:
            held, self.held = self.held, []
            for line in held:
                self._show(line)

    def _show(self, line: bytes) -> None:
        if line.startswith(self.nonce):
            text = self.gate.mask(_decode(line[len(self.nonce) :]))
        else:
            text = self.gate.mask_untrusted(_decode(line))
        self._write(text.encode("utf-8", "surrogateescape"))

    def _write(self, data: bytes) -> None:
        if self.broken:
            return  # the reader went away (`envres run | head`): drop, keep draining
        try:
            while data:
                written = os.write(self.real[0], data)
                data = data[written:]
        except OSError:
            self.broken = True

    def close(self) -> None:
        """Put the real descriptor back and show what is left in the pipe."""
        for fd, real in zip(self.fds, self.real, strict=True):
            os.dup2(real, fd)  # this process's last write end of the pipe is gone
        self.closing.set()
        with contextlib.suppress(OSError):  # the thread may have seen the end already
            os.write(self.waker, b"x")
        self.thread.join(_DRAIN_WAIT)
        self.gate.held = False
        self.release()
        with self.lock:
            # A thread still reading (a child holds the pipe and keeps writing) must not
            # write to these descriptors once closed: their numbers may be reused.
            self.broken = True
            for real in self.real:
                os.close(real)
        os.close(self.waker)


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


class _MaskedStream(io.TextIOBase):
    """A text stream that masks what user code writes, whole lines at a time."""

    def __init__(self, inner: TextIO, gate: Gate) -> None:
        self.inner = inner
        self._gate = gate
        self._pending = ""
        self._held: list[str] = []
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            # Whole lines only, so a secret split over two write() calls is still masked.
            self._pending += text
            if "\n" in self._pending:
                lines, _, self._pending = self._pending.rpartition("\n")
                self._put(lines + "\n")
        return len(text)

    def _put(self, text: str) -> None:
        if self._gate.held or self._held:  # nothing overtakes what is still held
            self._held.append(text)
        else:
            self.inner.write(self._gate.mask_untrusted(text))

    def holding(self) -> bool:
        return bool(self._held)

    def release(self) -> None:
        with self._lock:
            held, self._held = self._held, []
            for text in held:
                self.inner.write(self._gate.mask_untrusted(text))

    def flush(self) -> None:
        with self._lock:
            if self._pending and not self._gate.held:
                pending, self._pending = self._pending, ""
                self._put(pending)
        self.inner.flush()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", "utf-8")

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()


# -- on a Dask worker: the Python streams and logs of the worker, masked ------------------


def masked_stream(inner: TextIO, redactor: Redactor) -> io.TextIOBase:
    """A text stream that masks these secrets in whole lines before passing them on
    (a Dask worker's ``sys.stdout``): the gate's own masked stream, with a fixed set."""
    gate = Gate()
    gate.learn(redactor)
    return _MaskedStream(inner, gate)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in a record's message and traceback."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg, record.args = self.redactor.redact_untrusted(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redactor.redact_untrusted(
                logging.Formatter().formatException(record.exc_info)
            )
        return True


@contextlib.contextmanager
def redacted_logs(
    redactor: Redactor, loggers: Iterable[str] = ("", "distributed", "tornado")
) -> Iterator[None]:
    """Mask secrets in what the handlers of ``loggers`` write, for the block."""
    found = {h for name in loggers for h in logging.getLogger(name).handlers}
    if logging.lastResort is not None:
        found.add(logging.lastResort)
    masking = RedactingFilter(redactor)
    for handler in found:
        handler.addFilter(masking)
    try:
        yield
    finally:
        for handler in found:
            handler.removeFilter(masking)
