"""Teardown under fire: bursts of signals, broken pipes, hostile user code and callbacks.

What is attacked (§7): every resource that was set up is torn down EXACTLY ONCE, in
the reverse order of setup (along every dependency edge with ``--jobs``), by envres
itself, whatever happens: a burst or a storm of SIGINT/SIGTERM at any point, a
reader that goes away (``envres run | head -3``), user code raising SystemExit,
KeyboardInterrupt, GeneratorExit or its own BaseException in a setup, an asset or a
teardown, an exception whose ``__str__`` raises, event callbacks that raise, a hung
teardown, a setup that completes after the run stopped. Exit codes: 0, 3, and 130 /
143 decided by the FIRST signal; no traceback.

The ground truth is the log the resources write themselves (``$FIRE_LOG`` in real
processes, ``API_LOG`` in-process):

- ``setup K`` just before the lifespan's ``yield``; ``aborted K`` if something
  (a signal) is raised between the start of that line's write and the ``yield`` (so K
  was never set up; a signal landing during the write leaves ``aborted K`` alone);
- ``teardown K`` when the code after the ``yield`` runs, ``teardown K (finalized)``
  when it runs only because the garbage collector closed a generator envres dropped
  (K was not torn down by envres: no order, no report, no signal protection);
- ``leaked K`` when the generator is closed at its ``yield`` without its teardown;
- ``asset N`` when an asset runs.

:func:`check_lifecycle` is the one invariant checker; with ``reported`` it also
checks that envres reported (progress line or event) each teardown it ran.

Where a signal must land is found by watching the log, never by a fixed sleep; every
wait is bounded and a process still running after its deadline is made to dump the
stacks of its threads (faulthandler) into the failure message.
"""

from __future__ import annotations

import gc
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import envres
from envres._events import Event
from tests.conftest import HINT, EnvresProcesses, Project, Result, make_project, text_line

INTERRUPTED = "interrupted; every resource that was set up has been torn down"
TERMINATED = "terminated; every resource that was set up has been torn down"

# -- the definitions the real processes run --------------------------------------------

DEFINITIONS = """
from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import envres
from envres._resources import Lifespan


def log(line: str) -> None:
    with open(os.environ["FIRE_LOG"], "a", encoding="utf-8") as fh:
        fh.write(line + "\\n")


def table(var: str) -> dict[str, str]:
    out = {}
    for item in os.environ.get(var, "").split(","):
        key, _, value = item.partition("=")
        if key:
            out[key] = value
    return out


def nap(var: str) -> None:
    seconds = float(os.environ.get(var) or 0)
    if seconds:
        time.sleep(seconds)


def pause(var: str, name: str) -> None:
    seconds = table(var).get(name)
    if seconds:
        log(f"pause {var} {name}")
        deadline = time.monotonic() + float(seconds)
        while time.monotonic() < deadline:
            time.sleep(0.01)  # short slices: a signal lands at once


class Boom(BaseException):
    "A BaseException of the user's own."


class BadStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("str() of this error fails too")


class BadStrInterrupt(Exception):
    def __str__(self) -> str:
        raise KeyboardInterrupt


def fault(var: str, name: str) -> None:
    kind = table(var).get(name)
    if kind == "exit":
        raise SystemExit(f"{name} gave up")
    if kind == "boom":
        raise Boom(f"{name} blew up")
    if kind == "interrupt":
        raise KeyboardInterrupt
    if kind == "genexit":
        raise GeneratorExit(f"{name} closed early")
    if kind == "badstr":
        raise BadStr
    if kind == "badstr-interrupt":
        raise BadStrInterrupt


def say(text: str) -> None:
    if os.environ.get("FIRE_PRINT"):
        print(text)


class Node(envres.Resource):
    name: str
    needs: list[Any] = []

    def lifespan(self) -> Iterator[None]:
        nap("SETUP_NAP")
        fault("RAISE_SETUP", self.name)
        try:
            log(f"setup {self.name}")
            arm(self.name)
            yield
        except GeneratorExit:
            log(f"leaked {self.name}")  # closed at its yield: the teardown never ran
            raise
        except BaseException:
            log(f"aborted {self.name}")  # interrupted before it was set up
            raise
        # GeneratorExit being handled here means the garbage collector is closing a
        # generator envres dropped: this teardown is not envres's.
        how = " (finalized)" if isinstance(sys.exc_info()[1], GeneratorExit) else ""
        say(f"closing {self.name}")
        log(f"teardown {self.name}{how}")
        nap("TEARDOWN_NAP")
        pause("PAUSE_TEARDOWN", self.name)
        fault("RAISE_TEARDOWN", self.name)


def step(name: str) -> None:
    gate = os.environ.get("GATE_FILE")
    if gate and name == os.environ.get("GATE_ASSET"):
        deadline = time.monotonic() + 20
        while not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.01)
    log(f"asset {name}")
    say(f"asset {name} says hello")
    pause("PAUSE_ASSET", name)
    fault("RAISE_ASSET", name)


# $WINDOW_KEY: hold the main thread right after that resource's setup has returned
# (envres's Lifespan.__enter__, the CALL of next() whose eval-breaker check is where a
# pending signal is handled) so the test can land a signal exactly there.
_armed: list[str] = []


def arm(name: str) -> None:
    if name == os.environ.get("WINDOW_KEY"):
        _armed.append(name)


def _hold(frame: Any, event: str, arg: Any) -> Any:
    if event == "return" and _armed:
        log(f"window {_armed.pop()}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.01)
    return _hold


def _calls(frame: Any, event: str, arg: Any) -> Any:
    if frame.f_code is Lifespan.__enter__.__code__:
        return _hold
    return None


if os.environ.get("WINDOW_KEY"):
    sys.settrace(_calls)


@envres.asset
def extract(top: Node) -> str:
    step("extract")
    return top.name


@envres.asset
def load(side: Node) -> str:
    step("load")
    return side.name


@envres.asset
def report(extract: str, load: str, pair: Node) -> str:
    step("report")
    return extract + load + pair.name


defs = envres.Definitions(assets=[extract, load, report], resource_types={"node": Node})


@envres.asset
def chain(c149: Node) -> str:
    step("chain")
    return c149.name


@envres.asset
def fan(fans: Node) -> str:
    step("fan")
    return fans.name


@envres.asset
def ind(inds: Node) -> str:
    step("ind")
    return inds.name


@envres.asset
def final(chain: str, fan: str, ind: str) -> str:
    step("final")
    return chain + fan + ind


big_defs = envres.Definitions(assets=[chain, fan, ind, final], resource_types={"node": Node})
"""


