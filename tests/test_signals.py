"""Signals and processes (README "Lifecycle and signals"), against real `envres` processes.

- `envres check` stops on SIGINT, SIGTERM and SIGHUP like `run`: what was set up is
  torn down in reverse, exactly once, then 130 / 143 / 129; `check --timeout` bounds
  each setup and check() and each teardown alike.
- `run` treats SIGHUP like SIGTERM (129), teardown first.
- A child forked by an asset (os.fork, multiprocessing with fork) runs none of envres's
  handlers: SIGTERM ends it as it would end any process, its parent's resources stay
  up and are torn down once, by the parent.
- After the first signal, a later one that finds the shutdown stuck (a teardown that
  swallows every interrupt, a thread the exit waits for) ends the process at once,
  naming what was not torn down; the first signal still decides the exit code.

Resources append "setup K" / "check K" / "teardown K" to $SIG_LOG; a test signals the
child once the log shows it where the signal must land, never after a fixed sleep.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from envres._signals import BURST_SECONDS
from tests.conftest import EnvresProcesses, Project, make_project

DEFINITIONS = """
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import envres


def log(line: str) -> None:
    with open(os.environ["SIG_LOG"], "a", encoding="utf-8") as fh:
        fh.write(line + "\\n")


def listed(var: str, name: str) -> bool:
    return name in os.environ.get(var, "").split(",")


