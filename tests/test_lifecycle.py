"""§7 lifecycle guarantees, through the `envres run` command in a temporary project.

Every resource of the definitions below appends "setup NAME" / "teardown NAME" to
the file named by $LIFECYCLE_LOG, so each test can assert the exact order. A
resource's `fail` config field (fed by ${FAIL_<KEY>:-}) makes its setup or its
teardown raise. Resources r1 <- r2 <- r3 <- r4 <- r5 form a chain: each one's
`needs` holds the previous one as a `{resource: key}` reference.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import HINT, Cli, Project, Result, make_project, read_log, run_real, text_line

DEFINITIONS = """
from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import envres


def log(line: str) -> None:
    with open(os.environ["LIFECYCLE_LOG"], "a", encoding="utf-8") as fh:
        fh.write(line + "\\n")


class Step(envres.Resource):
    name: str
    needs: list[Any] = []
    fail: str = ""
    value: int = 0
    setup_delay: float = 0.0

    def lifespan(self) -> Iterator[None]:
        if self.setup_delay:
            time.sleep(self.setup_delay)
        if self.fail == "setup":
            raise RuntimeError(f"{self.name} cannot connect")
        log(f"setup {self.name}")
        yield
        log(f"teardown {self.name}")
        if self.fail == "teardown":
            raise OSError(f"{self.name} did not close")

    def path(self) -> str:
        return ">".join([*(n.path() for n in self.needs), self.name])


# b, c, d and e meet here: each waits until all of them are running at once.
MEET = threading.Barrier(
    int(os.environ.get("MEET_PARTIES", "4")), timeout=float(os.environ.get("MEET_TIMEOUT", "10"))
)


@envres.asset
def chain(r5: Step) -> str:
    log(f"asset chain {r5.path()}")
    return r5.path()


@envres.asset
def lonely(side: Step) -> str:
    log("asset lonely")
    return side.name


@envres.asset
def report(chain: str, side: Step) -> str:
    log(f"asset report {chain}+{side.name}")
    return chain


@envres.asset
def a(base: Step) -> int:
    log(f"result a={base.value} base={id(base)}")
    return base.value


def _meet(name: str, value: int, **shared: Step) -> int:
    ids = " ".join(f"{k}={id(v)}" for k, v in sorted(shared.items()))
    MEET.wait()
    log(f"result {name}={value} {ids}")
    return value


@envres.asset
def b(a: int, pool: Step) -> int:
    return _meet("b", a * 10 + pool.value, pool=pool)


@envres.asset
def c(a: int, pool: Step, cache: Step) -> int:
    return _meet("c", a * 100 + pool.value + cache.value, pool=pool, cache=cache)


@envres.asset
def d(a: int, cache: Step) -> int:
    return _meet("d", a * 1000 + cache.value, cache=cache)


@envres.asset
def e(a: int, pool: Step, base: Step) -> int:
    return _meet("e", a + pool.value + base.value, pool=pool, base=base)


@envres.asset
def f(b: int, c: int, d: int, e: int) -> int:
    total = b + c + d + e
    log(f"result f={total}")
    return total