def _node(key: str, *needs: str) -> str:
    refs = ", ".join(f"{{resource: {n}}}" for n in needs)
    return f"  {key}: {{type: node, config: {{name: {key}, needs: [{refs}]}}}}\n"


# The small pipeline: extract(top) and load(side), then report(extract, load, pair).
SMALL_NEEDS: dict[str, tuple[str, ...]] = {
    "base": (),
    "mid": ("base",),
    "top": ("mid",),
    "side": (),
    "pair": ("base", "side"),
}
# Written out of order: setup order must come from the references.
SMALL_PROFILE = "resources:\n" + "".join(
    _node(k, *SMALL_NEEDS[k]) for k in ("pair", "top", "side", "mid", "base")
)
SMALL_RUN = [
    "setup base",
    "setup mid",
    "setup top",
    "asset extract",
    "setup side",
    "asset load",
    "setup pair",
    "asset report",
    "teardown pair",
    "teardown side",
    "teardown top",
    "teardown mid",
    "teardown base",
]

# The big pipeline, 300 resources: a chain of 150 (c000 <- ... <- c149), a fan of 100
# references to hub gathered by fans, and 47 independent ones gathered by inds.
# chain(c149), fan(fans) and ind(inds) are independent; final needs all three.
BIG_NEEDS: dict[str, tuple[str, ...]] = {
    "c000": (),
    **{f"c{i:03d}": (f"c{i - 1:03d}",) for i in range(1, 150)},
    "hub": (),
    **{f"f{i:03d}": ("hub",) for i in range(100)},
    "fans": tuple(f"f{i:03d}" for i in range(100)),
    **{f"i{i:03d}": () for i in range(47)},
    "inds": tuple(f"i{i:03d}" for i in range(47)),
}
BIG_PROFILE = "resources:\n" + "".join(_node(k, *v) for k, v in reversed(BIG_NEEDS.items()))
BIG = ("--profile", "big", "--definitions", "fire_pipeline:big_defs")


def test_the_big_profile_has_300_resources() -> None:
    assert len(BIG_NEEDS) == 300


# -- the invariant checker -------------------------------------------------------------


@dataclass
class Trace:
    """A resource log, parsed."""

    lines: list[str]
    setups: list[str] = field(default_factory=list)  # reached their yield, in order
    aborted: list[str] = field(default_factory=list)
    teardowns: list[str] = field(default_factory=list)  # by envres, in order
    finalized: list[str] = field(default_factory=list)  # by the garbage collector
    leaked: list[str] = field(default_factory=list)
    assets: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, lines: list[str]) -> Trace:
        t = cls(lines)
        for line in lines:
            word, _, rest = line.partition(" ")
            if word == "setup":
                t.setups.append(rest.split(" ")[0])
            elif word == "aborted":
                t.aborted.append(rest)
            elif word == "teardown":
                key, _, how = rest.partition(" ")
                (t.finalized if how == "(finalized)" else t.teardowns).append(key)
            elif word == "leaked":
                t.leaked.append(rest)
            elif word == "asset":
                t.assets.append(rest)
        return t

    @property
    def live(self) -> list[str]:
        """What was set up (its lifespan yielded), in setup order."""
        return [k for k in self.setups if k not in self.aborted]

    @property
    def down_order(self) -> list[str]:
        """Every teardown that ran, whoever ran it, in log order."""
        return [line.split(" ")[1] for line in self.lines if line.startswith("teardown ")]


def check_lifecycle(
    lines: list[str],
    needs: dict[str, tuple[str, ...]],
    *,
    exact_reverse: bool = True,
    reported: Sequence[str] | None = None,
    late_setups: bool = False,
) -> Trace:
    """Fail with every violation found (and the log) unless the log shows that:

    - each resource was set up at most once, after what it needs;
    - each one set up was torn down exactly once, by envres (not finalized by the
      garbage collector, not leaked), and nothing else was torn down;
    - teardown is the exact reverse of setup (``exact_reverse``: one job) and, in
      any case, each resource is torn down before what it needs;
    - no asset ran twice; no setup came after the first teardown (unless
      ``late_setups``: a setup that completed after the run stopped);
    - with ``reported`` (the keys of the teardown progress lines or events), envres
      reported each teardown it ran, once.
    """
    t = Trace.parse(lines)
    problems: list[str] = []
    for key, n in Counter(t.setups).items():
        if n > 1:
            problems.append(f"{key}: set up {n} times")
    for key in t.aborted:
        # A signal can land while the resource is still writing its own setup line:
        # it then logs only ``aborted`` (never set up), which is fine unless something
        # tore it down all the same.
        if key not in t.setups and key in t.down_order:
            problems.append(f"{key}: aborted without a setup line, yet torn down")
    for key in t.leaked:
        problems.append(f"{key}: its lifespan was closed at its yield: never torn down")
    for key in t.finalized:
        problems.append(
            f"{key}: torn down only when the garbage collector closed the generator envres "
            "dropped (not by envres: out of order, unreported)"
        )
    live = t.live
    down = Counter(t.down_order)
    for key in live:
        if down[key] == 0:
            problems.append(f"{key}: set up, never torn down")
        elif down[key] > 1:
            problems.append(f"{key}: torn down {down[key]} times")
    for key in down:
        if key not in live:
            problems.append(f"{key}: torn down but never set up")
    order = t.down_order
    if exact_reverse and order != list(reversed(live)):
        problems.append(
            f"teardown order is not the reverse of setup order: first difference at "
            f"{_first_difference(order, list(reversed(live)))}"
        )
    for key in live:
        for dep in needs.get(key, ()):
            if dep not in live or live.index(dep) > live.index(key):
                problems.append(f"{key} was set up before {dep}, which it needs")
            elif key in order and dep in order and order.index(key) > order.index(dep):
                problems.append(f"{key} was torn down after {dep}, which it needs")
    for name, n in Counter(t.assets).items():
        if n > 1:
            problems.append(f"asset {name} ran {n} times")
    if not late_setups and order:
        first = lines.index(next(x for x in lines if x.startswith("teardown ")))
        late = [x for x in lines[first:] if x.startswith("setup ")]
        if late:
            problems.append(f"set up after the first teardown: {late}")
    if reported is not None and Counter(reported) != Counter(t.teardowns):
        missing = sorted((Counter(t.teardowns) - Counter(reported)).elements())
        extra = sorted((Counter(reported) - Counter(t.teardowns)).elements())
        problems.append(
            f"teardowns not reported by envres: {missing}; reported but not in the log: {extra}"
        )
    if problems:
        shown = lines if len(lines) <= 60 else ["...", *lines[-45:]]
        pytest.fail(
            "lifecycle violated:\n  " + "\n  ".join(problems) + "\nlog:\n  " + "\n  ".join(shown)
        )
    return t


