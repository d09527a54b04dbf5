"""The PostgreSQL fixtures of the ``pgserver`` plugin behave as promised."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

import pgserver

TESTS_DIR = Path(__file__).resolve().parent


def run_inner_session(
    tmp_path: Path, configure: str, test_source: str, env: dict[str, str | None]
) -> subprocess.CompletedProcess[str]:
    """Run a separate pytest session that uses the ``pgserver`` plugin.

    ``configure`` is code run at the inner session's ``pytest_configure`` with
    ``pgserver`` imported (to monkeypatch it); ``env`` adds (None: removes)
    environment variables.
    """
    conftest = f"""\
        import sys

        sys.path.insert(0, {str(TESTS_DIR)!r})

        pytest_plugins = ["pgserver"]


        def pytest_configure():
            import pgserver

    """
    body = textwrap.indent(textwrap.dedent(configure) or "pass\n", " " * 4)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(textwrap.dedent(conftest) + body)
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(test_source))
    child_env = dict(os.environ)
    for name in (pgserver.DSN_ENV, "CI", "PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
        child_env.pop(name, None)
    for name, value in env.items():
        if value is None:
            child_env.pop(name, None)
        else:
            child_env[name] = value
    # The installed envres plugin is not needed here; keep the inner session minimal.
    plugins = ["-p", "no:cacheprovider", "-p", "no:envres"]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *plugins,
            "-rA",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=child_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.postgres
def test_dsn_connects(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        row = conn.execute("select 1").fetchone()
    assert row == (1,)


@pytest.mark.postgres
def test_tcp_login_needs_the_password(postgres_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.environ.get(pgserver.DSN_ENV):
        pytest.skip(f"{pgserver.DSN_ENV} is set: the server is not ours to check")
    params = conninfo_to_dict(postgres_dsn)
    assert params["host"] == "127.0.0.1"
    assert params["password"]
    # No password from the environment or a ~/.pgpass may rescue the attempts below.
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", os.devnull)

    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("select current_user").fetchone() == (pgserver.ROLE,)
    wrong = make_conninfo(postgres_dsn, password=f"{params['password']}-wrong")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=10)
    no_password = make_conninfo(postgres_dsn, password="")
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(no_password, connect_timeout=10)


@pytest.mark.postgres
def test_postgres_db_is_a_fresh_isolated_database(postgres_dsn: str, postgres_db: str) -> None:
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        row = conn.execute("select current_database()").fetchone()
        assert row is not None
        name = row[0]
        assert name.startswith("t_")
        tables = conn.execute(
            "select count(*) from pg_tables where schemaname = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("create table only_here (id int)")
        conn.execute("insert into only_here values (1)")
        assert conn.execute("select to_regclass('only_here') is not null").fetchone() == (True,)

    with psycopg.connect(postgres_dsn) as conn:
        row = conn.execute("select current_database()").fetchone()
        assert row is not None
        assert row[0] != name
        assert conn.execute("select to_regclass('only_here')").fetchone() == (None,)


@pytest.mark.postgres
def test_postgres_db_is_dropped_after_the_test(postgres_dsn: str, tmp_path: Path) -> None:
    record = tmp_path / "dbname.txt"
    result = run_inner_session(
        tmp_path,
        "",
        f"""\
        import psycopg

        def test_uses_a_database(postgres_db):
            with psycopg.connect(postgres_db) as conn:
                name = conn.execute("select current_database()").fetchone()[0]
            open({str(record)!r}, "w").write(name)
        """,
        # The inner session reuses our server through the DSN override.
        {pgserver.DSN_ENV: postgres_dsn},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    name = record.read_text()
    assert name.startswith("t_")
    with psycopg.connect(postgres_dsn) as conn:
        row = conn.execute("select count(*) from pg_database where datname = %s", [name])
        assert row.fetchone() == (0,)


@pytest.mark.parametrize(("ci", "outcome"), [(None, "skip"), ("", "skip"), ("true", "fail")])
def test_without_server_binaries_skips_locally_and_fails_on_ci(
    tmp_path: Path, ci: str | None, outcome: str
) -> None:
    result = run_inner_session(
        tmp_path,
        "pgserver.find_binaries = lambda: None\n",
        """\
        def test_needs_postgres(postgres_dsn):
            raise AssertionError("must not run")
        """,
        {"CI": ci},
    )
    output = result.stdout + result.stderr
    assert "PostgreSQL not available: initdb/pg_ctl not found" in output, output
    assert "install Debian's postgresql package" in output, output
    assert "must not run" not in output
    if outcome == "skip":
        assert result.returncode == 0, output
        assert "1 skipped" in output, output
    else:
        assert result.returncode == 1, output
        assert "1 error" in output, output


@pytest.mark.postgres
def test_failed_start_reports_the_server_log_and_cleans_up(tmp_path: Path) -> None:
    if pgserver.find_binaries() is None:
        pgserver.skip_or_fail(pgserver.PostgresUnavailable("initdb/pg_ctl not found"))
    # The server user (when we are root) must be able to reach the temporary directory.
    scratch = Path(tempfile.mkdtemp(prefix="envres-pgtest-", dir="/tmp"))
    try:
        scratch.chmod(0o755)
        result = run_inner_session(
            tmp_path,
            'pgserver.SERVER_SETTINGS += ("-c shared_buffers=bogus",)\n',
            """\
            def test_needs_postgres(postgres_dsn):
                raise AssertionError("must not run")
            """,
            {"CI": "true", "TMPDIR": str(scratch)},
        )
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert "PostgreSQL not available: pg_ctl start failed" in output, output
        assert "--- server log (last lines) ---" in output, output
        assert 'invalid value for parameter "shared_buffers"' in output, output
        assert list(scratch.iterdir()) == [], "the temporary data directory was left behind"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
