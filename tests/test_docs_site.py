"""`envres docs`: the static site, opened from file:// in a real headless Chromium.

The browser is Debian's ``chromium`` (installed by .ci/run), driven over the Chrome
DevTools Protocol: pages are loaded from disk, screenshotted, their DOM read and
their compare form used, with every console error, uncaught exception, log error
and network request recorded. A browser that cannot start fails the tests.

Two projects: the repository's own (the shop example, no secret set) and a small
one whose profiles hold canary secrets in every shape (a SecretStr field, a plain
field named ``api_token``, a dict key ``AWS_SECRET_ACCESS_KEY``, a value fed by
``${DB_PASSWORD}``): no canary may appear in any byte of the site, in any form.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import os
import signal
import struct
import subprocess
import time
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from envres._cli._docs import script_json
from tests.conftest import Cli, Project, make_project

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
MASK = "**********"

# -- a Chromium driven over the DevTools protocol -----------------------------------------


class Browser:
    """One page of a headless Chromium: navigate, evaluate, screenshot, and what went wrong."""

    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=20, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == ident:
                assert "error" not in msg, f"{method}: {msg['error']}"
                result: dict[str, Any] = msg["result"]
                return result
            self.events.append(msg)

    def wait_for(self, event: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for msg in self.events[seen:]:
                if msg.get("method") == event:
                    return msg
            seen = len(self.events)
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no {event} within {timeout} s")
            self.ws.settimeout(left)
            self.events.append(json.loads(self.ws.recv()))

    def open(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def click_and_wait(self, selector: str) -> None:
        self.events.clear()
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")
        self.wait_for("Page.loadEventFired")

    def screenshot(self, path: Path) -> bytes:
        data = base64.b64decode(
            self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        )
        path.write_bytes(data)
        return data

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, log errors since the last open."""
        self.evaluate("0")  # every event sent before this answer has arrived
        found = []
        for msg in self.events:
            method, params = msg.get("method"), msg.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in (
                "error",
                "assert",
                "warning",
            ):
                found.append(f"console.{params['type']}: {params['args']}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails']}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append(f"log: {params['entry']['text']}")
        return found

    def requests(self) -> list[str]:
        self.evaluate("0")
        return [
            m["params"]["request"]["url"]
            for m in self.events
            if m.get("method") == "Network.requestWillBeSent"
        ]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """A headless Chromium; its whole process group is killed at the end, whatever happens."""
    assert Path(CHROMIUM).is_file(), "Debian's chromium is installed by .ci/run"
    profile_dir = tmp_path_factory.mktemp("chromium")
    log = (profile_dir.parent / "chromium.log").open("wb")
    proc = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
            f"--user-data-dir={profile_dir}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,  # its own process group: renderers and all go at the end
    )
    try:
        port_file = profile_dir / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    f"chromium did not start (exit {proc.poll()}):\n"
                    + Path(log.name).read_text(errors="replace")[-3000:]
                )
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        page = next(t for t in targets if t["type"] == "page")
        driver = Browser(page["webSocketDebuggerUrl"])
        try:
            yield driver
        finally:
            driver.ws.close()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        log.close()


def check_png(data: bytes) -> None:
    """A real PNG with something drawn on it: a header, a size, and many colours."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 800 and height >= 600
    assert len(data) > 20_000
    idat, pos = b"", 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    assert len(set(zlib.decompress(idat))) > 50  # not a blank page


MATRIX_JS = """(() => {
  const t = document.getElementById("matrix");
  return {
    columns: [...t.querySelectorAll("thead th[data-profile]")].map(th => th.dataset.profile),
    rows: [...t.querySelectorAll("tbody tr")].map(tr => ({
      key: tr.dataset.key,
      cells: [...tr.querySelectorAll("td")].map(td => ({
        profile: td.dataset.profile,
        key: td.dataset.key,
        text: td.textContent.trim(),
        status: td.dataset.status,
        href: td.querySelector("a") ? td.querySelector("a").getAttribute("href") : null,
      })),
    })),
  };
})()"""


def compare(browser: Browser, a: str, b: str) -> list[str]:
    """Choose A and B in the compare form, as a user would, and read the result."""
    text = browser.evaluate(
        f"""(() => {{
      for (const [id, value] of [["compare-a", {json.dumps(a)}], ["compare-b", {json.dumps(b)}]]) {{
        const select = document.getElementById(id);
        select.value = value;
        select.dispatchEvent(new Event("change", {{ bubbles: true }}));
      }}
      return document.getElementById("compare-result").textContent;
    }})()"""
    )
    return str(text).splitlines()


def cells_by_row(browser: Browser, rows: str, name: str) -> dict[str, list[str]]:
    """The texts of the <td> cells of each row matching ``rows``, by the row's data-NAME."""
    return dict(
        browser.evaluate(
            f"""Object.fromEntries([...document.querySelectorAll({json.dumps(rows)})].map(tr =>
              [tr.dataset[{json.dumps(name)}],
               [...tr.querySelectorAll("td")].map(td => td.textContent)]))"""
        )
    )