def _first_difference(got: list[str], want: list[str]) -> str:
    for i, (a, b) in enumerate(zip(got, want, strict=False)):
        if a != b:
            return f"position {i}: got {got[i : i + 4]}, expected {want[i : i + 4]}"
    return f"lengths {len(got)} and {len(want)}"


PROGRESS_TEARDOWN = re.compile(r"^  (?:down    |FAILED  teardown of )(\S+)", re.MULTILINE)


def reported_teardowns(out: str) -> list[str]:
    """The resources whose teardown the progress output reports (done or failed)."""
    return PROGRESS_TEARDOWN.findall(out)


def test_the_checker_catches_what_it_is_for() -> None:
    needs = {"a": (), "b": ("a",)}
    check_lifecycle(["setup a", "setup b", "teardown b", "teardown a"], needs)
    check_lifecycle(["setup a", "setup b", "aborted b", "teardown a"], needs)
    check_lifecycle(["setup a", "aborted b", "teardown a"], needs)  # hit mid-line
    bad = [
        ["setup a", "aborted b", "teardown b", "teardown a"],
        ["setup a", "setup b", "teardown a", "teardown b"],
        ["setup a", "setup b", "teardown b"],
        ["setup a", "setup b", "teardown b", "teardown a", "teardown a"],
        ["setup a", "setup b", "teardown a", "teardown b (finalized)"],
        ["setup a", "setup b", "leaked b", "teardown a"],
        ["setup a", "asset x", "asset x", "teardown a"],
        ["setup a", "teardown a", "setup b", "teardown b"],
    ]
    for lines in bad:
        with pytest.raises(pytest.fail.Exception):
            check_lifecycle(lines, needs, exact_reverse=False)
    with pytest.raises(pytest.fail.Exception, match="not reported"):
        check_lifecycle(["setup a", "teardown a"], needs, reported=[])


# -- real processes ----------------------------------------------------------------------


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    return make_project(
        tmp_path / "proj",
        profiles={"dev.yaml": SMALL_PROFILE, "big.yaml": BIG_PROFILE},
        definitions=DEFINITIONS,
        module="fire_pipeline",
    )


