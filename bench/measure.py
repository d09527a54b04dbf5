"""Run one command as a child process; measure its wall time and its own peak RSS.

Peak RSS is the child's ``ru_maxrss`` as returned by ``wait4`` for that one child.
Two traps make the obvious ways wrong, and are why the child is started through
the small launcher bench/spawn.py rather than straight from this process:

- ``getrusage(RUSAGE_CHILDREN)`` is the maximum over *all* children reaped so far,
  so after one Dagster run every later envres run would report Dagster's peak;
- Linux carries the pre-``exec`` memory of a child into its ``ru_maxrss``: a child
  forked (or vforked, as ``subprocess`` does) from this ~40 MiB benchmark process
  reports at least ~40 MiB, whatever it does after ``exec``.

spawn.py runs with ``python -I -S`` (about 8 MiB, less than ``python -c pass``
itself), forks, execs the command, reaps it with ``os.wait4`` and writes the
child's wall time (``perf_counter`` from the fork to the reaping: interpreter
start, imports, the work and exit) and ``ru_maxrss``. Nothing is injected into
the measured process, so it needs no wrapper and pays nothing extra.

A timeout kills the whole process group (the launcher starts a new session).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SPAWN = Path(__file__).resolve().parent / "spawn.py"


@dataclass
class Outcome:
    seconds: float
    maxrss_kib: int
    returncode: int
    timed_out: bool
    output: str  # stdout and stderr together, as the child wrote them
    #: The child's own CPU time (user + system, from ``wait4``): steadier than the wall
    #: time on a shared machine, where neighbours' work lengthens the wall time.
    cpu_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.output.rstrip().splitlines()[-lines:])


def run(
    cmd: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    log: Path,
) -> Outcome:
    """Run ``cmd`` with stdout and stderr to ``log`` (so neither side pays for a terminal)."""
    result = log.with_suffix(".result")
    result.unlink(missing_ok=True)
    killed = threading.Event()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(SPAWN), str(result), *cmd],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):  # it ended as the timer fired
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            code = proc.wait()
        finally:
            timer.cancel()
    output = log.read_text(errors="replace")
    if killed.is_set() and code == -signal.SIGKILL:
        return Outcome(timeout, 0, code, True, output)
    try:
        seconds, rss, child_code, cpu = result.read_text().split()
    except (OSError, ValueError):  # the launcher itself failed
        return Outcome(0.0, 0, code or 1, False, output)
    return Outcome(float(seconds), int(rss), int(child_code), False, output, float(cpu))
