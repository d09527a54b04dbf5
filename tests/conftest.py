"""Shared fixtures: temporary envres projects and a way to run the real command in them."""

from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from envres._paths import display

pytest_plugins = ["pgserver"]

#: A definitions module used by most command-line tests. Resources record their
#: setup and teardown in the file named by $ENVRES_TEST_LOG so tests can check order.
DEFINITIONS = """
from __future__ import annotations

import os
from collections.abc import Iterator

from pydantic import SecretStr

import envres


def log(line: str) -> None:
    path = os.environ.get("ENVRES_TEST_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\\n")


class Warehouse(envres.Resource):
    def query(self, sql: str) -> str:
        raise NotImplementedError


class DuckDBWarehouse(Warehouse):
    path: str = ":memory:"
    read_only: bool = False

    def lifespan(self) -> Iterator[None]:
        log(f"setup warehouse duckdb {self.path}")
        self._open = True
        yield
        self._open = False
        log("teardown warehouse")

    def query(self, sql: str) -> str:
        return f"duckdb:{self.path}:{sql}"


class PostgresWarehouse(Warehouse):
    dsn: str
    password: SecretStr
    pool_size: int = 5

    def lifespan(self) -> Iterator[None]:
        log("setup warehouse postgres")
        yield
        log("teardown warehouse")

    def query(self, sql: str) -> str:
        return f"postgres:{sql}"


class Report(envres.Resource):
    warehouse: Warehouse
    title: str = "report"

    def lifespan(self) -> Iterator[None]:
        log("setup reporter")
        yield
        log("teardown reporter")


class Cache(envres.Resource):
    size: int = 1


@envres.resource
def console(prefix: str = "") -> Iterator[list[str]]:
    log("setup notifier")
    sent: list[str] = []
    yield sent
    log("teardown notifier")


@envres.resource
def slack(channel: str, token: SecretStr | None = None) -> Iterator[list[str]]:
    log("setup notifier slack")
    yield []
    log("teardown notifier")


@envres.asset
def orders(warehouse: Warehouse) -> str:
    return warehouse.query("orders")


@envres.asset
def daily_revenue(orders: str, notifier: list[str]) -> str:
    notifier.append(orders)
    return "revenue:" + orders


defs = envres.Definitions(
    assets=[orders, daily_revenue],
    resource_types={
        "duckdb": DuckDBWarehouse,
        "postgres": PostgresWarehouse,
        "report": Report,
        "cache": Cache,
        "console": console,
        "slack": slack,
    },
)
"""

BASE = """\
resources:
  warehouse:
    type: duckdb
    config:
      path: ${WAREHOUSE_PATH:-data/dev.duckdb}
  notifier:
    type: console
"""


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.strip().splitlines()


#: The in-process command runner the `envres_cli` fixture returns.
Cli = Callable[..., Result]


@dataclass
class Project:
    root: Path

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def profile(self, name: str, text: str) -> Path:
        return self.write(f"profiles/{name}", text)


def make_project(
    root: Path,
    profiles: Mapping[str, str] | None = None,
    definitions: str | None = DEFINITIONS,
    module: str = "pipeline",
) -> Project:
    project = Project(root)
    table = "[tool.envres]\n"
    if definitions is not None:
        project.write(f"{module}.py", definitions)
        table += f'definitions = "{module}:defs"\n'
    project.write("pyproject.toml", table)
    for name, text in (profiles if profiles is not None else {"dev.yaml": BASE}).items():
        project.profile(name, text)
    return project


