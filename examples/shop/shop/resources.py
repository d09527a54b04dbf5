"""The shop's resources: a warehouse, a notifier and a folder for reports.

Each interface (``Warehouse``, ``Notifier``) has two implementations, and the
profile picks one by its short name (``type: duckdb`` / ``type: postgres``,
``type: console`` / ``type: webhook``). The assets only ever see the interface.

The paths they take (the DuckDB file, the report folder) are plain paths, opened
as Python opens them: the profiles say where they are, from the project folder
(``${ENVRES_PROJECT_DIR}/examples/shop/data/dev.duckdb``), so a run writes to the
same place whichever folder it is started from.

Database drivers are imported inside ``lifespan``: validating a profile (``envres
validate``, ``show``, ``diff``) needs neither the driver nor a server.
"""

from __future__ import annotations

import csv
import json
import os
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from abc import abstractmethod
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, PrivateAttr, SecretStr, field_validator

import envres

if TYPE_CHECKING:
    import duckdb
    import psycopg

__all__ = [
    "ConsoleNotifier",
    "DuckDBWarehouse",
    "Notifier",
    "PostgresWarehouse",
    "Warehouse",
    "WebhookNotifier",
    "report_dir",
]

#: A column as ``(name, SQL type)``; the types used must mean the same in both dialects.
Column = tuple[str, str]
Row = tuple[Any, ...]

_IDENT = re.compile(r"[a-z_][a-z0-9_]*\Z")


def _ident(name: str) -> str:
    """A table or column name, checked: the SQL here is built from these, never from data."""
    if not _IDENT.match(name):
        raise ValueError(f"not a plain lower-case SQL identifier: {name!r}")
    return name


def _check_csv_header(path: Path, columns: Sequence[Column]) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), [])
    expected = [name for name, _ in columns]
    if header != expected:
        raise ValueError(f"{path.name}: expected the columns {expected}, found {header}")


# -- the warehouse -----------------------------------------------------------------------


class Warehouse(envres.Resource):
    """A SQL warehouse the assets load into and transform in.

    The SQL the assets write is the common ground of DuckDB and PostgreSQL;
    query parameters are written ``$1``, ``$2``, … (native in both).
    """

    #: ``"duckdb"`` or ``"postgresql"``, for the rare statement that must differ.
    dialect: ClassVar[str]

    @abstractmethod
    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        """Run one statement (committed when it returns)."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Run one query and return every row."""

    @abstractmethod
    def execute_atomically(self, statements: Sequence[str]) -> None:
        """Run statements in one transaction: all of them take effect, or none."""

    @abstractmethod
    def load_csv(self, table: str, path: Path, columns: Sequence[Column]) -> int:
        """(Re)create ``table`` with ``columns`` and load the CSV file (with a header
        row naming exactly those columns) into it, atomically; return the row count."""

    def replace_table(self, table: str, select_sql: str) -> int:
        """(Re)create ``table`` as the result of ``select_sql``, atomically; return its rows."""
        name = _ident(table)
        self.execute_atomically(
            [f"DROP TABLE IF EXISTS {name}", f"CREATE TABLE {name} AS {select_sql}"]
        )
        return self.count(name)

    def count(self, table: str) -> int:
        """How many rows ``table`` has."""
        return int(self.query(f"SELECT COUNT(*) FROM {_ident(table)}")[0][0])

    def check(self) -> str:
        """The connection check of ``envres check``: one round trip; the server's version."""
        version = str(self.query(self.version_sql)[0][0])
        return " ".join(version.split()[:2])

    #: A query that answers with the database's name and version.
    version_sql: ClassVar[str] = "SELECT version()"


