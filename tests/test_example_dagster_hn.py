"""examples/dagster_hn: Dagster's project_fully_featured resource layer, as profiles.

`local` runs in process (dg.materialize): a snapshot client, pickles and DuckDB.
`prod` runs through Dagster's `dg` command (multiprocess executor, a persistent
DAGSTER_HOME): the Hacker News API served on loopback from the same snapshot, a
real S3 API (moto's server) nested in two IO managers, DuckDB as the warehouse;
the AWS secret and the API token are canaries no byte Dagster stored may hold.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import dagster as dg
import duckdb
import pytest
from moto.server import ThreadedMotoServer

from tests.conftest import Cli
from tests.test_dagster_classes import stored
from tests.test_example_dagster_shop import DG, PY_WARNING

pytestmark = pytest.mark.filterwarnings(
    "ignore:InitResourceContext.dagster_run is deprecated:DeprecationWarning"
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "dagster_hn"
SNAPSHOT = json.loads((EXAMPLE / "dagster_hn" / "snapshot.json").read_text())
AWS_SECRET = "cnry-aws-hn-81f0c2d9e4"
API_TOKEN = "cnry-hn-token-5d7e1a"
AWS_KEY_ID = "AKIAHNEXAMPLE"


def expected(ids: list[int]) -> tuple[int, int, dict[int, int]]:
    items = [SNAPSHOT[str(i)] for i in ids]
    stories = [it["id"] for it in items if it["type"] == "story"]
    comments = [it for it in items if it["type"] == "comment"]
    counts = {s: sum(c["parent"] == s for c in comments) for s in stories}
    return len(stories), len(comments), counts


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENVRES_", "DAGSTER_"))}
    env.update(extra)
    return env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "dagster_home"
    path.mkdir()
    (path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return path


@pytest.fixture
def s3() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=AWS_KEY_ID,
        aws_secret_access_key=AWS_SECRET,
    ).create_bucket(Bucket="hackernews-prod")
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def hn_api() -> Iterator[tuple[str, list[str]]]:
    """The Hacker News API's two routes, from the snapshot, on loopback; and the
    Authorization headers it was sent."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            if self.path == "/maxitem.json":
                body: object = max(int(k) for k in SNAPSHOT)
            else:
                body = SNAPSHOT.get(self.path.removeprefix("/item/").removesuffix(".json"))
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_local_profile_materialized_in_process_fills_the_duckdb_warehouse(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith("ENVRES_")]:
        monkeypatch.delenv(key)
    monkeypatch.delenv("HN_SNAPSHOT", raising=False)
    monkeypatch.setenv("HN_DATA", str(tmp_path / "data"))
    # No ENVRES_PROJECT, started elsewhere: the definitions module's own project is
    # used, and the snapshot is found from ${ENVRES_PROJECT_DIR}.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    for name in [m for m in sys.modules if m.startswith("dagster_hn")]:
        monkeypatch.delitem(sys.modules, name)
    module = importlib.import_module("dagster_hn.definitions")

    result = dg.materialize(module.defs.assets, resources=module.defs.resources)  # type: ignore[arg-type]

    assert result.success
    n_stories, n_comments, counts = expected(sorted(int(k) for k in SNAPSHOT))
    assert result.output_for_node("comments_per_story") == counts
    with duckdb.connect(str(tmp_path / "data" / "hackernews.duckdb"), read_only=True) as db:
        assert db.execute("select count(*) from hn.stories").fetchone() == (n_stories,)
        assert db.execute("select count(*) from hn.comments").fetchone() == (n_comments,)
    assert (tmp_path / "data" / "raw" / "items").is_file()


