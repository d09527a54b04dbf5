"""Dagster's own resource classes as profile types, run by Dagster itself.

One code location, `dgc_pipeline`, written into a temporary project: a
`dg.ConfigurableResource` (`Conn`), one nested in another (`Client.conn`, filled
with `{resource: conn}`), and a `dg.ConfigurableIOManager` on `io_manager`, named
by short name and by import path. Resources append what Dagster made them do
("setup conn", "teardown client", "write a") to $LOG. Runs go through Dagster:
`dg.materialize` in process, and the `dagster` command (multiprocess executor, a
persistent DAGSTER_HOME whose every byte, SQLite rows decompressed, is searched
for the canary).
"""

from __future__ import annotations

import json
import sqlite3
import sys
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import dagster as dg
import pytest

from envres._paths import display
from envres._secrets import MASK
from tests._dagster_helpers import dagster, dagster_environ, new_dagster_home
from tests.conftest import Cli, Project, imports_undone, text_line

# Dagster 1.13 itself calls its own deprecated InitResourceContext.dagster_run when it
# sets a nested resource up (_call_resource_fn_with_default -> replace_config).
pytestmark = pytest.mark.filterwarnings(
    "ignore:InitResourceContext.dagster_run is deprecated:DeprecationWarning"
)

MODULE = "dgc_pipeline"
CANARY = "cnry-dgclass-3b9e51d0"

DEFINITIONS = """
from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from pydantic import field_validator

import envres
import envres.dagster


def log(line: str) -> None:
    with open(os.environ["LOG"], "a", encoding="utf-8") as fh:
        fh.write(f"{line}\\n")


class Conn(dg.ConfigurableResource):
    # A connection whose password is a secret by its name.

    name: str
    password: str
    fail: str = ""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.fail == "setup":
            try:
                raise FileNotFoundError(
                    2, "No such file or directory (login " + self.password + ")", "dbt"
                )
            except FileNotFoundError as exc:
                raise RuntimeError("could not start dbt") from exc
        assert self.password == os.environ["CONN_PASSWORD"], "Dagster resolved the secret"
        log(f"setup conn {self.name}")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        log(f"teardown conn {self.name}")


class Client(dg.ConfigurableResource):
    conn: Conn
    retries: int = 3

    @field_validator("retries")
    @classmethod
    def not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("retries must be 0 or more")
        return value

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[Client]:
        log(f"setup client conn={self.conn.name}")
        yield self
        log("teardown client")


class JsonIO(dg.ConfigurableIOManager):
    base_dir: str

    def handle_output(self, context: dg.OutputContext, obj: int) -> None:
        name = context.asset_key.path[-1]
        Path(self.base_dir, f"{name}.json").write_text(json.dumps(obj))
        log(f"write {name}")

    def load_input(self, context: dg.InputContext) -> int:
        name = context.asset_key.path[-1]
        return json.loads(Path(self.base_dir, f"{name}.json").read_text())


types = envres.Definitions(resource_types={"conn": Conn, "client": Client})


@dg.asset
def a(conn: Conn) -> int:
    log("asset a")
    return 1


@dg.asset
def b(a: int, client: Client, conn: Conn) -> int:
    assert client.conn.password == conn.password
    log(f"asset b retries={client.retries}")
    return a + 1


ASSETS = [a, b]
defs = dg.Definitions(
    assets=ASSETS,
    resources=envres.dagster.resources(types, project=Path(__file__).resolve().parent),
)


@envres.asset
def uses_conn(conn: Conn) -> int:
    return 1


envres_defs = envres.Definitions(
    assets=[uses_conn], resource_types={"conn": Conn, "client": Client}
)
"""

PROFILE = f"""\
resources:
  conn:
    type: conn
    config:
      name: main
      password: ${{CONN_PASSWORD}}
      fail: ${{FAIL_CONN:-}}
  client:
    type: client
    config:
      conn: {{resource: conn}}
      retries: ${{RETRIES:-3}}
  io_manager:
    type: {MODULE}:JsonIO
    config:
      base_dir: ${{IO_DIR}}
"""

TYPO = PROFILE.replace("      name: main\n", "      name: main\n      passwrd: x\n")


def write_project(root: Path, definitions: str) -> Project:
    proj = Project(root)
    proj.write(f"{MODULE}.py", DEFINITIONS)
    proj.write(
        "pyproject.toml",
        f'[tool.envres]\ndefinitions = "{definitions}"\n',
    )
    proj.profile("dev.yaml", PROFILE)
    proj.profile("typo.yaml", TYPO)
    proj.profile(
        "other.yaml",
        PROFILE.replace("name: main", "name: other").replace("CONN_PASSWORD", "OTHER_PASSWORD"),
    )
    return proj


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    proj = write_project(tmp_path_factory.mktemp("dgc") / "proj", f"{MODULE}:types")
    with imports_undone(MODULE):
        yield proj


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return new_dagster_home(tmp_path)