class DuckDBWarehouse(Warehouse):
    """An embedded DuckDB database: a file (created with its folder) or ``:memory:``."""

    dialect: ClassVar[str] = "duckdb"
    version_sql: ClassVar[str] = "SELECT 'DuckDB ' || version()"

    path: str = ":memory:"
    threads: int | None = Field(default=None, ge=1, description="DuckDB worker threads")

    _conn: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def lifespan(self) -> Iterator[None]:
        import duckdb

        target = self.path
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, str | bool | int | float | list[str]] = {}
        if self.threads is not None:
            config["threads"] = self.threads
        self._conn = duckdb.connect(target, config=config)
        try:
            yield
        finally:
            conn, self._conn = self._conn, None
            conn.close()

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._conn is None:
            raise RuntimeError("the DuckDB warehouse is not set up (use it inside a run)")
        return self._conn

    # One lock serializes the connection: assets running in parallel (--jobs) share it.
    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        with self._lock:
            self._connection().execute(sql, list(params) or None)

    def query(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        with self._lock:
            return self._connection().execute(sql, list(params) or None).fetchall()

    def execute_atomically(self, statements: Sequence[str]) -> None:
        with self._lock:
            conn = self._connection()
            conn.begin()
            try:
                for statement in statements:
                    conn.execute(statement)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def load_csv(self, table: str, path: Path, columns: Sequence[Column]) -> int:
        _check_csv_header(path, columns)
        name = _ident(table)
        definition = ", ".join(f"{_ident(c)} {t}" for c, t in columns)
        select = ", ".join(f"CAST({c} AS {t})" for c, t in columns)
        with self._lock:
            conn = self._connection()
            conn.begin()
            try:
                conn.execute(f"DROP TABLE IF EXISTS {name}")
                conn.execute(f"CREATE TABLE {name} ({definition})")
                conn.execute(
                    f"INSERT INTO {name} SELECT {select} "
                    "FROM read_csv($1, header = true, all_varchar = true)",
                    [str(path)],
                )
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        return self.count(name)


class PostgresWarehouse(Warehouse):
    """A PostgreSQL database (psycopg 3). Tables go into ``db_schema``, created if missing."""

    dialect: ClassVar[str] = "postgresql"

    host: str
    port: int = Field(default=5432, ge=1, le=65535)
    dbname: str
    user: str
    password: SecretStr
    db_schema: str = "public"
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    connect_timeout: int = Field(default=5, ge=1, description="seconds")

    _conn: psycopg.Connection[Row] | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def lifespan(self) -> Iterator[None]:
        import psycopg
        from psycopg import sql

        # RawCursor: server-side parameters, written $1, $2, ... as in DuckDB.
        conn = psycopg.connect(
            host=self.host,
            port=self.port,
            dbname=self.dbname,
            user=self.user,
            password=self.password.get_secret_value(),
            sslmode=self.sslmode,
            connect_timeout=self.connect_timeout,
            application_name="envres-shop",
            autocommit=True,
            cursor_factory=psycopg.RawCursor,
        )
        try:
            schema = sql.Identifier(self.db_schema)
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
            conn.execute(sql.SQL("SET search_path TO {}").format(schema))
            self._conn = conn
            yield
        finally:
            self._conn = None
            conn.close()

    def _connection(self) -> psycopg.Connection[Row]:
        if self._conn is None:
            raise RuntimeError("the PostgreSQL warehouse is not set up (use it inside a run)")
        return self._conn

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        with self._lock:
            self._connection().execute(sql, list(params) or None)

    def query(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        with self._lock:
            return self._connection().execute(sql, list(params) or None).fetchall()

    def execute_atomically(self, statements: Sequence[str]) -> None:
        with self._lock:
            conn = self._connection()
            with conn.transaction():
                for statement in statements:
                    conn.execute(statement)

    def load_csv(self, table: str, path: Path, columns: Sequence[Column]) -> int:
        _check_csv_header(path, columns)
        name = _ident(table)
        definition = ", ".join(f"{_ident(c)} {t}" for c, t in columns)
        names = ", ".join(c for c, _ in columns)
        copy_sql = f"COPY {name} ({names}) FROM STDIN WITH (FORMAT csv, HEADER true)"
        with self._lock:
            conn = self._connection()
            with conn.transaction():
                conn.execute(f"DROP TABLE IF EXISTS {name}")
                conn.execute(f"CREATE TABLE {name} ({definition})")
                with conn.cursor() as cur, cur.copy(copy_sql) as copy, path.open("rb") as fh:
                    while chunk := fh.read(1 << 16):
                        copy.write(chunk)
        return self.count(name)


# -- notifications -----------------------------------------------------------------------


class Notifier(envres.Resource):
    """Where the pipeline says what it did, one line at a time."""

    @abstractmethod
    def send(self, text: str) -> None:
        """Deliver one line of text."""


class ConsoleNotifier(Notifier):
    """Prints each message to standard output."""

    prefix: str = "[shop]"

    def send(self, text: str) -> None:
        print(f"{self.prefix} {text}" if self.prefix else text, flush=True)


class WebhookNotifier(Notifier):
    """POSTs ``{"text": ...}`` as JSON to a webhook (Slack, Mattermost, Teams, your own)."""

    url: str
    token: SecretStr | None = None
    timeout: float = Field(default=5.0, gt=0, description="seconds")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL")
        return value

    def send(self, text: str) -> None:
        request = urllib.request.Request(
            self.url,
            data=json.dumps({"text": text}).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "envres-shop"},
        )
        if self.token is not None:
            request.add_header("Authorization", f"Bearer {self.token.get_secret_value()}")
        # A non-2xx answer raises urllib.error.HTTPError, which fails the asset.
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            response.read()

    def check(self) -> str:
        """The connection check of ``envres check``: a HEAD request, nothing posted.

        Any answer below 400 passes, and 405 too (the hook is there; it takes only
        POST); 401/403 (a wrong token) and 5xx fail.
        """
        request = urllib.request.Request(
            self.url, method="HEAD", headers={"User-Agent": "envres-shop"}
        )
        if self.token is not None:
            request.add_header("Authorization", f"Bearer {self.token.get_secret_value()}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            if exc.code == 405:
                return "HTTP 405 (answers POST only)"
            raise


# -- the report folder -------------------------------------------------------------------


@envres.resource
def report_dir(path: str = "out/reports") -> Generator[Path, None, None]:
    """A folder for the reports (created if missing); assets receive its ``Path``."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    yield folder


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