class Fire(EnvresProcesses):
    """``EnvresProcesses`` that wait on any condition and explain a process that hangs."""

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        # faulthandler: SIGABRT makes a hung child print the stack of every thread.
        return super().start(*args, PYTHONFAULTHANDLER="1", **env)

    def wait_until(
        self, proc: subprocess.Popen[str], what: str, pred: Callable[[str], bool]
    ) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if any(pred(line) for line in self.log()):
                return
            if proc.poll() is not None:
                out, err = proc.communicate(timeout=5)
                pytest.fail(f"exited with {proc.returncode} before {what}:\n{out}\n{err}")
            time.sleep(0.005)
        proc.kill()
        pytest.fail(f"no {what} in the log within 20 s: {self.log()[-10:]}")

    def first(self, proc: subprocess.Popen[str], prefix: str) -> None:
        self.wait_until(proc, f"line starting {prefix!r}", lambda line: line.startswith(prefix))

    def finish(
        self, proc: subprocess.Popen[str], timeout: float = 20, stall: float | None = None
    ) -> Result:
        """Wait for the exit; fail if it takes ``timeout`` s, or if the log does not grow
        for ``stall`` s (the run is stuck), with the stacks of the hung child."""
        deadline = time.monotonic() + timeout
        size, since = self._size(), time.monotonic()
        while True:
            try:
                out, err = proc.communicate(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
            else:
                return Result(proc.returncode, out, err)
            now = time.monotonic()
            if self._size() != size:
                size, since = self._size(), now
            if now > deadline:
                why = f"still running {timeout:g} s later"
                break
            if stall is not None and now - since > stall:
                why = f"no progress for {stall:g} s"
                break
        proc.send_signal(signal.SIGABRT)
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate(timeout=5)
        dump = _collapse(err.splitlines())
        pytest.fail(
            f"hung: {why}. Last log lines: {self.log()[-4:]}\n"
            "its threads (faulthandler, most recent call first):\n  "
            + "\n  ".join(dump[:30])
            + ("\n  ..." if len(dump) > 30 else "")
        )

    def _size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0


def _collapse(lines: list[str]) -> list[str]:
    """Runs of one line as one line and a count (a stack of nested signal handlers)."""
    runs: list[list[Any]] = []
    for line in lines:
        if runs and runs[-1][0] == line:
            runs[-1][1] += 1
        else:
            runs.append([line, 1])
    return [line if n == 1 else f"{line}   [x{n}]" for line, n in runs]


@pytest.fixture
def fire(proj: Project, tmp_path: Path) -> Iterator[Fire]:
    f = Fire(proj.root, tmp_path / "fire.log", "FIRE_LOG")
    yield f
    f.close()


def send(proc: subprocess.Popen[str], signals: Sequence[int], *, gap: float) -> None:
    """Send ``signals`` ``gap`` seconds apart (busy-waiting: sub-millisecond gaps)."""
    for signum in signals:
        if proc.poll() is not None:
            return
        proc.send_signal(signum)
        until = time.perf_counter() + gap
        while time.perf_counter() < until:
            pass


BURSTS: dict[str, list[int]] = {
    "SIGTERM": [signal.SIGTERM] * 30,
    "SIGINT": [signal.SIGINT] * 30,
    "mix": [signal.SIGINT, *([signal.SIGTERM, signal.SIGINT] * 15)],
    "mix-term-first": [signal.SIGTERM, *([signal.SIGINT, signal.SIGTERM] * 15)],
}


def burst(fire: Fire, proc: subprocess.Popen[str], kind: str) -> None:
    """A burst of 30 signals within ~3 ms. Pending signals are handled by number (SIGINT
    before SIGTERM), not by arrival: a SIGTERM-first mix sends its first alone and the
    rest once the child has handled it (its run stopped: the first teardown is logged),
    so that "the first" is the first Python sees, however loaded the machine."""
    signals = BURSTS[kind]
    if signals[0] == signal.SIGTERM and signal.SIGINT in signals:
        send(proc, signals[:1], gap=0)
        fire.first(proc, "teardown ")
        signals = signals[1:]
    send(proc, signals, gap=0.0001)


def expected_exit(kind: str) -> tuple[int, str]:
    return (143, TERMINATED) if BURSTS[kind][0] == signal.SIGTERM else (130, INTERRUPTED)


def unexpected_notes(notes: list[str], jobs: str) -> list[str]:
    """The notes that should not be there: with one job none (no teardown here may
    fail); with more, only those naming what was still running."""
    allowed = ("  still running when the resources were torn down: ", "  the setup of ")
    return [n for n in notes if jobs == "1" or not n.startswith(allowed)]


# -- 1. bursts of signals ----------------------------------------------------------------

# Where the burst lands: in the middle of the setups (found by the log; they go on
# while the burst is sent), while an asset runs, and as the (quick, 1 ms) teardowns of a
# successful run begin.
POINTS: dict[str, tuple[dict[str, str], str]] = {
    "setups": ({"SETUP_NAP": "0.001", "TEARDOWN_NAP": "0.001"}, "setup c100"),
    "asset": ({"PAUSE_ASSET": "fan=30", "TEARDOWN_NAP": "0.001"}, "pause PAUSE_ASSET fan"),
    "teardown": ({"TEARDOWN_NAP": "0.001"}, "teardown "),
}


@pytest.mark.parametrize(
    ("point", "kind", "jobs"),
    [
        ("setups", "SIGTERM", "1"),
        ("setups", "SIGINT", "1"),
        ("asset", "mix-term-first", "1"),
        ("teardown", "SIGTERM", "1"),
        ("teardown", "SIGINT", "1"),
        ("teardown", "mix", "1"),
        ("setups", "mix", "4"),
        ("asset", "SIGINT", "4"),
    ],
)
def test_burst_of_30_signals_tears_down_all_300_once_in_reverse_and_the_first_decides(
    fire: Fire, point: str, kind: str, jobs: str
) -> None:
    env, marker = POINTS[point]
    proc = fire.start(*BIG, "--jobs", jobs, **env)
    fire.first(proc, marker)

    burst(fire, proc, kind)
    # With 4 jobs a run may rightly stand still 2 s, waiting for the assets still running;
    # the deadlines are generous, only there to report a hung run with its stacks.
    result = fire.finish(proc, timeout=60, stall=15)

    code, message = expected_exit(kind)
    assert "Traceback" not in result.out + result.err, result.err
    assert (result.code, result.err_lines[:1]) == (code, [message]), result.err
    assert unexpected_notes(result.err_lines[1:], jobs) == []
    t = check_lifecycle(
        fire.log(),
        BIG_NEEDS,
        exact_reverse=jobs == "1",
        reported=reported_teardowns(result.out),
    )
    if point == "teardown":
        assert len(t.teardowns) == 300


@pytest.mark.parametrize("first", ["SIGINT", "SIGTERM"])
def test_storm_of_signals_until_the_process_exits_still_lets_the_first_decide(
    fire: Fire, first: str
) -> None:
    # A signal every millisecond, alternating, from the asset until the process is gone:
    # the end of the run, its message and its exit lie inside the burst.
    proc = fire.start(*BIG, PAUSE_ASSET="fan=30", TEARDOWN_NAP="0.001")
    fire.first(proc, "pause PAUSE_ASSET fan")
    one = signal.SIGINT if first == "SIGINT" else signal.SIGTERM
    other = signal.SIGTERM if first == "SIGINT" else signal.SIGINT
    send(proc, [one], gap=0)
    fire.first(proc, "teardown ")  # the first signal was handled: the run stopped
    deadline = time.monotonic() + 2  # the storm's length, at most: 300 quick teardowns
    n = 0
    while proc.poll() is None and time.monotonic() < deadline:
        send(proc, [(other, one)[n % 2]], gap=0.001)
        n += 1
    result = fire.finish(proc, timeout=60, stall=15)

    code, message = (130, INTERRUPTED) if first == "SIGINT" else (143, TERMINATED)
    assert "Traceback" not in result.out + result.err, result.err
    assert (result.code, result.err_lines) == (code, [message]), (
        f"after {n} more signals: exit {result.code}, stderr:\n{result.err}"
    )
    check_lifecycle(fire.log(), BIG_NEEDS, reported=reported_teardowns(result.out))


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_signal_right_as_a_setup_returns_still_tears_that_resource_down_before_its_deps(
    fire: Fire, signame: str
) -> None:
    # mid's lifespan has yielded (mid is set up) and contextlib's __enter__ has the value
    # back from next() when the signal is handled (the interpreter checks for signals
    # right after that call), before envres has recorded mid as set up. The child holds
    # the main thread there (WINDOW_KEY) so the signal lands in that spot every time;
    # unheld, a signal at a random moment of the setups lands there now and then.
    proc = fire.start(WINDOW_KEY="mid")
    fire.wait_for(proc, "window mid")

    proc.send_signal(getattr(signal, signame))
    result = fire.finish(proc, timeout=25)  # before the 30 s hold of WINDOW_KEY ends

    code, message = (130, INTERRUPTED) if signame == "SIGINT" else (143, TERMINATED)
    assert "Traceback" not in result.out + result.err, result.err
    assert (result.code, result.err_lines) == (code, [message]), result.err
    t = check_lifecycle(fire.log(), SMALL_NEEDS, reported=reported_teardowns(result.out))
    assert t.live == ["base", "mid"]


# -- 2. a reader that goes away: envres run | head -3 --------------------------------------


def _run_into_closed_pipe(fire: Fire, tmp_path: Path, *args: str, **env: str) -> Result:
    """Read 3 lines of stdout, close the pipe, then let the run go on (extract waits for
    a gate file until then) and finish: every later write meets EPIPE."""
    gate = tmp_path / "gate"
    proc = fire.start(*args, GATE_FILE=str(gate), GATE_ASSET="extract", TEARDOWN_NAP="0.05", **env)
    assert proc.stdout is not None
    head = [proc.stdout.readline() for _ in range(3)]
    assert head[0].startswith("envres run: profile 'dev'"), head
    proc.stdout.close()
    proc.stdout = None
    gate.touch()
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=5)
        pytest.fail(f"still running 20 s after the pipe closed: {fire.log()}")
    return Result(proc.returncode, "", err)


