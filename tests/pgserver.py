"""Pytest plugin: a throwaway PostgreSQL server for the test session.

Fixtures
--------
``postgres_dsn`` (session)
    A libpq URL for a superuser role ``envres`` on database ``envres``.  If the
    environment variable ``ENVRES_TEST_PG_DSN`` is set it is returned as is;
    otherwise a private server is initialised in a temporary directory from
    Debian's PostgreSQL binaries, started on a free loopback port with
    password (SCRAM) authentication, and torn down at the end of the session.
``postgres_db`` (function)
    The DSN of a fresh, empty database created for one test and dropped after it.

When no server can be had the fixtures skip, except when ``CI`` is set to a
non-empty value: then they fail, so CI can never pass by silently skipping.

Register it from a top-level conftest with ``pytest_plugins = ["pgserver"]``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

DSN_ENV = "ENVRES_TEST_PG_DSN"
ROLE = "envres"
DATABASE = "envres"
#: OS users the server may run as when the suite runs as root (initdb refuses root).
SERVER_USERS: tuple[str, ...] = ("postgres",)
#: System user created when none of ``SERVER_USERS`` exists.
FALLBACK_SERVER_USER = "envres-pg"
DEBIAN_BINDIRS = "/usr/lib/postgresql/*/bin"
#: Durability is pointless for a throwaway server; these make it start and run fast.
SERVER_SETTINGS: tuple[str, ...] = (
    "-c fsync=off",
    "-c full_page_writes=off",
    "-c synchronous_commit=off",
    "-c shared_buffers=16MB",
)
INSTALL_HINT = "install Debian's postgresql package"
_START_ATTEMPTS = 3
_TIMEOUT = 60  # seconds, for any single command
_LOG_TAIL_LINES = 40
_MAX_SOCKET_PATH = 107  # sizeof(sun_path) - 1 on Linux


class PostgresUnavailable(Exception):
    """No PostgreSQL server could be found or started."""

    def __init__(self, reason: str, log_tail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.log_tail = log_tail


def find_binaries() -> tuple[Path, Path] | None:
    """Return ``(initdb, pg_ctl)``: from PATH first, else the newest Debian install."""
    initdb = shutil.which("initdb")
    if initdb is not None:
        # Prefer the pg_ctl next to initdb's real location so the versions match.
        sibling = Path(initdb).resolve().parent / "pg_ctl"
        pg_ctl = str(sibling) if _is_executable(sibling) else shutil.which("pg_ctl")
        if pg_ctl is not None:
            return Path(initdb), Path(pg_ctl)
    candidates: list[tuple[tuple[int, ...], Path]] = []
    for bindir in Path("/").glob(DEBIAN_BINDIRS.lstrip("/")):
        version = bindir.parent.name
        if re.fullmatch(r"\d+(\.\d+)*", version):
            candidates.append((tuple(int(p) for p in version.split(".")), bindir))
    for _, bindir in sorted(candidates, reverse=True):
        if _is_executable(bindir / "initdb") and _is_executable(bindir / "pg_ctl"):
            return bindir / "initdb", bindir / "pg_ctl"
    return None


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def dsn_with_dbname(dsn: str, dbname: str) -> str:
    """Return ``dsn`` pointing at database ``dbname`` (URLs stay URLs)."""
    parts = urlsplit(dsn)
    if parts.scheme in ("postgresql", "postgres") and "dbname" not in parse_qs(parts.query):
        return urlunsplit(parts._replace(path="/" + quote(dbname, safe="")))
    return make_conninfo(dsn, dbname=dbname)


class TempPostgres:
    """A private PostgreSQL server living in a temporary directory."""

    def __init__(self, initdb: Path, pg_ctl: Path, user: str | None) -> None:
        self.initdb = initdb
        self.pg_ctl = pg_ctl
        self.user = user  # OS user running the server; None = the current user
        self.password = secrets.token_urlsafe(24)
        self.base = Path(tempfile.mkdtemp(prefix="envres-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = 0
        self.startup_seconds = 0.0
        self._running = False
        self._removed = False

    @classmethod
    def start(cls) -> TempPostgres:
        """Create, start and prepare a server; on any failure leave nothing behind."""
        binaries = find_binaries()
        if binaries is None:
            raise PostgresUnavailable(f"initdb/pg_ctl not found on PATH or in {DEBIAN_BINDIRS}")
        began = time.monotonic()
        server = cls(*binaries, user=_server_user())
        atexit.register(server.stop)  # in case the session dies before teardown
        try:
            server._init()
            server._launch()
            server._create_database()
        except BaseException:
            server.stop()
            raise
        server.startup_seconds = time.monotonic() - began
        return server

    @property
    def dsn(self) -> str:
        return (
            f"postgresql://{ROLE}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{DATABASE}"
        )

    def stop(self) -> None:
        """Stop the server (immediate mode) and delete its directory; idempotent."""
        self._stop_server()
        if not self._removed:
            self._removed = True
            shutil.rmtree(self.base, ignore_errors=True)

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- steps ---------------------------------------------------------------

    def _init(self) -> None:
        owner = pwd.getpwnam(self.user) if self.user is not None else None
        if owner is not None:
            _check_reachable(self.base, owner)
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
        socket_path = f"{self.base}/.s.PGSQL.65535"
        if len(socket_path) > _MAX_SOCKET_PATH:
            raise PostgresUnavailable(
                f"temporary directory path too long for a unix socket: {socket_path!r}; "
                "point TMPDIR at a shorter directory such as /tmp"
            )
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if owner is not None:
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        try:
            self._run(
                [
                    str(self.initdb),
                    "--pgdata",
                    str(self.data),
                    "--username",
                    ROLE,
                    "--pwfile",
                    str(pwfile),
                    "--auth",
                    "scram-sha-256",
                    "--encoding",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                ],
                what="initdb",
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _launch(self) -> None:
        for attempt in range(1, _START_ATTEMPTS + 1):
            self.port = _free_port()
            options = " ".join(
                (
                    "-c listen_addresses=127.0.0.1",
                    f"-p {self.port}",
                    f"-k {shlex.quote(str(self.base))}",
                    *SERVER_SETTINGS,
                )
            )
            log_size = self.log.stat().st_size if self.log.exists() else 0
            result = self._run(
                [
                    str(self.pg_ctl),
                    "--pgdata",
                    str(self.data),
                    "--log",
                    str(self.log),
                    "--wait",
                    "--timeout",
                    str(_TIMEOUT),
                    "--options",
                    options,
                    "start",
                ],
                check=False,
            )
            if result is not None and result.returncode == 0:
                self._running = True
                return
            # pg_ctl may give up while the postmaster is still coming up.
            self._running = (self.data / "postmaster.pid").exists()
            self._stop_server()
            new_log = self._read_log_from(log_size)
            if attempt < _START_ATTEMPTS and "could not bind" in new_log:
                continue  # someone grabbed the port between our probe and the bind
            output = "" if result is None else (result.stdout + result.stderr).strip()
            raise PostgresUnavailable(
                f"pg_ctl start failed: {_first_error(new_log) or output or 'timed out'}",
                self.log_tail(),
            )

    def _create_database(self) -> None:
        admin = dsn_with_dbname(self.dsn, "postgres")
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        except psycopg.Error as exc:
            raise PostgresUnavailable(
                f"could not create database {DATABASE!r}: {exc}", self.log_tail()
            ) from exc

    # -- helpers -------------------------------------------------------------

    def _run(
        self, argv: Sequence[str], *, check: bool = True, what: str = ""
    ) -> subprocess.CompletedProcess[str] | None:
        """Run a server command as the server user; None if it timed out (check=False)."""
        command = list(argv)
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        for var in ("PGDATA", "PGPORT", "PGHOST", "PGUSER", "PGDATABASE", "PGOPTIONS"):
            env.pop(var, None)
        try:
            result = subprocess.run(
                command,
                cwd=self.base,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_TIMEOUT + 10,
                check=False,
            )
        except subprocess.TimeoutExpired:
            if check:
                raise PostgresUnavailable(f"{what or command[0]} timed out") from None
            return None
        except OSError as exc:
            raise PostgresUnavailable(f"could not run {command[0]}: {exc}") from exc
        if check and result.returncode != 0:
            output = (result.stderr.strip() or result.stdout.strip())[-2000:]
            raise PostgresUnavailable(
                f"{what or command[0]} failed (exit {result.returncode}): {output}"
            )
        return result

    def _read_log_from(self, offset: int) -> str:
        try:
            with self.log.open("rb") as fh:
                fh.seek(offset)
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def _stop_server(self) -> None:
        if not self._running:
            return
        self._running = False
        result = None
        with contextlib.suppress(PostgresUnavailable):
            result = self._run(
                [str(self.pg_ctl), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                check=False,
            )
        if result is None or result.returncode != 0:
            self._kill_postmaster()

    def _kill_postmaster(self) -> None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGQUIT)  # the postmaster's "immediate shutdown"


def _server_user() -> str | None:
    """The OS user to run the server as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in (*SERVER_USERS, FALLBACK_SERVER_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name).pw_name
    result = subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            FALLBACK_SERVER_USER,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return pwd.getpwnam(FALLBACK_SERVER_USER).pw_name  # also fine if we lost a race
    except KeyError:
        raise PostgresUnavailable(
            f"running as root, no {'/'.join(SERVER_USERS)} user, and could not create "
            f"{FALLBACK_SERVER_USER!r}: {result.stderr.strip()}"
        ) from None


