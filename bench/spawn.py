"""A small launcher: fork, exec CMD, reap it, write its wall time, peak RSS and CPU time.

    python -I -S bench/spawn.py RESULT_FILE CMD [ARG ...]

Writes ``<seconds> <ru_maxrss KiB> <exit code> <CPU seconds>`` to RESULT_FILE and exits with the
child's exit code. Used by bench/measure.py; see there for why a launcher is needed.
Kept to builtin and frozen modules (``-I -S``: no site, no user paths) so that this
process stays at about 8 MiB, below any Python child's own peak.
"""

import os
import sys
import time


def main() -> int:
    result, cmd = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    with open(result, "w") as f:
        f.write(f"{seconds!r} {usage.ru_maxrss} {code} {usage.ru_utime + usage.ru_stime!r}\n")
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
