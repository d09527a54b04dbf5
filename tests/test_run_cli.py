"""§5 `envres run`: exit codes, messages, streams, Ctrl-C and SIGTERM.

Resources append "setup NAME" / "teardown NAME" to the file named by $RUNCLI_LOG;
assets append "asset NAME". `knobs.fail_asset` (fed by ${FAIL_ASSET:-}) names an
asset that raises; `db.fail` (${FAIL_DB:-}) makes db's setup or teardown raise.
Signal tests start the real `python -m envres run` and signal it once the log
shows the asset (or the setup) under way; every wait is bounded.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import (
    HINT,
    Cli,
    EnvresProcesses,
    Project,
    Result,
    make_project,
    read_log,
    run_real,
    text_line,
)

DEFINITIONS = """
from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator

import envres


def log(line: str) -> None:
    with open(os.environ["RUNCLI_LOG"], "a", encoding="utf-8") as fh:
        fh.write(line + "\\n")


def nap(seconds: float) -> None:
    # Short sleeps, so a signal lands promptly whatever the platform.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)


class Db(envres.Resource):
    name: str = "db"
    fail: str = ""

    def lifespan(self) -> Iterator[None]:
        if self.fail == "setup":
            raise ConnectionError(f"{self.name} refused the connection")
        log(f"setup {self.name}")
        yield
        log(f"teardown {self.name}")
        if self.fail == "teardown":
            raise OSError(f"{self.name} did not close")


class Knobs(envres.Resource):
    fail_asset: str = ""

    def lifespan(self) -> Iterator[None]:
        log("setup knobs")
        yield
        log("teardown knobs")

    def check(self, asset: str) -> None:
        log(f"asset {asset}")
        if self.fail_asset == asset:
            raise ValueError(f"bad rows in {asset}")
        if self.fail_asset == f"{asset}:ctrl-c":
            signal.raise_signal(signal.SIGINT)  # a real Ctrl-C, to this process
        if self.fail_asset == f"{asset}:own-ki":
            raise KeyboardInterrupt  # the asset's own, no signal: its failure


class SlowConn(envres.Resource):
    delay: float

    def lifespan(self) -> Iterator[None]:
        log("setup slowconn started")
        nap(self.delay)
        log("setup slowconn")
        yield
        log("teardown slowconn")


@envres.asset
def extract(db: Db, knobs: Knobs) -> list[int]:
    knobs.check("extract")
    return [1, 2, 3]


@envres.asset
def transform(extract: list[int], knobs: Knobs) -> int:
    knobs.check("transform")
    return sum(extract)


@envres.asset
def load(transform: int, db: Db, knobs: Knobs) -> str:
    knobs.check("load")
    log(f"loaded {transform}")
    return f"{db.name}:{transform}"


@envres.asset
def slow(db: Db, knobs: Knobs) -> None:
    log("asset slow started")
    nap(20)
    log("asset slow finished")


@envres.asset
def stuck(db: Db, slowconn: SlowConn) -> None:
    log("asset stuck")


defs = envres.Definitions(
    assets=[extract, transform, load, slow, stuck],
    resource_types={"db": Db, "knobs": Knobs, "slowconn": SlowConn},
)
"""

DEV = """\
resources:
  db:
    type: db
    config:
      fail: ${FAIL_DB:-}
  knobs:
    type: knobs
    config:
      fail_asset: ${FAIL_ASSET:-}
  slowconn:
    type: slowconn
    config:
      delay: 20
"""

BAD = """\
resources:
  db:
    type: db
    config:
      colour: red
  knobs:
    type: knobs
  slowconn:
    type: slowconn
    config:
      delay: 1
"""

NEEDS_VAR = """\
resources:
  db:
    type: db
    config:
      name: ${DB_NAME}
  knobs:
    type: knobs
  slowconn:
    type: slowconn
    config:
      delay: 1