def page_url(site: Path, name: str) -> str:
    return (site / name).resolve().as_uri()


# -- the shop example ------------------------------------------------------------------------


@pytest.fixture
def shop_site(envres_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(("PG_", "SHOP_")):
            monkeypatch.delenv(name)
    site = tmp_path / "site"
    result = envres_cli("docs", "--out", str(site), cwd=ROOT)
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        str((site / name).resolve())
        for name in (
            "index.html",
            "profile-base.html",
            "profile-dev.html",
            "profile-prod.html",
            "profile-staging.html",
        )
    ]
    return site


SHOP_TYPES = {
    "warehouse": ["duckdb", "duckdb", "postgres", "postgres"],
    "notifier": ["console", "console", "webhook", "console"],
    "report_dir": ["folder", "folder", "folder", "folder"],
}
SHOP_STATUS = {
    "warehouse": ["defined", "overridden", "overridden", "overridden"],
    "notifier": ["defined", "inherited", "overridden", "overridden"],
    "report_dir": ["defined", "inherited", "inherited", "inherited"],
}


def test_shop_index_renders_the_matrix_offline_without_errors(
    browser: Browser, shop_site: Path, tmp_path: Path
) -> None:
    browser.open(page_url(shop_site, "index.html"))

    check_png(browser.screenshot(tmp_path / "index.png"))
    matrix = browser.evaluate(MATRIX_JS)
    assert matrix["columns"] == ["base", "dev", "prod", "staging"]  # no _postgres partial
    assert [row["key"] for row in matrix["rows"]] == ["warehouse", "notifier", "report_dir"]
    for row in matrix["rows"]:
        cells = row["cells"]
        assert [c["profile"] for c in cells] == matrix["columns"]
        assert [c["text"] for c in cells] == SHOP_TYPES[row["key"]]
        assert [c["status"] for c in cells] == SHOP_STATUS[row["key"]]
        assert [c["href"] for c in cells] == [
            f"profile-{p}.html#res-{row['key']}" for p in matrix["columns"]
        ]
    svg = browser.evaluate(
        "[...document.querySelectorAll('.graph svg title')].map(t => t.textContent)"
    )
    assert {"r_warehouse", "a_orders", "a_report"} <= set(svg)  # the default profile: dev
    assert browser.evaluate("document.querySelector('.graph').dataset.profile") == "dev"
    assert browser.problems() == []
    assert all(url.startswith(("file://", "data:")) for url in browser.requests())


def test_shop_compare_form_shows_what_envres_diff_prints(
    browser: Browser, shop_site: Path, envres_cli: Cli
) -> None:
    browser.open(page_url(shop_site, "index.html"))

    shown = compare(browser, "dev", "prod")
    same = compare(browser, "staging", "staging")

    printed = envres_cli("diff", "dev", "prod", cwd=ROOT)
    assert printed.code == 0, printed.err
    assert shown == printed.out.splitlines()
    assert "~ warehouse: type duckdb -> postgres" in shown
    assert "    + password: <not set>" in shown
    assert same == ["profiles 'staging' and 'staging' resolve the same"]
    assert browser.problems() == []