@pytest.mark.parametrize("jobs", ["1", "3"])
def test_closed_stdout_pipe_drops_the_progress_and_every_teardown_still_runs_exit_0(
    fire: Fire, tmp_path: Path, jobs: str
) -> None:
    result = _run_into_closed_pipe(fire, tmp_path, "--jobs", jobs)

    assert (result.code, result.err) == (0, ""), result.err
    t = check_lifecycle(fire.log(), SMALL_NEEDS, exact_reverse=jobs == "1")
    assert sorted(t.assets) == ["extract", "load", "report"]
    assert len(t.teardowns) == 5


def test_closed_stdout_pipe_with_assets_and_teardowns_that_print_still_runs_to_the_end(
    fire: Fire, tmp_path: Path
) -> None:
    # The user's code prints too (print("closing db") before closing it). During a run
    # sys.stdout is envres's (guarded_streams); a closed pipe must not stop the run nor
    # cut a teardown short.
    result = _run_into_closed_pipe(fire, tmp_path, FIRE_PRINT="1")

    assert "BrokenPipeError" not in result.err and "Exception ignored" not in result.err, (
        f"exit {result.code}, stderr:\n{result.err}\nlog: {fire.log()}"
    )
    assert result.code == 0, result.err
    t = check_lifecycle(fire.log(), SMALL_NEEDS)
    assert t.assets == ["extract", "load", "report"]
    assert len(t.teardowns) == 5


# -- 3 and 4. user code raising what it should not --------------------------------------


@dataclass(frozen=True)
class Raise:
    kind: str  # what user code raises: see fault() in DEFINITIONS
    step: str  # setup (of mid), asset (load), teardown (of mid)
    jobs: str

    @property
    def id(self) -> str:
        return f"{self.kind}-in-{self.step}-jobs{self.jobs}"

    def env(self) -> dict[str, str]:
        var, name = {
            "setup": ("RAISE_SETUP", "mid"),
            "asset": ("RAISE_ASSET", "load"),
            "teardown": ("RAISE_TEARDOWN", "mid"),
        }[self.step]
        return {var: f"{name}={self.kind}"}


WHAT = {
    "exit": "SystemExit: {} gave up",
    "boom": "Boom: {} blew up",
    "genexit": "GeneratorExit: {} closed early",
    "badstr": "BadStr",
    # A KeyboardInterrupt that user code raises with no signal behind it, in a setup or
    # an asset, is that step's failure like any other exception (in a teardown it is an
    # interrupt, once the other teardowns ran: see the next test).
    "interrupt": "KeyboardInterrupt",
}


#: Where the definitions raise each kind, as a failure names the line of the user's code.
def _raised_at(kind: str) -> str:
    """The line of ``fault`` that raises ``kind``: the one after its ``if``."""
    return (
        f"fire_pipeline.py:{text_line(DEFINITIONS, 'if kind == ' + chr(34) + kind + chr(34)) + 1}"
    )


AT = {kind: _raised_at(kind) for kind in ("exit", "boom", "genexit", "badstr", "interrupt")}
#: Where a teardown hung (its pause) when a signal interrupted it.
PAUSED_AT = f"fire_pipeline.py:{text_line(DEFINITIONS, 'short slices: a signal lands at once')}"
STEP = {
    "setup": "setup of resource 'mid' failed: ",
    "asset": "asset 'load' failed: ",
    "teardown": "teardown of resource 'mid' failed: ",
}
# What a one-job run logs when the failure is at each step.
ONE_JOB_LOG = {
    "setup": ["setup base", "teardown base"],
    "asset": [*SMALL_RUN[:6], "teardown side", "teardown top", "teardown mid", "teardown base"],
    "teardown": SMALL_RUN,
}

RAISES = [
    *(
        Raise(kind, step, jobs)
        for kind in ("exit", "boom", "genexit", "interrupt")
        for step in ("setup", "asset", "teardown")
        for jobs in ("1", "3")
    ),
    *(Raise("badstr", step, jobs) for step in ("asset", "teardown") for jobs in ("1", "3")),
    Raise("badstr-interrupt", "teardown", "1"),
]


# Runs `envres run` in real processes, each forked from one interpreter that has
# imported envres and its dependencies already (90% of a run's time): every child has
# its own pid, stdout/stderr files, environment, exit status and interpreter shutdown,
# like `python -m envres run`, in a fraction of the time.
ZYGOTE = """
import json, os, sys
import click, pydantic, yaml
import envres, envres._bound, envres._cli, envres._cli._progress, envres._executors, envres._load
from envres._cli import main

jobs = json.load(sys.stdin)
children = {}
for i, job in enumerate(jobs):
    pid = os.fork()
    if pid == 0:
        os.chdir(job["cwd"])
        for name in [n for n in os.environ if n.startswith("ENVRES_")]:
            del os.environ[name]
        os.environ.update(job["env"])
        for fd, path in ((1, job["out"]), (2, job["err"])):
            f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(f, fd)
            os.close(f)
        sys.argv = ["envres", *job["args"]]
        main(job["args"])  # raises SystemExit(code): this child exits like a real run
    children[pid] = i
codes = [None] * len(jobs)
while children:
    pid, status = os.wait()
    codes[children.pop(pid)] = os.waitstatus_to_exitcode(status)
json.dump(codes, sys.stdout)
"""