@contextmanager
def imports_undone(module: str) -> Iterator[None]:
    """On leaving: ``sys.path`` as it was on entering and ``module`` forgotten, for a
    module-scoped project whose definitions module the tests import."""
    path_before = list(sys.path)
    yield
    sys.path[:] = path_before
    sys.modules.pop(module, None)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A project with the standard definitions and a `dev` profile."""
    return make_project(tmp_path / "proj")


@pytest.fixture
def envres_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    """Run the envres command in-process: argv in, exit code and output out.

    The working directory is the project (so paths print relative to it), the
    given variables are set for the call, and imported user modules are
    forgotten afterwards so each call sees its own project.
    """
    from envres._cli import invoke

    for name in list(os.environ):
        if name.startswith("ENVRES_"):
            monkeypatch.delenv(name)
    modules_before = set(sys.modules)
    path_before = list(sys.path)

    def run(
        *args: str, cwd: Path | Project | None = None, env: Mapping[str, str] | None = None
    ) -> Result:
        where = cwd.root if isinstance(cwd, Project) else cwd
        with monkeypatch.context() as m:
            if where is not None:
                m.chdir(where)
            for k, v in (env or {}).items():
                m.setenv(k, v)
            capsys.readouterr()
            code = invoke(list(args))
            captured = capsys.readouterr()
        for name in set(sys.modules) - modules_before:
            if not name.startswith(("envres", "jinja2", "markupsafe", "dotenv", "click")):
                del sys.modules[name]
        sys.path[:] = path_before
        return Result(code, captured.out, captured.err)

    return run


def run_real(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 60
) -> Result:
    """Run ``python -m envres`` as a real process (for signals and end-to-end checks)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ENVRES_")}
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "envres", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def read_log(path: Path) -> list[str]:
    """The lines a test's definitions appended to ``path``; none if it wrote nothing yet."""
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


class EnvresProcesses:
    """Real ``python -m envres run`` processes to signal; any still alive at the end are killed.

    Each child appends to a log file (named to it by ``log_var``) that tests
    watch to send a signal at a chosen point.
    """

    def __init__(self, root: Path, log_path: Path, log_var: str) -> None:
        self.root = root
        self.log_path = log_path
        self.log_var = log_var
        self.procs: list[subprocess.Popen[str]] = []

    def log(self) -> list[str]:
        return read_log(self.log_path)

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """``envres run ARGS`` as a real process."""
        return self.command("run", *args, **env)

    def command(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """Any ``envres`` command as a real process."""
        full = {k: v for k, v in os.environ.items() if not k.startswith("ENVRES_")}
        full.update({self.log_var: str(self.log_path)}, **env)
        # A child inherits an *ignored* SIGINT (a suite started in the background) and
        # Python then never raises KeyboardInterrupt; a handled SIGINT is reset to the
        # default by exec, as under an interactive shell.
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "envres", *args],
                cwd=self.root,
                env=full,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        finally:
            signal.signal(signal.SIGINT, previous)
        self.procs.append(proc)
        return proc

    def wait_for(self, proc: subprocess.Popen[str], line: str, timeout: float = 20) -> None:
        """Return once ``line`` is in the log; fail if the child exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if line in self.log():
                return
            if proc.poll() is not None:
                out, err = proc.communicate(timeout=5)
                pytest.fail(f"exited with {proc.returncode} before {line!r}:\n{out}\n{err}")
            time.sleep(0.01)
        proc.kill()
        pytest.fail(f"no {line!r} in the log within {timeout} s: {self.log()}")

    def finish(self, proc: subprocess.Popen[str], timeout: float = 20) -> Result:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate(timeout=5)
            pytest.fail(f"still running {timeout} s after the signal:\n{out}\n{err}")
        return Result(proc.returncode, out, err)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=5)


def code_line(file: str | Path, needle: str) -> str:
    """``tests/test_x.py:12``: the one line of ``file`` holding ``needle``, as a failure names it.

    Found by its text (lines that call this function aside), so a test that expects
    the user's file:line keeps passing when lines are added above it.
    """
    lines = Path(file).read_text(encoding="utf-8").splitlines()
    found = [i for i, line in enumerate(lines, 1) if needle in line and "code_line(" not in line]
    assert len(found) == 1, f"{needle!r} is on lines {found} of {file}"
    return f"{display(file)}:{found[0]}"


def text_line(text: str, needle: str) -> int:
    """The line (from 1) of ``text`` holding ``needle``, once: where a definitions string
    raises, so a test expecting ``pipeline.py:N`` keeps passing when the string grows."""
    found = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(found) == 1, f"{needle!r} is on lines {found}"
    return found[0]


#: The line a command whose failures came from user code ends with.
HINT = "(run with --debug for the traceback)"


def source_line(fn: Callable[..., object], needle: str) -> str:
    """``tests/test_x.py:12``: the line of ``fn``'s source holding ``needle``, as a failure
    names it (for a needle written more than once in the file)."""
    lines, start = inspect.getsourcelines(fn)
    found = [start + i for i, line in enumerate(lines) if needle in line]
    assert len(found) == 1, f"{needle!r} is on lines {found}"
    return f"{display(inspect.getsourcefile(fn) or '')}:{found[0]}"