def test_shop_matrix_link_opens_the_profile_page_with_origins_and_unset_variables(
    browser: Browser, shop_site: Path, tmp_path: Path
) -> None:
    browser.open(page_url(shop_site, "index.html"))

    browser.click_and_wait('td[data-key="warehouse"][data-profile="prod"] a')

    assert browser.evaluate("location.pathname.split('/').pop() + location.hash") == (
        "profile-prod.html#res-warehouse"
    )
    check_png(browser.screenshot(tmp_path / "prod.png"))
    rows = cells_by_row(browser, "#res-warehouse tr[data-field]", "field")
    assert rows["host"] == [
        "127.0.0.1",
        "profiles/_postgres.yaml:10 <- ${PG_HOST:-127.0.0.1} (not set, default used)",
    ]
    assert rows["user"] == [
        "shop_loader",
        "profiles/_postgres.yaml:13 <- ${PG_USER:-shop} (env file profiles/prod.env)",
    ]
    assert rows["password"][0] == "<not set>"
    assert rows["connect_timeout"] == ["10", "profiles/prod.yaml:10"]
    variables = cells_by_row(browser, "#variables tr[data-var]", "var")
    assert variables["PG_PASSWORD"][:2] == ["not set", "<not set>"]
    assert variables["PG_USER"][:3] == ["set (profiles/prod.env)", "shop_loader", "shop"]
    nodes = browser.evaluate(
        "[...document.querySelectorAll('.graph svg title')].map(t => t.textContent)"
    )
    assert {"r_warehouse", "r_notifier", "a_report"} <= set(nodes)
    assert browser.problems() == []


# -- canaries: no secret in any byte of the site -------------------------------------------

SECRETSTR = "cnry-secretstr-1b7e29"  # a SecretStr field, written in a profile
TOKEN_BASE = "cnry-apitoken-base-64d0c3"  # a plain str field named api_token
TOKEN_PROD = "cnry-apitoken-prod-9f2a51"
AWS = "cnry-aws-secret-key-3e8d07"  # a dict key AWS_SECRET_ACCESS_KEY
DB_PASSWORD = "cnry-dbpw-c4f1<&>\"'\\x92"  # ${DB_PASSWORD}, in a plain dsn; odd characters
CANARIES = (SECRETSTR, TOKEN_BASE, TOKEN_PROD, AWS, DB_PASSWORD)

CANARY_DEFINITIONS = """
from pydantic import SecretStr

import envres


class Warehouse(envres.Resource):
    pass


class DuckWarehouse(Warehouse):
    path: str = ":memory:"


class PostgresWarehouse(Warehouse):
    dsn: str
    password: SecretStr
    pool_size: int = 5


class Api(envres.Resource):
    host: str
    api_token: str
    headers: dict[str, str] = {}


class Scratch(envres.Resource):
    path: str


@envres.asset
def orders(warehouse: Warehouse) -> int:
    return 1


@envres.asset
def publish(orders: int, api: Api) -> None:
    return None


defs = envres.Definitions(
    assets=[orders, publish],
    resource_types={
        "duck": DuckWarehouse,
        "postgres": PostgresWarehouse,
        "api": Api,
        "scratch": Scratch,
    },
)
"""


@pytest.fixture
def canary(tmp_path: Path) -> Project:
    return make_project(
        tmp_path / "proj",
        {
            "base.yaml": f"""\
                resources:
                  warehouse:
                    type: duck
                    config:
                      path: data/base.duckdb
                  api:
                    type: api
                    config:
                      host: api.internal
                      api_token: {TOKEN_BASE}
                      headers:
                        AWS_SECRET_ACCESS_KEY: {AWS}
                        X_Team: data
                  scratch:
                    type: scratch
                    config:
                      path: /tmp/scratch
                """,
            "dev.yaml": """\
                extends: base
                resources:
                  warehouse:
                    config:
                      path: ${WAREHOUSE_PATH:-data/dev.duckdb}
                """,
            "_pg.yaml": """\
                extends: base
                resources:
                  warehouse:
                    type: postgres
                    config:
                      dsn: postgresql://app:${DB_PASSWORD}@db.internal/shop
                """,
            "prod.yaml": f"""\
                extends: _pg
                resources:
                  warehouse:
                    config:
                      password: {SECRETSTR}
                  api:
                    config:
                      api_token: {TOKEN_PROD}
                  scratch: null
                """,
        },
        definitions=CANARY_DEFINITIONS,
        module="vault",
    )