def pause(var: str, name: str) -> None:
    if listed(var, name):
        log(f"pause {var} {name}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.01)  # short naps: a signal lands at once


def stuck(name: str) -> None:
    # Swallows every interrupt and never returns: only ending the process stops it.
    log(f"stuck {name}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            time.sleep(0.01)
        except BaseException as exc:
            log(f"swallowed {type(exc).__name__} in {name}")


class Node(envres.Resource):
    name: str
    needs: list[Any] = []

    def lifespan(self) -> Iterator[None]:
        pause("PAUSE_SETUP", self.name)
        log(f"setup {self.name}")
        yield
        log(f"teardown {self.name}")
        pause("PAUSE_TEARDOWN", self.name)
        if listed("STUCK_TEARDOWN", self.name):
            stuck(self.name)

    def check(self) -> str:
        log(f"check {self.name}")
        pause("PAUSE_CHECK", self.name)
        return f"{self.name} answers"


def beat_forever() -> None:
    n = 0
    while True:
        n += 1
        log(f"beat {n}")
        time.sleep(0.05)


def child_loop() -> None:
    log(f"child {os.getpid()} alive")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.01)
    log(f"child {os.getpid()} left its loop")


def wait_for_line(prefix: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with open(os.environ["SIG_LOG"], encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(prefix):
                    return line.strip()
        time.sleep(0.01)
    raise TimeoutError(prefix)


@envres.asset
def extract(top: Node) -> str:
    log("asset extract")
    if os.environ.get("NON_DAEMON_THREAD"):
        threading.Thread(target=beat_forever, daemon=False).start()
    pause("PAUSE_ASSET", "extract")
    how = os.environ.get("FORK", "")
    if how == "os.fork":
        pid = os.fork()
        if pid == 0:
            try:
                child_loop()
            finally:
                os._exit(0)
        wait_for_line(f"child {pid} alive")
        os.kill(pid, signal.SIGTERM)
        _, status = os.waitpid(pid, 0)
        log(f"child ended {os.waitstatus_to_exitcode(status)}")
    elif how == "multiprocessing":
        proc = multiprocessing.get_context("fork").Process(target=child_loop)
        proc.start()
        wait_for_line(f"child {proc.pid} alive")
        proc.terminate()
        proc.join(20)
        log(f"child ended {proc.exitcode}")
    return top.name


@envres.asset
def report(extract: str, pair: Node) -> str:
    log("asset report")
    return extract + pair.name


defs = envres.Definitions(assets=[extract, report], resource_types={"node": Node})
"""

PROFILE = """\
resources:
  base: {type: node, config: {name: base}}
  mid: {type: node, config: {name: mid, needs: [{resource: base}]}}
  top: {type: node, config: {name: top, needs: [{resource: mid}]}}
  pair: {type: node, config: {name: pair, needs: [{resource: base}]}}
"""
TORN_DOWN = "; every resource that was set up has been torn down"
SIGNALS = [
    pytest.param("SIGINT", 130, "interrupted", id="SIGINT"),
    pytest.param("SIGTERM", 143, "terminated", id="SIGTERM"),
    pytest.param("SIGHUP", 129, "hung up", id="SIGHUP"),
]


class Processes(EnvresProcesses):
    """Real `envres` processes, with a wait on any condition of their log."""

    def wait_until(
        self, proc: subprocess.Popen[str], pred: Callable[[list[str]], bool], what: str
    ) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if pred(self.log()):
                return
            if proc.poll() is not None:
                out, err = proc.communicate(timeout=5)
                pytest.fail(f"exited with {proc.returncode} before {what}:\n{out}\n{err}")
            time.sleep(0.01)
        proc.kill()
        pytest.fail(f"no {what} in the log within 20 s: {self.log()}")


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    return make_project(
        tmp_path / "proj", {"dev.yaml": PROFILE}, DEFINITIONS, module="sig_pipeline"
    )


@pytest.fixture
def procs(proj: Project, tmp_path: Path) -> Iterator[Processes]:
    p = Processes(proj.root, tmp_path / "sig.log", "SIG_LOG")
    yield p
    p.close()


def torn_down_once_in_reverse(lines: list[str]) -> list[str]:
    """The teardowns, after checking each setup was torn down once, in reverse order."""
    setups = [x.split()[1] for x in lines if x.startswith("setup ")]
    downs = [x.split()[1] for x in lines if x.startswith("teardown ")]
    assert downs == list(reversed(setups)), lines
    return downs


# -- envres check and signals ------------------------------------------------------------


@pytest.mark.parametrize(("signame", "code", "how"), SIGNALS)
def test_a_signal_during_check_tears_down_what_was_set_up_in_reverse_then_exits(
    procs: Processes, signame: str, code: int, how: str
) -> None:
    # top's check() hangs (base, mid, top are set up): the signal lands there.
    proc = procs.command("check", PAUSE_CHECK="top")
    procs.wait_for(proc, "pause PAUSE_CHECK top")

    proc.send_signal(getattr(signal, signame))
    result = procs.finish(proc)

    assert "Traceback" not in result.out + result.err, result.err
    assert (result.code, result.err_lines) == (code, [how + TORN_DOWN])
    assert torn_down_once_in_reverse(procs.log()) == ["top", "mid", "base"]


@pytest.mark.parametrize(("signame", "code", "how"), SIGNALS)
def test_a_signal_during_a_checks_setup_waits_for_it_then_tears_down_in_reverse(
    procs: Processes, signame: str, code: int, how: str
) -> None:
    proc = procs.command("check", "pair", PAUSE_SETUP="pair")
    procs.wait_for(proc, "pause PAUSE_SETUP pair")

    proc.send_signal(getattr(signal, signame))
    result = procs.finish(proc)

    assert "Traceback" not in result.out + result.err, result.err
    assert result.code == code, result.err
    assert result.err_lines[0] == how + TORN_DOWN
    # pair's setup was still running (it is set up in a thread): waited for, briefly;
    # base, which it needs, stays up until it ends and is torn down as the process exits.
    assert "pair" not in [x.split()[1] for x in procs.log() if x.startswith("setup ")]
    assert [x for x in procs.log() if x.startswith(("setup", "teardown"))] == [
        "setup base",
        "teardown base",
    ]


def test_check_timeout_bounds_each_setup_check_and_teardown_and_the_rest_still_runs(
    procs: Processes,
) -> None:
    # mid's check() hangs, then its teardown; pair's setup hangs. Each is given up after
    # --timeout, the others are checked, and everything set up is torn down once: top and
    # mid at once, base (which the hung setup of pair needs) as the process exits.
    proc = procs.command(
        "check", "--timeout", "0.5", PAUSE_CHECK="mid", PAUSE_TEARDOWN="mid", PAUSE_SETUP="pair"
    )
    result = procs.finish(proc, timeout=30)

    assert "Traceback" not in result.out + result.err, result.err
    assert result.code == 3, result.err
    rows = {line.split()[0]: line for line in result.out.splitlines()[1:]}
    assert [rows[k].split()[2] for k in ("base", "mid", "top", "pair")] == [
        "ok",
        "FAILED",
        "ok",
        "FAILED",
    ]
    assert rows["mid"].endswith("  timed out after 0.5 s; teardown timed out after 0.5 s")
    assert rows["pair"].endswith("  timed out after 0.5 s")
    assert result.err_lines == ["check failed: 2 of 4 resources failed their check: mid, pair"]
    assert torn_down_once_in_reverse(procs.log()) == ["top", "mid", "base"]


# -- envres run: SIGHUP -------------------------------------------------------------------


def test_sighup_during_a_run_tears_down_in_reverse_then_exits_129(procs: Processes) -> None:
    proc = procs.start(PAUSE_ASSET="extract")
    procs.wait_for(proc, "pause PAUSE_ASSET extract")

    proc.send_signal(signal.SIGHUP)
    result = procs.finish(proc)

    assert "Traceback" not in result.out + result.err, result.err
    assert (result.code, result.err_lines) == (129, ["hung up" + TORN_DOWN])
    assert torn_down_once_in_reverse(procs.log()) == ["top", "mid", "base"]
    assert "  down    base" in result.out


# -- children forked by user code ------------------------------------------------------------


@pytest.mark.parametrize("fork", ["os.fork", "multiprocessing"])
def test_sigterm_to_a_child_forked_by_an_asset_ends_the_child_not_the_parents_resources(
    procs: Processes, fork: str
) -> None:
    proc = procs.start(FORK=fork)
    result = procs.finish(proc)

    lines = procs.log()
    assert result.code == 0, result.err
    assert "Traceback" not in result.out + result.err, result.err
    assert result.err == ""
    # The child died of the signal (the default disposition), in its loop.
    assert f"child ended {-signal.SIGTERM}" in lines, lines
    assert not [x for x in lines if "left its loop" in x]
    # Every teardown ran once, in the parent, after both assets.
    assert lines.index("asset report") < lines.index("teardown pair")
    assert torn_down_once_in_reverse(lines) == ["pair", "top", "mid", "base"]


# -- a later signal when the shutdown is stuck -----------------------------------------------


def at_least_after(since: float, seconds: float) -> None:
    """Return once ``seconds`` have passed since ``since`` (polled, no fixed sleep)."""
    while time.monotonic() < since + seconds:
        time.sleep(0.01)


@pytest.mark.parametrize("second", ["SIGINT", "SIGTERM"])
def test_a_second_signal_ends_a_stuck_teardown_naming_what_was_not_torn_down(
    procs: Processes, second: str
) -> None:
    # Ctrl-C during the asset; mid's teardown then swallows every interrupt, including
    # the one envres sends it after its patience: only a second signal ends the process.
    proc = procs.start(PAUSE_ASSET="extract", STUCK_TEARDOWN="mid")
    procs.wait_for(proc, "pause PAUSE_ASSET extract")
    proc.send_signal(signal.SIGINT)
    procs.wait_until(proc, lambda lines: any(x.startswith("swallowed") for x in lines), "swallow")

    proc.send_signal(getattr(signal, second))
    result = procs.finish(proc)

    assert "Traceback" not in result.out + result.err, result.err
    assert result.code == 130, result.err  # the first signal (SIGINT) decides
    assert result.err_lines[-1] == (
        "stopped again: gave up on the teardown; not torn down: mid, base"
    ), result.err
    downs = [x.split()[1] for x in procs.log() if x.startswith("teardown ")]
    assert downs == ["top", "mid"]  # top's done; mid's began and never ended; base not


def test_a_second_signal_ends_an_exit_waiting_for_a_thread_that_never_ends(
    procs: Processes,
) -> None:
    # The asset leaves a non-daemon thread running: after SIGTERM the run tears down and
    # reports, then Python's exit waits for that thread forever.
    proc = procs.start(PAUSE_ASSET="extract", NON_DAEMON_THREAD="1")
    procs.wait_for(proc, "pause PAUSE_ASSET extract")
    proc.send_signal(signal.SIGTERM)
    first = time.monotonic()
    procs.wait_until(
        proc,
        lambda lines: "teardown base" in lines and lines[-1].startswith("beat "),
        "teardown base, then the thread still beating",
    )
    at_least_after(first, BURST_SECONDS)  # a later signal, not part of the first's burst

    proc.send_signal(signal.SIGTERM)
    result = procs.finish(proc)

    assert "Traceback" not in result.out + result.err, result.err
    assert (result.code, result.err_lines) == (143, ["terminated" + TORN_DOWN])
    assert torn_down_once_in_reverse(procs.log()) == ["top", "mid", "base"]