def _check_reachable(directory: Path, user: pwd.struct_passwd) -> None:
    """Fail clearly if ``user`` cannot traverse every parent of ``directory``."""
    groups = {user.pw_gid, *os.getgrouplist(user.pw_name, user.pw_gid)}
    for parent in directory.resolve().parents:
        st = parent.stat()
        if st.st_uid == user.pw_uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid in groups:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            raise PostgresUnavailable(
                f"user {user.pw_name!r} cannot traverse {parent} (parent of the temporary "
                "data directory); point TMPDIR at a directory it can reach, such as /tmp"
            )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _first_error(log: str) -> str:
    """The first FATAL/PANIC/ERROR message in a server log, without its line prefix."""
    match = re.search(r"\b(?:FATAL|PANIC|ERROR):.*", log)
    return match.group(0).strip() if match else ""


def skip_or_fail(exc: PostgresUnavailable) -> NoReturn:
    """Skip the test, or fail it when running under CI (``CI`` set and non-empty)."""
    message = f"PostgreSQL not available: {exc.reason}; {INSTALL_HINT}"
    if os.environ.get("CI"):
        if exc.log_tail:
            message += f"\n--- server log (last lines) ---\n{exc.log_tail}"
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """DSN of a PostgreSQL superuser ``envres`` on database ``envres``."""
    external = os.environ.get(DSN_ENV)
    if external:
        yield external
        return
    problem: PostgresUnavailable | None = None
    try:
        server = TempPostgres.start()
    except PostgresUnavailable as exc:
        problem = exc
    if problem is not None:
        skip_or_fail(problem)  # outside the except block: no chained traceback noise
    try:
        yield server.dsn
    finally:
        server.stop()


@pytest.fixture
def postgres_db(postgres_dsn: str) -> Iterator[str]:
    """DSN of a fresh empty database, dropped when the test ends."""
    name = f"t_{secrets.token_hex(8)}"
    ident = sql.Identifier(name)
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    try:
        yield dsn_with_dbname(postgres_dsn, name)
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