def forms(secret: str) -> set[str]:
    """Every way a page could spell the secret: raw, escaped, quoted, encoded, or a part."""
    as_json = json.dumps(secret)[1:-1]
    return {
        secret,
        repr(secret)[1:-1],
        as_json,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        as_json.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"),
        html.escape(secret),
        html.escape(secret, quote=False),
        html.escape(json.dumps(secret)),
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        base64.b64encode(secret.encode()).decode(),
        secret[:12],  # a prefix: every canary's first 12 characters are its own
    }


def test_no_canary_secret_in_any_file_of_the_site(envres_cli: Cli, canary: Project) -> None:
    result = envres_cli("docs", "--out", "site", cwd=canary.root, env={"DB_PASSWORD": DB_PASSWORD})

    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "site/index.html",
        "site/profile-base.html",
        "site/profile-dev.html",
        "site/profile-prod.html",
    ]
    files = sorted(p for p in (canary.root / "site").rglob("*") if p.is_file())
    assert [p.name for p in files] == [
        ".envres-docs.json",  # the manifest: what envres wrote there
        "index.html",
        "profile-base.html",
        "profile-dev.html",
        "profile-prod.html",
    ]
    for path in files:
        data = path.read_bytes()
        for secret in CANARIES:
            for form in forms(secret):
                assert form.encode() not in data, f"{path.name} holds a form of a secret"
    prod = (canary.root / "site/profile-prod.html").read_text()
    assert prod.count(MASK) >= 5  # password, dsn, api_token, the AWS key, DB_PASSWORD
    assert "<script" not in prod.replace("<script>", "")  # no script tag with a src
    assert "https://" not in prod
    assert "http://" not in prod.replace("http://www.w3.org/", "")  # SVG namespaces only


def test_canary_site_in_the_browser_masks_and_explains(
    browser: Browser, envres_cli: Cli, canary: Project, tmp_path: Path
) -> None:
    result = envres_cli("docs", "--out", "site", cwd=canary.root, env={"DB_PASSWORD": DB_PASSWORD})
    assert result.code == 0, result.err
    site = canary.root / "site"

    browser.open(page_url(site, "index.html"))
    check_png(browser.screenshot(tmp_path / "canary-index.png"))
    matrix = browser.evaluate(MATRIX_JS)
    shown = compare(browser, "base", "prod")
    browser_problems = browser.problems()

    assert matrix["columns"] == ["base", "dev", "prod"]  # _pg is a partial
    by_key = {row["key"]: row["cells"] for row in matrix["rows"]}
    assert list(by_key) == ["warehouse", "api", "scratch"]
    assert [c["text"] for c in by_key["warehouse"]] == ["duck", "duck", "postgres"]
    assert [c["text"] for c in by_key["api"]] == ["api", "api", "api"]
    assert [c["text"] for c in by_key["scratch"]] == ["scratch", "scratch", ""]
    assert [c["status"] for c in by_key["warehouse"]] == ["defined", "overridden", "overridden"]
    assert [c["status"] for c in by_key["api"]] == ["defined", "inherited", "overridden"]
    assert [c["status"] for c in by_key["scratch"]] == ["defined", "inherited", "absent"]
    assert by_key["scratch"][2]["href"] is None
    assert "~ warehouse: type duck -> postgres" in shown
    assert shown[shown.index("~ api (api)") + 1 :][:1] == ["    ~ api_token: (changed)"]
    assert "- scratch (scratch)" in shown
    assert not any(form in line for line in shown for s in CANARIES for form in forms(s))
    assert browser_problems == []

    browser.open(page_url(site, "profile-prod.html"))
    fields = browser.evaluate(
        """Object.fromEntries([...document.querySelectorAll("tr[data-field]")].map(tr =>
            [tr.closest("section").dataset.key + "." + tr.dataset.field,
             [...tr.querySelectorAll("td")].map(td => td.textContent)]))"""
    )
    variables = cells_by_row(browser, "#variables tr[data-var]", "var")
    text = browser.evaluate("document.body.innerText")

    # Values are YAML scalars, as `envres show --explain` prints them.
    assert fields["warehouse.password"] == [f"'{MASK}'", "profiles/prod.yaml:5"]
    assert fields["warehouse.dsn"] == [
        f"'{MASK}'",  # computed from the password: a secret as a whole
        "profiles/_pg.yaml:6 <- ${DB_PASSWORD} (environment)",
    ]
    assert fields["api.api_token"] == [f"'{MASK}'", "profiles/prod.yaml:8"]
    assert fields["api.headers"][0] == "{AWS_SECRET_ACCESS_KEY: '**********', X_Team: data}"
    assert variables["DB_PASSWORD"][:2] == ["set (environment)", MASK]
    assert "scratch removed at profiles/prod.yaml:9" in text
    assert not any(form in text for s in CANARIES for form in forms(s))
    assert browser.problems() == []


