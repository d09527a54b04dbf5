"""The dask executor: assets as Dask tasks, resources built on each worker from the profile.

One LocalCluster of two worker processes serves the whole module (its workers
outlive each test, so every test uses the one module-level project: a worker
keeps the first `dask_pipeline` it imported). Resources append
"setup NAME pid=PID" / "teardown NAME pid=PID" to the file named by their `log`
config field, so a test can see which worker process did what.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client, LocalCluster

import envres
from envres._errors import Reason
from envres._events import Event
from envres._executors import Job, _dask
from envres._paths import display
from tests.conftest import HINT, Cli, Project, imports_undone, make_project, run_real, text_line

MODULE = "dask_pipeline"

DEFINITIONS = """
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from pydantic import SecretStr

import envres


def log(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{line} pid={os.getpid()}\\n")


class Step(envres.Resource):
    name: str
    log: str
    needs: list[Any] = []
    value: int = 0
    fail: str = ""

    def lifespan(self) -> Iterator[None]:
        if self.fail == "setup":
            raise RuntimeError(f"{self.name} cannot connect")
        log(self.log, f"setup {self.name}")
        yield
        log(self.log, f"teardown {self.name}")
        if self.fail == "teardown":
            raise OSError(f"{self.name} did not close")


class Vault(envres.Resource):
    token: SecretStr


@envres.resource
def tally(log_file: str, start: int = 0) -> Iterator[list[int]]:
    log(log_file, "setup tally")
    yield [start]
    log(log_file, "teardown tally")


def on_worker() -> Any:
    # The Dask worker running this, or None (a local run).
    from distributed import get_worker

    try:
        return get_worker()
    except ValueError:
        return None


def meet(path: str) -> None:
    # On a worker, wait until assets have run in two worker processes (or 20 s): the
    # assets that call this are spread over both workers, whatever the machine's load.
    if on_worker() is None:
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with open(path, encoding="utf-8") as fh:
            pids = {line.rsplit("pid=", 1)[1] for line in fh if line.startswith("asset ")}
        if len(pids) >= 2:
            return
        time.sleep(0.01)


def hold_until_the_run_closes() -> None:
    # On a worker, wait until envres closes the run there (or 20 s): an asset still
    # running after another failed, so whether it finishes before the client has
    # cancelled what is left never depends on timing.
    worker = on_worker()
    if worker is None:
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        plugins = [p for n, p in worker.plugins.items() if n.startswith("envres-")]
        if any(getattr(p, "_closing", False) for p in plugins):
            return
        time.sleep(0.01)


def _work(name: str, where: Step, value: int, spread: bool = False) -> int:
    log(where.log, f"asset {name}")
    if spread:
        meet(where.log)
    if where.fail == name:
        raise ValueError(f"{name} broke")
    if where.fail.startswith("p"):  # another asset of the run fails
        hold_until_the_run_closes()
    return value


@envres.asset
def a(base: Step) -> int:
    log(base.log, "asset a")
    return base.value


@envres.asset
def b(a: int, pool: Step) -> int:
    return _work("b", pool, a * 10 + pool.value)


@envres.asset
def c(a: int, pool: Step, cache: Step) -> int:
    return _work("c", pool, a * 100 + pool.value + cache.value)


@envres.asset
def d(a: int, cache: Step) -> int:
    return _work("d", cache, a * 1000 + cache.value)


@envres.asset
def e(a: int, pool: Step, base: Step) -> int:
    return _work("e", pool, a + pool.value + base.value)


@envres.asset
def f(b: int, c: int, d: int, e: int) -> int:
    return b + c + d + e


# Four independent assets: Dask spreads them over the workers (the b..e fan-out
# above starts where `a` is, since Dask places a task near its inputs).
@envres.asset
def p1(pool: Step) -> int:
    return _work("p1", pool, 1, spread=True)


@envres.asset
def p2(pool: Step, cache: Step) -> int:
    return _work("p2", pool, 2, spread=True)


@envres.asset
def p3(cache: Step) -> int:
    return _work("p3", cache, 3, spread=True)


@envres.asset
def p4(pool: Step) -> int:
    return _work("p4", pool, 4, spread=True)


@envres.asset
def token_length(vault: Vault) -> int:
    return len(vault.token.get_secret_value())


@envres.asset
async def counted(tally: list[int]) -> int:
    return tally[0] + 1


class Boom(BaseException):
    pass


@envres.asset
def boom(pool: Step, vault: Vault) -> int:
    log(pool.log, "asset boom")
    raise Boom("kaboom " + vault.token.get_secret_value())


@envres.asset
def quits(pool: Step, vault: Vault) -> int:
    log(pool.log, "asset quits")
    sys.exit("login failed for " + vault.token.get_secret_value())


@envres.asset
def dies(pool: Step) -> int:
    log(pool.log, "asset dies")
    os._exit(1)


@envres.asset
def shouts(pool: Step, vault: Vault) -> int:
    secret = vault.token.get_secret_value()
    print("the token is " + secret, flush=True)
    logging.getLogger("distributed.worker").error("token %s refused", secret)
    return 1


def quick(name: str, many: Step) -> int:
    log(many.log, f"asset {name}")
    meet(many.log)
    if many.fail == name:
        raise ValueError(f"{name} broke")
    return many.value * 1000 + int(name[1:])


@envres.asset
def locked(pool: Step) -> object:
    log(pool.log, "asset locked")
    return threading.Lock()  # cannot be pickled: cannot leave its worker


@envres.asset
def after_b(b: int, pool: Step) -> int:
    log(pool.log, "asset after_b")
    return b


@envres.asset
def after_locked(locked: object, pool: Step) -> int:
    log(pool.log, "asset after_locked")
    return 1


def worker_plugins(dask_worker: Any) -> list[str]:
    return sorted(dask_worker.plugins)
"""

# Many small independent assets m0..m59 on one resource, and a chain k0 <- k1 <- ... <- k29
# (each a level of its own), written out so that workers import them by name.
MANY = [f"m{i}" for i in range(60)]
CHAIN = [f"k{i}" for i in range(30)]
DEFINITIONS += "".join(
    f"\n\n@envres.asset\ndef {m}(many: Step) -> int:\n    return quick({m!r}, many)\n" for m in MANY
)
DEFINITIONS += "\n\n@envres.asset\ndef k0(many: Step) -> int:\n    return many.value\n"
DEFINITIONS += "".join(
    f"\n\n@envres.asset\ndef k{i}(k{i - 1}: int) -> int:\n    return k{i - 1} + {i}\n"
    for i in range(1, len(CHAIN))
)
DEFINITIONS += f"""

defs = envres.Definitions(
    assets=[
        a, b, c, d, e, f, p1, p2, p3, p4, token_length, counted, boom, quits, dies, shouts,
        locked, after_locked, after_b, {", ".join(MANY + CHAIN)},
    ],
    resource_types={{"step": Step, "vault": Vault, "tally": tally}},
)
"""

PROFILE = """\
resources:
  base: {type: step, config: {name: base, log: "${LOG}", value: 2}}
  pool:
    type: step
    config: {name: pool, log: "${LOG}", needs: [{resource: base}], value: 3, fail: "${FAIL_POOL:-}"}
  cache: {type: step, config: {name: cache, log: "${LOG}", needs: [{resource: base}], value: 5}}
  unused: {type: step, config: {name: unused, log: "${LOG}"}}
  vault: {type: vault, config: {token: "${VAULT_TOKEN}"}}
  tally: {type: tally, config: {log_file: "${LOG}", start: 41}}
  many: {type: step, config: {name: many, log: "${LOG}", value: 7, fail: "${FAIL_MANY:-}"}}
"""

SECRET = "hunter2-but-longer"
NEEDS = {"pool": "base", "cache": "base"}
SPREAD = ["p1", "p2", "p3", "p4"]
DIAMOND = {"a": 2, "b": 23, "c": 208, "d": 2005, "e": 7, "f": 2243}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Client]:
    """Two worker processes, one thread each, shared by the module's tests."""
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,
        ) as local,
        Client(local, set_as_default=False) as client,
    ):
        yield client


