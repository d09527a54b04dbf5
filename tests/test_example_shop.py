"""The shop example, end to end through the real ``envres`` command at the repository root.

The repository root is the envres project (``[tool.envres]``, ``profiles/``); the
example's code and data are the installed ``shop`` package (examples/shop). The
same six assets run on DuckDB (dev) and on a real PostgreSQL server (prod); every
figure is checked against totals computed here, independently, from the CSV files
with the csv module. Each test points the DuckDB file and the reports into a
temporary folder (``SHOP_DUCKDB``, ``SHOP_OUT``), or runs a copy of the project,
and starts the command from another folder, so nothing is written into the
repository.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import duckdb
import psycopg
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "shop"
TABLES = ("raw_orders", "raw_customers", "orders", "daily_revenue", "top_products")
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


# -- helpers -----------------------------------------------------------------------------


@dataclass
class Expected:
    """The figures the pipeline must produce, computed straight from the CSV files."""

    raw_orders: int
    raw_customers: int
    test_orders: int
    orders: int
    revenue: Decimal
    by_country: dict[str, tuple[int, Decimal]]
    by_month: dict[int, Decimal]
    day_country_pairs: int
    products: list[tuple[str, Decimal]]  # by revenue, highest first


def expected_figures(project: Path) -> Expected:
    with (project / "data" / "customers.csv").open(newline="", encoding="utf-8") as fh:
        customers = list(csv.DictReader(fh))
    with (project / "data" / "orders.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    test_accounts = {c["customer_id"] for c in customers if c["is_test"] == "true"}
    real = [r for r in rows if r["customer_id"] not in test_accounts]
    by_country: dict[str, list[Decimal]] = defaultdict(list)
    by_month: dict[int, Decimal] = defaultdict(Decimal)
    by_product: dict[str, Decimal] = defaultdict(Decimal)
    pairs = set()
    for r in real:
        amount = int(r["quantity"]) * Decimal(r["unit_price"])
        by_country[r["country"]].append(amount)
        by_month[int(r["ordered_at"][5:7])] += amount
        by_product[r["product"]] += amount
        pairs.add((r["ordered_at"], r["country"]))
    return Expected(
        raw_orders=len(rows),
        raw_customers=len(customers),
        test_orders=len(rows) - len(real),
        orders=len(real),
        revenue=sum((a for amounts in by_country.values() for a in amounts), Decimal(0)),
        by_country={c: (len(a), sum(a, Decimal(0))) for c, a in by_country.items()},
        by_month=dict(by_month),
        day_country_pairs=len(pairs),
        products=sorted(by_product.items(), key=lambda kv: (-kv[1], kv[0])),
    )


def clean_env(**extra: str) -> dict[str, str]:
    """The process environment without anything that could steer the example.

    No ENVRES_*, no PG* (libpq reads PGHOST, PGSSLMODE, ...), no SHOP_*, and no
    proxy settings (the test webhook is on 127.0.0.1).
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ENVRES_", "PG", "SHOP_")) and k.lower() not in PROXY_VARS
    }
    env.update(extra)
    return env