def test_an_invalid_profile_is_marked_invalid_with_its_problems_and_the_site_is_written(
    envres_cli: Cli, canary: Project
) -> None:
    canary.profile("broken.yaml", "extends: base\nresources:\n  warehouse:\n    tpye: duck\n")

    result = envres_cli("docs", "--out", "site", cwd=canary.root, env={"DB_PASSWORD": "x"})

    assert result.code == 1
    problem = (
        "profiles/broken.yaml:4:5: E201 resources.warehouse: unknown key 'tpye'; did you mean "
        "'type'? (allowed: type, config)"
    )
    assert problem in result.err_lines
    assert result.err_lines[-1] == (
        "1 of 4 profiles invalid (the site lists their problems): broken"
    )
    site = canary.root / "site"
    assert "site/index.html" in result.out.splitlines()
    assert not (site / "profile-broken.html").exists()
    assert sorted(p.name for p in site.glob("profile-*.html")) == [
        "profile-base.html",
        "profile-dev.html",
        "profile-prod.html",
    ]
    index = (site / "index.html").read_text()
    section = index[index.index('<section class="invalid" data-profile="broken"') :]
    section = section[: section.index("</section>")]
    assert "broken (invalid)" in section
    assert html.escape(problem, quote=True) in section


def test_a_deleted_profile_loses_its_page_on_the_next_run(envres_cli: Cli, canary: Project) -> None:
    extra = canary.profile("qa.yaml", "extends: base\n")
    first = envres_cli("docs", "--out", "site", cwd=canary.root, env={"DB_PASSWORD": "x"})
    assert first.code == 0, first.err
    assert (canary.root / "site" / "profile-qa.html").is_file()
    (canary.root / "site" / "notes.html").write_text("mine", encoding="utf-8")

    extra.unlink()
    second = envres_cli("docs", "--out", "site", cwd=canary.root, env={"DB_PASSWORD": "x"})

    assert second.code == 0, second.err
    assert not (canary.root / "site" / "profile-qa.html").exists()
    assert "profile-qa.html" not in (canary.root / "site" / "index.html").read_text()
    assert (canary.root / "site" / "notes.html").read_text() == "mine"  # not envres's page


def test_the_site_is_self_contained(envres_cli: Cli, canary: Project) -> None:
    """Nothing on any page points outside the folder: every href is a page of the site."""
    result = envres_cli("docs", cwd=canary.root, env={"DB_PASSWORD": "x"})
    assert result.code == 0, result.err
    site = canary.root / "envres-docs"  # the default --out
    pages = {p.name for p in site.iterdir()} - {".envres-docs.json"}
    assert pages == {"index.html", "profile-base.html", "profile-dev.html", "profile-prod.html"}
    for page in pages:
        text = (site / page).read_text()
        for part in text.split('href="')[1:]:
            target = html.unescape(part.split('"', 1)[0]).split("#", 1)[0]
            assert target == "data:," or target in pages, (page, target)
        assert " src=" not in text


# -- hostile values: a profile value that tries to end the page's script ---------------------

