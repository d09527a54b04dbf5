"""The ``envres`` command line: the one place where errors become exit codes.

Exit codes: 0 success; 1 invalid profile or definitions, or no such profile;
2 command-line usage; 3 a run failed; 130 Ctrl-C; 143 SIGTERM; 129 SIGHUP; 70 a
bug in envres. Errors go to stderr, results to stdout; no traceback unless ``--debug``,
and never a secret (every line goes through the session's redactor).
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn

from envres._errors import EnvresError, ProfileError, RunError, Terminated, UsageError

if TYPE_CHECKING:
    from envres._cli._session import Session

__all__ = [
    "EXIT_HANGUP",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_RUN_FAILED",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "invoke",
    "main",
]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_RUN_FAILED = 3
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_HANGUP = 129


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point of the ``envres`` command and ``python -m envres``.

    The cyclic garbage collector is paused from here until the profile is loaded
    (``Context.load`` freezes what was built and turns it back on): a command builds
    tens of thousands of objects that live until it exits, and scanning them again
    and again costs a quarter of a large validation. Only the command's own process
    does this; ``invoke`` and the library leave the collector alone.
    """
    gc.disable()
    code = invoke(argv, process=True)
    try:
        sys.stdout.flush()
    except OSError:
        # The reader went away (`envres run | head`): say nothing more at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(code)


def invoke(argv: list[str] | None, *, process: bool = False) -> int:
    """Run one command and return its exit code; every error is reported here, once.

    ``process``: the process ends with this command (``main``), so once a signal has
    stopped a run, later ones are only counted rather than killing it, and one that
    finds the shutdown stuck ends the process (see :func:`envres._signals.stop_once`).

    SIGINT, SIGTERM and SIGHUP raise in the command (in the main thread), so every
    command, ``run`` and ``check`` included, tears down what it set up before exiting
    with 130, 143 or 129.
    """
    # Imported here, not at the top: `main` pauses the collector before these load.
    from envres._cli._session import Session
    from envres._gate import GateError
    from envres._secrets import Redactor, environment_secrets

    session = Session()
    session.process = process
    # Secrets the environment names as such are masked from the start: the project's
    # code may print one while it is imported, before the profile says more.
    session.learn(Redactor(environment_secrets(os.environ)))
    # Everything shown from here on passes the gate: envres's own lines, and whatever
    # user code, its logging and its subprocesses write while the command runs.
    try:
        with session.gate.installed(process=process):
            try:
                return _invoke(session, argv)
            finally:
                # With --format json, the one document, whatever the command ended with.
                session.finish()
    except GateError as exc:
        # Nothing ran, and nothing will run unguarded: the one line says why.
        if sys.__stderr__ is not None:
            print(f"envres: {exc}", file=sys.__stderr__)
        return EXIT_INVALID


def _invoke(session: Session, argv: list[str] | None) -> int:
    """Run the command; map what it raised to an exit code."""
    import click

    from envres._cli._app import cli, complete_shell

    try:
        with _signals_raise(session, session.process):
            completed = complete_shell(session)
            if completed is not None:
                return completed
            cli.main(args=argv, prog_name="envres", standalone_mode=False, obj=session)
    except click.exceptions.NoArgsIsHelpError as exc:
        session.out(exc.ctx.get_help() if exc.ctx else str(exc))
        return EXIT_USAGE
    except click.UsageError as exc:
        exc.show(file=session.stderr)
        return EXIT_USAGE
    except click.exceptions.Abort as exc:
        # click turns KeyboardInterrupt into Abort; teardown ran in `run` already.
        _stopped(session, exc.__context__ or exc, "interrupted")
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show(file=session.stderr)
        return exc.exit_code
    except BaseException as exc:  # an envres error, a signal, or a bug: each has its code
        return _failed(session, exc)
    return EXIT_OK


