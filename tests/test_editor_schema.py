"""``envres schema`` in a real editor: the YAML language server checks profiles against it.

tools/editor pins yaml-language-server, the server behind VS Code's YAML extension
and the YAML support of most other editors; install it with
``npm ci --prefix tools/editor`` (the tests fail, they do not skip, without it). The
tests start it as a subprocess, speak LSP to it over stdio (JSON-RPC with
Content-Length framing) as an editor does, open profiles and read back the
diagnostics it publishes:

- none for every profile of the repository's example, with the schema
  ``envres schema`` prints at the root, associated by the ``yaml.schemas`` setting
  and, separately, by each profile's ``# yaml-language-server: $schema=...`` modeline
  alone (the committed ``profiles/envres.schema.json``, which must be what
  ``envres schema`` prints now);
- none for a ``${...}``, ``{{ }}`` or ``{% %}`` string or a ``{resource: key}``
  reference where a literal is typed, at any depth: enums, patterns, lengths,
  nullable fields, nested models, list items, dict values (the schema used to reject
  ``sslmode: ${PG_SSLMODE:-prefer}``);
- one, on the marked line, for each real mistake: an unknown field, a literal of the
  wrong type, a value outside an enum or a constraint, an unknown top-level key.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import jsonschema
import pytest
import yaml

from tests.conftest import Cli, make_project, run_real

ROOT = Path(__file__).resolve().parent.parent
EDITOR = ROOT / "tools" / "editor"
SERVER = EDITOR / "node_modules" / "yaml-language-server" / "bin" / "yaml-language-server"
INSTALL = "run `npm ci --prefix tools/editor` (needs Node.js and npm)"
EXAMPLE_PROFILES = ("base.yaml", "dev.yaml", "staging.yaml", "prod.yaml", "_postgres.yaml")
MODELINE = "# yaml-language-server: $schema=envres.schema.json\n"
#: Appended to the line a diagnostic is expected on.
MARK = "# <-"
TIMEOUT = 20.0

#: (line, message): a diagnostic as an editor shows it, lines counted from 1.
Diagnostic = tuple[int, str]


# -- a minimal LSP client ------------------------------------------------------------------


def server_command() -> list[str]:
    """How to start the pinned server; a failure (never a skip) saying how to install it."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not on PATH: the editor tests run yaml-language-server; {INSTALL}")
    if not SERVER.is_file():
        pytest.fail(f"{SERVER.relative_to(ROOT)} is missing; {INSTALL}")
    pinned = json.loads((EDITOR / "package.json").read_text(encoding="utf-8"))
    wanted = pinned["devDependencies"]["yaml-language-server"]
    installed = json.loads((SERVER.parent.parent / "package.json").read_text(encoding="utf-8"))
    if installed["version"] != wanted:
        pytest.fail(
            f"yaml-language-server {installed['version']} is installed, "
            f"tools/editor pins {wanted}; {INSTALL}"
        )
    return [node, str(SERVER), "--stdio"]