def environ(project: Project, tmp_path: Path, home: Path, **extra: str) -> dict[str, str]:
    io_dir = tmp_path / "io"
    io_dir.mkdir(exist_ok=True)
    mine = {"LOG": str(tmp_path / "run.log"), "IO_DIR": str(io_dir), "CONN_PASSWORD": CANARY}
    return dagster_environ(project, home, **mine, **extra)


def stored(home: Path) -> bytes:
    """Every byte Dagster stored, with each SQLite value (snapshots are zlib'd) opened."""
    out: list[bytes] = []
    for path in home.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        out.append(data)
        if not data.startswith(b"SQLite format 3"):
            continue
        with sqlite3.connect(path) as db:
            tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
            for table in tables:
                for row in db.execute(f'select * from "{table}"'):
                    for value in row:
                        if isinstance(value, bytes):
                            out.append(_opened(value))
                        elif isinstance(value, str):
                            out.append(value.encode())
    return b"\n".join(out)


def _opened(blob: bytes) -> bytes:
    try:
        return zlib.decompress(blob)
    except zlib.error:
        return blob


def load_module(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> object:
    import importlib

    for key, value in env.items():
        if key.startswith(("LOG", "IO_DIR", "CONN_", "ENVRES_", "FAIL_", "RETRIES")):
            monkeypatch.setenv(key, value)
    monkeypatch.syspath_prepend(env["PYTHONPATH"])
    sys.modules.pop(MODULE, None)
    return importlib.import_module(MODULE)


def log_lines(tmp_path: Path) -> list[str]:
    path = tmp_path / "run.log"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


# -- envres's commands read Dagster's classes like Resources -----------------------------


def test_validate_rejects_a_field_dagster_would_drop_with_its_file_and_line(
    project: Project, envres_cli: Cli, tmp_path: Path, home: Path
) -> None:
    env = environ(project, tmp_path, home)

    ok = envres_cli("validate", cwd=project.root, env=env)
    typo = envres_cli("validate", "--profile", "typo", cwd=project.root, env=env)

    assert ok.code == 0, ok.err
    assert "profile 'dev' is valid (3 resources" in ok.out
    assert typo.code == 1
    assert (
        "profiles/typo.yaml:6:7: E303 resources.conn.config.passwrd: unknown field 'passwrd'; "
        "did you mean 'password'? (fields: name, password, fail)"
    ) in typo.err


def test_show_masks_a_dagster_field_secret_by_its_name(
    project: Project, envres_cli: Cli, tmp_path: Path, home: Path
) -> None:
    result = envres_cli("show", cwd=project.root, env=environ(project, tmp_path, home))

    assert result.code == 0, result.err
    assert f"password: '{MASK}'" in result.out or f"password: {MASK}" in result.out
    assert "retries: 3" in result.out
    assert CANARY not in result.out + result.err


def test_diff_compares_dagster_fields_and_says_a_secret_changed_without_it(
    project: Project, envres_cli: Cli, tmp_path: Path, home: Path
) -> None:
    env = environ(project, tmp_path, home, OTHER_PASSWORD="other-" + CANARY)

    result = envres_cli("diff", "dev", "other", cwd=project.root, env=env)

    assert result.code == 0, result.err
    assert result.out.splitlines()[2:] == [
        "~ conn (conn)",
        "    ~ name: main -> other",
        "    ~ password: (changed)",
        "Plan: 0 to add, 1 to change, 0 to remove.",
    ]
    assert CANARY not in result.out + result.err


def test_envres_run_refuses_a_dagster_class_with_one_line(
    project: Project, envres_cli: Cli, tmp_path: Path, home: Path
) -> None:
    result = envres_cli(
        "run",
        "--definitions",
        f"{MODULE}:envres_defs",
        cwd=project.root,
        env=environ(project, tmp_path, home),
    )

    assert result.code == 3
    assert (
        "setup of resource 'conn' failed: DefinitionError: type 'conn' is a Dagster resource "
        "class (Conn): Dagster runs its lifecycle, so use it through envres.dagster.resources()"
    ) in result.err + result.out
    assert log_lines(tmp_path) == []


# -- in process ---------------------------------------------------------------------------


def test_materialize_in_process_runs_dagster_lifecycle_nested_resource_and_io_manager(
    project: Project, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environ(project, tmp_path, home, RETRIES="5")
    module = load_module(monkeypatch, env)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    resources = module.defs.resources  # type: ignore[attr-defined]

    result = dg.materialize(module.ASSETS, resources=resources)  # type: ignore[attr-defined]

    assert result.success
    assert isinstance(resources["conn"], module.Conn)  # type: ignore[attr-defined]
    assert resources["client"].conn is resources["conn"]  # {resource: conn} is that instance
    assert isinstance(resources["io_manager"], dg.ConfigurableIOManager)
    assert json.loads((tmp_path / "io" / "b.json").read_text()) == 2  # the IO manager wrote it
    lines = log_lines(tmp_path)
    # Dagster sets the nested conn up a second time, for client: two instances.
    assert lines.count("setup conn main") == 2
    assert lines.count("teardown conn main") == 2
    assert "asset b retries=5" in lines
    assert lines.index("setup client conn=main") < lines.index("asset b retries=5")
    assert lines.index("asset b retries=5") < lines.index("teardown client")
    assert [x for x in lines if x.startswith("write")] == ["write a", "write b"]


def test_a_setup_failure_records_its_cause_chain_masked_in_dagster(
    project: Project, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environ(project, tmp_path, home, FAIL_CONN="setup")
    module = load_module(monkeypatch, env)

    with dg.instance_for_test(temp_dir=str(home)) as instance:
        result = dg.materialize(
            module.ASSETS,  # type: ignore[attr-defined]
            resources=module.defs.resources,  # type: ignore[attr-defined]
            raise_on_error=False,
            instance=instance,
            selection=["a"],
        )
        records = instance.get_records_for_run(result.run_id).records
        recorded = "\n".join(str(r.event_log_entry) for r in records)

    assert not result.success
    errors = [
        str(getattr(e.event_specific_data, "error", ""))
        for e in result.all_events
        if e.is_failure and e.event_specific_data is not None
    ]
    # The line of the user's code, as this process (not in the project folder) names it.
    at = f"{display(project.root / f'{MODULE}.py')}:{text_line(DEFINITIONS, 'could not start')}"
    chain = (
        f"setup of resource 'conn' failed: {at}: RuntimeError: could not start dbt; caused by "
        f"FileNotFoundError: [Errno 2] No such file or directory (login {MASK}): 'dbt'"
    )
    assert any(chain in text for text in errors), errors
    assert CANARY not in recorded + "\n".join(errors)
    assert CANARY.encode() not in stored(home)


# -- the dagster command, multiprocess ----------------------------------------------------


def test_dagster_cli_multiprocess_keeps_every_secret_out_of_dagster_home(
    project: Project, tmp_path: Path, home: Path
) -> None:
    env = environ(project, tmp_path, home)

    result = dagster(
        "asset", "materialize", "-m", MODULE, "--select", "*", env=env, cwd=project.root
    )

    assert result.returncode == 0, result.stderr[-3000:]
    lines = log_lines(tmp_path)
    assert {"asset a", "asset b retries=3", "write a", "write b"} <= set(lines)
    everything = stored(home)
    assert b"ENVRES_SECRET__conn__password" in everything  # what the snapshot records instead
    assert b"main" in everything  # the plain fields are recorded as Dagster does
    assert CANARY.encode() not in everything
    assert CANARY not in result.stdout + result.stderr


def test_dagster_cli_shows_the_cause_chain_of_a_failed_setup_without_the_secret(
    project: Project, tmp_path: Path, home: Path
) -> None:
    env = environ(project, tmp_path, home, FAIL_CONN="setup")

    result = dagster(
        "asset", "materialize", "-m", MODULE, "--select", "a", env=env, cwd=project.root
    )

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert (
        "RuntimeError: could not start dbt; caused by FileNotFoundError: [Errno 2] No such "
        f"file or directory (login {MASK}): 'dbt'"
    ) in output
    assert CANARY not in output
    assert CANARY.encode() not in stored(home)


def test_definitions_validate_runs_the_classes_validators_at_load(
    project: Project, tmp_path: Path, home: Path
) -> None:
    env = environ(project, tmp_path, home, RETRIES="-1")

    result = dagster("definitions", "validate", "-m", MODULE, env=env, cwd=project.root)

    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert (
        "envres.ProfileError: profiles/dev.yaml:12:16: E303 resources.client.config.retries: value "
        "error, retries must be 0 or more (got '-1' from ${RETRIES:-3})"
    ) in output


def test_a_code_location_validates_without_secrets_under_envres_allow_missing_env(
    project: Project, tmp_path: Path, home: Path
) -> None:
    env = environ(project, tmp_path, home)
    del env["CONN_PASSWORD"]

    strict = dagster("definitions", "validate", "-m", MODULE, env=env, cwd=project.root)
    allowed = dagster(
        "definitions",
        "validate",
        "-m",
        MODULE,
        env={**env, "ENVRES_ALLOW_MISSING_ENV": "1"},
        cwd=project.root,
    )

    assert strict.returncode == 1
    assert "environment variable CONN_PASSWORD is not set" in strict.stdout + strict.stderr
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    assert "warning: E401 resources.conn.config.password: environment variable CONN_PASSWORD" in (
        allowed.stdout + allowed.stderr
    )


# -- a Dagster project validated by envres ------------------------------------------------

PACKAGE_EXTRA = """

@dg.asset
def c(b: int, lake: Conn) -> int:
    return b + 1


@dg.sensor(asset_selection=[c])
def watch(client: Client) -> None:
    return None


defs = dg.Definitions(
    assets=[a, b, c],
    sensors=[watch],
    resources=envres.dagster.resources(types, project=Path(__file__).resolve().parent.parent),
)
"""

LAKE = """\
  lake:
    type: conn
    config:
      name: lake
      password: ${CONN_PASSWORD}
"""


@pytest.fixture
def dagster_package(tmp_path: Path) -> Project:
    """A Dagster package whose __init__ imports its definitions, named as envres's."""
    proj = Project(tmp_path / "pkgproj")
    proj.write("dgc_pkg/__init__.py", "from dgc_pkg.definitions import defs as defs\n")
    module = DEFINITIONS.replace("resolve().parent)", "resolve().parent.parent)")
    proj.write("dgc_pkg/definitions.py", module + PACKAGE_EXTRA)
    proj.write("pyproject.toml", '[tool.envres]\ndefinitions = "dgc_pkg:defs"\n')
    profile = PROFILE.replace(f"{MODULE}:JsonIO", "dgc_pkg.definitions:JsonIO")
    proj.profile("dev.yaml", profile + LAKE)
    proj.profile("staging.yaml", profile)
    return proj


def test_validate_all_reads_a_dagster_definitions_and_reports_a_key_an_asset_lacks(
    dagster_package: Project, envres_cli: Cli, tmp_path: Path
) -> None:
    env = {"LOG": str(tmp_path / "x.log"), "IO_DIR": str(tmp_path)}  # no CONN_PASSWORD

    result = envres_cli(
        "validate", "--all", "--allow-missing-env", cwd=dagster_package.root, env=env
    )

    source = (dagster_package.root / "dgc_pkg" / "definitions.py").read_text().splitlines()
    line = source.index("@dg.asset", source.index("ASSETS = [a, b]")) + 1
    assert result.code == 1, result.err
    assert "profile 'dev' is valid (4 resources, 3 assets, 2 warnings)" in result.out
    assert (
        f"definitions: E501 asset 'c' (dgc_pkg/definitions.py:{line}) needs resource 'lake', which "
        "profile 'staging' does not define"
    ) in result.err
    assert "1 of 2 profiles invalid: staging" in result.err


def test_assets_lists_the_dagster_assets_and_run_refuses_them(
    dagster_package: Project, envres_cli: Cli, tmp_path: Path
) -> None:
    env = {"LOG": str(tmp_path / "x.log"), "IO_DIR": str(tmp_path), "CONN_PASSWORD": CANARY}

    listed = envres_cli("assets", cwd=dagster_package.root, env=env)
    run = envres_cli("run", cwd=dagster_package.root, env=env)

    assert listed.code == 0, listed.err
    rows = [line.split()[:2] for line in listed.out.splitlines()[1:]]
    assert rows == [["a", "conn"], ["b", "client,"], ["c", "lake"]]
    assert "watch" not in listed.out
    assert run.code == 2
    assert "the definitions are a dagster.Definitions: Dagster runs them" in run.err


def test_a_secret_inside_a_dict_field_is_refused_rather_than_stored_by_dagster(
    tmp_path: Path,
) -> None:
    import envres
    import envres.dagster

    class Api(dg.ConfigurableResource):
        headers: dict[str, str]

    root = tmp_path / "dictproj"
    (root / "profiles").mkdir(parents=True)
    (root / "profiles" / "dev.yaml").write_text(
        "resources:\n  api:\n    type: api\n    config:\n      headers:\n"
        "        Authorization: Bearer ${API_TOKEN}\n"
    )
    types = envres.Definitions(resource_types={"api": Api})

    with pytest.raises(envres.ProfileError) as caught:
        envres.dagster.resources(types, project=root, env={"API_TOKEN": CANARY})

    first = str(caught.value).splitlines()[0]
    assert first.endswith(
        "dictproj/profiles/dev.yaml:6:24: E303 resources.api.config.headers: a secret in a dict "
        "field of a Dagster class would be stored in Dagster's run storage: make the field "
        "a str (or int)"
    )
    assert CANARY not in str(caught.value)