defs = envres.Definitions(
    assets=[chain, lonely, report, a, b, c, d, e, f],
    resource_types={"step": Step},
)
"""


def _step(key: str, needs: str | None = None, extra: str = "") -> str:
    needs_part = f", needs: [{{resource: {needs}}}]" if needs else ""
    fail = f'"${{FAIL_{key.upper()}:-}}"'
    return f"  {key}: {{type: step, config: {{name: {key}{needs_part}, fail: {fail}{extra}}}}}\n"


# The chain is written out of order on purpose: setup order must come from the
# references, not from the file.
PROFILE = (
    "resources:\n"
    + _step("r3", "r2")
    + _step("r5", "r4")
    + _step("r1")
    + _step("r4", "r3")
    + _step("r2", "r1")
    + _step("side")
    + _step("unused")
    + _step("base", extra=", value: 2")
    + _step("pool", "base", ", value: 3, setup_delay: 0.2")
    + _step("cache", "base", ", value: 5, setup_delay: 0.1")
)

CHAIN = ["r1", "r2", "r3", "r4", "r5"]

#: Where the definitions raise, as a failure names the line of the user's code.
AT_SETUP = f"lifecycle_pipeline.py:{text_line(DEFINITIONS, 'cannot connect')}"
AT_TEARDOWN = f"lifecycle_pipeline.py:{text_line(DEFINITIONS, 'did not close')}"
AT_MEET = f"lifecycle_pipeline.py:{text_line(DEFINITIONS, 'MEET.wait(')}"
NEEDS = {"r2": "r1", "r3": "r2", "r4": "r3", "r5": "r4", "pool": "base", "cache": "base"}


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    return make_project(
        tmp_path / "proj",
        profiles={"dev.yaml": PROFILE},
        definitions=DEFINITIONS,
        module="lifecycle_pipeline",
    )


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "lifecycle.log"


def run(cli: Cli, proj: Project, log_path: Path, *args: str, **env: str) -> Result:
    return cli("run", *args, cwd=proj.root, env={"LIFECYCLE_LOG": str(log_path), **env})


def setups(lines: list[str]) -> list[str]:
    return [line.removeprefix("setup ") for line in lines if line.startswith("setup ")]


def teardowns(lines: list[str]) -> list[str]:
    return [line.removeprefix("teardown ") for line in lines if line.startswith("teardown ")]


def assert_dependency_order(lines: list[str]) -> None:
    """Parallel runs: each resource set up once, after what it needs, and torn down
    once, before what it needs. (Independent resources set up at the same time
    have no order between them.)"""
    up, down = setups(lines), teardowns(lines)
    assert sorted(up) == sorted(set(up))
    assert sorted(down) == sorted(up)
    for key, dep in NEEDS.items():
        if key in up:
            assert up.index(dep) < up.index(key), (dep, key, up)
            assert down.index(key) < down.index(dep), (key, dep, down)


# -- order -----------------------------------------------------------------------------


def test_setup_follows_resource_references_and_teardown_is_exact_reverse(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    result = run(envres_cli, proj, log_path, "chain")

    assert result.code == 0, result.err
    assert result.err == ""
    assert read_log(log_path) == [
        "setup r1",
        "setup r2",
        "setup r3",
        "setup r4",
        "setup r5",
        "asset chain r1>r2>r3>r4>r5",
        "teardown r5",
        "teardown r4",
        "teardown r3",
        "teardown r2",
        "teardown r1",
    ]


def test_progress_lines_show_setups_in_dependency_order_and_teardowns_reversed(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    result = run(envres_cli, proj, log_path, "chain")

    words = [line.split()[:2] for line in result.out.splitlines() if line.startswith("  ")]
    assert words == [
        *(["setup", k] for k in CHAIN),
        ["ok", "chain"],
        *(["down", k] for k in reversed(CHAIN)),
    ]


# -- only what is needed ---------------------------------------------------------------


def test_run_one_asset_sets_up_only_the_resources_it_needs(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    result = run(envres_cli, proj, log_path, "lonely")

    assert result.code == 0, result.err
    assert read_log(log_path) == ["setup side", "asset lonely", "teardown side"]


def test_run_one_asset_also_sets_up_what_its_upstream_assets_need(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    result = run(envres_cli, proj, log_path, "report")

    assert result.code == 0, result.err
    lines = read_log(log_path)
    assert setups(lines) == [*CHAIN, "side"]
    assert teardowns(lines) == ["side", *reversed(CHAIN)]
    assert [line for line in lines if line.startswith("asset")] == [
        "asset chain r1>r2>r3>r4>r5",
        "asset report r1>r2>r3>r4>r5+side",
    ]


def test_run_everything_never_sets_up_a_resource_no_asset_needs(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    result = run(envres_cli, proj, log_path, "--jobs", "8")

    assert result.code == 0, result.err
    lines = read_log(log_path)
    assert "setup unused" not in lines
    assert sorted(setups(lines)) == sorted([*CHAIN, "side", "base", "pool", "cache"])
    assert_dependency_order(lines)


# -- a failing setup -------------------------------------------------------------------


@pytest.mark.parametrize("position", [1, 2, 3, 4, 5])
def test_setup_failure_at_each_chain_position_tears_down_exactly_those_set_up_in_reverse(
    envres_cli: Cli, proj: Project, log_path: Path, position: int
) -> None:
    failing = f"r{position}"
    result = run(envres_cli, proj, log_path, "chain", **{f"FAIL_R{position}": "setup"})

    done = CHAIN[: position - 1]
    assert result.code == 3
    assert read_log(log_path) == [
        *(f"setup {k}" for k in done),
        *(f"teardown {k}" for k in reversed(done)),
    ]
    assert result.err_lines == [
        f"run failed: setup of resource '{failing}' failed: {AT_SETUP}: "
        f"RuntimeError: {failing} cannot connect",
        HINT,
    ]
    assert "Traceback" not in result.out + result.err


def test_setup_failure_in_a_real_process_exits_3_after_teardown_without_traceback(
    proj: Project, log_path: Path
) -> None:
    result = run_real(
        "run", "chain", cwd=proj.root, env={"LIFECYCLE_LOG": str(log_path), "FAIL_R4": "setup"}
    )

    assert result.code == 3
    assert read_log(log_path) == [
        "setup r1",
        "setup r2",
        "setup r3",
        "teardown r3",
        "teardown r2",
        "teardown r1",
    ]
    assert result.err_lines == [
        f"run failed: setup of resource 'r4' failed: {AT_SETUP}: RuntimeError: r4 cannot connect",
        HINT,
    ]
    assert "Traceback" not in result.out + result.err


def test_setup_failure_of_an_independent_resource_tears_down_the_chain_already_set_up(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    result = run(envres_cli, proj, log_path, "report", FAIL_SIDE="setup")

    assert result.code == 3
    lines = read_log(log_path)
    assert setups(lines) == CHAIN
    assert teardowns(lines) == list(reversed(CHAIN))
    assert result.err_lines == [
        f"run failed: setup of resource 'side' failed: {AT_SETUP}: "
        "RuntimeError: side cannot connect",
        HINT,
    ]


# -- a failing teardown ----------------------------------------------------------------


def test_failing_teardown_is_reported_and_every_other_teardown_still_runs(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    result = run(envres_cli, proj, log_path, "chain", FAIL_R3="teardown")

    assert result.code == 3
    assert teardowns(read_log(log_path)) == ["r5", "r4", "r3", "r2", "r1"]
    assert result.err_lines == [
        f"run failed: teardown of resource 'r3' failed: {AT_TEARDOWN}: OSError: r3 did not close",
        HINT,
    ]
    assert "Traceback" not in result.out + result.err


def test_two_failing_teardowns_are_both_reported_in_teardown_order(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    result = run(envres_cli, proj, log_path, "chain", FAIL_R2="teardown", FAIL_R4="teardown")

    assert result.code == 3
    assert teardowns(read_log(log_path)) == ["r5", "r4", "r3", "r2", "r1"]
    assert result.err_lines == [
        f"run failed: teardown of resource 'r4' failed: {AT_TEARDOWN}: OSError: r4 did not close",
        f"also: teardown of resource 'r2' failed: {AT_TEARDOWN}: OSError: r2 did not close",
        HINT,
    ]


def test_setup_failure_and_failing_teardown_report_setup_first(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    result = run(envres_cli, proj, log_path, "chain", FAIL_R4="setup", FAIL_R1="teardown")

    assert result.code == 3
    assert teardowns(read_log(log_path)) == ["r3", "r2", "r1"]
    assert result.err_lines == [
        f"run failed: setup of resource 'r4' failed: {AT_SETUP}: RuntimeError: r4 cannot connect",
        f"also: teardown of resource 'r1' failed: {AT_TEARDOWN}: OSError: r1 did not close",
        HINT,
    ]


# -- parallel runs ---------------------------------------------------------------------


def _results(lines: list[str]) -> dict[str, list[str]]:
    """'result b=23 pool=140…' -> {'b': ['23', 'pool=140…']}."""
    out: dict[str, list[str]] = {}
    for line in lines:
        if line.startswith("result "):
            head, *rest = line.removeprefix("result ").split()
            name, value = head.split("=")
            out[name] = [value, *rest]
    return out


def test_jobs_8_diamond_sets_each_shared_resource_up_once_and_computes_right_values(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    # b, c, d and e each wait at a 4-party barrier (10 s timeout): the run only
    # succeeds if the four independent assets really run at the same time.
    result = run(envres_cli, proj, log_path, "f", "--jobs", "8")

    assert result.code == 0, result.err
    lines = read_log(log_path)
    assert sorted(setups(lines)) == ["base", "cache", "pool"]
    assert_dependency_order(lines)
    results = _results(lines)
    # base=2, pool=3, cache=5
    assert {name: r[0] for name, r in results.items()} == {
        "a": "2",
        "b": str(2 * 10 + 3),
        "c": str(2 * 100 + 3 + 5),
        "d": str(2 * 1000 + 5),
        "e": str(2 + 3 + 2),
        "f": str(23 + 208 + 2005 + 7),
    }
    # Every asset that asked for a resource received the very same instance.
    seen: dict[str, set[str]] = {}
    for _value, *ids in results.values():
        for item in ids:
            key, ident = item.split("=")
            seen.setdefault(key, set()).add(ident)
    assert {k: len(v) for k, v in seen.items()} == {"base": 1, "pool": 1, "cache": 1}
    assert "ok      f" in result.out
    assert result.out.splitlines()[-1].startswith("6 succeeded in ")


def test_jobs_1_runs_independent_assets_one_at_a_time_so_the_rendezvous_breaks(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    # The other side of the barrier proof: without parallelism b waits alone.
    result = run(envres_cli, proj, log_path, "f", "--jobs", "1", MEET_TIMEOUT="0.2")

    assert result.code == 3
    assert result.err_lines == [
        f"run failed: asset 'b' failed: {AT_MEET}: BrokenBarrierError",
        HINT,
    ]
    lines = read_log(log_path)
    assert [line.split()[1] for line in lines if line.startswith("result")] == ["a=2"]
    assert teardowns(lines) == list(reversed(setups(lines)))


def test_jobs_8_failing_shared_setup_is_attempted_once_and_torn_down_cleanly(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    # pool fails while b, c and e all want it at once: one setup attempt, one
    # report, base and (maybe) cache torn down, exit 3.
    result = run(
        envres_cli, proj, log_path, "f", "--jobs", "8", FAIL_POOL="setup", MEET_PARTIES="1"
    )

    assert result.code == 3
    lines = read_log(log_path)
    assert "setup pool" not in lines
    assert setups(lines).count("base") == 1
    assert_dependency_order(lines)
    assert result.err_lines[0] == (
        f"run failed: setup of resource 'pool' failed: {AT_SETUP}: "
        "RuntimeError: pool cannot connect"
    )
    assert result.out.count("FAILED  setup of pool") == 1
    assert not any(line.startswith("result f=") for line in lines)
