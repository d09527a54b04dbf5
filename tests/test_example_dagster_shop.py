"""The shop pipeline run by Dagster (examples/dagster_shop), end to end.

The same six assets as examples/shop, as Dagster assets; envres profiles pick the
warehouse and the IO manager: DuckDB and a folder of pickles in dev, a real
PostgreSQL and an S3 bucket (a real S3 server on loopback: moto's) in prod. The
figures are checked against the CSV files, as in tests/test_example_shop.py.
Dagster is driven by its `dg` command, as the README says to, and prints no
Python warning (no SupersessionWarning pointing to another command).
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import dagster as dg
import duckdb
import psycopg
import pytest
from moto.server import ThreadedMotoServer

from tests.test_example_shop import (
    FIGURE_QUERIES,
    Expected,
    assert_report_matches,
    assert_warehouse_matches,
    clean_env,
    expected_figures,
    pg_env,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "dagster_shop"
#: Dagster's `dg` command, installed beside this Python (the dagster-demo group).
DG = str(Path(sys.executable).with_name("dg"))
#: A Python warning as the warnings module prints it ("...: SupersessionWarning: ...").
PY_WARNING = re.compile(r"\b[A-Z]\w*Warning: ")
ASSETS = ("raw_orders", "raw_customers", "orders", "daily_revenue", "top_products", "report")
AWS_SECRET = "aws-secret-key-4e1c9d0b7a"
AWS_KEY_ID = "AKIAEXAMPLE7Q2W"


@pytest.fixture(scope="module")
def expected() -> Expected:
    return expected_figures(ROOT / "examples" / "shop")


@pytest.fixture
def s3() -> Iterator[str]:
    """A real S3 API on 127.0.0.1 (moto's server) with the example's bucket."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=AWS_KEY_ID,
        aws_secret_access_key=AWS_SECRET,
    )
    client.create_bucket(Bucket="shop-dagster")
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "dagster_home"
    path.mkdir()
    (path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return path


def test_dev_materialized_in_process_builds_the_report_and_pickles_each_asset(
    tmp_path: Path, home: Path, expected: Expected, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in clean_env().items():
        monkeypatch.setenv(key, value)
    for key in [k for k in os.environ if k.startswith(("ENVRES_", "PG", "SHOP_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SHOP_DUCKDB", str(tmp_path / "dev.duckdb"))
    monkeypatch.setenv("SHOP_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    # Started in another envres project (the shop's, at the repository root): the
    # definitions module still takes its profiles from its own project.
    monkeypatch.chdir(ROOT)
    sys.modules.pop("dagster_shop.definitions", None)
    module = importlib.import_module("dagster_shop.definitions")

    result = dg.materialize(
        [
            module.raw_orders,
            module.raw_customers,
            module.orders,
            module.daily_revenue,
            module.top_products,
            module.report,
        ],
        resources=module.defs.resources,
    )

    assert result.success
    storage = tmp_path / "out" / "dagster-storage" / "dev"
    assert sorted(p.stem for p in storage.glob("*.pickle")) == sorted(ASSETS)
    assert pickle.loads((storage / "orders.pickle").read_bytes()) == expected.orders
    with duckdb.connect(str(tmp_path / "dev.duckdb"), read_only=True) as con:
        rows = {name: con.execute(sql).fetchall() for name, sql in FIGURE_QUERIES.items()}
    assert_warehouse_matches(rows, expected)
    assert_report_matches(tmp_path / "out" / "dagster-dev" / "shop_report.html", expected, "duckdb")


@pytest.mark.postgres
def test_prod_with_dg_launch_loads_postgres_and_stores_values_in_s3(
    tmp_path: Path, home: Path, expected: Expected, postgres_db: str, s3: str
) -> None:
    env = clean_env(
        **pg_env(postgres_db),
        ENVRES_PROFILE="prod",
        S3_ENDPOINT_URL=s3,
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID=AWS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=AWS_SECRET,
        SHOP_OUT=str(tmp_path / "out"),
        DAGSTER_HOME=str(home),
    )
    # '*report' (report and everything upstream: all six): Dagster's '*' itself prints
    # a BetaWarning (AssetSelection.all's include_sources) in 1.13.
    args = ["launch", "--target-path", str(EXAMPLE), "--assets", "*report"]

    result = subprocess.run(
        [DG, *args],
        cwd=tmp_path,  # anywhere: the example finds its own profiles
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-4000:]
    assert PY_WARNING.findall(result.stderr) == []
    client = boto3.client(
        "s3",
        endpoint_url=s3,
        region_name="us-east-1",
        aws_access_key_id=AWS_KEY_ID,
        aws_secret_access_key=AWS_SECRET,
    )
    listed = client.list_objects_v2(Bucket="shop-dagster", Prefix="dagster-shop/")
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(
        f"dagster-shop/{name}.pickle" for name in ASSETS
    )
    body = client.get_object(Bucket="shop-dagster", Key="dagster-shop/orders.pickle")["Body"]
    assert pickle.loads(body.read()) == expected.orders
    with psycopg.connect(postgres_db) as conn:
        conn.execute("SET search_path TO dagster_shop")
        rows = {name: conn.execute(sql).fetchall() for name, sql in FIGURE_QUERIES.items()}
    assert_warehouse_matches(rows, expected)
    assert_report_matches(
        tmp_path / "out" / "dagster-prod" / "shop_report.html", expected, "postgresql"
    )
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    for secret in (AWS_SECRET, env["PG_PASSWORD"]):
        assert secret not in result.stdout + result.stderr
        assert secret.encode() not in stored


def test_the_profiles_place_the_files_under_the_project_folder(tmp_path: Path) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "envres", "show", "--format", "json", "--project", str(EXAMPLE)],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert shown.returncode == 0, shown.stderr
    config = {k: v["config"] for k, v in json.loads(shown.stdout)["resources"].items()}
    assert config["warehouse"]["path"] == f"{EXAMPLE}/data/dagster.duckdb"
    assert config["report_dir"]["path"] == f"{EXAMPLE}/out/dagster-dev"
    assert config["io_manager"]["base_dir"] == f"{EXAMPLE}/out/dagster-storage/dev"


def test_dg_check_defs_loads_the_code_location_without_a_warning(
    tmp_path: Path, home: Path
) -> None:
    result = subprocess.run(
        [DG, "check", "defs", "--target-path", str(EXAMPLE)],
        cwd=tmp_path,
        env=clean_env(DAGSTER_HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-4000:]
    assert "All definitions loaded successfully." in result.stdout
    assert PY_WARNING.findall(result.stderr) == []


def test_envres_checks_the_dagster_projects_profiles_without_secrets(tmp_path: Path) -> None:
    env = clean_env(
        AWS_SECRET_ACCESS_KEY=AWS_SECRET, AWS_ACCESS_KEY_ID=AWS_KEY_ID, PG_PASSWORD="pw-canary-1234"
    )
    run = [sys.executable, "-m", "envres"]

    checked = subprocess.run(
        [*run, "validate", "--all", "--allow-missing-env", "--project", str(EXAMPLE)],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    shown = subprocess.run(
        [*run, "show", "--profile", "prod", "--project", str(EXAMPLE)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines() == [
        "profile 'base' is valid (4 resources, 0 assets)",
        "profile 'dev' is valid (4 resources, 0 assets)",
        "profile 'prod' is valid (4 resources, 0 assets, 3 warnings)",
    ]
    assert shown.returncode == 0, shown.stderr
    assert "aws_access_key_id: '**********'" in shown.stdout  # secret by its name
    assert "aws_secret_access_key: '**********'" in shown.stdout
    for secret in (AWS_SECRET, AWS_KEY_ID, "pw-canary-1234"):
        assert secret not in shown.stdout + shown.stderr