@pytest.fixture(scope="module")
def raised_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[Raise, tuple[Result, list[str]]]:
    """Every run of RAISES, in real processes (forked from ZYGOTE; they take no signal)."""
    root = tmp_path_factory.mktemp("raises")
    project = make_project(
        root / "proj",
        profiles={"dev.yaml": SMALL_PROFILE},
        definitions=DEFINITIONS,
        module="fire_pipeline",
    )
    jobs = [
        {
            "cwd": str(project.root),
            "args": ["run", "--jobs", r.jobs],
            "env": {"FIRE_LOG": str(root / f"{r.id}.log"), **r.env()},
            "out": str(root / f"{r.id}.out"),
            "err": str(root / f"{r.id}.err"),
        }
        for r in RAISES
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVRES_")}
    zygote = subprocess.run(
        [sys.executable, "-c", ZYGOTE],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert zygote.returncode == 0, zygote.stderr
    codes = json.loads(zygote.stdout)
    runs = {}
    for r, job, code in zip(RAISES, jobs, codes, strict=True):
        log = Path(job["env"]["FIRE_LOG"])
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        out, err = (Path(job[k]).read_text(encoding="utf-8") for k in ("out", "err"))
        runs[r] = (Result(code, out, err), lines)
    return runs


def _is_failure(r: Raise) -> bool:
    return r.kind in WHAT and not (r.kind == "interrupt" and r.step == "teardown")


@pytest.mark.parametrize("r", [r for r in RAISES if _is_failure(r)], ids=lambda r: r.id)
def test_user_code_raising_a_base_exception_is_that_steps_failure_exit_3_in_one_line(
    raised_runs: dict[Raise, tuple[Result, list[str]]], r: Raise
) -> None:
    result, lines = raised_runs[r]

    name = "load" if r.step == "asset" else "mid"
    assert "Traceback" not in result.out + result.err, result.err
    assert result.code == 3, result.err
    assert result.err_lines == [
        f"run failed: {STEP[r.step]}{AT[r.kind]}: {WHAT[r.kind].format(name)}",
        HINT,
    ]
    check_lifecycle(
        lines, SMALL_NEEDS, exact_reverse=r.jobs == "1", reported=reported_teardowns(result.out)
    )
    if r.jobs == "1":
        assert lines == ONE_JOB_LOG[r.step]


@pytest.mark.parametrize(
    "r", [r for r in RAISES if r.kind == "interrupt" and not _is_failure(r)], ids=lambda r: r.id
)
def test_keyboard_interrupt_raised_by_a_teardown_is_an_interrupt_exit_130_after_teardown(
    raised_runs: dict[Raise, tuple[Result, list[str]]], r: Raise
) -> None:
    result, lines = raised_runs[r]

    assert "Traceback" not in result.out + result.err, result.err
    assert result.code == 130, result.err
    notes = [f"  also: teardown of resource 'mid' failed: {AT['interrupt']}: KeyboardInterrupt"]
    assert result.err_lines == [INTERRUPTED, *(notes if r.step == "teardown" else [])]
    check_lifecycle(
        lines, SMALL_NEEDS, exact_reverse=r.jobs == "1", reported=reported_teardowns(result.out)
    )
    if r.jobs == "1":
        assert lines == ONE_JOB_LOG[r.step]


def test_teardown_error_whose_str_raises_keyboard_interrupt_still_runs_every_teardown(
    raised_runs: dict[Raise, tuple[Result, list[str]]],
) -> None:
    # mid's teardown raises an error whose __str__ raises KeyboardInterrupt: user code
    # raising KeyboardInterrupt, so an interrupt (130), but base is still torn down by
    # envres, after mid, and both teardowns are reported.
    result, lines = raised_runs[Raise("badstr-interrupt", "teardown", "1")]

    assert "Traceback" not in result.out + result.err, result.err
    assert (result.code, result.err_lines[:1]) == (130, [INTERRUPTED]), result.err
    check_lifecycle(lines, SMALL_NEEDS, reported=reported_teardowns(result.out))


# -- 6. a hung teardown and one signal ---------------------------------------------------


@pytest.mark.parametrize("jobs", ["1", "3"])
def test_one_ctrl_c_during_a_hung_teardown_interrupts_it_after_a_second_and_finishes(
    fire: Fire, jobs: str
) -> None:
    proc = fire.start("--jobs", jobs, PAUSE_TEARDOWN="mid=30")
    fire.wait_for(proc, "pause PAUSE_TEARDOWN mid")

    proc.send_signal(signal.SIGINT)
    # Before mid's 30 s pause could end by itself: the KeyboardInterrupt below is what
    # ended it (patience ran out), not the pause.
    result = fire.finish(proc, timeout=25)

    assert "Traceback" not in result.out + result.err, result.err
    assert result.code == 130, result.err
    assert result.err_lines == [
        INTERRUPTED,
        f"  also: teardown of resource 'mid' failed: {PAUSED_AT}: KeyboardInterrupt",
    ]
    assert "  FAILED  teardown of mid" in result.out
    check_lifecycle(
        fire.log(),
        SMALL_NEEDS,
        exact_reverse=jobs == "1",
        reported=reported_teardowns(result.out),
    )
    assert len(Trace.parse(fire.log()).teardowns) == 5


@pytest.mark.parametrize(
    ("signame", "code", "message"),
    [
        pytest.param("SIGINT", 130, INTERRUPTED, id="SIGINT"),
        pytest.param("SIGTERM", 143, TERMINATED, id="SIGTERM"),
    ],
)
def test_one_signal_during_an_asset_then_a_hung_teardown_still_exits_within_seconds(
    fire: Fire, signame: str, code: int, message: str
) -> None:
    # The one signal arrives while report runs; mid's teardown then hangs. "A teardown
    # still running ~1 s after a signal is interrupted": a single Ctrl-C (or the one
    # SIGTERM a supervisor sends before SIGKILL) must not wait for it 30 s.
    proc = fire.start(PAUSE_ASSET="report=30", PAUSE_TEARDOWN="mid=30")
    fire.wait_for(proc, "pause PAUSE_ASSET report")

    proc.send_signal(getattr(signal, signame))
    # Before mid's 30 s pause could end by itself: the interrupt noted below ended it.
    result = fire.finish(proc, timeout=25)

    assert "Traceback" not in result.out + result.err, result.err
    assert (result.code, result.err_lines[:1]) == (code, [message]), result.err
    raised = {"SIGINT": "KeyboardInterrupt", "SIGTERM": "Terminated"}[signame]
    assert f"  also: teardown of resource 'mid' failed: {PAUSED_AT}: {raised}" in result.err_lines
    check_lifecycle(fire.log(), SMALL_NEEDS, reported=reported_teardowns(result.out))
    assert Trace.parse(fire.log()).teardowns == ["pair", "side", "top", "mid", "base"]


# -- 5 and 7. the Python API, in-process ---------------------------------------------------

API_LOG: list[str] = []  # list.append is atomic: a true order across threads
HELD_ENTERED = threading.Event()
RELEASE = threading.Event()
WAIT = 10.0


class Part(envres.Resource):
    name: str
    needs: list[Any] = []

    def lifespan(self) -> Iterator[None]:
        try:
            API_LOG.append(f"setup {self.name}")
            self._alive = True
            yield
        except GeneratorExit:
            API_LOG.append(f"leaked {self.name}")
            raise
        except BaseException:
            API_LOG.append(f"aborted {self.name}")
            raise
        how = " (finalized)" if isinstance(sys.exc_info()[1], GeneratorExit) else ""
        API_LOG.append(f"teardown {self.name}{how}")
        self._alive = False


class Held(Part):
    """Its setup blocks until the test releases it, then says whether what it needs is
    still up."""

    def lifespan(self) -> Iterator[None]:
        HELD_ENTERED.set()
        if not RELEASE.wait(WAIT):
            raise TimeoutError("never released")
        alive = all(getattr(n, "_alive", False) for n in self.needs)
        API_LOG.append(f"setup {self.name} ({'base alive' if alive else 'base torn down'})")
        yield
        API_LOG.append(f"teardown {self.name}")


@envres.asset
def first(top: Part) -> str:
    API_LOG.append("asset first")
    return top.name


@envres.asset
def second(side: Part) -> str:
    API_LOG.append("asset second")
    return side.name


@envres.asset
def third(first: str, second: str, pair: Part) -> str:
    API_LOG.append("asset third")
    return first + second + pair.name


@envres.asset
def uses_held(held: Part) -> str:
    API_LOG.append("asset uses_held")
    return held.name


@envres.asset
def fails(other: Part) -> str:
    # Runs while held's setup is blocked on the other thread.
    if not HELD_ENTERED.wait(WAIT):
        raise TimeoutError("held's setup never started")
    API_LOG.append("asset fails")
    raise ValueError("bad rows in fails")


api_defs = envres.Definitions(
    assets=[first, second, third, uses_held, fails],
    resource_types={"part": Part, "held": Held},
)

API_NEEDS = {**SMALL_NEEDS, "other": (), "held": ("base",)}
API_PROFILE = (
    "resources:\n"
    + "".join(_node(k, *v).replace("type: node", "type: part") for k, v in SMALL_NEEDS.items())
    + _node("other").replace("type: node", "type: part")
    + "  held: {type: held, config: {name: held, needs: [{resource: base}]}}\n"
)
API_RUN = [line.replace("extract", "first").replace("load", "second") for line in SMALL_RUN]
API_RUN = [line.replace("report", "third") for line in API_RUN]


class Boom(BaseException):
    """A BaseException of the caller's own."""


@pytest.fixture(autouse=True)
def _fresh() -> None:
    gc.collect()  # a generator dropped by an earlier test must not log into this one
    API_LOG.clear()
    HELD_ENTERED.clear()
    RELEASE.clear()


@pytest.fixture
def bound(tmp_path: Path) -> envres.BoundDefinitions:
    root = tmp_path / "api"
    make_project(root, profiles={"dev.yaml": API_PROFILE}, definitions=None)
    return api_defs.with_profile("dev", project=str(root), env={})


@dataclass
class Outcome:
    """How ``run`` ended, and the log at that very moment (before anything is freed)."""

    log: list[str]
    result: Any = None
    raised: BaseException | None = None
    events: list[Event] = field(default_factory=list)

    @property
    def teardown_events(self) -> list[str]:
        return [e.name for e in self.events if e.kind.startswith("teardown")]


def run_api(
    bound: envres.BoundDefinitions,
    callback: Callable[[Event], None],
    jobs: int = 1,
    assets: Sequence[str] = ("third",),
) -> Outcome:
    events: list[Event] = []

    def on_event(event: Event) -> None:
        events.append(event)
        callback(event)

    try:
        result = bound.run(list(assets), jobs=jobs, on_event=on_event)
    except BaseException as exc:  # what the run raised, whatever it is
        return Outcome(list(API_LOG), raised=exc, events=events)
    return Outcome(list(API_LOG), result=result, events=events)


def raising(exc: Callable[[], BaseException], kinds: tuple[str, ...] = ()) -> Callable[..., None]:
    def callback(event: Event) -> None:
        if not kinds or event.kind in kinds:
            raise exc()

    return callback


@pytest.mark.parametrize("jobs", [1, 3])
def test_api_callback_raising_on_every_event_is_ignored_and_every_teardown_runs(
    bound: envres.BoundDefinitions, jobs: int
) -> None:
    outcome = run_api(bound, raising(lambda: RuntimeError("progress is broken")), jobs)

    assert outcome.raised is None, repr(outcome.raised)
    assert outcome.result["third"] == "topsidepair"
    check_lifecycle(
        outcome.log, API_NEEDS, exact_reverse=jobs == 1, reported=outcome.teardown_events
    )
    if jobs == 1:
        assert outcome.log == API_RUN


TEARDOWN_RAISES = {
    "RuntimeError": lambda: RuntimeError("progress is broken"),
    "SystemExit": lambda: SystemExit("callback gave up"),
    "Boom": lambda: Boom("callback blew up"),
    "GeneratorExit": GeneratorExit,
    "KeyboardInterrupt": KeyboardInterrupt,
}


@pytest.mark.parametrize("what", list(TEARDOWN_RAISES))
def test_api_callback_raising_on_teardown_events_is_ignored_and_every_teardown_runs(
    bound: envres.BoundDefinitions, what: str
) -> None:
    # "Event callbacks that raise are ignored" (reporting never stops a teardown),
    # whatever they raise; during teardown that includes KeyboardInterrupt.
    outcome = run_api(bound, raising(TEARDOWN_RAISES[what], ("teardown", "teardown_failed")))

    check_lifecycle(outcome.log, API_NEEDS, reported=outcome.teardown_events)
    assert outcome.log == API_RUN
    assert outcome.raised is None, repr(outcome.raised)


def test_api_callback_raising_keyboard_interrupt_on_a_setup_event_stops_the_run(
    bound: envres.BoundDefinitions,
) -> None:
    def on_mid(event: Event) -> None:
        if (event.kind, event.name) == ("setup", "mid"):
            raise KeyboardInterrupt

    outcome = run_api(bound, on_mid)

    assert isinstance(outcome.raised, KeyboardInterrupt)
    check_lifecycle(outcome.log, API_NEEDS, reported=outcome.teardown_events)
    assert outcome.log == ["setup base", "setup mid", "teardown mid", "teardown base"]


def test_api_callback_raising_keyboard_interrupt_on_a_worker_thread_does_not_hang_the_run(
    bound: envres.BoundDefinitions,
) -> None:
    # With jobs=2, "asset_started" is reported on a worker thread. A callback raising
    # KeyboardInterrupt there must stop the run as it does with one job, not kill the
    # worker and leave run() waiting forever for the asset it was running.
    def on_second(event: Event) -> None:
        if (event.kind, event.name) == ("asset_started", "second"):
            raise KeyboardInterrupt

    died: list[str] = []
    outcome: list[Outcome] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: died.append(f"{args.thread}: {args.exc_type.__name__}")
    try:
        runner = threading.Thread(
            target=lambda: outcome.append(run_api(bound, on_second, jobs=2)), daemon=True
        )
        runner.start()
        runner.join(5)
    finally:
        threading.excepthook = previous

    assert outcome, (
        f"run() still running 5 s later; worker threads that died: {died}; log: {API_LOG}"
    )
    assert isinstance(outcome[0].raised, KeyboardInterrupt), repr(outcome[0].raised)
    check_lifecycle(
        outcome[0].log, API_NEEDS, exact_reverse=False, reported=outcome[0].teardown_events
    )


@pytest.mark.parametrize(
    "exc", [SystemExit("bye"), Boom("boom"), KeyboardInterrupt()], ids=lambda e: type(e).__name__
)
def test_api_resources_block_raising_any_base_exception_still_tears_down_in_reverse(
    bound: envres.BoundDefinitions, exc: BaseException
) -> None:
    def block() -> None:
        with bound.resources("top", "pair") as r:
            assert r["top"].name == "top"
            raise exc

    with pytest.raises(type(exc)) as info:
        block()
    assert info.value is exc
    check_lifecycle(API_LOG, API_NEEDS)
    assert API_LOG == [
        "setup base",
        "setup mid",
        "setup top",
        "setup side",
        "setup pair",
        "teardown pair",
        "teardown side",
        "teardown top",
        "teardown mid",
        "teardown base",
    ]


def test_api_call_raising_a_base_exception_still_tears_down_in_reverse(
    bound: envres.BoundDefinitions,
) -> None:
    def job(top: Part) -> None:
        API_LOG.append("asset job")
        raise Boom("in call")

    with pytest.raises(Boom):
        bound.call(job)
    check_lifecycle(API_LOG, API_NEEDS)
    assert API_LOG == [
        "setup base",
        "setup mid",
        "setup top",
        "asset job",
        "teardown top",
        "teardown mid",
        "teardown base",
    ]


# -- 7. a setup that completes after the run stopped ------------------------------------


def test_late_setup_keeps_its_dependency_up_and_is_torn_down_before_it(
    bound: envres.BoundDefinitions,
) -> None:
    # jobs=2: uses_held needs held (which needs base); held's setup blocks. Meanwhile
    # `fails` raises; running assets are let finish after a failure, so the run is then
    # stopped by Ctrl-C (a real SIGINT to this, the main, thread). The assets still
    # running are waited for 2 s, held's setup 2 s more; then the run ends, base stays up
    # for held. Released, held completes with base alive, and is torn down before base.
    main = threading.main_thread().ident
    assert main is not None and threading.current_thread() is threading.main_thread()
    failed = threading.Event()

    def on_event(event: Event) -> None:
        if (event.kind, event.name) == ("asset_failed", "fails"):
            failed.set()  # the run has taken in the failure: only uses_held still runs

    def ctrl_c() -> None:
        if failed.wait(WAIT):
            signal.pthread_kill(main, signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=ctrl_c, daemon=True).start()
        outcome = run_api(bound, on_event, jobs=2, assets=("uses_held", "fails"))
    finally:
        signal.signal(signal.SIGINT, previous)

    assert isinstance(outcome.raised, KeyboardInterrupt), repr(outcome.raised)
    notes = getattr(outcome.raised, "__notes__", [])
    assert any(
        n.startswith("still running when the resources were torn down: uses_held") for n in notes
    ), notes
    # Both waits happened, each for its full grace (what the notes say): the assets
    # still running, then held's setup.
    assert any(
        n.startswith("the setup of held was still running 2 s") and "base stay up" in n
        for n in notes
    ), notes
    # base (for held) and other (for fails) are set up on two threads at once
    assert sorted(outcome.log[:2]) == ["setup base", "setup other"], outcome.log
    assert outcome.log[2:] == ["asset fails", "teardown other"], outcome.log

    RELEASE.set()
    deadline = time.monotonic() + WAIT
    while "teardown base" not in API_LOG and time.monotonic() < deadline:
        time.sleep(0.005)
    late = [line for line in API_LOG if line not in outcome.log]
    assert late == ["setup held (base alive)", "teardown held", "teardown base"], API_LOG
    check_lifecycle(API_LOG, API_NEEDS, exact_reverse=False, late_setups=True)
