"""On a terminal: the live status line and what the assets print never share a line.

The real ``envres run`` runs on a pseudo-terminal (stdout and stderr both), with
assets that print while others are running; the bytes it writes are replayed
through a minimal terminal (``\\r`` returns to column 0, characters overwrite),
and every line the user would see is checked.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import make_project

PRINTING = """
import time
import envres

@envres.asset
def slow() -> int:
    for i in range(4):
        time.sleep(0.15)
        print(f"PRINTED slow {i}", flush=True)
    return 1

@envres.asset
def chatty() -> int:
    for i in range(6):
        time.sleep(0.1)
        print(f"PRINTED chatty {i} " + "x" * 30)
    return 2

@envres.asset
def last(slow: int, chatty: int) -> int:
    print("PRINTED last")
    return slow + chatty

defs = envres.Definitions(assets=[slow, chatty, last])
"""


def screen(data: str) -> list[str]:
    """The lines a terminal shows for ``data`` (carriage returns overwrite)."""
    lines: list[str] = []
    line: list[str] = []
    col = 0
    for ch in data:
        if ch == "\n":
            lines.append("".join(line).rstrip())
            line, col = [], 0
        elif ch == "\r":
            col = 0
        else:
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
    if line:
        lines.append("".join(line).rstrip())
    return lines


def test_status_line_is_cleared_before_every_line_the_assets_print(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj", {"dev.yaml": "resources: {}\n"}, PRINTING)
    main, child = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVRES_")}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "envres", "run", "--jobs", "2"],
        cwd=project.root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            data = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert proc.wait(timeout=10) == 0
    raw = b"".join(chunks).decode()
    assert "[" in raw and "running" in raw  # a status line was shown at some point
    shown = screen(raw.replace("\r\n", "\n"))
    printed = [line for line in shown if "PRINTED" in line]
    assert sorted(printed) == sorted(
        [f"PRINTED slow {i}" for i in range(4)]
        + [f"PRINTED chatty {i} " + "x" * 30 for i in range(6)]
        + ["PRINTED last"]
    )
    assert not [line for line in shown if "running" in line and "PRINTED" in line]
    assert shown[-1].startswith("3 succeeded in ")


def _complete(
    cwd: Path, words: str, instruction: str = "bash_complete"
) -> subprocess.CompletedProcess[str]:
    """What bash gets back from envres when the user presses Tab after ``words``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENVRES_", "_ENVRES"))}
    env |= {
        "_ENVRES_COMPLETE": instruction,
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    cmd = [sys.executable, "-m", "envres"]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_shell_completion_answers_on_stdout_and_exits_0_without_a_word_on_stderr(
    tmp_path: Path,
) -> None:
    project = make_project(
        tmp_path / "proj",
        {"dev.yaml": "resources: {}\n", "prod.yaml": "resources: {}\n", "_shared.yaml": "{}\n"},
        definitions=None,
    )
    script = _complete(project.root, "", "bash_source")
    assert (script.returncode, script.stderr) == (0, "")
    assert "_envres_completion()" in script.stdout
    commands = _complete(project.root, "envres sh")
    assert (commands.returncode, commands.stdout, commands.stderr) == (0, "plain,show\n", "")
    # Profile names, the partial one left out, for --profile and for diff's arguments.
    profiles = _complete(project.root, "envres show --profile ")
    assert (profiles.returncode, profiles.stdout, profiles.stderr) == (
        0,
        "plain,dev\nplain,prod\n",
        "",
    )
    second = _complete(project.root, "envres diff dev p")
    assert (second.returncode, second.stdout, second.stderr) == (0, "plain,prod\n", "")


def test_shell_completion_in_a_broken_project_offers_nothing_and_stays_quiet(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path / "proj", {"dev.yaml": "resources: {}\n"}, definitions=None)
    project.write("pyproject.toml", "[tool.envres]\nprofiles_dir = 3\n")
    result = _complete(project.root, "envres show --profile ")
    # click's empty answer is one empty line: no candidates.
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "", "")