def at(needle: str, after: int = 0, proj: Project | None = None) -> str:
    """Where the definitions raise (``after`` lines below ``needle``), as a failure names
    it: relative to the folder the worker runs in, so absolute for this process's cluster."""
    file = f"{MODULE}.py" if proj is None else display(proj.root / f"{MODULE}.py")
    return f"{file}:{text_line(DEFINITIONS, needle) + after}"


@pytest.fixture(scope="module")
def proj(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = make_project(
        tmp_path_factory.mktemp("dask") / "proj",
        profiles={"dev.yaml": PROFILE},
        definitions=DEFINITIONS,
        module=MODULE,
    )
    with imports_undone(MODULE):
        yield project


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "dask.log"


def bind(proj: Project, log_path: Path, **env: str) -> envres.BoundDefinitions:
    return envres.load(
        "dev",
        project=proj.root,
        env={"LOG": str(log_path), "VAULT_TOKEN": SECRET, **env},
    )


def read_log(path: Path) -> list[tuple[str, str, str]]:
    """'setup pool pid=12' -> ('setup', 'pool', '12')."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        what, name, pid = re.fullmatch(r"(\w+) (\w+) pid=(\d+)", line).groups()  # type: ignore[union-attr]
        rows.append((what, name, pid))
    return rows


def by_pid(rows: list[tuple[str, str, str]], what: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for w, name, pid in rows:
        if w == what:
            out.setdefault(pid, []).append(name)
    return out


def assert_each_worker_set_up_once_and_tore_down(rows: list[tuple[str, str, str]]) -> None:
    """Per worker process: each resource set up at most once, after what it needs, and
    torn down exactly once, before what it needs."""
    setups, teardowns = by_pid(rows, "setup"), by_pid(rows, "teardown")
    assert setups.keys() == teardowns.keys()
    for pid, up in setups.items():
        down = teardowns[pid]
        assert len(up) == len(set(up)), (pid, up)
        assert sorted(down) == sorted(up), (pid, up, down)
        for key, dep in NEEDS.items():
            if key in up:
                assert up.index(dep) < up.index(key), (pid, up)
                assert down.index(key) < down.index(dep), (pid, down)


# -- results and lifecycle, through the Python API ---------------------------------------


def test_diamond_on_dask_gives_the_same_results_as_the_local_executor(
    cluster: Client, proj: Project, log_path: Path
) -> None:
    bound = bind(proj, log_path)

    on_dask = bound.run(["f"], executor=cluster)
    local = bound.run(["f"], jobs=2)

    assert on_dask.outputs == local.outputs == DIAMOND
    assert set(on_dask.seconds) == set(DIAMOND)


def test_each_worker_sets_up_what_its_assets_need_once_and_tears_it_down(
    cluster: Client, proj: Project, log_path: Path
) -> None:
    events: list[Event] = []

    bind(proj, log_path).run(SPREAD, executor=cluster, on_event=events.append)

    rows = read_log(log_path)
    assets = {name: pid for what, name, pid in rows if what == "asset"}
    assert len(set(assets.values())) == 2, assets  # both worker processes ran assets
    assert_each_worker_set_up_once_and_tore_down(rows)
    needs = {"p1": {"base", "pool"}, "p2": {"base", "pool", "cache"}}
    needs |= {"p3": {"base", "cache"}, "p4": {"base", "pool"}}
    for pid, up in by_pid(rows, "setup").items():
        wanted = set().union(*(needs[n] for n, p in assets.items() if p == pid))
        assert set(up) == wanted, (pid, up, wanted)
    # The client reports each worker's setups and teardowns, naming the worker.
    setups = [(e.name, e.worker) for e in events if e.kind == "setup"]
    downs = [(e.name, e.worker) for e in events if e.kind == "teardown"]
    assert len(setups) == len(set(setups)) == sum(len(v) for v in by_pid(rows, "setup").values())
    assert sorted(downs) == sorted(setups)
    assert sorted(e.name for e in events if e.kind == "asset_done") == SPREAD


def test_a_failing_asset_stops_the_run_and_every_worker_tears_down(
    cluster: Client, proj: Project, log_path: Path
) -> None:
    events: list[Event] = []
    bound = bind(proj, log_path, FAIL_POOL="p1")

    with pytest.raises(envres.AssetError) as info:
        bound.run(SPREAD, executor=cluster, on_event=events.append)

    where = at("if where.fail == name:", 1, proj)
    assert info.value.message == f"asset 'p1' failed: {where}: ValueError: p1 broke"
    assert isinstance(info.value.__cause__, ValueError)
    assert info.value.failures == (info.value,)
    rows = read_log(log_path)
    assert len(by_pid(rows, "setup")) == 2  # both workers had set something up
    assert_each_worker_set_up_once_and_tore_down(rows)
    assert [e.name for e in events if e.kind == "asset_failed"] == ["p1"]
    assert len([e for e in events if e.kind == "asset_done"]) < 3  # the rest was cancelled


def test_a_failing_setup_on_a_worker_is_a_setup_error_and_the_rest_is_torn_down(
    cluster: Client, proj: Project, log_path: Path
) -> None:
    bound = bind(proj, log_path, FAIL_POOL="setup")

    with pytest.raises(envres.SetupError) as info:
        bound.run(["b"], executor=cluster)

    assert info.value.message == (
        f"setup of resource 'pool' failed: {at('cannot connect', 0, proj)}: "
        "RuntimeError: pool cannot connect"
    )
    assert isinstance(info.value.__cause__, RuntimeError)
    rows = read_log(log_path)
    assert [r[:2] for r in rows if r[0] != "asset"] == [("setup", "base"), ("teardown", "base")]


def test_a_failing_teardown_on_a_worker_is_reported_as_a_teardown_error(
    cluster: Client, proj: Project, log_path: Path
) -> None:
    bound = bind(proj, log_path, FAIL_POOL="teardown")

    with pytest.raises(envres.TeardownError) as info:
        bound.run(["b"], executor=cluster)

    assert re.fullmatch(
        f"teardown of resource 'pool' failed: {re.escape(at('did not close', 0, proj))}: "
        r"OSError: pool did not close \(on worker \d\)",
        info.value.message,
    )
    assert [r[:2] for r in read_log(log_path) if r[0] == "teardown"] == [
        ("teardown", "pool"),
        ("teardown", "base"),
    ]


def test_secret_config_travels_sealed_and_arrives_whole(
    cluster: Client, proj: Project, log_path: Path
) -> None:
    bound = bind(proj, log_path)
    spec = _dask.profile_spec(Job(bound.defs, bound.profile, ("token_length",)))

    assert SECRET not in repr(spec.resources["vault"].inputs)
    assert SECRET not in repr(spec) + repr(_dask.WorkerResources(spec))
    assert bound.run(["token_length"], executor=cluster)["token_length"] == len(SECRET)


def test_resource_functions_and_async_assets_run_on_workers(
    cluster: Client, proj: Project, log_path: Path
) -> None:
    assert bind(proj, log_path).run(["counted"], executor=cluster)["counted"] == 42


def test_an_asset_not_importable_by_name_travels_by_value(
    cluster: Client, proj: Project, log_path: Path
) -> None:
    types = {k: rt.target for k, rt in bind(proj, log_path).defs.resource_types.items()}

    @envres.asset
    def doubled(pool: object) -> int:
        return pool.value * 2  # type: ignore[attr-defined, no-any-return]

    bound = envres.Definitions(assets=[doubled], resource_types=types).with_profile(
        "dev", project=str(proj.root), env={"LOG": str(log_path), "VAULT_TOKEN": SECRET}
    )

    assert bound.run(executor=cluster)["doubled"] == 6


def test_a_type_a_worker_cannot_import_fails_naming_the_key_and_the_worker(
    cluster: Client, tmp_path: Path, log_path: Path
) -> None:
    # Importable here, gone by the time the workers look for it.
    folder = tmp_path / "vanishing"
    folder.mkdir()
    (folder / "vanishing_types.py").write_text(
        "from collections.abc import Iterator\n"
        "import envres\n\n"
        "class Thing(envres.Resource):\n"
        "    size: int = 1\n\n"
        "@envres.asset\n"
        "def uses_thing(thing: Thing) -> int:\n"
        "    return thing.size\n",
        encoding="utf-8",
    )
    sys.path.insert(0, str(folder))
    try:
        import vanishing_types  # type: ignore[import-not-found]

        (folder / "vanishing_types.py").unlink()
        defs = envres.Definitions(
            assets=[vanishing_types.uses_thing], resource_types={"thing": vanishing_types.Thing}
        )
        project = make_project(
            tmp_path / "p", profiles={"dev.yaml": "resources:\n  thing: {type: thing}\n"}
        )
        bound = defs.with_profile("dev", project=str(project.root), env={})
        with pytest.raises(envres.SetupError) as info:
            bound.run(executor=cluster)
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("vanishing_types", None)

    assert info.value.key == "thing"
    assert re.fullmatch(
        r"setup of resource 'thing' failed: cannot import its type on worker \d: cannot import "
        r"type 'vanishing_types:Thing': no module named 'vanishing_types'",
        info.value.message,
    )


def test_a_type_not_importable_by_name_is_refused_before_anything_is_submitted(
    cluster: Client, proj: Project, log_path: Path
) -> None:
    class Local(envres.Resource):
        size: int = 1

    @envres.asset
    def sized(thing: Local) -> int:
        return thing.size

    project = make_project(
        log_path.parent / "p", profiles={"dev.yaml": "resources:\n  thing: {type: local}\n"}
    )
    bound = envres.Definitions(assets=[sized], resource_types={"local": Local}).with_profile(
        "dev", project=str(project.root), env={}
    )

    with pytest.raises(envres.DefinitionError, match=r"resource 'thing': its type .*Local cannot"):
        bound.run(executor=cluster)


def test_overrides_cannot_travel_to_workers(cluster: Client, proj: Project, log_path: Path) -> None:
    bound = envres.load(
        "dev",
        project=proj.root,
        env={"LOG": str(log_path), "VAULT_TOKEN": SECRET},
        overrides={"vault": object()},
    )

    with pytest.raises(envres.UsageError, match="overrides are live objects"):
        bound.run(["token_length"], executor=cluster)


def test_an_unknown_executor_name_is_a_usage_error(proj: Project, log_path: Path) -> None:
    with pytest.raises(envres.UsageError, match="unknown executor 'daks'"):
        bind(proj, log_path).run(["a"], executor="daks")


# -- many assets: what submitting and gathering them in batches must keep ---------------------


def test_many_independent_assets_give_each_result_and_each_event_once(
    cluster: Client, proj: Project, log_path: Path
) -> None:
    events: list[Event] = []
    bound = bind(proj, log_path)

    on_dask = bound.run(MANY, executor=cluster, on_event=events.append)

    assert on_dask.outputs == bound.run(MANY, jobs=2).outputs
    assert on_dask.outputs == {m: 7000 + int(m[1:]) for m in MANY}
    assert set(on_dask.seconds) == set(MANY)
    kinds = [(e.kind, e.name) for e in events if e.kind.startswith("asset_")]
    assert sorted(n for k, n in kinds if k == "asset_started") == sorted(MANY)
    assert sorted(n for k, n in kinds if k == "asset_done") == sorted(MANY)
    for m in MANY:  # each asset is reported started before done
        assert kinds.index(("asset_started", m)) < kinds.index(("asset_done", m))
    assert not [k for k, _ in kinds if k not in ("asset_started", "asset_done")]


def test_many_tasks_on_a_worker_share_one_setup_and_each_asset_runs_once(
    cluster: Client, proj: Project, log_path: Path
) -> None:
    events: list[Event] = []

    bind(proj, log_path).run(MANY, executor=cluster, on_event=events.append)

    rows = read_log(log_path)
    ran = {name: pid for what, name, pid in rows if what == "asset"}
    assert sorted(ran) == sorted(MANY)
    assert len([r for r in rows if r[0] == "asset"]) == len(MANY)  # none ran twice
    assert len(set(ran.values())) == 2, ran  # both workers ran some
    assert by_pid(rows, "setup") == {pid: ["many"] for pid in set(ran.values())}
    assert_each_worker_set_up_once_and_tore_down(rows)
    setups = sorted((e.name, e.worker) for e in events if e.kind == "setup")
    assert len(setups) == 2 and len({w for _, w in setups}) == 2
    assert sorted((e.name, e.worker) for e in events if e.kind == "teardown") == setups


def test_a_failure_among_many_assets_names_it_and_every_worker_tears_down(
    cluster: Client, proj: Project, log_path: Path
) -> None:
    events: list[Event] = []
    bound = bind(proj, log_path, FAIL_MANY="m30")

    with pytest.raises(envres.AssetError) as info:
        bound.run(MANY, executor=cluster, on_event=events.append)

    where = at("if many.fail == name:", 1, proj)
    assert info.value.message == f"asset 'm30' failed: {where}: ValueError: m30 broke"
    assert isinstance(info.value.__cause__, ValueError)
    assert [e.name for e in events if e.kind == "asset_failed"] == ["m30"]
    done = [e.name for e in events if e.kind == "asset_done"]
    assert len(done) == len(set(done)) and "m30" not in done
    rows = read_log(log_path)
    ran = [name for what, name, _ in rows if what == "asset"]
    assert len(ran) == len(set(ran)) and "m30" in ran  # at most once each
    assert set(done) <= set(ran)
    assert_each_worker_set_up_once_and_tore_down(rows)


def test_a_chain_runs_in_order_each_asset_given_its_upstream_value(
    cluster: Client, proj: Project, log_path: Path
) -> None:
    events: list[Event] = []

    result = bind(proj, log_path).run([CHAIN[-1]], executor=cluster, on_event=events.append)

    assert result.outputs == {k: 7 + sum(range(int(k[1:]) + 1)) for k in CHAIN}
    kinds = [(e.kind, e.name) for e in events if e.kind in ("asset_started", "asset_done")]
    assert kinds == [(kind, k) for k in CHAIN for kind in ("asset_started", "asset_done")]


def test_a_run_leaves_no_plugin_on_a_long_lived_cluster(
    cluster: Client, proj: Project, log_path: Path
) -> None:
    bound = bind(proj, log_path)
    bound.run(SPREAD, executor=cluster)
    with pytest.raises(envres.AssetError):
        bind(proj, log_path, FAIL_MANY="m3").run(MANY, executor=cluster)

    workers = cluster.run(sys.modules[MODULE].worker_plugins)

    assert len(workers) == 2
    for plugins in workers.values():
        assert not [p for p in plugins if p.startswith("envres-")], plugins


# -- the command line ----------------------------------------------------------------------


def test_cli_failing_asset_on_an_existing_cluster_exits_3_with_the_local_message(
    envres_cli: Cli, cluster: Client, proj: Project, log_path: Path
) -> None:
    address = cluster.scheduler.address  # type: ignore[union-attr]
    env = {"LOG": str(log_path), "VAULT_TOKEN": SECRET, "FAIL_POOL": "p1"}

    result = envres_cli(
        "run", *SPREAD, "--executor", "dask", "--scheduler", address, cwd=proj.root, env=env
    )

    assert result.code == 3
    # This cluster's workers run in the test's folder: the path is absolute.
    where = at("if where.fail == name:", 1, proj)
    assert result.err_lines == [
        f"run failed: asset 'p1' failed: {where}: ValueError: p1 broke",
        HINT,
    ]
    assert result.out.splitlines()[0] == (
        f"envres run: profile 'dev', 4 assets, dask: scheduler {address}"
    )
    assert re.search(
        rf"^  FAILED  p1 +\d+ ms  {re.escape(where)}: ValueError: p1 broke$", result.out, re.M
    )
    assert re.search(r"^  down    base \(worker \d\) +\d+ ms$", result.out, re.M)
    rows = read_log(log_path)
    assert len(by_pid(rows, "teardown")) == 2  # every worker tore down
    assert_each_worker_set_up_once_and_tore_down(rows)
    assert SECRET not in result.out + result.err


def test_cli_missing_variable_is_caught_before_any_cluster_starts(
    envres_cli: Cli, proj: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr(_dask, "LocalCluster", lambda *a, **k: started.append(a))
    monkeypatch.setattr(_dask, "Client", lambda *a, **k: started.append(a))

    result = envres_cli("run", "--executor", "dask", cwd=proj.root, env={"VAULT_TOKEN": SECRET})

    assert result.code == 1
    assert "environment variable LOG is not set" in result.err
    assert result.out == ""
    assert started == []


def test_cli_without_the_extra_says_how_to_install_it(
    envres_cli: Cli, proj: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    monkeypatch.delitem(sys.modules, "envres._executors._dask")

    result = envres_cli("run", "--executor", "dask", cwd=proj.root)

    assert result.code == 2
    assert result.err_lines == [
        "envres: the dask executor needs dask.distributed, which is not installed: "
        "pip install 'envres[dask]'"
    ]


def test_cli_scheduler_without_the_dask_executor_is_a_usage_error(
    envres_cli: Cli, proj: Project
) -> None:
    result = envres_cli("run", "--scheduler", "tcp://127.0.0.1:8786", cwd=proj.root)

    assert result.code == 2
    assert "--scheduler needs --executor dask" in result.err


def test_real_cli_runs_on_its_own_local_cluster_of_jobs_worker_processes(
    proj: Project, tmp_path: Path
) -> None:
    log_path = tmp_path / "real.log"
    env = {"LOG": str(log_path), "VAULT_TOKEN": SECRET}

    args = ("run", "f", *SPREAD, "--executor", "dask", "--jobs", "2")
    result = run_real(*args, cwd=proj.root, env=env)

    assert result.code == 0, result.err
    assert result.err == ""
    lines = result.out.splitlines()
    assert lines[0] == (
        "envres run: profile 'dev', 10 assets, dask: a local cluster of 2 worker processes"
    )
    assert sorted(line.split()[1] for line in lines if line.startswith("  ok ")) == sorted(
        [*DIAMOND, *SPREAD]
    )
    assert re.search(r"^  setup   pool \(worker \d\) +\d+ ms$", result.out, re.M)
    assert lines[-1].startswith("10 succeeded in ")
    rows = read_log(log_path)
    assert len({pid for *_, pid in rows} - {str(os.getpid())}) == 2
    assert_each_worker_set_up_once_and_tore_down(rows)


def test_import_envres_and_help_do_not_import_dask() -> None:
    code = (
        "import sys, envres\n"
        "from envres._cli import invoke\n"
        "invoke(['--help']); invoke(['run', '--help'])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert "--executor [local|dask]" in out.stdout


# -- user code that raises anything, or kills its worker ------------------------------------


@pytest.mark.parametrize(
    ("asset", "detail"),
    [
        ("boom", f"{at('raise Boom(')}: Boom: kaboom **********"),
        ("quits", f"{at('sys.exit(')}: SystemExit: login failed for **********"),
    ],
)
def test_an_asset_raising_a_base_exception_fails_the_run_once_masked_and_balanced(
    proj: Project, tmp_path: Path, asset: str, detail: str
) -> None:
    log_path = tmp_path / "dask.log"
    env = {"LOG": str(log_path), "VAULT_TOKEN": SECRET}

    result = run_real("run", asset, "--executor", "dask", "--jobs", "2", cwd=proj.root, env=env)

    assert result.code == 3, result.err
    # A local cluster's workers run in the project folder, as the command does.
    assert result.err_lines[-2:] == [f"run failed: asset '{asset}' failed: {detail}", HINT]
    assert SECRET not in result.out + result.err
    assert "Traceback" not in result.out + result.err
    rows = read_log(log_path)
    assert [r[:2] for r in rows if r[0] == "asset"] == [("asset", asset)]  # ran once
    assert_each_worker_set_up_once_and_tore_down(rows)


def test_an_asset_that_kills_its_worker_fails_the_run_naming_it_and_runs_once(
    proj: Project, tmp_path: Path
) -> None:
    log_path = tmp_path / "dask.log"
    env = {"LOG": str(log_path), "VAULT_TOKEN": SECRET}

    args = ("run", "dies", "p1", "p3", "--executor", "dask", "--jobs", "2")
    result = run_real(*args, cwd=proj.root, env=env)

    assert result.code == 3, result.err
    # Dask cannot tell which task killed a worker: every task running or queued there
    # fails with KilledWorker, and the first to come back names the failure.
    assert re.fullmatch(
        r"run failed: asset '(dies|p1|p3)' failed: the Dask worker running it died; it is "
        r"not run again \(KilledWorker\)",
        result.err_lines[-1],
    )
    rows = read_log(log_path)
    assert [r[:2] for r in rows if r[0] == "asset"].count(("asset", "dies")) == 1
    # The worker that died took its resources with it; every other one tore down.
    dead = next(pid for what, name, pid in rows if (what, name) == ("asset", "dies"))
    survivors = [r for r in rows if r[2] != dead]
    assert_each_worker_set_up_once_and_tore_down(survivors)


def test_what_workers_print_and_log_is_masked(proj: Project, tmp_path: Path) -> None:
    log_path = tmp_path / "dask.log"
    env = {"LOG": str(log_path), "VAULT_TOKEN": SECRET}

    result = run_real("run", "shouts", "--executor", "dask", "--jobs", "1", cwd=proj.root, env=env)

    assert result.code == 0, result.err
    assert "the token is **********" in result.out + result.err
    assert SECRET not in result.out + result.err


def test_an_unpicklable_value_fails_its_asset_in_one_line_and_nothing_downstream_runs(
    proj: Project, tmp_path: Path
) -> None:
    log_path = tmp_path / "dask.log"
    env = {"LOG": str(log_path), "VAULT_TOKEN": SECRET}

    args = ("run", "after_locked", "--executor", "dask", "--jobs", "2")
    result = run_real(*args, cwd=proj.root, env=env)

    assert result.code == 3, result.err
    assert result.err_lines == [
        "run failed: asset 'locked' failed: it returned a _thread.lock, which cannot be sent "
        "from a Dask worker: TypeError: cannot pickle '_thread.lock' object"
    ]
    assert "Traceback" not in result.out
    failed = [x.split()[1] for x in result.out.splitlines() if x.startswith("  FAILED")]
    assert failed == ["locked"]
    assert result.out.splitlines()[-1].startswith("0 succeeded, 1 failed, 1 not run in ")
    rows = read_log(log_path)
    assert [r[:2] for r in rows if r[0] == "asset"] == [("asset", "locked")]  # not after_locked
    assert_each_worker_set_up_once_and_tore_down(rows)


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_a_downstream_asset_never_runs_after_its_upstream_failed(
    cluster: Client, proj: Project, log_path: Path, executor: str
) -> None:
    events: list[Event] = []
    bound = bind(proj, log_path, FAIL_POOL="b")
    target: object = cluster if executor == "dask" else "local"

    with pytest.raises(envres.AssetError) as info:
        bound.run(["after_b", "p3"], jobs=2, executor=target, on_event=events.append)

    where = at("if where.fail == name:", 1, proj)
    assert info.value.message == f"asset 'b' failed: {where}: ValueError: b broke"
    assert [e.name for e in events if e.kind == "asset_failed"] == ["b"]
    ran = [name for what, name, _ in read_log(log_path) if what == "asset"]
    assert "b" in ran and "after_b" not in ran
    assert "after_b" not in [e.name for e in events if e.kind in ("asset_started", "asset_done")]


def test_a_failure_keeps_the_users_line_and_the_rest_of_its_message_on_its_way_back() -> None:
    # What a worker sends back is pickled: the place and the rest of the message are
    # plain text taken there, so they arrive as they were.
    why = Reason("ValueError: no table raw_user", "pipeline.py:12", ("Did you mean raw_users?",))
    failure = pickle.loads(pickle.dumps(_dask._TaskFailure("users", "asset", "users", why)))

    error = failure.error()
    assert error.reason == why
    assert error.message == "asset 'users' failed: pipeline.py:12: ValueError: no table raw_user"
    assert str(error).splitlines()[1:] == ["  Did you mean raw_users?"]