PAYLOAD = "</script><script>alert(1)</script><!--\u2028\u2029 & >"

HOSTILE_DEFINITIONS = """
import envres


class Api(envres.Resource):
    host: str


@envres.asset
def orders(api: Api) -> int:
    return 1


defs = envres.Definitions(assets=[orders], resource_types={"api": Api})
"""


def test_script_json_escapes_what_could_end_the_script_and_reads_back_the_same() -> None:
    data = {"diffs": {"a": {"b": [PAYLOAD, "<!-- x -->", "a && b", "-->"]}}}

    text = script_json(data)

    for unsafe in ("<", ">", "&", "\u2028", "\u2029"):
        assert unsafe not in text
    assert json.loads(text) == data
    assert "\\u003c/script\\u003e" in text and "\\u2028\\u2029" in text


@pytest.fixture
def hostile(tmp_path: Path) -> Project:
    return make_project(
        tmp_path / "proj",
        {
            "base.yaml": "resources:\n  api:\n    type: api\n    config:\n      host: plain\n",
            "dev.yaml": (
                "extends: base\nresources:\n  api:\n    config:\n"
                f"      host: {json.dumps(PAYLOAD)}\n"
            ),
        },
        definitions=HOSTILE_DEFINITIONS,
        module="hostile_defs",
    )


def test_a_value_holding_a_script_end_tag_stays_inert_in_the_page(
    browser: Browser, envres_cli: Cli, hostile: Project
) -> None:
    result = envres_cli("docs", "--out", "site", cwd=hostile.root)
    assert result.code == 0, result.err
    site = hostile.root / "site"
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in index
    assert index.count("<script") == 2  # the diffs as JSON, and the compare form's script
    assert "<script>alert" not in (site / "profile-dev.html").read_text(encoding="utf-8")

    browser.open(page_url(site, "index.html"))
    shown = compare(browser, "base", "dev")
    scripts = browser.evaluate("[...document.scripts].map(s => s.type || 'classic')")
    dialogs = [m for m in browser.events if m.get("method") == "Page.javascriptDialogOpening"]

    assert scripts == ["application/json", "classic"]  # nothing injected
    assert dialogs == []
    # The line as `envres diff` prints it (a YAML scalar: U+2028/9 as \L and \P), as text.
    assert '    ~ host: plain -> "</script><script>alert(1)</script><!--\\L\\P & >"' in shown
    assert browser.problems() == []


# -- the folder: envres writes only where it may, and only its own files -------------------

NOT_OURS = (
    "the folder is not empty and envres docs did not write it (no .envres-docs.json); "
    "give a new or empty folder"
)


def docs_into(envres_cli: Cli, project: Project, out: str = "site") -> Any:
    return envres_cli("docs", "--out", out, cwd=project.root)


def manifest_files(site: Path) -> list[str]:
    data = json.loads((site / ".envres-docs.json").read_text(encoding="utf-8"))
    assert data["generator"] == "envres docs"
    return list(data["files"])


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry of ``folder``: a file's bytes, a link's target, a folder's entries."""
    return {
        p.name: (
            f"-> {os.readlink(p)}"
            if p.is_symlink()
            else str(sorted(c.name for c in p.iterdir()))
            if p.is_dir()
            else p.read_bytes()
        )
        for p in sorted(folder.iterdir())
    }


