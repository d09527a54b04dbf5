"""Issue #6 hardening: concurrency. §7: each resource is set up at most once per run,
even with ``--jobs N``, and shared by every asset that asks for it; dependencies first.

The resources and assets are defined here and bound with
``defs.with_profile("dev", project=..., env={})``. Every setup attempt appends
"attempt NAME" to ``LOG``, a completed setup "setup NAME", a teardown
"teardown NAME" (``list.append`` is atomic, so the log is a true order). Each
setup sleeps a little (``delay``) to widen the window in which several threads
ask for the same key. The chain is r1 <- r2 <- r3 <- r4 and the diamond is
d <- (b, c) <- a, each link a ``{resource: key}`` reference; f1 <- f2 <- f3 <- f4
is a chain whose f2 always fails. Every thread is joined with a timeout, so a
deadlock fails the test instead of hanging it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import envres
from tests.conftest import HINT, Cli, Project, make_project, source_line, text_line

LOG: list[str] = []
GATE_ENTERED = threading.Event()
GATE_OPEN = threading.Event()
HELD = threading.Event()
RELEASE = threading.Event()
WAIT = 10.0  # seconds: the bound on every wait and join


class Node(envres.Resource):
    name: str
    needs: list[Any] = []
    delay: float = 0.02
    fail: bool = False

    def lifespan(self) -> Iterator[None]:
        LOG.append(f"attempt {self.name}")
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError(f"{self.name} cannot connect")
        LOG.append(f"setup {self.name}")
        yield
        LOG.append(f"teardown {self.name}")


class Gate(envres.Resource):
    """Its setup blocks until the asset ``opener`` opens the gate."""

    needs: list[Any] = []

    def lifespan(self) -> Iterator[None]:
        LOG.append("gate waiting")
        GATE_ENTERED.set()
        if not GATE_OPEN.wait(WAIT):
            raise TimeoutError("the gate was never opened")
        LOG.append("setup gate")
        yield
        LOG.append("teardown gate")


class Held(envres.Resource):
    """Its setup blocks until the test releases it (for closing mid-setup)."""

    needs: list[Any] = []

    def lifespan(self) -> Iterator[None]:
        HELD.set()
        if not RELEASE.wait(WAIT):
            raise TimeoutError("never released")
        LOG.append("setup held")
        yield
        LOG.append("teardown held")


@envres.asset
def gated(gate: Gate) -> str:
    LOG.append("asset gated")
    return "gated"


@envres.asset
def free(other: Node) -> str:
    # Runs only once gate's setup is blocked, so what follows happens while it is.
    if not GATE_ENTERED.wait(WAIT):
        raise TimeoutError("gate's setup never started")
    LOG.append("asset free")
    return "free"


@envres.asset
def opener(free: str) -> str:
    LOG.append("asset opener")
    GATE_OPEN.set()
    return "opened"


defs = envres.Definitions(
    assets=[gated, free, opener],
    resource_types={"node": Node, "gate": Gate, "held": Held},
)


def _node(key: str, *needs: str, extra: str = "") -> str:
    refs = ", ".join(f"{{resource: {n}}}" for n in needs)
    return f"  {key}: {{type: node, config: {{name: {key}, needs: [{refs}]{extra}}}}}\n"


# A chain (r1 <- r2 <- r3 <- r4) and a diamond (d needs b and c, both need a); see NEEDS.
CHAIN_AND_DIAMOND = (
    _node("r4", "r3")
    + _node("r3", "r2")
    + _node("r2", "r1")
    + _node("r1")
    + _node("d", "b", "c")
    + _node("c", "a")
    + _node("b", "a")
    + _node("a")
)

PROFILE = (
    "resources:\n"
    + CHAIN_AND_DIAMOND
    + _node("f1")
    + _node("f2", "f1", extra=", fail: true")
    + _node("f3", "f2")
    + _node("f4", "f3")
    + _node("base")
    + _node("other", "base")
    + "  gate: {type: gate, config: {needs: [{resource: base}]}}\n"
    + "  held: {type: held, config: {needs: [{resource: r2}]}}\n"
)

NEEDS: dict[str, tuple[str, ...]] = {
    "r1": (),
    "r2": ("r1",),
    "r3": ("r2",),
    "r4": ("r3",),
    "a": (),
    "b": ("a",),
    "c": ("a",),
    "d": ("b", "c"),
}


@pytest.fixture(autouse=True)
def _reset() -> None:
    LOG.clear()
    for event in (GATE_ENTERED, GATE_OPEN, HELD, RELEASE):
        event.clear()


@pytest.fixture
def bound(tmp_path: Path) -> envres.BoundDefinitions:
    root = tmp_path / "proj"
    make_project(root, profiles={"dev.yaml": PROFILE}, definitions=None)
    return defs.with_profile("dev", project=str(root), env={})


def lines(prefix: str) -> list[str]:
    return [line.removeprefix(prefix) for line in LOG if line.startswith(prefix)]


def in_threads(*calls: Callable[[], Any]) -> list[Any]:
    """Run each call on its own thread, all released at once by a barrier; return
    each one's result or the exception it raised, in call order."""
    barrier = threading.Barrier(len(calls), timeout=WAIT)
    results: list[Any] = [None] * len(calls)

    def work(i: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[i] = call()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i, c), daemon=True) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"deadlock: {stuck} still waiting after {WAIT} s; log: {LOG}"
    return results


