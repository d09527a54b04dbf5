"""envres.dagster: profiles build the resources of a real dagster.Definitions.

One code location serves the module: `dagster_pipeline`, written into a temporary
project with its profiles. Its resources append "setup KEY pid=P" / "teardown KEY
pid=P" to the file named by $LOG, so each test reads, from what the resources
wrote themselves, how often and in which process each was set up and torn down.
Runs go through Dagster itself: `dg.materialize` in-process, and the `dagster`
command as a subprocess (multiprocess executor, a persistent DAGSTER_HOME).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

import envres
from envres._paths import display
from tests._dagster_helpers import dagster, dagster_environ, new_dagster_home
from tests.conftest import Project, imports_undone, make_project, text_line

MODULE = "dagster_pipeline"
CANARY = "cnry-dagster-5f2e9a71"

DEFINITIONS = """
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from pydantic import SecretStr

import envres
import envres.dagster


def log(line: str) -> None:
    with open(os.environ["LOG"], "a", encoding="utf-8") as fh:
        fh.write(f"{line} pid={os.getpid()}\\n")


class Conn(envres.Resource):
    name: str
    password: SecretStr
    fail: str = ""

    def lifespan(self) -> Iterator[None]:
        if self.fail == "setup":
            raise ConnectionError("login refused for " + self.password.get_secret_value())
        log(f"setup {self.name}")
        self._open = True
        yield
        self._open = False
        log(f"teardown {self.name}")
        if self.fail == "teardown":
            raise OSError("logout failed for " + self.password.get_secret_value())


class Client(envres.Resource):
    conn: Conn
    api_token: str = ""

    def lifespan(self) -> Iterator[None]:
        assert self.conn._open, "the referenced resource is set up first"
        log("setup client")
        yield
        assert self.conn._open, "the referenced resource is torn down after"
        log("teardown client")


class Spy(envres.Resource):
    def lifespan(self) -> Iterator[None]:
        log("setup spy")
        yield
        log("teardown spy")


types = envres.Definitions(resource_types={"conn": Conn, "client": Client, "spy": Spy})


@dg.asset
def a(conn: dg.ResourceParam[Conn]) -> int:
    log("asset a")
    return 1


@dg.asset
def b(a: int, client: dg.ResourceParam[Client], conn: dg.ResourceParam[Conn]) -> int:
    log("asset b")
    assert client.conn is conn, "a reference is the instance an asset receives"
    if os.environ.get("FAIL_ASSET") == "b":
        raise RuntimeError("b broke")
    return a + 1


@dg.asset
def c(b: int, spy: dg.ResourceParam[Spy]) -> int:
    log("asset c")
    return b + 1


@dg.asset
def d(spy: dg.ResourceParam[Spy]) -> int:
    log("asset d")
    return 4


ASSETS = [a, b, c, d]
defs = dg.Definitions(
    assets=ASSETS,
    resources=envres.dagster.resources(
        types,
        project=Path(__file__).resolve().parent,
        allow_missing_env=os.environ.get("ALLOW_MISSING") == "1",
    ),
)
"""

PROFILE = """\
resources:
  conn:
    type: conn
    config:
      name: conn
      password: ${CONN_PASSWORD}
      fail: ${FAIL_CONN:-}
  client:
    type: client
    config:
      conn: {resource: conn}
      api_token: ${API_TOKEN:-}
  spy: {type: spy}
"""

BROKEN = PROFILE.replace("type: spy", "type: sppy")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("dagster") / "proj"
    proj = make_project(
        root,
        profiles={"dev.yaml": PROFILE, "broken.yaml": BROKEN},
        definitions=DEFINITIONS,
        module=MODULE,
    )
    with imports_undone(MODULE):
        yield proj


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return new_dagster_home(tmp_path)


def environ(project: Project, log: Path, home: Path, **extra: str) -> dict[str, str]:
    return dagster_environ(project, home, LOG=str(log), CONN_PASSWORD=CANARY, **extra)


def read_log(path: Path) -> list[tuple[str, str, str]]:
    """'setup conn pid=12' -> ('setup', 'conn', '12')."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"(\w+) (\w+) pid=(\d+)", line)
        assert match, line
        rows.append((match[1], match[2], match[3]))
    return rows