def envres(*args: str, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envres", *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def pg_env(dsn: str) -> dict[str, str]:
    """PG_* variables for the example's profiles from a libpq URL."""
    url = urlsplit(dsn)
    assert url.hostname is not None
    assert url.port is not None
    assert url.username is not None
    assert url.password is not None
    return {
        "PG_HOST": url.hostname,
        "PG_PORT": str(url.port),
        "PG_DATABASE": unquote(url.path.lstrip("/")),
        "PG_USER": unquote(url.username),
        "PG_PASSWORD": unquote(url.password),
    }


class _ReportParser(HTMLParser):
    """Collects the report's data-* attributes and the SVG bars' titles."""

    def __init__(self) -> None:
        super().__init__()
        self.totals: dict[str, str] = {}
        self.countries: dict[str, tuple[int, Decimal]] = {}
        self.products: list[tuple[int, str, Decimal]] = []
        self.bar_titles: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "strong" and "id" in a:
            self.totals[a["id"]] = a["data-value"]
        elif tag == "tr" and "data-country" in a:
            self.countries[a["data-country"]] = (
                int(a["data-orders"]),
                Decimal(a["data-revenue"]),
            )
        elif tag == "tr" and "data-rank" in a:
            self.products.append(
                (int(a["data-rank"]), a["data-product"], Decimal(a["data-revenue"]))
            )
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title and ": " in data:
            self.bar_titles.append(data)


def parse_report(path: Path) -> _ReportParser:
    parser = _ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def assert_report_matches(path: Path, expected: Expected, backend: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert f"Warehouse: {backend}." in text
    report = parse_report(path)
    assert int(report.totals["total-orders"]) == expected.orders
    assert Decimal(report.totals["total-revenue"]) == expected.revenue
    assert report.countries == expected.by_country
    assert [(name, revenue) for _, name, revenue in report.products] == expected.products[:5]
    assert [rank for rank, _, _ in report.products] == [1, 2, 3, 4, 5]
    # One bar per month of 2025, titled "Mon 2025: 12,345.67 EUR".
    months = {
        title.split(" ")[0]: Decimal(title.split(": ")[1].split(" ")[0].replace(",", ""))
        for title in report.bar_titles
    }
    names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    assert months == {names[m - 1]: revenue for m, revenue in expected.by_month.items()}
    assert text.count("<rect ") == 12


def summary_line(expected: Expected, backend: str) -> str:
    best = expected.products[0][0]
    return (
        f"shop report ({backend}): {expected.orders:,} orders, "
        f"revenue {expected.revenue:,.2f} EUR, best seller {best}; "
    )


FIGURE_QUERIES = {
    "counts": "SELECT (SELECT COUNT(*) FROM raw_orders), (SELECT COUNT(*) FROM raw_customers),"
    " (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM daily_revenue)",
    "totals": "SELECT SUM(orders), SUM(revenue) FROM daily_revenue",
    "by_country": "SELECT country, SUM(orders), SUM(revenue) FROM daily_revenue GROUP BY country",
    "products": "SELECT product, revenue FROM top_products ORDER BY product_rank",
}


def assert_warehouse_matches(rows: Mapping[str, list[tuple[object, ...]]], e: Expected) -> None:
    [(raw_orders, raw_customers, orders, daily_rows)] = rows["counts"]
    assert (raw_orders, raw_customers) == (e.raw_orders, e.raw_customers)
    assert orders == e.orders
    assert daily_rows == e.day_country_pairs
    [(total_orders, total_revenue)] = rows["totals"]
    assert (total_orders, total_revenue) == (e.orders, e.revenue)
    by_country = {str(c): (int(str(n)), Decimal(str(r))) for c, n, r in rows["by_country"]}
    assert by_country == e.by_country
    assert [(str(p), Decimal(str(r))) for p, r in rows["products"]] == e.products


# -- fixtures ----------------------------------------------------------------------------


@dataclass
class Shop:
    """Where one test's run writes: its DuckDB file and its reports folder."""

    database: Path
    out: Path

    def env(self, **extra: str) -> dict[str, str]:
        return clean_env(SHOP_DUCKDB=str(self.database), SHOP_OUT=str(self.out), **extra)

    def report(self, profile: str) -> Path:
        return self.out / profile / "shop_report.html"


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    """Fresh places for the run's outputs, outside the repository."""
    return Shop(tmp_path / "data" / "dev.duckdb", tmp_path / "out")


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """The working directory of the commands: not the project folder."""
    path = tmp_path / "elsewhere"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def expected() -> Expected:
    figures = expected_figures(EXAMPLE)
    # The data must make the checks meaningful: test accounts with orders to leave out.
    assert figures.test_orders > 0
    assert len(figures.by_country) > 3
    return figures


@dataclass
class Webhook:
    url: str
    status: int = 204
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    heads: int = 0


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """An HTTP server on 127.0.0.1 that records every POST."""
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hook.received.append((self.path, dict(self.headers.items()), body))
            self.send_response(hook.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_HEAD(self) -> None:  # what `envres check` sends: nothing posted
            hook.heads += 1
            self.send_response(hook.status if hook.status >= 400 else 405)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/shop"
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# -- dev: DuckDB -------------------------------------------------------------------------


def test_dev_run_on_duckdb_builds_tables_and_report_with_the_csv_totals(
    shop: Shop, elsewhere: Path, expected: Expected
) -> None:
    result = envres("run", "--project", str(ROOT), "--jobs", "3", cwd=elsewhere, env=shop.env())

    assert result.returncode == 0, result.stderr
    assert "profile 'dev', 6 assets" in result.stdout
    assert "6 succeeded" in result.stdout
    report = shop.report("dev")
    assert f"[shop] {summary_line(expected, 'duckdb')}{report}" in result.stdout
    assert list(elsewhere.iterdir()) == []
    database = shop.database
    assert database.is_file()

    with duckdb.connect(str(database), read_only=True) as con:
        rows = {name: con.execute(sql).fetchall() for name, sql in FIGURE_QUERIES.items()}
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == set(TABLES)
    assert_warehouse_matches(rows, expected)
    assert_report_matches(report, expected, "duckdb")


def test_dev_run_twice_replaces_the_tables_instead_of_appending(
    shop: Shop, elsewhere: Path, expected: Expected
) -> None:
    for _ in range(2):
        result = envres("run", "--project", str(ROOT), cwd=elsewhere, env=shop.env())
        assert result.returncode == 0, result.stderr

    with duckdb.connect(str(shop.database), read_only=True) as con:
        rows = {name: con.execute(sql).fetchall() for name, sql in FIGURE_QUERIES.items()}
    assert_warehouse_matches(rows, expected)


def test_dev_duckdb_file_follows_shop_duckdb_variable_and_its_folder_is_created(
    shop: Shop, elsewhere: Path, expected: Expected
) -> None:
    target = elsewhere / "nested" / "other.duckdb"
    env = shop.env()
    env["SHOP_DUCKDB"] = str(target)
    result = envres("run", "raw_orders", "--project", str(ROOT), cwd=elsewhere, env=env)

    assert result.returncode == 0, result.stderr
    assert "1 succeeded" in result.stdout
    assert not shop.database.exists()
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("SELECT COUNT(*) FROM raw_orders").fetchall() == [(expected.raw_orders,)]


def test_dev_files_go_under_the_project_folder_whatever_the_current_one(
    tmp_path: Path, elsewhere: Path, expected: Expected
) -> None:
    # A copy of the project (pyproject.toml and profiles/) whose code is still the
    # installed shop package: the profiles name the files from ${ENVRES_PROJECT_DIR},
    # so they land under the copy, not beside the code nor in the current folder.
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "pyproject.toml", project)
    shutil.copytree(ROOT / "profiles", project / "profiles")

    result = envres("run", "--project", str(project), cwd=elsewhere, env=clean_env())

    assert result.returncode == 0, result.stderr
    shop = project.resolve() / "examples" / "shop"
    report = shop / "out" / "dev" / "shop_report.html"
    assert f"[shop] {summary_line(expected, 'duckdb')}{report}" in result.stdout
    assert list(elsewhere.iterdir()) == []
    with duckdb.connect(str(shop / "data" / "dev.duckdb"), read_only=True) as con:
        rows = {name: con.execute(sql).fetchall() for name, sql in FIGURE_QUERIES.items()}
    assert_warehouse_matches(rows, expected)
    assert_report_matches(report, expected, "duckdb")


@pytest.mark.parametrize("where", ["root", "elsewhere"])
def test_the_examples_own_tests_pass_from_the_root_and_from_another_folder(
    where: str, elsewhere: Path
) -> None:
    # examples/shop/tests uses envres's pytest fixtures: they find the project from
    # the current folder, else from the test file, so a run from outside passes too.
    tests = EXAMPLE / "tests"
    env = {k: v for k, v in clean_env().items() if not k.startswith("PYTEST_")}

    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(tests), "-q", "-n", "0", "-p", "no:cacheprovider"],
        cwd=ROOT if where == "root" else elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert result.stdout.splitlines()[-1].startswith("3 passed")
    assert list(elsewhere.iterdir()) == []


# -- prod: PostgreSQL and the webhook ------------------------------------------------------


@pytest.mark.postgres
def test_prod_run_loads_postgres_and_posts_the_summary_with_the_bearer_token(
    shop: Shop, elsewhere: Path, expected: Expected, postgres_db: str, webhook: Webhook
) -> None:
    token = f"tok-{secrets.token_hex(12)}"
    env = shop.env(**pg_env(postgres_db), SHOP_WEBHOOK_URL=webhook.url, SHOP_WEBHOOK_TOKEN=token)

    result = envres("run", "--profile", "prod", "--project", str(ROOT), cwd=elsewhere, env=env)

    assert result.returncode == 0, result.stderr
    assert "6 succeeded" in result.stdout
    output = result.stdout + result.stderr
    assert env["PG_PASSWORD"] not in output
    assert token not in output

    [(path, headers, body)] = webhook.received
    assert path == "/hooks/shop"
    assert headers["Authorization"] == f"Bearer {token}"
    assert headers["Content-Type"] == "application/json"
    report = shop.report("prod")
    assert json.loads(body) == {"text": f"{summary_line(expected, 'postgresql')}{report}"}

    # PG_SCHEMA=analytics comes from the committed profiles/prod.env.
    with psycopg.connect(postgres_db) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        conn.execute("SET search_path TO analytics")
        rows = {name: conn.execute(sql).fetchall() for name, sql in FIGURE_QUERIES.items()}
    assert sorted(tables) == sorted(("analytics", t) for t in TABLES)
    assert_warehouse_matches(rows, expected)
    assert_report_matches(report, expected, "postgresql")


@pytest.mark.postgres
def test_prod_run_exits_3_when_the_webhook_rejects_the_summary(
    shop: Shop, elsewhere: Path, postgres_db: str, webhook: Webhook
) -> None:
    webhook.status = 500
    token = f"tok-{secrets.token_hex(12)}"
    env = shop.env(**pg_env(postgres_db), SHOP_WEBHOOK_URL=webhook.url, SHOP_WEBHOOK_TOKEN=token)

    result = envres("run", "--profile", "prod", "--project", str(ROOT), cwd=elsewhere, env=env)

    assert result.returncode == 3, result.stderr
    assert len(webhook.received) == 1
    assert "FAILED  report" in result.stdout
    assert "5 succeeded, 1 failed" in result.stdout
    assert "HTTP Error 500" in result.stderr
    assert "down    warehouse" in result.stdout  # torn down all the same
    output = result.stdout + result.stderr
    assert token not in output
    assert env["PG_PASSWORD"] not in output


# -- checking profiles without running -----------------------------------------------------


def test_validate_all_passes_without_any_secret_set(elsewhere: Path) -> None:
    args = ("validate", "--all", "--allow-missing-env", "--project", str(ROOT))

    result = envres(*args, cwd=elsewhere, env=clean_env())

    assert result.returncode == 0, result.stderr
    valid = [line.split("'")[1] for line in result.stdout.splitlines() if "is valid" in line]
    assert valid == ["base", "dev", "prod", "staging"]  # the _postgres partial is skipped
    unset = Counter(
        word
        for line in result.stderr.splitlines()
        if "warning" in line
        for word in ("PG_PASSWORD", "SHOP_WEBHOOK_URL", "SHOP_WEBHOOK_TOKEN")
        if f"variable {word} is not set" in line
    )
    assert unset == {"PG_PASSWORD": 1, "SHOP_WEBHOOK_URL": 1, "SHOP_WEBHOOK_TOKEN": 1}
    # prod falls back on the mounted secret file, which is not read offline.
    assert (
        "profiles/prod.yaml:18:17: warning: E404 resources.warehouse.config.password: "
        "file:/run/secrets/pg_password: not resolved (offline) (profile 'prod')"
    ) in result.stderr


def test_validate_prod_without_secrets_fails_naming_each_missing_variable(
    elsewhere: Path,
) -> None:
    result = envres(
        "validate", "--profile", "prod", "--project", str(ROOT), cwd=elsewhere, env=clean_env()
    )

    assert result.returncode == 1
    assert (
        "resources.warehouse.config.password: file:/run/secrets/pg_password: no such file: "
        "mount it or set PG_PASSWORD"
    ) in result.stderr
    assert "set SHOP_WEBHOOK_URL to the chat webhook" in result.stderr
    assert "set SHOP_WEBHOOK_TOKEN" in result.stderr
    assert "3 problems in profile 'prod'" in result.stderr


def test_show_prod_masks_the_password_and_resolves_env_file_and_anchor(elsewhere: Path) -> None:
    canary = f"canary-{secrets.token_hex(8)}"
    token = f"tok-{secrets.token_hex(8)}"
    env = clean_env(
        PG_PASSWORD=canary,
        SHOP_WEBHOOK_URL="https://chat.example/hooks/shop",
        SHOP_WEBHOOK_TOKEN=token,
    )

    result = envres("show", "--profile", "prod", "--project", str(ROOT), cwd=elsewhere, env=env)

    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert canary not in output
    assert token not in output
    shown = yaml.safe_load(result.stdout)["resources"]
    assert shown["warehouse"] == {
        "type": "postgres",
        "config": {
            "host": "127.0.0.1",
            "port": 5432,
            "dbname": "shop",  # from profiles/prod.env
            "user": "shop_loader",
            "password": "**********",
            "db_schema": "analytics",
            "sslmode": "prefer",
            "connect_timeout": 10,  # the x-timeout anchor
        },
    }
    assert shown["notifier"] == {
        "type": "webhook",
        "config": {
            "url": "https://chat.example/hooks/shop",
            "token": "**********",
            "timeout": 10.0,
        },
    }
    reports = f"{ROOT}/examples/shop/out/prod"  # ${ENVRES_PROJECT_DIR}: the project, absolute
    assert shown["report_dir"] == {"type": "folder", "config": {"path": reports}}


def test_diff_dev_prod_shows_the_warehouse_and_notifier_type_changes(elsewhere: Path) -> None:
    canary = f"canary-{secrets.token_hex(8)}"
    args = ("diff", "dev", "prod", "--project", str(ROOT))

    result = envres(*args, cwd=elsewhere, env=clean_env(PG_PASSWORD=canary))

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "~ warehouse: type duckdb -> postgres" in lines
    assert "~ notifier: type console -> webhook" in lines
    assert "~ report_dir (folder)" in lines
    out = f"{ROOT}/examples/shop/out"
    assert f"    ~ path: {out}/dev -> {out}/prod" in lines
    assert "    + dbname: shop" in lines  # from profiles/prod.env
    assert "    + password: '**********'" in lines
    assert canary not in result.stdout + result.stderr


def test_show_prod_without_secrets_still_shows_the_connection_settings(elsewhere: Path) -> None:
    args = ("show", "--profile", "prod", "--allow-missing-env", "--project", str(ROOT))

    result = envres(*args, cwd=elsewhere, env=clean_env())

    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout)["resources"]
    assert shown["warehouse"]["config"]["password"] == "<not set>"
    assert shown["warehouse"]["config"]["dbname"] == "shop"
    assert shown["notifier"]["config"]["timeout"] == 10.0


@pytest.mark.postgres
def test_staging_runs_on_a_dask_cluster_of_two_workers_against_postgres(
    shop: Shop, elsewhere: Path, expected: Expected, postgres_db: str
) -> None:
    """DuckDB lets one process write a file; PostgreSQL takes every Dask worker."""
    args = ("run", "--profile", "staging", "--executor", "dask", "--jobs", "2")
    env = shop.env(**pg_env(postgres_db))

    result = envres(*args, "--project", str(ROOT), cwd=elsewhere, env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "dask: a local cluster of 2 worker processes" in result.stdout
    assert "6 succeeded" in result.stdout
    assert env["PG_PASSWORD"] not in result.stdout + result.stderr
    with psycopg.connect(postgres_db) as conn:
        rows = {name: conn.execute(sql).fetchall() for name, sql in FIGURE_QUERIES.items()}
    assert_warehouse_matches(rows, expected)
    assert_report_matches(shop.report("staging"), expected, "postgresql")