def test_prod_through_dg_launch_uses_s3_the_api_and_keeps_secrets_out(
    tmp_path: Path, home: Path, s3: str, hn_api: tuple[str, list[str]]
) -> None:
    api_url, seen = hn_api
    warehouse = tmp_path / "prod.duckdb"
    env = clean_env(
        ENVRES_PROFILE="prod",
        DAGSTER_HOME=str(home),
        PYTHONPATH=str(EXAMPLE),
        HN_API_URL=api_url,
        HN_API_TOKEN=API_TOKEN,
        S3_ENDPOINT_URL=s3,
        AWS_ACCESS_KEY_ID=AWS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=AWS_SECRET,
        WAREHOUSE_PATH=str(warehouse),
    )

    result = subprocess.run(
        [DG, "launch", "--assets", "*comments_per_story"],  # the sink and all upstream
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-4000:]
    assert PY_WARNING.findall(result.stderr) == []
    assert set(seen) == {f"Bearer {API_TOKEN}"}  # the token reached the step process
    bucket = boto3.client(
        "s3",
        endpoint_url=s3,
        region_name="us-east-1",
        aws_access_key_id=AWS_KEY_ID,
        aws_secret_access_key=AWS_SECRET,
    ).list_objects_v2(Bucket="hackernews-prod")
    assert {o["Key"] for o in bucket["Contents"]} == {"raw/items", "dagster/comments_per_story"}
    # subsample_rate 10: only every tenth item is fetched.
    n_stories, n_comments, _ = expected([i for i in range(1, 41) if i % 10 == 0])
    with duckdb.connect(str(warehouse), read_only=True) as db:
        assert db.execute("select count(*) from hn.stories").fetchone() == (n_stories,)
        assert db.execute("select count(*) from hn.comments").fetchone() == (n_comments,)
    everything = stored(home)
    for canary in (AWS_SECRET, API_TOKEN):
        assert canary.encode() not in everything
        assert canary not in result.stdout + result.stderr


def test_ci_validates_every_profile_without_secrets(envres_cli: Cli, home: Path) -> None:
    validate = envres_cli(
        "validate", "--all", "--allow-missing-env", "--project", str(EXAMPLE), cwd=EXAMPLE
    )
    dagster = subprocess.run(
        [DG, "check", "defs", "--target-path", str(EXAMPLE)],
        cwd=home,
        env=clean_env(
            ENVRES_PROFILE="prod",
            ENVRES_ALLOW_MISSING_ENV="1",
            DAGSTER_HOME=str(home),
            PYTHONPATH=str(EXAMPLE),
        ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert validate.code == 0, validate.err
    assert validate.out.splitlines() == [
        "profile 'local' is valid (3 resources, 4 assets)",
        "profile 'prod' is valid (5 resources, 4 assets, 3 warnings)",
        "profile 'staging' is valid (5 resources, 4 assets, 3 warnings)",
    ]
    assert dagster.returncode == 0, dagster.stderr[-3000:]
    assert "All definitions loaded successfully." in dagster.stdout
    assert PY_WARNING.findall(dagster.stderr) == []


def test_the_plain_dagster_version_configures_the_same_keys_with_the_same_classes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVRES_PROJECT", str(EXAMPLE))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    for name in [m for m in sys.modules if m.startswith("dagster_hn")]:
        monkeypatch.delitem(sys.modules, name)
    plain = importlib.import_module("dagster_hn.plain_dagster")
    types = importlib.import_module("dagster_hn.definitions").types

    for profile, resources in (
        ("local", plain.RESOURCES_LOCAL),
        ("staging", plain.RESOURCES_STAGING),
        ("prod", plain.RESOURCES_PROD),
    ):
        bound = types.with_profile(profile, project=str(EXAMPLE), env={}, allow_missing_env=True)
        classes = {k: r.rtype.target for k, r in bound.profile.resources.items()}
        assert classes == {k: type(v) for k, v in resources.items()}, profile


def test_the_warehouse_waits_for_another_process_to_release_the_duckdb_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Dagster's multiprocess executor writes two assets' outputs from two processes at
    # once; a DuckDB file takes one writing process at a time. Another process holds
    # the file here until told to let go.
    monkeypatch.syspath_prepend(str(EXAMPLE))
    for name in [m for m in sys.modules if m.startswith("dagster_hn")]:
        monkeypatch.delitem(sys.modules, name)
    resources = importlib.import_module("dagster_hn.resources")

    path = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys\n"
            f"db = duckdb.connect({str(path)!r})\n"
            "print('held', flush=True)\n"
            "sys.stdin.readline()\n"
            "db.close()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(duckdb.IOException, match="lock"):  # the conflict is real
            duckdb.connect(str(path))
        manager = resources.DuckDBWarehouseIOManager(duckdb_path=str(path))
        context = dg.build_output_context(asset_key=dg.AssetKey("stories"))
        release = threading.Timer(0.5, lambda: holder.communicate("go\n"))
        release.start()

        manager.handle_output(context, [{"id": 1, "title": "a"}])

        release.join()
        assert holder.wait(timeout=10) == 0
    finally:
        holder.kill()
    got = manager.load_input(dg.build_input_context(asset_key=dg.AssetKey("stories")))
    assert got == [{"id": 1, "title": "a"}]