def assert_dependency_order(setups: list[str], teardowns: list[str]) -> None:
    for key in setups:
        for dep in NEEDS.get(key, ()):
            assert setups.index(dep) < setups.index(key), (dep, key, setups)
            assert teardowns.index(key) < teardowns.index(dep), (key, dep, teardowns)


# -- one scope, many threads -----------------------------------------------------------


def test_eight_threads_getting_one_key_set_it_and_its_dependencies_up_once_and_share_it(
    bound: envres.BoundDefinitions,
) -> None:
    with bound.scope() as scope:
        got = in_threads(*[lambda: scope.get("d")] * 8)

        assert all(isinstance(g, Node) for g in got), got
        assert all(g is got[0] for g in got)
        d = got[0]
        assert d.needs[0] is scope.get("b")
        assert d.needs[1] is scope.get("c")
        assert d.needs[0].needs[0] is d.needs[1].needs[0] is scope.get("a")
        assert lines("attempt ") == ["a", "b", "c", "d"]
        assert lines("setup ") == ["a", "b", "c", "d"]
        assert scope.live == ("a", "b", "c", "d")
    assert lines("teardown ") == ["d", "c", "b", "a"]


def test_eight_threads_getting_different_keys_of_chain_and_diamond_set_each_up_once(
    bound: envres.BoundDefinitions,
) -> None:
    keys = ["d", "r4", "c", "r3", "b", "r2", "a", "r1"]
    scope = bound.scope()
    try:
        got = in_threads(*[lambda k=k: scope.get(k) for k in keys])

        assert [g.name for g in got] == keys
        for key, obj in zip(keys, got, strict=True):
            assert scope.get(key) is obj
            for dep, dep_obj in zip(NEEDS[key], obj.needs, strict=True):
                assert dep_obj is scope.get(dep)
        assert sorted(lines("attempt ")) == sorted(keys)
        assert sorted(lines("setup ")) == sorted(keys)
        live = scope.live
    finally:
        assert scope.close() == []
    assert lines("teardown ") == list(reversed(live))
    assert_dependency_order(lines("setup "), lines("teardown "))


def test_chain_asked_for_at_r4_r3_and_r2_at_once_sets_each_up_once_in_dependency_order(
    bound: envres.BoundDefinitions,
) -> None:
    asked = ["r4", "r3", "r2", "r4", "r3", "r2"]
    with bound.scope() as scope:
        got = in_threads(*[lambda k=k: scope.get(k) for k in asked])

        assert [g.name for g in got] == asked
        r4, r3, r2 = got[:3]
        assert got[3] is r4 and got[4] is r3 and got[5] is r2
        assert r4.needs[0] is r3
        assert r3.needs[0] is r2
        assert r2.needs[0] is scope.get("r1")
        assert lines("attempt ") == ["r1", "r2", "r3", "r4"]
        assert lines("setup ") == ["r1", "r2", "r3", "r4"]
        assert scope.live == ("r1", "r2", "r3", "r4")
    assert lines("teardown ") == ["r4", "r3", "r2", "r1"]