def test_a_users_page_survives_and_only_pages_listed_in_the_manifest_are_removed(
    envres_cli: Cli, hostile: Project
) -> None:
    qa = hostile.profile("qa.yaml", "extends: base\n")
    assert docs_into(envres_cli, hostile).code == 0
    site = hostile.root / "site"
    assert manifest_files(site) == [
        "index.html",
        "profile-base.html",
        "profile-dev.html",
        "profile-qa.html",
    ]
    (site / "profile-notes.html").write_text("my notes", encoding="utf-8")  # named like a page
    (site / "notes.txt").write_text("mine", encoding="utf-8")

    qa.unlink()
    result = docs_into(envres_cli, hostile)

    assert result.code == 0, result.err
    assert sorted(p.name for p in site.iterdir()) == [
        ".envres-docs.json",
        "index.html",
        "notes.txt",
        "profile-base.html",
        "profile-dev.html",
        "profile-notes.html",
    ]
    assert (site / "profile-notes.html").read_text(encoding="utf-8") == "my notes"
    assert (site / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert manifest_files(site) == ["index.html", "profile-base.html", "profile-dev.html"]


def test_a_folder_with_other_files_and_no_manifest_is_a_usage_error_left_untouched(
    envres_cli: Cli, hostile: Project
) -> None:
    site = hostile.root / "site"
    site.mkdir()
    (site / "index.html").write_text("my own index", encoding="utf-8")
    (site / "profile-notes.html").write_text("my notes", encoding="utf-8")
    before = snapshot(site)

    result = docs_into(envres_cli, hostile)

    assert (result.code, result.out) == (2, "")
    assert result.err_lines == [f"envres: --out site: {NOT_OURS}"]
    assert snapshot(site) == before


def test_the_project_folder_itself_is_not_a_site_folder(envres_cli: Cli, hostile: Project) -> None:
    before = snapshot(hostile.root)

    result = docs_into(envres_cli, hostile, ".")

    assert result.code == 2
    assert result.err_lines == [f"envres: --out .: {NOT_OURS}"]
    assert snapshot(hostile.root) == before


def test_an_empty_folder_is_written_into(envres_cli: Cli, hostile: Project) -> None:
    (hostile.root / "site").mkdir()

    result = docs_into(envres_cli, hostile)

    assert result.code == 0, result.err
    assert manifest_files(hostile.root / "site") == [
        "index.html",
        "profile-base.html",
        "profile-dev.html",
    ]


def test_a_symlink_placed_in_the_folder_is_never_written_through(
    envres_cli: Cli, hostile: Project, tmp_path: Path
) -> None:
    assert docs_into(envres_cli, hostile).code == 0
    site = hostile.root / "site"
    outside = tmp_path / "outside.html"
    outside.write_text("not envres's", encoding="utf-8")
    (site / "profile-dev.html").unlink()
    (site / "profile-dev.html").symlink_to(outside)
    before = snapshot(site)

    result = docs_into(envres_cli, hostile)

    assert (result.code, result.out) == (2, "")
    assert result.err_lines == [
        "envres: --out site: profile-dev.html is a symbolic link; envres docs writes no link"
    ]
    assert outside.read_text(encoding="utf-8") == "not envres's"
    assert snapshot(site) == before  # nothing written, nothing removed


def test_a_stale_page_replaced_by_a_symlink_is_left_and_its_target_kept(
    envres_cli: Cli, hostile: Project, tmp_path: Path
) -> None:
    qa = hostile.profile("qa.yaml", "extends: base\n")
    assert docs_into(envres_cli, hostile).code == 0
    site = hostile.root / "site"
    outside = tmp_path / "outside.html"
    outside.write_text("not envres's", encoding="utf-8")
    (site / "profile-qa.html").unlink()
    (site / "profile-qa.html").symlink_to(outside)

    qa.unlink()
    result = docs_into(envres_cli, hostile)

    assert result.code == 0, result.err
    assert (site / "profile-qa.html").is_symlink()
    assert outside.read_text(encoding="utf-8") == "not envres's"


def test_a_page_hard_linked_to_a_file_elsewhere_is_replaced_not_written_through(
    envres_cli: Cli, hostile: Project, tmp_path: Path
) -> None:
    assert docs_into(envres_cli, hostile).code == 0
    site = hostile.root / "site"
    elsewhere = tmp_path / "elsewhere.html"
    elsewhere.write_text("kept", encoding="utf-8")
    (site / "index.html").unlink()
    os.link(elsewhere, site / "index.html")

    result = docs_into(envres_cli, hostile)

    assert result.code == 0, result.err
    assert elsewhere.read_text(encoding="utf-8") == "kept"
    assert (site / "index.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_a_page_name_taken_by_a_users_file_is_a_usage_error_and_nothing_is_written(
    envres_cli: Cli, hostile: Project
) -> None:
    assert docs_into(envres_cli, hostile).code == 0
    site = hostile.root / "site"
    (site / "profile-qa.html").write_text("my qa notes", encoding="utf-8")
    hostile.profile("qa.yaml", "extends: base\n")
    before = snapshot(site)

    result = docs_into(envres_cli, hostile)

    assert (result.code, result.out) == (2, "")
    assert result.err_lines == [
        "envres: --out site: profile-qa.html is there and envres docs did not write it; "
        "move it away"
    ]
    assert snapshot(site) == before


def test_a_forged_manifest_can_name_only_pages_of_the_folder(
    envres_cli: Cli, hostile: Project
) -> None:
    site = hostile.root / "site"
    site.mkdir()
    (hostile.root / "victim.txt").write_text("keep", encoding="utf-8")
    (site / "notes.txt").write_text("keep", encoding="utf-8")
    (site / "profile-gone.html").write_text("an old page", encoding="utf-8")
    forged = ["../victim.txt", "notes.txt", "../site/notes.txt", "profile-gone.html", 3]
    (site / ".envres-docs.json").write_text(
        json.dumps({"generator": "envres docs", "files": forged}), encoding="utf-8"
    )

    result = docs_into(envres_cli, hostile)

    assert result.code == 0, result.err
    assert (hostile.root / "victim.txt").read_text(encoding="utf-8") == "keep"
    assert (site / "notes.txt").read_text(encoding="utf-8") == "keep"
    assert not (site / "profile-gone.html").exists()  # a page, listed: envres's to remove


@pytest.mark.parametrize(
    ("manifest", "linked"),
    [
        pytest.param("not json", False, id="not-json"),
        pytest.param("[]", False, id="a-list"),
        pytest.param('{"files": ["index.html"]}', False, id="no-generator"),
        # envres's own shape, but a symbolic link to a file elsewhere: not read
        pytest.param('{"generator": "envres docs", "files": ["index.html"]}', True, id="symlink"),
    ],
)
def test_a_manifest_envres_did_not_write_is_a_usage_error(
    envres_cli: Cli, hostile: Project, tmp_path: Path, manifest: str, linked: bool
) -> None:
    site = hostile.root / "site"
    site.mkdir()
    if linked:
        elsewhere = tmp_path / "manifest.json"
        elsewhere.write_text(manifest, encoding="utf-8")
        (site / ".envres-docs.json").symlink_to(elsewhere)
    else:
        (site / ".envres-docs.json").write_text(manifest, encoding="utf-8")
    (site / "index.html").write_text("mine", encoding="utf-8")

    result = docs_into(envres_cli, hostile)

    assert result.code == 2
    assert result.err_lines == [
        "envres: --out site: .envres-docs.json is not one envres docs wrote; delete the "
        "folder or give another --out"
    ]
    assert (site / "index.html").read_text(encoding="utf-8") == "mine"


def test_out_below_a_file_is_a_usage_error(envres_cli: Cli, hostile: Project) -> None:
    (hostile.root / "afile").write_text("x", encoding="utf-8")

    nested = docs_into(envres_cli, hostile, "afile/site")
    deeper = docs_into(envres_cli, hostile, "afile/a/b")
    itself = docs_into(envres_cli, hostile, "afile")

    assert (nested.code, nested.err_lines) == (
        2,
        ["envres: --out afile/site: afile is a file, not a folder"],
    )
    assert (deeper.code, deeper.err_lines) == (
        2,
        ["envres: --out afile/a/b: afile is a file, not a folder"],
    )
    assert itself.code == 2 and "afile" in itself.err and "is a file" in itself.err
    assert (hostile.root / "afile").read_text(encoding="utf-8") == "x"


def test_a_symlinked_out_folder_is_refused_with_the_folder_to_give(
    envres_cli: Cli, hostile: Project, tmp_path: Path
) -> None:
    real = tmp_path / "real-site"
    real.mkdir()
    (hostile.root / "site").symlink_to(real)

    result = docs_into(envres_cli, hostile)

    assert result.code == 2
    assert result.err_lines == [
        f"envres: --out site: is a symbolic link; envres docs writes only into a real folder "
        f"(give the folder it points to: {real})"
    ]
    assert list(real.iterdir()) == []