"""

#: Where the definitions raise, as a failure names the line of the user's code.
AT_SETUP = f"runcli_pipeline.py:{text_line(DEFINITIONS, 'refused the connection')}"
AT_TEARDOWN = f"runcli_pipeline.py:{text_line(DEFINITIONS, 'did not close')}"
AT_ASSET = f"runcli_pipeline.py:{text_line(DEFINITIONS, 'raise ValueError')}"
AT_OWN_KI = f"runcli_pipeline.py:{text_line(DEFINITIONS, 'raise KeyboardInterrupt')}"

INTERRUPTED = "interrupted"
TERMINATED = "terminated"
TORN_DOWN = "; every resource that was set up has been torn down"


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    return make_project(
        tmp_path / "proj",
        profiles={"dev.yaml": DEV, "bad.yaml": BAD, "needs_var.yaml": NEEDS_VAR},
        definitions=DEFINITIONS,
        module="runcli_pipeline",
    )


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "run.log"


def run(cli: Cli, proj: Project, log_path: Path, *args: str, **env: str) -> Result:
    return cli("run", *args, cwd=proj.root, env={"RUNCLI_LOG": str(log_path), **env})


# -- success and streams ---------------------------------------------------------------


def test_successful_run_exits_0_with_progress_on_stdout_and_nothing_on_stderr(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    result = run(envres_cli, proj, log_path, "load")

    assert result.code == 0
    assert result.err == ""
    lines = result.out.splitlines()
    assert lines[0] == "envres run: profile 'dev', 3 assets, 1 job"
    assert [line.split()[:2] for line in lines[1:-1]] == [
        ["setup", "db"],
        ["setup", "knobs"],
        ["ok", "extract"],
        ["ok", "transform"],
        ["ok", "load"],
        ["down", "knobs"],
        ["down", "db"],
    ]
    assert lines[-1].startswith("3 succeeded in ")
    assert read_log(log_path) == [
        "setup db",
        "setup knobs",
        "asset extract",
        "asset transform",
        "asset load",
        "loaded 6",
        "teardown knobs",
        "teardown db",
    ]


# -- an asset fails --------------------------------------------------------------------


@pytest.mark.parametrize("jobs", ["1", "4"])
def test_asset_failure_exits_3_after_teardown_and_later_assets_never_start(
    envres_cli: Cli, proj: Project, log_path: Path, jobs: str
) -> None:
    result = run(envres_cli, proj, log_path, "load", "--jobs", jobs, FAIL_ASSET="transform")

    assert result.code == 3
    assert result.err_lines == [
        f"run failed: asset 'transform' failed: {AT_ASSET}: ValueError: bad rows in transform",
        HINT,
    ]
    assert read_log(log_path) == [
        "setup db",
        "setup knobs",
        "asset extract",
        "asset transform",
        "teardown knobs",
        "teardown db",
    ]
    out = result.out.splitlines()
    assert any(
        line.startswith("  FAILED  transform")
        and line.endswith("ValueError: bad rows in transform")
        for line in out
    )
    assert out[-1].startswith("1 succeeded, 1 failed, 1 not run in ")
    assert "Traceback" not in result.out + result.err


def test_asset_failure_in_a_real_process_keeps_results_on_stdout_and_the_error_on_stderr(
    proj: Project, log_path: Path
) -> None:
    result = run_real(
        "run",
        "load",
        "--jobs",
        "4",
        cwd=proj.root,
        env={"RUNCLI_LOG": str(log_path), "FAIL_ASSET": "extract"},
        timeout=30,
    )

    assert result.code == 3
    assert result.err_lines == [
        f"run failed: asset 'extract' failed: {AT_ASSET}: ValueError: bad rows in extract",
        HINT,
    ]
    assert "run failed" not in result.out
    assert "FAILED  extract" in result.out
    assert read_log(log_path) == [
        "setup db",
        "setup knobs",
        "asset extract",
        "teardown knobs",
        "teardown db",
    ]
    assert "Traceback" not in result.out + result.err


def test_asset_failure_and_failing_teardown_are_both_reported_asset_first(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    result = run(envres_cli, proj, log_path, "load", FAIL_ASSET="transform", FAIL_DB="teardown")

    assert result.code == 3
    assert result.err_lines == [
        f"run failed: asset 'transform' failed: {AT_ASSET}: ValueError: bad rows in transform",
        f"also: teardown of resource 'db' failed: {AT_TEARDOWN}: OSError: db did not close",
        HINT,
    ]
    assert read_log(log_path)[-2:] == ["teardown knobs", "teardown db"]


def test_failing_teardown_alone_exits_3_after_a_successful_asset(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    result = run(envres_cli, proj, log_path, "load", FAIL_DB="teardown")

    assert result.code == 3
    assert result.err_lines == [
        f"run failed: teardown of resource 'db' failed: {AT_TEARDOWN}: OSError: db did not close",
        HINT,
    ]
    assert read_log(log_path)[-3:] == ["loaded 6", "teardown knobs", "teardown db"]
    assert result.out.splitlines()[-1].startswith("3 succeeded in ")


def test_setup_failure_names_the_resource_and_skips_every_asset(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    result = run(envres_cli, proj, log_path, "load", FAIL_DB="setup")

    assert result.code == 3
    assert result.err_lines == [
        f"run failed: setup of resource 'db' failed: {AT_SETUP}: "
        "ConnectionError: db refused the connection",
        HINT,
    ]
    assert read_log(log_path) == []


def test_debug_adds_the_traceback_of_a_failed_asset(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    result = run(envres_cli, proj, log_path, "load", "--debug", FAIL_ASSET="extract")

    assert result.code == 3
    assert "Traceback (most recent call last):" in result.err
    assert 'raise ValueError(f"bad rows in {asset}")' in result.err
    # The traceback is there: no hint to ask for it.
    assert (
        result.err_lines[-1]
        == f"run failed: asset 'extract' failed: {AT_ASSET}: ValueError: bad rows in extract"
    )


def test_ctrl_c_in_an_asset_exits_130_after_teardown(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    result = run(envres_cli, proj, log_path, "load", FAIL_ASSET="transform:ctrl-c")

    assert result.code == 130
    assert read_log(log_path) == [
        "setup db",
        "setup knobs",
        "asset extract",
        "asset transform",
        "teardown knobs",
        "teardown db",
    ]
    assert result.err_lines[-1].startswith(INTERRUPTED)


def test_ctrl_c_message_is_one_line_saying_resources_were_torn_down(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    result = run(envres_cli, proj, log_path, "load", FAIL_ASSET="transform:ctrl-c")

    assert result.code == 130
    # (click's blank line before it, closing the terminal's ^C echo, is fine)
    assert result.err_lines == [INTERRUPTED + TORN_DOWN]


@pytest.mark.parametrize("jobs", ["1", "3"])
def test_keyboard_interrupt_raised_by_an_asset_without_a_signal_is_its_failure_exit_3(
    envres_cli: Cli, proj: Project, log_path: Path, jobs: str
) -> None:
    result = run(envres_cli, proj, log_path, "load", "--jobs", jobs, FAIL_ASSET="transform:own-ki")

    assert result.code == 3, result.err
    assert result.err_lines == [
        f"run failed: asset 'transform' failed: {AT_OWN_KI}: KeyboardInterrupt",
        HINT,
    ]
    assert re.search(
        rf"^  FAILED  transform +\d+ ms  {re.escape(AT_OWN_KI)}: KeyboardInterrupt$",
        result.out,
        re.M,
    )
    assert "asset load" not in read_log(log_path)  # downstream of the failure: never runs
    assert read_log(log_path)[-2:] == ["teardown knobs", "teardown db"]


def test_run_restores_the_previous_sigterm_handler(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    before = signal.getsignal(signal.SIGTERM)

    assert run(envres_cli, proj, log_path, "extract").code == 0
    assert run(envres_cli, proj, log_path, "extract", FAIL_ASSET="extract").code == 3
    assert signal.getsignal(signal.SIGTERM) is before


# -- usage errors and invalid profiles: nothing is set up ------------------------------


def test_unknown_asset_exits_2_with_a_did_you_mean_and_sets_nothing_up(
    envres_cli: Cli, proj: Project, log_path: Path
) -> None:
    result = run(envres_cli, proj, log_path, "load", "transfrom")

    assert result.code == 2
    assert result.err_lines == [
        "envres: unknown asset 'transfrom'; did you mean 'transform'? "
        "(assets: extract, load, slow, stuck, transform)"
    ]
    assert result.out == ""
    assert read_log(log_path) == []


def test_unknown_asset_in_a_real_process_exits_2(proj: Project, log_path: Path) -> None:
    result = run_real("run", "lod", cwd=proj.root, env={"RUNCLI_LOG": str(log_path)})

    assert result.code == 2
    assert "unknown asset 'lod'; did you mean 'load'?" in result.err
    assert read_log(log_path) == []


@pytest.mark.parametrize("args", [["--jobs", "0"], ["--jobs", "many"], ["--no-such-flag"]])
def test_bad_run_options_exit_2_and_set_nothing_up(
    envres_cli: Cli, proj: Project, log_path: Path, args: list[str]
) -> None:
    result = run(envres_cli, proj, log_path, *args)

    assert result.code == 2
    assert result.err != ""
    assert read_log(log_path) == []


@pytest.mark.parametrize(
    ("profile", "said", "last"),
    [
        pytest.param(
            "bad", ["resources.db.config.colour"], "1 problem in profile 'bad'", id="invalid"
        ),
        pytest.param("needs_var", ["DB_NAME"], None, id="missing-variable"),
        pytest.param("prod", ["prod"], None, id="no-such-profile"),
    ],
)
def test_a_profile_that_cannot_be_used_exits_1_and_sets_nothing_up(
    envres_cli: Cli,
    proj: Project,
    log_path: Path,
    profile: str,
    said: list[str],
    last: str | None,
) -> None:
    result = run(envres_cli, proj, log_path, "--profile", profile)

    assert result.code == 1
    assert read_log(log_path) == []
    assert all(part in result.err for part in said), result.err
    if last is not None:
        assert result.err_lines[-1] == last
    assert "envres run:" not in result.out


# -- Ctrl-C and SIGTERM ----------------------------------------------------------------


@pytest.fixture
def runner(proj: Project, log_path: Path) -> Iterator[EnvresProcesses]:
    r = EnvresProcesses(proj.root, log_path, "RUNCLI_LOG")
    yield r
    r.close()


SIGNALS = [
    pytest.param(signal.SIGINT, 130, INTERRUPTED, id="SIGINT"),
    pytest.param(signal.SIGTERM, 143, TERMINATED + TORN_DOWN, id="SIGTERM"),
]


def still_running(asset: str) -> str:
    return (
        f"  still running when the resources were torn down: {asset} (waited 2 s; their "
        "threads end with the process)"
    )


# Where the signal lands: the asset run, the log line waited for, the log at the end (db,
# already set up, is torn down; slowconn never finished its setup), and the notes under
# the message with --jobs: an asset or a setup still running on another thread is waited
# for, briefly, and named. With one job nothing is left running.
POINTS = [
    pytest.param(
        "slow",
        "asset slow started",
        ["setup db", "setup knobs", "asset slow started", "teardown knobs", "teardown db"],
        [still_running("slow")],
        id="during-a-long-asset",
    ),
    pytest.param(
        "stuck",
        "setup slowconn started",
        ["setup db", "setup slowconn started", "teardown db"],
        [
            still_running("stuck"),
            "  the setup of slowconn was still running 2 s after the run stopped",
        ],
        id="during-a-slow-setup",
    ),
]


@pytest.mark.parametrize("jobs", ["1", "4"])
@pytest.mark.parametrize(("signum", "code", "message"), SIGNALS)
@pytest.mark.parametrize(("asset", "marker", "log", "notes_with_jobs"), POINTS)
def test_signal_tears_down_what_was_set_up_and_exits_with_its_code(
    runner: EnvresProcesses,
    log_path: Path,
    asset: str,
    marker: str,
    log: list[str],
    notes_with_jobs: list[str],
    signum: int,
    code: int,
    message: str,
    jobs: str,
) -> None:
    proc = runner.start(asset, "--jobs", jobs)
    runner.wait_for(proc, marker)

    proc.send_signal(signum)
    result = runner.finish(proc)

    assert result.code == code, result.err
    assert result.err_lines[0].startswith(message)
    assert result.err_lines[1:] == ([] if jobs == "1" else notes_with_jobs)
    assert read_log(log_path) == log
    assert "Traceback" not in result.out + result.err