def _failed(session: Session, exc: BaseException) -> int:
    """The exit code of a command that raised ``exc``, once the reason is shown."""
    from envres._cli._app import AlreadyReported, ChecksFailed, Differs

    if isinstance(exc, Differs):
        return EXIT_INVALID
    if isinstance(exc, AlreadyReported):
        session.err(str(exc))
        return EXIT_INVALID
    if isinstance(exc, ProfileError):
        _debug(session, exc)
        session.report_error(exc)
        return EXIT_INVALID
    if isinstance(exc, UsageError):
        _debug(session, exc)
        session.err(f"envres: {exc}")
        return EXIT_USAGE
    if isinstance(exc, ChecksFailed):
        _debug(session, exc)
        session.err(f"check failed: {exc.message}")
        if exc.traced and not session.debug:
            session.err(DEBUG_HINT)
        return EXIT_RUN_FAILED
    if isinstance(exc, RunError):
        _debug(session, exc)
        _failures(session, exc)
        return EXIT_RUN_FAILED
    if isinstance(exc, EnvresError):
        _debug(session, exc)
        session.err(f"envres: {exc}")
        return EXIT_INVALID
    if isinstance(exc, KeyboardInterrupt):
        _stopped(session, exc, "interrupted")
        return EXIT_INTERRUPTED
    if isinstance(exc, Terminated):
        hung_up = exc.signum == signal.SIGHUP
        _stopped(session, exc, "hung up" if hung_up else "terminated")
        return EXIT_HANGUP if hung_up else EXIT_TERMINATED
    # A bug of envres's own (SystemExit included).
    _debug(session, exc)
    session.err(
        f"envres: internal error: {session.redactor.describe(exc)} "
        "(run with --debug for a traceback, and please report it)"
    )
    return EXIT_INTERNAL


def _exit_code(signum: int) -> int:
    """The exit code a run stopped by ``signum`` ends with."""
    if signum == signal.SIGINT:
        return EXIT_INTERRUPTED
    return EXIT_HANGUP if signum == signal.SIGHUP else EXIT_TERMINATED


@contextlib.contextmanager
def _signals_raise(session: Session, process: bool) -> Iterator[None]:
    """SIGINT/SIGTERM/SIGHUP stop the command once (main thread only; elsewhere as is)."""
    from envres._signals import stop_once

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def give_up(signum: int) -> int:
        # Called from the signal watcher's thread: the main thread is stuck. Imported
        # only now: `envres --help` need not load the lifecycle.
        from envres._scope import still_up

        left = ", ".join(reversed(still_up()))  # in the order they would be torn down
        if left:
            session.err(f"stopped again: gave up on the teardown; not torn down: {left}")
        session.gate.shutdown()  # the process ends with os._exit: show what is left now
        return _exit_code(signum)

    with stop_once(final=process, give_up=give_up):
        yield


def _stopped(session: Session, exc: BaseException, how: str) -> None:
    """Say that the run stopped, and anything the teardown had to wait for or leave."""
    session.err(f"{how}; every resource that was set up has been torn down")
    for note in getattr(exc, "__notes__", ()):
        session.err(f"  {note}")


#: Said once at the end of a command whose failures came from the user's code.
DEBUG_HINT = "(run with --debug for the traceback)"


def _failures(session: Session, exc: RunError) -> None:
    """Each failure with the rest of its message indented under it, then, once, the hint.

    A failure that came from the user's own code names its line (``pipeline.py:38``);
    ``--debug`` shows the traceback, and the hint says so unless it was given.
    """
    for prefix, failure in [("run failed", exc)] + [("also", e) for e in exc.failures[1:]]:
        first, *rest = failure.lines()
        session.err(f"{prefix}: {first}")
        for line in rest:
            session.err(line)
    traced = any(f.reason is not None and f.reason.where for f in (exc, *exc.failures))
    if traced and not session.debug:
        session.err(DEBUG_HINT)


def _debug(session: Session, exc: BaseException) -> None:
    if session.debug:
        # A traceback quotes user code's messages and pydantic's shortened inputs: any
        # part of a secret in it is masked, not only the whole.
        text = "".join(traceback.format_exception(exc)).rstrip()
        session.err(session.redactor.redact_untrusted(text))