def test_two_scopes_in_two_threads_set_up_and_tear_down_their_own_instances(
    bound: envres.BoundDefinitions,
) -> None:
    scopes = [bound.scope(), bound.scope()]
    try:
        got = in_threads(lambda: scopes[0].get("d"), lambda: scopes[1].get("d"))

        d0, d1 = got
        assert isinstance(d0, Node) and isinstance(d1, Node)
        assert d0 is not d1
        for scope, d in zip(scopes, got, strict=True):
            assert scope.live == ("a", "b", "c", "d")
            assert d.needs[0] is scope.get("b") and d.needs[1] is scope.get("c")
            assert d.needs[0].needs[0] is scope.get("a")
        assert {k: lines("setup ").count(k) for k in "abcd"} == dict.fromkeys("abcd", 2)
        assert scopes[0].get("a") is not scopes[1].get("a")
    finally:
        first = scopes[0].close()
        assert lines("teardown ") == ["d", "c", "b", "a"]
        second = scopes[1].close()
    assert (first, second) == ([], [])
    assert lines("teardown ") == ["d", "c", "b", "a", "d", "c", "b", "a"]


def test_failing_setup_asked_for_by_eight_threads_is_attempted_once_and_all_get_one_error(
    bound: envres.BoundDefinitions,
) -> None:
    with bound.scope() as scope:
        got = in_threads(*[lambda: scope.get("f2")] * 8)

        assert all(isinstance(g, envres.SetupError) for g in got), got
        assert all(g is got[0] for g in got)
        assert got[0].key == "f2"
        at = source_line(Node.lifespan, "cannot connect")
        assert (
            str(got[0]) == f"setup of resource 'f2' failed: {at}: RuntimeError: f2 cannot connect"
        )
        assert type(got[0].__cause__) is RuntimeError
        assert lines("attempt ") == ["f1", "f2"]
        assert scope.live == ("f1",)
        with pytest.raises(envres.SetupError) as again:
            scope.get("f2")
        assert again.value is got[0]
        assert lines("attempt ") == ["f1", "f2"]
    assert lines("teardown ") == ["f1"]


def test_failing_dependency_asked_for_through_f4_by_eight_threads_is_attempted_once(
    bound: envres.BoundDefinitions,
) -> None:
    with bound.scope() as scope:
        got = in_threads(*[lambda k=k: scope.get(k) for k in ["f4", "f3"] * 4])

        assert all(isinstance(g, envres.SetupError) for g in got), got
        assert all(g is got[0] for g in got)
        assert got[0].key == "f2"
        # f3 and f4 never start: the dependency they need failed
        assert lines("attempt ") == ["f1", "f2"]
        assert lines("setup ") == ["f1"]
    assert lines("teardown ") == ["f1"]


# -- a setup that blocks ---------------------------------------------------------------


@pytest.mark.parametrize("jobs", [2, 8])
def test_setup_blocked_on_another_asset_does_not_stop_assets_that_do_not_need_it(
    bound: envres.BoundDefinitions, jobs: int
) -> None:
    # gate's setup waits for opener; free (which opener needs) waits until gate's
    # setup is under way. Only if both run while gate is blocked does the run end.
    result = bound.run(jobs=jobs)

    assert result.outputs == {"gated": "gated", "free": "free", "opener": "opened"}
    story = {"gate waiting", "asset free", "asset opener", "setup gate", "asset gated"}
    assert [line for line in LOG if line in story] == [
        "gate waiting",  # gate's setup is blocked from here...
        "asset free",  # ...while an asset that does not need it completes,
        "asset opener",  # and the one after it, which opens the gate
        "setup gate",
        "asset gated",
    ]
    assert sorted(lines("attempt ")) == ["base", "other"]
    assert sorted(lines("setup ")) == ["base", "gate", "other"]
    assert sorted(lines("teardown ")) == ["base", "gate", "other"]
    assert lines("teardown ")[-1] == "base"  # gate and other need it


# -- the command line under --jobs 8 ---------------------------------------------------

CLI_DEFINITIONS = """
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import envres

MEET = threading.Barrier(8, timeout=10)


def log(line: str) -> None:
    with open(os.environ["CONC_LOG"], "a", encoding="utf-8") as fh:
        fh.write(line + "\\n")


class Node(envres.Resource):
    name: str
    needs: list[Any] = []

    def lifespan(self) -> Iterator[None]:
        log(f"attempt {self.name}")
        threading.Event().wait(0.02)
        if self.name in os.environ.get("FAIL_SETUP", "").split(","):
            raise RuntimeError(f"{self.name} cannot connect")
        log(f"setup {self.name}")
        yield
        log(f"teardown {self.name}")


def _make(i: int) -> Any:
    def work(r4: Node, d: Node) -> int:
        MEET.wait()  # all eight at once, or BrokenBarrierError
        log(f"asset w{i} r4={id(r4)} d={id(d)} r3={id(r4.needs[0])} a={id(d.needs[0].needs[0])}")
        return i

    work.__name__ = f"w{i}"
    return envres.asset(work)


defs = envres.Definitions(
    assets=[_make(i) for i in range(8)], resource_types={"node": Node}
)
"""