class LanguageServer:
    """yaml-language-server over stdio, driven the way an editor drives it.

    The settings are answered to the server's ``workspace/configuration`` requests
    (pushed with ``workspace/didChangeConfiguration`` too); every other request from
    the server gets a null result. :meth:`check` opens documents and returns the
    diagnostics published for each.
    """

    def __init__(self, yaml_settings: Mapping[str, Any], workspace: Path) -> None:
        # No SchemaStore: the catalog is fetched from the network and would associate
        # schemas of its own with some file names.
        self.settings: dict[str, Any] = {
            "yaml": {"validate": True, "schemaStore": {"enable": False}, **yaml_settings},
            "http": {"proxy": "", "proxyStrictSSL": False},
        }
        command = server_command()
        self._stderr_path = workspace / "yaml-language-server.stderr"
        self._stderr = self._stderr_path.open("wb")
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=workspace,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._stdin: IO[bytes] = self._proc.stdin
        self._ids = itertools.count(1)
        self._write_lock = threading.Lock()
        self._changed = threading.Condition()
        self._responses: dict[int, dict[str, Any]] = {}
        self._published: dict[str, list[dict[str, Any]]] = {}
        self._opened: set[str] = set()
        self._pulls = 0  # workspace/configuration requests for the "yaml" section answered
        self._closed = False
        self._reader = threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True)
        self._reader.start()
        root = workspace.as_uri()
        self._request(
            "initialize",
            {
                "processId": os.getpid(),
                "clientInfo": {"name": "envres-tests"},
                "rootUri": root,
                "workspaceFolders": [{"uri": root, "name": workspace.name}],
                "capabilities": {
                    "workspace": {"configuration": True, "workspaceFolders": True},
                    "textDocument": {
                        "synchronization": {"didSave": False},
                        "publishDiagnostics": {"relatedInformation": False},
                    },
                },
            },
        )
        self._notify("initialized", {})
        self._notify("workspace/didChangeConfiguration", {"settings": self.settings})
        # The server pulls its settings on a change; documents opened before they are
        # in would be checked against no schema at all (and found clean).
        self._wait(lambda: self._pulls > 0, 5.0, "the server never asked for its settings")

    # -- what the tests call

    def check(self, documents: Mapping[Path, str]) -> dict[Path, list[Diagnostic]]:
        """Open each document (its text, under its path's URI) and wait for its diagnostics."""
        uris = {path: path.as_uri() for path in documents}
        for path, text in documents.items():
            assert uris[path] not in self._opened, f"{path} was opened before"
            self._opened.add(uris[path])
            self._notify(
                "textDocument/didOpen",
                {
                    "textDocument": {
                        "uri": uris[path],
                        "languageId": "yaml",
                        "version": 1,
                        "text": text,
                    }
                },
            )
        self._wait(
            lambda: all(uri in self._published for uri in uris.values()),
            TIMEOUT,
            "no diagnostics published for some documents",
        )
        return {
            path: sorted(
                (d["range"]["start"]["line"] + 1, d["message"]) for d in self._published[uri][0]
            )
            for path, uri in uris.items()
        }

    def close(self) -> None:
        try:
            if self._proc.poll() is None and not self._closed:
                self._request("shutdown", None, timeout=5.0)
                self._notify("exit", None)
                self._proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired, pytest.fail.Exception):
            pass
        finally:
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait(timeout=5)
            self._stdin.close()
            self._reader.join(timeout=5)
            assert self._proc.stdout is not None
            self._proc.stdout.close()
            self._stderr.close()

    # -- JSON-RPC

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        with self._write_lock:
            self._stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self._stdin.flush()

    def _notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def _request(self, method: str, params: Any, timeout: float = TIMEOUT) -> Any:
        ident = next(self._ids)
        self._send({"id": ident, "method": method, "params": params})
        self._wait(lambda: ident in self._responses, timeout, f"no answer to {method}")
        response = self._responses.pop(ident)
        assert "error" not in response, f"{method} failed: {response['error']}"
        return response["result"]

    def _wait(self, done: Any, timeout: float, what: str) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: done() or self._closed, timeout) or not done():
                stderr = self._stderr_path.read_text(encoding="utf-8", errors="replace")
                state = "exited" if self._closed else f"still running after {timeout} s"
                pytest.fail(f"yaml-language-server {state}: {what}\n{stderr[-3000:]}")

    def _read(self, stream: IO[bytes]) -> None:
        try:
            while (message := _read_message(stream)) is not None:
                self._dispatch(message)
        finally:
            with self._changed:
                self._closed = True
                self._changed.notify_all()

    def _dispatch(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if method is not None and "id" in message:  # a request from the server
            result: Any = None
            pulled = False
            if method == "workspace/configuration":
                items = message["params"]["items"]
                result = [self.settings.get(item.get("section", "")) for item in items]
                pulled = any(item.get("section") == "yaml" for item in items)
            self._send({"id": message["id"], "result": result})
            with self._changed:  # counted once answered
                self._pulls += pulled
                self._changed.notify_all()
            return
        with self._changed:
            if method == "textDocument/publishDiagnostics":
                params = message["params"]
                self._published.setdefault(params["uri"], []).append(params["diagnostics"])
            elif method is None:
                self._responses[message["id"]] = message
            self._changed.notify_all()


def _read_message(stream: IO[bytes]) -> dict[str, Any] | None:
    """One framed message (``Content-Length: N`` headers, a blank line, N bytes of JSON)."""
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("ascii").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    assert length is not None, "a message without Content-Length"
    body = stream.read(length)
    if len(body) < length:
        return None
    message: dict[str, Any] = json.loads(body)
    return message


# -- documents -------------------------------------------------------------------------------


def marked(text: str) -> set[int]:
    """The lines (from 1) that end with the mark: where a diagnostic must be."""
    return {n for n, line in enumerate(text.splitlines(), 1) if line.rstrip().endswith(MARK)}


def without_modeline(text: str) -> str:
    """``text`` without its modeline, which would win over the ``yaml.schemas`` setting."""
    return "".join(
        line
        for line in text.splitlines(keepends=True)
        if not line.startswith("# yaml-language-server:")
    )


#: The PostgreSQL warehouse of the shop with its required fields; cases add lines to it.
PG = """\
resources:
  warehouse:
    type: postgres
    config:
      host: db.internal
      dbname: shop
      user: shop
      password: ${PG_PASSWORD}
"""

#: Mistakes in a shop profile: (the profile, with the wrong line marked; what is said there).
SHOP_MISTAKES = {
    "unknown-field": (PG + "      prot: 5432  # <-\n", "Property prot is not allowed."),
    "string-for-int": (PG + '      port: "abc"  # <-\n', "Incorrect type."),
    "list-for-int": (PG + "      port: [1]  # <-\n", "Incorrect type."),
    "below-minimum": (PG + "      port: 0  # <-\n", "below the minimum of 1"),
    "not-in-enum": (PG + "      sslmode: preferred  # <-\n", "Value is not accepted."),
    "dollar-is-not-interpolation": (PG + "      sslmode: $PG_SSLMODE  # <-\n", "not accepted"),
    "unknown-top-level-key": (
        "extends: base\nresource:  # <-\n  warehouse:\n    type: duckdb\n",
        "Property resource is not allowed.",
    ),
    "unknown-field-of-a-function-resource": (
        "resources:\n  report_dir:\n    type: folder\n    config:\n      pth: out  # <-\n",
        "Property pth is not allowed.",
    ),
    "string-for-float": (
        "resources:\n  notifier:\n    type: webhook\n    config:\n"
        "      url: https://chat.example/hook\n      timeout: soon  # <-\n",
        "Incorrect type.",
    ),
}

#: Values a literal-only schema rejects and a profile may write: no diagnostic at all.
SHOP_ACCEPTED = {
    "enum-interpolated": PG + "      sslmode: ${PG_SSLMODE:-prefer}\n",
    "enum-interpolated-required": PG + "      sslmode: ${PG_SSLMODE:?set PG_SSLMODE}\n",
    "enum-template": PG + "      sslmode: \"{{ env('PG_SSLMODE', 'prefer') }}\"\n",
    "enum-template-statement": (
        PG + "      sslmode: \"{% if profile == 'prod' %}require{% else %}prefer{% endif %}\"\n"
    ),
    "int-interpolated": PG + "      port: ${PG_PORT:-5432}\n      connect_timeout: ${T:-5}\n",
    "reference": PG.replace("host: db.internal", "host: {resource: db_host}"),
    "partial-entry": "extends: _postgres\nresources:\n  warehouse:\n    config: {port: 6432}\n",
    "removed-entry": "extends: base\nresources:\n  notifier: null\n",
    "import-path-type": "resources:\n  cache:\n    type: my.module:Cache\n    config: {size: 1}\n",
}

#: A project whose config has an enum, a nullable enum, a pattern and a length at the
#: top, and models, lists and dicts below it.
NESTED_DEFINITIONS = """
from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

import envres


class Backoff(enum.Enum):
    FIXED = "fixed"
    EXPONENTIAL = "exponential"


class Retry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    backoff: Backoff = Backoff.FIXED
    attempts: Annotated[int, Field(ge=1)] = 3


class Api(envres.Resource):
    url: str
    mode: Literal["read", "write"] = "read"
    level: Literal["debug", "info"] | None = None
    region: Annotated[str, Field(pattern="^[a-z]{2}-[a-z]+$")] = "eu-west"
    name: Annotated[str, Field(min_length=2, max_length=8)] = "api"
    retry: Retry = Retry()
    fallbacks: list[Retry] = []
    scopes: list[Literal["orders", "users"]] = []
    limits: dict[str, Literal["low", "high"]] = {}
    token: str | None = None


@envres.resource
def base_url() -> Iterator[str]:
    yield "https://api.example"


defs = envres.Definitions(assets=[], resource_types={"api": Api, "base_url": base_url})
"""

API = """\
resources:
  api:
    type: api
    config:
      url: https://api.example
"""

#: Every kind of field, at every depth, interpolated, templated or a reference. Also a
#: real profile: it validates with the variables unset (tests below).
NESTED_ACCEPTED = """\
resources:
  base:
    type: base_url
  api:
    type: api
    config:
      url: {resource: base}
      mode: ${API_MODE:-write}
      level: "{{ env('API_LEVEL', 'info') }}"
      region: ${API_REGION:-us-east}
      name: ${API_NAME:-orders}
      retry:
        backoff: ${API_BACKOFF:-exponential}
        attempts: ${API_ATTEMPTS:-5}
      fallbacks:
        - backoff: "{% if profile == 'prod' %}exponential{% else %}fixed{% endif %}"
          attempts: ${API_FALLBACK_ATTEMPTS:-2}
        - backoff: fixed
      scopes: [orders, "${API_SCOPE:-users}"]
      limits:
        orders: ${ORDERS_LIMIT:-high}
        users: low
      token: ${API_TOKEN:-}
"""

NESTED_MISTAKES = {
    "enum": (API + "      mode: append  # <-\n", "Value is not accepted."),
    "nullable-enum": (API + "      level: verbose  # <-\n", "Value is not accepted."),
    "pattern": (API + "      region: europe  # <-\n", "does not match the pattern"),
    "length": (API + "      name: x  # <-\n", "shorter than the minimum length of 2"),
    "nested-enum": (API + "      retry:\n        backoff: linear  # <-\n", "not accepted"),
    "nested-unknown-field": (
        API + "      retry:\n        attemps: 2  # <-\n",
        "Property attemps is not allowed.",
    ),
    "nested-wrong-type": (API + "      retry:\n        attempts: many  # <-\n", "Incorrect type."),
    "list-item-field": (
        API + "      fallbacks:\n        - backoff: fixed\n          attempts: 0  # <-\n",
        "below the minimum of 1",
    ),
    "list-item-enum": (API + "      scopes: [orders, admin]  # <-\n", "not accepted"),
    "dict-value-enum": (API + "      limits:\n        orders: medium  # <-\n", "not accepted"),
    "reference-with-another-key": (
        API.replace("url: https://api.example", "url: {resource: base, x: 1}  # <-"),
        "Property x is not allowed.",
    ),
}


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("editor")


@pytest.fixture(scope="module")
def shop_schema(workspace: Path) -> str:
    """What ``envres schema`` prints at the repository root (the shop example)."""
    result = run_real("schema", cwd=ROOT)
    assert result.code == 0, result.err
    (workspace / "shop.schema.json").write_text(result.out, encoding="utf-8")
    return result.out


@pytest.fixture(scope="module")
def nested_project(workspace: Path) -> Path:
    project = make_project(
        workspace / "nested-project",
        profiles={"ok.yaml": NESTED_ACCEPTED},
        definitions=NESTED_DEFINITIONS,
        module="nested_defs",
    )
    result = run_real("schema", cwd=project.root)
    assert result.code == 0, result.err
    (workspace / "nested.schema.json").write_text(result.out, encoding="utf-8")
    return project.root


@pytest.fixture(scope="module")
def editor(workspace: Path, shop_schema: str, nested_project: Path) -> Iterator[LanguageServer]:
    """A server that associates the two schemas with two folders by ``yaml.schemas``."""
    (workspace / "shop").mkdir()
    (workspace / "nested").mkdir()
    server = LanguageServer(
        {
            "schemas": {
                (workspace / "shop.schema.json").as_uri(): [f"{workspace}/shop/*.yaml"],
                (workspace / "nested.schema.json").as_uri(): [f"{workspace}/nested/*.yaml"],
            }
        },
        workspace,
    )
    yield server
    server.close()


@pytest.fixture(scope="module")
def modeline_editor(workspace: Path) -> Iterator[LanguageServer]:
    """A server with no ``yaml.schemas``: only a document's own modeline names a schema."""
    server = LanguageServer({}, workspace)
    yield server
    server.close()


@pytest.fixture(scope="module")
def shop_results(editor: LanguageServer, workspace: Path) -> dict[str, list[Diagnostic]]:
    """Every shop document checked at once (one round of the server's validation delay)."""
    documents = {
        **{
            name: without_modeline((ROOT / "profiles" / name).read_text(encoding="utf-8"))
            for name in EXAMPLE_PROFILES
        },
        **{f"{case}.yaml": text for case, (text, _) in SHOP_MISTAKES.items()},
        **{f"{case}.yaml": text for case, text in SHOP_ACCEPTED.items()},
    }
    for name, text in documents.items():
        (workspace / "shop" / name).write_text(text, encoding="utf-8")
    found = editor.check({workspace / "shop" / name: text for name, text in documents.items()})
    return {path.name: diagnostics for path, diagnostics in found.items()}


@pytest.fixture(scope="module")
def nested_results(editor: LanguageServer, workspace: Path) -> dict[str, list[Diagnostic]]:
    documents = {
        "accepted.yaml": NESTED_ACCEPTED,
        **{f"{case}.yaml": text for case, (text, _) in NESTED_MISTAKES.items()},
    }
    found = editor.check({workspace / "nested" / name: text for name, text in documents.items()})
    return {path.name: diagnostics for path, diagnostics in found.items()}


# -- the server ----------------------------------------------------------------------------------


def test_the_pinned_language_server_is_installed() -> None:
    command = server_command()
    version = subprocess.run(
        [command[0], "--version"], capture_output=True, text=True, check=True, timeout=30
    )
    assert version.stdout.startswith("v")


# -- the schema is JSON Schema, and a second validator agrees --------------------------------


def test_the_printed_schemas_are_valid_draft_2020_12(
    shop_schema: str, nested_project: Path, workspace: Path
) -> None:
    for text in (shop_schema, (workspace / "nested.schema.json").read_text(encoding="utf-8")):
        schema = json.loads(text)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        jsonschema.Draft202012Validator.check_schema(schema)


def test_python_jsonschema_accepts_and_rejects_the_same_documents(
    shop_schema: str, nested_project: Path, workspace: Path
) -> None:
    shop = jsonschema.Draft202012Validator(json.loads(shop_schema))
    nested = jsonschema.Draft202012Validator(
        json.loads((workspace / "nested.schema.json").read_text(encoding="utf-8"))
    )
    for name in EXAMPLE_PROFILES:
        assert shop.is_valid(yaml.safe_load((ROOT / "profiles" / name).read_text())), name
    for case, text in SHOP_ACCEPTED.items():
        assert shop.is_valid(yaml.safe_load(text)), case
    for case, (text, _) in SHOP_MISTAKES.items():
        assert not shop.is_valid(yaml.safe_load(text)), case
    assert nested.is_valid(yaml.safe_load(NESTED_ACCEPTED))
    for case, (text, _) in NESTED_MISTAKES.items():
        assert not nested.is_valid(yaml.safe_load(text)), case


# -- the example's profiles, by the yaml.schemas setting -----------------------------------------


@pytest.mark.parametrize("name", EXAMPLE_PROFILES)
def test_every_example_profile_is_clean_in_the_editor(
    shop_results: dict[str, list[Diagnostic]], name: str
) -> None:
    assert shop_results[name] == []


@pytest.mark.parametrize("case", SHOP_ACCEPTED)
def test_an_interpolated_templated_or_referenced_value_is_no_mistake(
    shop_results: dict[str, list[Diagnostic]], case: str
) -> None:
    assert shop_results[f"{case}.yaml"] == []


@pytest.mark.parametrize("case", SHOP_MISTAKES)
def test_a_mistake_is_reported_on_its_line(
    shop_results: dict[str, list[Diagnostic]], case: str
) -> None:
    text, message = SHOP_MISTAKES[case]
    found = shop_results[f"{case}.yaml"]
    assert {line for line, _ in found} == marked(text), found
    assert any(message in said for _, said in found), found


# -- every depth: a project with models, lists, dicts, enums, patterns, lengths -------------------


def test_every_field_at_every_depth_takes_interpolation_templates_and_references(
    nested_results: dict[str, list[Diagnostic]],
) -> None:
    assert nested_results["accepted.yaml"] == []


def test_the_accepted_nested_profile_is_valid_for_envres_too(
    envres_cli: Cli, nested_project: Path
) -> None:
    # What the editor lets through is what the loader accepts: no false promises.
    result = envres_cli("validate", "--profile", "ok", cwd=nested_project)
    assert (result.code, result.out) == (0, "profile 'ok' is valid (2 resources, 0 assets)\n")
    shown = envres_cli("show", "--profile", "ok", cwd=nested_project)
    config = yaml.safe_load(shown.out)["resources"]["api"]["config"]
    assert config["retry"] == {"backoff": "exponential", "attempts": 5}
    assert config["scopes"] == ["orders", "users"]
    assert config["level"] == "info"


@pytest.mark.parametrize("case", NESTED_MISTAKES)
def test_a_mistake_at_any_depth_is_reported_on_its_line(
    nested_results: dict[str, list[Diagnostic]], case: str
) -> None:
    text, message = NESTED_MISTAKES[case]
    found = nested_results[f"{case}.yaml"]
    assert {line for line, _ in found} == marked(text), found
    assert any(message in said for _, said in found), found


# -- the modeline: the committed schema, and the one envres init writes --------------------------


def test_the_committed_schema_is_what_envres_schema_prints(shop_schema: str) -> None:
    committed = (ROOT / "profiles" / "envres.schema.json").read_text(encoding="utf-8")
    assert committed == shop_schema, (
        "profiles/envres.schema.json is stale: run `envres schema > profiles/envres.schema.json`"
    )


def test_each_example_profile_names_the_schema_on_its_first_line() -> None:
    for name in EXAMPLE_PROFILES:
        first = (ROOT / "profiles" / name).read_text(encoding="utf-8").splitlines(keepends=True)[0]
        assert first == MODELINE, name


def test_the_modeline_alone_makes_the_editor_check_the_example_profiles(
    modeline_editor: LanguageServer,
) -> None:
    profiles = ROOT / "profiles"
    documents = {profiles / name: (profiles / name).read_text() for name in EXAMPLE_PROFILES}
    # Never written to disk: the server has the text; the modeline resolves next to it.
    wrong = profiles / "_editor_check_not_a_file.yaml"
    documents[wrong] = MODELINE + SHOP_MISTAKES["unknown-field"][0]
    found = modeline_editor.check(documents)
    assert {path.name: found[path] for path in documents if path != wrong} == {
        name: [] for name in EXAMPLE_PROFILES
    }
    assert found[wrong] == [(marked(documents[wrong]).pop(), "Property prot is not allowed.")]


def test_init_writes_the_schema_its_profiles_name_and_the_editor_uses_it(
    envres_cli: Cli, modeline_editor: LanguageServer, tmp_path: Path
) -> None:
    folder = tmp_path / "new"
    created = envres_cli("init", "--project", str(folder), cwd=tmp_path)
    assert created.code == 0, created.err
    assert "created new/profiles/envres.schema.json" in created.out.splitlines()
    written = (folder / "profiles" / "envres.schema.json").read_text(encoding="utf-8")
    assert written == envres_cli("schema", cwd=folder).out
    profiles = sorted((folder / "profiles").glob("*.yaml"))
    assert [p.name for p in profiles] == ["base.yaml", "dev.yaml", "prod.yaml"]
    documents = {p: p.read_text(encoding="utf-8") for p in profiles}
    assert all(text.startswith(MODELINE) for text in documents.values())
    wrong = folder / "profiles" / "typo.yaml"
    documents[wrong] = MODELINE + (
        "resources:\n  warehouse:\n    type: sqlite\n    config:\n      pth: x.db  # <-\n"
    )
    found = modeline_editor.check(documents)
    assert {p.name: found[p] for p in profiles} == {p.name: [] for p in profiles}
    assert found[wrong] == [(marked(documents[wrong]).pop(), "Property pth is not allowed.")]