def per_process(rows: list[tuple[str, str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for what, name, pid in rows:
        out.setdefault(pid, []).append(f"{what} {name}")
    return out


def assert_balanced(lines: list[str]) -> None:
    """In one process: each resource set up once, torn down once, in reverse order."""
    ups = [x.split()[1] for x in lines if x.startswith("setup ")]
    downs = [x.split()[1] for x in lines if x.startswith("teardown ")]
    assert len(ups) == len(set(ups)), lines
    assert downs == list(reversed(ups)), lines


def everything_under(home: Path) -> bytes:
    """Every byte Dagster stored: run storage, event log (SQLite), compute logs."""
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


def load_module(
    project: Project, monkeypatch: pytest.MonkeyPatch, log: Path, **extra: str
) -> object:
    """Import the code location in this process, with the test's environment."""
    import importlib

    monkeypatch.setenv("LOG", str(log))
    monkeypatch.setenv("CONN_PASSWORD", CANARY)
    monkeypatch.setenv("ENVRES_PROJECT", str(project.root))
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    monkeypatch.syspath_prepend(str(project.root))
    sys.modules.pop(MODULE, None)
    return importlib.import_module(MODULE)


# -- in-process ------------------------------------------------------------------------


def test_materialize_in_process_sets_each_resource_up_once_and_tears_down_in_reverse(
    project: Project, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "run.log"
    module = load_module(project, monkeypatch, log)
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    result = dg.materialize(module.ASSETS, resources=module.defs.resources)  # type: ignore[attr-defined]

    assert result.success
    assert result.output_for_node("c") == 3
    assert result.output_for_node("d") == 4
    rows = read_log(log)
    assert {pid for *_, pid in rows} == {str(os.getpid())}
    lines = per_process(rows)[str(os.getpid())]
    # In process, Dagster initialises a run's resources once, before its first step;
    # envres sets each up once (conn, which client refers to, first) and tears down
    # in reverse after the last.
    assert lines[:3] == ["setup conn", "setup client", "setup spy"]
    assert sorted(lines[3:7]) == ["asset a", "asset b", "asset c", "asset d"]
    assert lines[7:] == ["teardown spy", "teardown client", "teardown conn"]


def test_a_failing_asset_still_tears_everything_down(
    project: Project, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "run.log"
    module = load_module(project, monkeypatch, log, FAIL_ASSET="b")
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    result = dg.materialize(
        module.ASSETS,  # type: ignore[attr-defined]
        resources=module.defs.resources,  # type: ignore[attr-defined]
        raise_on_error=False,
    )

    assert not result.success
    lines = per_process(read_log(log))[str(os.getpid())]
    assert "asset c" not in lines
    assert_balanced(lines)
    assert lines[-1] == "teardown conn"


def test_a_failing_setup_is_envres_one_line_without_the_secret_or_its_cause(
    project: Project, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "run.log"
    module = load_module(project, monkeypatch, log, FAIL_CONN="setup")
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    with dg.instance_for_test(temp_dir=str(home)) as instance:
        result = dg.materialize(
            module.ASSETS,  # type: ignore[attr-defined]
            resources=module.defs.resources,  # type: ignore[attr-defined]
            raise_on_error=False,
            instance=instance,
        )
        records = instance.get_records_for_run(result.run_id).records
        stored = "\n".join(str(r.event_log_entry) for r in records)

    assert not result.success
    failures = [e for e in result.all_events if e.is_failure and e.event_specific_data is not None]
    errors = [str(getattr(e.event_specific_data, "error", "")) for e in failures]
    # The line of the user's code, as this process (not in the project folder) names it.
    at = f"{display(project.root / f'{MODULE}.py')}:{text_line(DEFINITIONS, 'login refused')}"
    assert any(
        f"setup of resource 'conn' failed: {at}: ConnectionError: login refused for **********"
        in text
        for text in errors
    ), errors
    assert CANARY not in stored
    assert CANARY not in "\n".join(errors)
    assert read_log(log) == []  # nothing was set up, so nothing to tear down


def test_resource_descriptions_show_the_config_with_secrets_masked(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "tok-" + CANARY
    module = load_module(project, monkeypatch, tmp_path / "x.log", API_TOKEN=token)

    resources = module.defs.resources  # type: ignore[attr-defined]

    assert set(resources) == {"conn", "client", "spy", envres.dagster.SCOPE_KEY}
    conn = resources["conn"].description
    assert conn.splitlines()[0] == "envres profile 'dev', type conn"
    assert "password: '**********'" in conn
    client = resources["client"].description
    assert "api_token: '**********'" in client  # secret by its name, a plain str field
    assert "conn:\n  resource: conn" in client
    assert CANARY not in conn + client


# -- the dagster command, multiprocess executor ------------------------------------------


def test_dagster_cli_multiprocess_sets_up_per_step_process_and_tears_down_each(
    project: Project, tmp_path: Path, home: Path
) -> None:
    log = tmp_path / "run.log"
    env = environ(project, log, home)

    result = dagster(
        "asset", "materialize", "-m", MODULE, "--select", "*", env=env, cwd=project.root
    )

    assert result.returncode == 0, result.stderr[-3000:]
    processes = per_process(read_log(log))
    steps = {tuple(x for x in lines if x.startswith("asset")) for lines in processes.values()}
    assert steps == {("asset a",), ("asset b",), ("asset c",), ("asset d",)}  # a process each
    for lines in processes.values():
        assert_balanced(lines)
        asset = next(x for x in lines if x.startswith("asset"))
        needed = {
            "asset a": ["conn"],
            "asset b": ["conn", "client"],
            "asset c": ["spy"],
            "asset d": ["spy"],
        }[asset]
        assert [x.split()[1] for x in lines if x.startswith("setup")] == needed
    assert CANARY not in result.stdout + result.stderr
    assert CANARY.encode() not in everything_under(home)


def test_dagster_cli_failing_teardown_is_reported_masked_and_the_others_still_run(
    project: Project, tmp_path: Path, home: Path
) -> None:
    log = tmp_path / "run.log"
    env = environ(project, log, home, FAIL_CONN="teardown")

    result = dagster(
        "asset", "materialize", "-m", MODULE, "--select", "a+", env=env, cwd=project.root
    )

    output = result.stdout + result.stderr
    at = f"{MODULE}.py:{text_line(DEFINITIONS, 'logout failed')}"
    assert (
        f"teardown of resource 'conn' failed: {at}: OSError: logout failed for **********" in output
    )
    for lines in per_process(read_log(log)).values():
        assert_balanced(lines)
    assert CANARY not in output
    assert CANARY.encode() not in everything_under(home)


def test_definitions_validate_passes_a_valid_profile_and_fails_a_broken_one_with_its_lines(
    project: Project, tmp_path: Path, home: Path
) -> None:
    env = environ(project, tmp_path / "x.log", home)

    valid = dagster("definitions", "validate", "-m", MODULE, env=env, cwd=project.root)
    broken = dagster(
        "definitions",
        "validate",
        "-m",
        MODULE,
        env={**env, "ENVRES_PROFILE": "broken"},
        cwd=project.root,
    )

    assert valid.returncode == 0, valid.stderr[-3000:]
    assert broken.returncode == 1
    assert (
        "profiles/broken.yaml:13:15: E301 resources.spy.type: unknown resource type 'sppy'; did "
        "you mean 'spy'? (known types: client, conn, spy)"
    ) in broken.stdout + broken.stderr
    assert "1 problem in profile 'broken'" in broken.stdout + broken.stderr


def test_allow_missing_env_loads_with_a_warning_and_fails_the_setup_that_needs_it(
    project: Project, tmp_path: Path, home: Path
) -> None:
    log = tmp_path / "run.log"
    env = environ(project, log, home, ALLOW_MISSING="1")
    del env["CONN_PASSWORD"]

    strict = dagster(
        "definitions",
        "validate",
        "-m",
        MODULE,
        env={**env, "ALLOW_MISSING": "0"},
        cwd=project.root,
    )
    run = dagster(
        "asset", "materialize", "-m", MODULE, "--select", "a,d", env=env, cwd=project.root
    )

    assert strict.returncode == 1
    assert "environment variable CONN_PASSWORD is not set" in strict.stdout + strict.stderr
    output = run.stdout + run.stderr
    assert (
        "warning: E401 resources.conn.config.password: environment variable CONN_PASSWORD" in output
    )
    assert run.returncode != 0
    assert (
        "setup of resource 'conn' failed: resources.conn.config.password: environment "
        "variable CONN_PASSWORD is not set"
    ) in output
    assert [r[:2] for r in read_log(log) if r[0] == "asset"] == [("asset", "d")]  # spy: no secret


def test_import_envres_never_imports_dagster() -> None:
    code = "import sys, envres; print('dagster' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"


def test_loaded_offline_a_variable_set_by_setup_time_is_used_there(
    project: Project, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The code location loads without the secret (a CI image, a code server without
    # it); the process that runs the step has it by then: setup loads the profile again.
    import importlib
    import logging

    log = tmp_path / "run.log"
    load_module(project, monkeypatch, log, ALLOW_MISSING="1", DAGSTER_HOME=str(home))
    monkeypatch.delenv("CONN_PASSWORD")
    sys.modules.pop(MODULE, None)
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("envres").addHandler(handler)
    try:
        offline = importlib.import_module(MODULE)
    finally:
        logging.getLogger("envres").removeHandler(handler)
    assert any("CONN_PASSWORD is not set" in r for r in records), records  # loaded offline
    monkeypatch.setenv("CONN_PASSWORD", CANARY)

    result = dg.materialize(offline.ASSETS, resources=offline.defs.resources)  # type: ignore[attr-defined]

    assert result.success
    assert result.output_for_node("c") == 3
    assert ("setup", "conn", str(os.getpid())) in read_log(log)