CLI_PROFILE = "resources:\n" + CHAIN_AND_DIAMOND


@pytest.fixture
def cli_proj(tmp_path: Path) -> Project:
    return make_project(
        tmp_path / "proj",
        profiles={"dev.yaml": CLI_PROFILE},
        definitions=CLI_DEFINITIONS,
        module="concurrency_pipeline",
    )


def test_jobs_8_eight_assets_at_once_share_one_instance_of_each_resource_set_up_once(
    envres_cli: Cli, cli_proj: Project, tmp_path: Path
) -> None:
    log_path = tmp_path / "conc.log"
    result = envres_cli("run", "--jobs", "8", cwd=cli_proj.root, env={"CONC_LOG": str(log_path)})

    assert result.code == 0, result.err
    log = log_path.read_text(encoding="utf-8").splitlines()
    attempts = [line.split()[1] for line in log if line.startswith("attempt ")]
    setups = [line.split()[1] for line in log if line.startswith("setup ")]
    downs = [line.split()[1] for line in log if line.startswith("teardown ")]
    everything = ["a", "b", "c", "d", "r1", "r2", "r3", "r4"]
    assert sorted(attempts) == everything
    assert sorted(setups) == everything
    assert sorted(downs) == everything
    assert_dependency_order(setups, downs)
    seen = [line.split()[2:] for line in log if line.startswith("asset ")]
    assert len(seen) == 8
    assert all(ids == seen[0] for ids in seen), seen
    assert result.out.splitlines()[-1].startswith("8 succeeded in ")


def test_jobs_8_failing_shared_setup_is_attempted_once_and_reported_once(
    envres_cli: Cli, cli_proj: Project, tmp_path: Path
) -> None:
    log_path = tmp_path / "conc.log"
    result = envres_cli(
        "run", "--jobs", "8", cwd=cli_proj.root, env={"CONC_LOG": str(log_path), "FAIL_SETUP": "r2"}
    )

    assert result.code == 3
    at = f"concurrency_pipeline.py:{text_line(CLI_DEFINITIONS, 'cannot connect')}"
    assert result.err_lines == [
        f"run failed: setup of resource 'r2' failed: {at}: RuntimeError: r2 cannot connect",
        HINT,
    ]
    log = log_path.read_text(encoding="utf-8").splitlines()
    attempts = [line.split()[1] for line in log if line.startswith("attempt ")]
    assert attempts.count("r2") == 1
    assert "r3" not in attempts and "r4" not in attempts
    assert not [line for line in log if line.startswith("asset ")]
    assert result.out.count("FAILED  setup of r2") == 1
    setups = [line.split()[1] for line in log if line.startswith("setup ")]
    downs = [line.split()[1] for line in log if line.startswith("teardown ")]
    assert sorted(downs) == sorted(setups)
    assert_dependency_order(setups, downs)


# -- closing a scope while a dependent's setup is under way ----------------------------


def test_close_during_a_dependents_setup_tears_the_dependent_down_before_its_dependency(
    bound: envres.BoundDefinitions,
) -> None:
    # `held` needs r2. A worker is inside held's setup (r1 and r2 are live) when
    # the scope is closed, as on Ctrl-C with --jobs.
    scope = bound.scope()
    outcome: list[Any] = []
    getter = threading.Thread(
        target=lambda: outcome.append(_catch(lambda: scope.get("held"))), daemon=True
    )
    getter.start()
    assert HELD.wait(WAIT)
    closer = threading.Thread(target=lambda: outcome.append(_catch(scope.close)), daemon=True)
    closer.start()
    deadline = time.monotonic() + WAIT
    while "closed" not in repr(scope) and time.monotonic() < deadline:
        time.sleep(0.005)
    RELEASE.set()
    getter.join(WAIT)
    closer.join(WAIT)

    assert not getter.is_alive() and not closer.is_alive()
    assert lines("setup ") == ["r1", "r2", "held"]
    assert lines("teardown ") == ["held", "r2", "r1"]
    # r2 was still live when held, which uses it, finished its setup
    assert LOG.index("setup held") < LOG.index("teardown r2")


def _catch(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except BaseException as exc:
        return exc
