"""A reader that has gone away (`envres --help | head -c1`): every command ends as it would have.

The real ``envres`` process writes into a pipe whose read end was closed before it
started, so its first write meets EPIPE whatever the size of its output. Help and
version are printed by the same session as every other command's output, so they
drop what cannot be written and exit as they would have, quietly; they used to exit
70 with "internal error: SystemExit: 1".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_project, run_real


def _into_closed_pipe(*args: str, cwd: Path) -> tuple[int, str]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before envres writes a byte
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENVRES_")}
        proc = subprocess.run(
            [sys.executable, "-m", "envres", *args],
            cwd=cwd,
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    return proc.returncode, proc.stderr


@pytest.mark.parametrize(
    "args",
    [("--help",), ("-h",), ("run", "--help"), ("docs", "-h"), ("--version",), ("profiles",)],
    ids=" ".join,
)
def test_a_closed_stdout_pipe_ends_the_command_quietly_with_its_own_exit_code(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    project = make_project(tmp_path / "proj")
    printed = run_real(*args, cwd=project.root)  # into an open pipe
    assert (printed.code, bool(printed.out)) == (0, True)  # it does print something

    code, err = _into_closed_pipe(*args, cwd=project.root)

    assert (code, err) == (0, ""), err


def test_help_and_version_print_what_click_printed(tmp_path: Path) -> None:
    from importlib.metadata import version

    printed = run_real("--version", cwd=tmp_path)
    assert (printed.code, printed.out) == (0, f"envres, version {version('envres')}\n")
    printed = run_real("run", "--help", cwd=tmp_path)
    assert printed.code == 0
    assert printed.out.startswith("Usage: envres run [OPTIONS] [ASSETS]...\n")
    assert "  -h, --help " in printed.out
