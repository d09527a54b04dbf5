"""No secret value ever reaches stdout, stderr, an exception's text or a log record.

Every secret field of the profile below gets its own canary value, each from a
different source: the process environment (postgres.password), an env file named by
the profile (slack.token, a ``SecretStr | None`` parameter of a @resource function),
literal YAML (signer.key, a ``SecretStr`` parameter of a @resource function; api.auth.key,
a SecretStr inside a nested model) and the project's ``.env`` (api.headers, a
``dict[str, SecretStr]``). Then every command runs with every relevant flag, with and
without ``--debug``, including runs whose assets, setups and teardowns raise with a
secret in their message, and validations where the secret is the value that fails.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import envres
from envres._secrets import Redactor
from tests.conftest import HINT, Cli, make_project, text_line

MASK = "**********"

PG_DEV = "cnry-pg-dev-5e1f0a"
PG_PROD = "cnry-pg-prod-93b7c2"
TOK_DEV = "cnry-slack-dev-0d4e8b"
TOK_PROD = "cnry-slack-prod-7a21f9"
SIG_DEV = "cnry-sign-dev-4c6d17"
SIG_PROD = "cnry-sign-prod-c0ffee"
NEST = "cnry-nested-61aa3b"
HDR = "cnry-header-b38e55"
CANARIES = (PG_DEV, PG_PROD, TOK_DEV, TOK_PROD, SIG_DEV, SIG_PROD, NEST, HDR)

MODULE = "secret_pipeline"

SECRET_DEFINITIONS = """
from __future__ import annotations

import os
from collections.abc import Iterator

from pydantic import BaseModel, SecretStr

import envres


class Warehouse(envres.Resource):
    pass


class PostgresWarehouse(Warehouse):
    dsn: str
    password: SecretStr
    pool_size: int = 5

    def lifespan(self) -> Iterator[None]:
        if os.environ.get("FAIL_SETUP") == "warehouse":
            raise RuntimeError("cannot log in with " + self.password.get_secret_value())
        yield
        if os.environ.get("FAIL_TEARDOWN") == "warehouse":
            raise RuntimeError("close failed for " + self.password.get_secret_value())


class Auth(BaseModel):
    user: str
    key: SecretStr


class Api(envres.Resource):
    url: str
    auth: Auth
    headers: dict[str, SecretStr] = {}

    def lifespan(self) -> Iterator[None]:
        if os.environ.get("FAIL_SETUP") == "api":
            raise RuntimeError("bad key " + self.auth.key.get_secret_value())
        yield


@envres.resource
def slack(channel: str, token: SecretStr | None = None) -> Iterator[dict]:
    secret = token.get_secret_value() if token is not None else ""
    if os.environ.get("FAIL_SETUP") == "notifier":
        raise ValueError("slack rejected token " + secret)
    yield {"token": token}
    if os.environ.get("FAIL_TEARDOWN") == "notifier":
        raise RuntimeError("slack logout failed: " + secret)


@envres.resource
def signer(key: SecretStr, algo: str = "hs256") -> Iterator[str]:
    yield key.get_secret_value()


@envres.asset
def orders(warehouse: Warehouse, notifier: dict, sign: str, api: Api) -> str:
    mode = os.environ.get("FAIL_ASSET")
    if mode == "password":
        raise RuntimeError("query failed: password=" + warehouse.password.get_secret_value())
    if mode == "token":
        raise ValueError("token " + notifier["token"].get_secret_value() + " is revoked")
    if mode == "signer":
        raise KeyError(sign)
    if mode == "header":
        raise RuntimeError("header " + api.headers["x-api-key"].get_secret_value() + " refused")
    if mode == "nested":
        raise RuntimeError("api key " + api.auth.key.get_secret_value() + " refused")
    return "ok"


@envres.asset
def report(orders: str) -> str:
    return orders + "!"


defs = envres.Definitions(
    assets=[orders, report],
    resource_types={"postgres": PostgresWarehouse, "slack": slack, "signer": signer, "api": Api},
)
"""

DEV = f"""\
env_files: [.env.dev]
resources:
  warehouse:
    type: postgres
    config:
      dsn: postgresql://app@db.internal/dev
      password: ${{PG_PASSWORD}}
  notifier:
    type: slack
    config:
      channel: "#dev"
      token: ${{SLACK_TOKEN}}
  sign:
    type: signer
    config:
      key: {SIG_DEV}
  api:
    type: api
    config:
      url: https://api.internal
      auth: {{user: svc, key: "{NEST}"}}
      headers: {{x-api-key: "${{API_HEADER}}"}}
"""

PROD = (
    DEV.replace(".env.dev", ".env.prod")
    .replace("/dev", "/prod")
    .replace("${PG_PASSWORD}", "${PG_PASSWORD_PROD}")
    .replace(SIG_DEV, SIG_PROD)
)

ENV = {"PG_PASSWORD": PG_DEV, "PG_PASSWORD_PROD": PG_PROD}


def make_secret_project(root: Path, dev: str = DEV) -> Path:
    project = make_project(
        root,
        profiles={"dev.yaml": dev, "prod.yaml": PROD},
        definitions=SECRET_DEFINITIONS,
        module=MODULE,
    )
    project.write("profiles/.env.dev", f"SLACK_TOKEN={TOK_DEV}\n")
    project.write("profiles/.env.prod", f"SLACK_TOKEN={TOK_PROD}\n")
    project.write(".env", f"API_HEADER={HDR}\n")
    # The profiles write secrets literally on purpose, to prove they stay masked.
    with (project.root / "pyproject.toml").open("a", encoding="utf-8") as fh:
        fh.write('[[tool.envres.rules]]\nliteral_secrets = "off"\n')
    return project.root


@pytest.fixture
def secret_project(tmp_path: Path) -> Path:
    return make_secret_project(tmp_path / "proj")


def leaked(*texts: str, canaries: tuple[str, ...] = CANARIES) -> list[str]:
    text = "".join(texts)
    return [c for c in canaries if c in text]


# --- every command, every flag ---------------------------------------------------------

# (arguments, exit code, whether the masked value must be shown)
COMMANDS = [
    (("validate",), 0, False),
    (("validate", "--all"), 0, False),
    (("validate", "--allow-missing-env"), 0, False),
    (("validate", "--profile", "prod"), 0, False),
    (("show",), 0, True),
    (("show", "--format", "json"), 0, True),
    (("show", "--explain"), 0, True),
    (("show", "--explain", "--format", "json"), 0, True),
    (("show", "--allow-missing-env"), 0, True),
    (("show", "--profile", "prod"), 0, True),
    (("env",), 0, True),
    (("env", "--profile", "prod"), 0, True),
    (("diff", "dev", "prod"), 0, False),  # a secret there is only "(changed)"
    (("schema",), 0, False),
    (("profiles",), 0, False),
    (("run",), 0, False),
    (("run", "--jobs", "4"), 0, False),
]


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize(
    ("args", "code", "masked"), COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS]
)
def test_no_command_prints_a_secret(
    envres_cli: Cli,
    secret_project: Path,
    args: tuple[str, ...],
    code: int,
    masked: bool,
    debug: bool,
) -> None:
    argv = (*args, "--debug") if debug else args
    result = envres_cli(*argv, cwd=secret_project, env=ENV)
    assert result.code == code, result
    assert leaked(result.out, result.err) == []
    if masked:
        assert MASK in result.out
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    "args",
    [
        ("validate", "--allow-missing-env"),
        ("show", "--allow-missing-env"),
        ("show", "--allow-missing-env", "--explain", "--format", "json"),
        ("env",),
        ("diff", "dev", "prod"),
    ],
    ids=" ".join,
)
def test_secrets_stay_masked_when_some_variables_are_not_set(
    envres_cli: Cli, secret_project: Path, args: tuple[str, ...]
) -> None:
    result = envres_cli(*args, "--debug", cwd=secret_project, env={"PG_PASSWORD": PG_DEV})
    assert result.code == 0, result
    assert leaked(result.out, result.err) == []
    if args[0] == "diff":
        # Set on one side, unset on the other: changed, and nothing more said.
        assert "    ~ password: (changed)" in result.out.splitlines()


def test_show_masks_every_secret_field(envres_cli: Cli, secret_project: Path) -> None:
    result = envres_cli("show", cwd=secret_project, env=ENV)
    assert result.code == 0
    lines = result.out.splitlines()
    for line in [
        f"      password: '{MASK}'",
        f"      token: '{MASK}'",
        f"      key: '{MASK}'",  # signer.key (a @resource parameter)
        f"        key: '{MASK}'",  # api.auth.key (inside a nested model)
    ]:
        assert line in lines, result.out
    # dict[str, SecretStr]: masked as a whole or value by value
    assert f"      headers: '{MASK}'" in lines or f"        x-api-key: '{MASK}'" in lines


def test_show_json_masks_every_secret_field(envres_cli: Cli, secret_project: Path) -> None:
    result = envres_cli("show", "--format", "json", cwd=secret_project, env=ENV)
    config = {k: v["config"] for k, v in json.loads(result.out)["resources"].items()}
    assert config["warehouse"]["password"] == MASK
    assert config["notifier"]["token"] == MASK
    assert config["sign"]["key"] == MASK
    assert config["api"]["auth"] == {"user": "svc", "key": MASK}
    assert MASK in json.dumps(config["api"]["headers"])


def test_explain_names_where_a_secret_came_from_without_its_value(
    envres_cli: Cli, secret_project: Path
) -> None:
    result = envres_cli("show", "--explain", cwd=secret_project, env=ENV)
    lines = result.out.splitlines()
    assert (
        f"      password: '{MASK}'  # profiles/dev.yaml:7 <- ${{PG_PASSWORD}} (environment)"
        in lines
    )
    assert (
        f"      token: '{MASK}'  # profiles/dev.yaml:12 <- ${{SLACK_TOKEN}} "
        "(env file profiles/.env.dev)" in lines
    )


def test_env_masks_variables_that_feed_secret_fields(envres_cli: Cli, secret_project: Path) -> None:
    result = envres_cli("env", cwd=secret_project, env=ENV)
    rows = {line.split()[0]: line.split() for line in result.out.splitlines()[1:]}
    assert rows["PG_PASSWORD"][1:4] == ["set", "(environment)", MASK]
    assert rows["SLACK_TOKEN"][1:4] == ["set", "(profiles/.env.dev)", MASK]
    assert rows["API_HEADER"][1:4] == ["set", "(.env)", MASK]


def test_diff_says_a_secret_differs_without_showing_either_value(
    envres_cli: Cli, secret_project: Path
) -> None:
    result = envres_cli("diff", "dev", "prod", cwd=secret_project, env=ENV)
    assert result.code == 0
    assert result.out.splitlines() == [
        "--- dev",
        "+++ prod",
        "~ warehouse (postgres)",
        "    ~ dsn: postgresql://app@db.internal/dev -> postgresql://app@db.internal/prod",
        "    ~ password: (changed)",
        "~ notifier (slack)",
        "    ~ token: (changed)",
        "~ sign (signer)",
        "    ~ key: (changed)",
        "Plan: 0 to add, 3 to change, 0 to remove.",
    ]


# --- runs that fail with a secret in the message ---------------------------------------


def _at(needle: str) -> str:
    """Where the definitions raise, as a failure names the line of the user's code."""
    return f"secret_pipeline.py:{text_line(SECRET_DEFINITIONS, needle)}"


RUN_FAILURES = [
    (
        "asset-password",
        {"FAIL_ASSET": "password"},
        f"run failed: asset 'orders' failed: {_at('query failed: password=')}: "
        f"RuntimeError: query failed: password={MASK}",
    ),
    (
        "asset-token-from-env-file",
        {"FAIL_ASSET": "token"},
        f"run failed: asset 'orders' failed: {_at('is revoked')}: "
        f"ValueError: token {MASK} is revoked",
    ),
    (
        "asset-literal-yaml-secret-in-a-repr",
        {"FAIL_ASSET": "signer"},
        f"run failed: asset 'orders' failed: {_at('raise KeyError(sign)')}: KeyError: '{MASK}'",
    ),
    (
        "asset-secret-from-dotenv-in-a-dict",
        {"FAIL_ASSET": "header"},
        f"run failed: asset 'orders' failed: {_at('api.headers[')}: "
        f"RuntimeError: header {MASK} refused",
    ),
    (
        "setup-of-a-class-resource",
        {"FAIL_SETUP": "warehouse"},
        f"run failed: setup of resource 'warehouse' failed: {_at('cannot log in with')}: "
        f"RuntimeError: cannot log in with {MASK}",
    ),
    (
        "setup-of-a-function-resource",
        {"FAIL_SETUP": "notifier"},
        f"run failed: setup of resource 'notifier' failed: {_at('slack rejected token')}: "
        f"ValueError: slack rejected token {MASK}",
    ),
    (
        "teardown-of-a-class-resource",
        {"FAIL_TEARDOWN": "warehouse"},
        f"run failed: teardown of resource 'warehouse' failed: {_at('close failed for')}: "
        f"RuntimeError: close failed for {MASK}",
    ),
    (
        "teardown-of-a-function-resource",
        {"FAIL_TEARDOWN": "notifier"},
        f"run failed: teardown of resource 'notifier' failed: {_at('slack logout failed')}: "
        f"RuntimeError: slack logout failed: {MASK}",
    ),
]


@pytest.mark.parametrize(
    "flags", [(), ("--debug",), ("--jobs", "2")], ids=["plain", "debug", "jobs"]
)
@pytest.mark.parametrize(
    ("fail", "last_line"), [f[1:] for f in RUN_FAILURES], ids=[f[0] for f in RUN_FAILURES]
)
def test_a_failing_run_masks_the_secret_in_its_message(
    envres_cli: Cli,
    secret_project: Path,
    fail: dict[str, str],
    last_line: str,
    flags: tuple[str, ...],
) -> None:
    result = envres_cli("run", *flags, cwd=secret_project, env={**ENV, **fail})
    assert result.code == 3, result
    assert leaked(result.out, result.err) == []
    hint = [] if "--debug" in flags else [HINT]
    assert result.err_lines[-1 - len(hint) :] == [last_line, *hint]
    assert MASK in result.out  # the progress line of the failure
    if "--debug" in flags:
        assert "Traceback (most recent call last):" in result.err


# --- validation failing on the secret itself -------------------------------------------

POOL_FROM = [
    ("process-variable", "${PG_PASSWORD}", f"(got '{MASK}' from ${{PG_PASSWORD}})"),
    ("env-file-variable", "${SLACK_TOKEN}", f"(got '{MASK}' from ${{SLACK_TOKEN}})"),
    ("default-expression", "${PG_PASSWORD:-5}", f"(got '{MASK}' from ${{PG_PASSWORD:-5}})"),
    ("template", "\"{{ env('PG_PASSWORD') }}\"", f"(got '{MASK}' from env('PG_PASSWORD'))"),
]


@pytest.mark.parametrize(
    "args",
    [
        ("validate",),
        ("validate", "--debug"),
        ("validate", "--allow-missing-env"),
        ("validate", "--all"),
        ("show",),
        ("show", "--explain", "--format", "json", "--debug"),
        ("run",),
    ],
    ids=" ".join,
)
@pytest.mark.parametrize(("expr", "got"), [p[1:] for p in POOL_FROM], ids=[p[0] for p in POOL_FROM])
def test_a_secret_that_fails_an_int_field_is_masked(
    envres_cli: Cli, tmp_path: Path, args: tuple[str, ...], expr: str, got: str
) -> None:
    dev = DEV.replace(
        "      password: ${PG_PASSWORD}\n",
        f"      password: ${{PG_PASSWORD}}\n      pool_size: {expr}\n",
    )
    root = make_secret_project(tmp_path / "proj", dev=dev)
    result = envres_cli(*args, cwd=root, env=ENV)
    assert result.code == 1, result
    assert leaked(result.out, result.err) == []
    line = next(x for x in result.err_lines if x.startswith("profiles/dev.yaml:8:"))
    assert line == (
        f"profiles/dev.yaml:8:18: E303 resources.warehouse.config.pool_size: "
        f"input should be a valid integer {got}"
    )


def test_a_literal_secret_reused_by_an_alias_in_an_int_field_is_masked(
    envres_cli: Cli, tmp_path: Path
) -> None:
    dev = (
        "x-key: &key "
        + SIG_DEV
        + "\n"
        + DEV.replace(
            "      password: ${PG_PASSWORD}\n",
            "      password: ${PG_PASSWORD}\n      pool_size: *key\n",
        ).replace(f"key: {SIG_DEV}", "key: *key")
    )
    root = make_secret_project(tmp_path / "proj", dev=dev)
    for args in (("validate",), ("validate", "--debug"), ("show",)):
        result = envres_cli(*args, cwd=root, env=ENV)
        assert result.code == 1
        assert leaked(result.out, result.err) == []
        assert f"input should be a valid integer (got '{MASK}')" in result.err


def test_a_secret_in_a_non_secret_field_is_masked_there_too(
    envres_cli: Cli, tmp_path: Path
) -> None:
    dev = DEV.replace("postgresql://app@db", "postgresql://app:${PG_PASSWORD}@db")
    root = make_secret_project(tmp_path / "proj", dev=dev)
    for args in (("show",), ("show", "--format", "json"), ("show", "--explain"), ("env",)):
        result = envres_cli(*args, cwd=root, env=ENV)
        assert result.code == 0
        assert leaked(result.out, result.err) == []
    shown = envres_cli("show", cwd=root, env=ENV)
    # The DSN is computed from the password, so it is a secret as a whole.
    assert f"      dsn: '{MASK}'" in shown.out.splitlines()


# --- the Python API ----------------------------------------------------------------------


@pytest.fixture
def secret_defs(
    secret_project: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[envres.Definitions, Path]]:
    monkeypatch.syspath_prepend(str(secret_project))
    module = importlib.import_module(MODULE)
    try:
        yield module.defs, secret_project
    finally:
        sys.modules.pop(MODULE, None)


def test_profile_error_from_the_api_never_holds_the_secret(
    secret_defs: tuple[envres.Definitions, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    defs, root = secret_defs
    (root / "profiles" / "dev.yaml").write_text(
        DEV.replace(
            "      password: ${PG_PASSWORD}\n",
            "      password: ${PG_PASSWORD}\n      pool_size: ${PG_PASSWORD}\n",
        ),
        encoding="utf-8",
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(envres.ProfileError) as info:
        defs.with_profile("dev", project=str(root), env=ENV)
    exc = info.value
    texts = [str(exc), repr(exc), *map(str, exc.problems), *map(repr, exc.problems)]
    texts += [str(a) for a in exc.args]
    assert leaked(*texts) == []
    assert f"(got '{MASK}' from ${{PG_PASSWORD}})" in str(exc)
    assert leaked(caplog.text, *(r.getMessage() for r in caplog.records)) == []


@pytest.mark.parametrize("fail", ["password", "token", "signer", "header"])
def test_run_error_from_the_api_never_holds_the_secret(
    secret_defs: tuple[envres.Definitions, Path],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    fail: str,
) -> None:
    defs, root = secret_defs
    caplog.set_level(logging.DEBUG)
    bound = defs.with_profile("dev", project=str(root), env=ENV)
    assert leaked(repr(bound)) == []
    monkeypatch.setenv("FAIL_ASSET", fail)
    with pytest.raises(envres.AssetError) as info:
        bound.run()
    exc = info.value
    assert leaked(str(exc), repr(exc), exc.message, *(f.message for f in exc.failures)) == []
    assert MASK in str(exc)
    assert leaked(caplog.text, *(r.getMessage() for r in caplog.records)) == []


# --- leaks found and fixed: nested secrets, short secrets, escaped forms, reprs -----------


def test_the_bound_profile_repr_holds_no_secret(
    secret_defs: tuple[envres.Definitions, Path],
) -> None:
    defs, root = secret_defs
    bound = defs.with_profile("dev", project=str(root), env=ENV)
    assert leaked(repr(bound.profile)) == []
    assert leaked(*(repr(r) for r in bound.profile.resources.values())) == []


def test_env_masks_a_variable_feeding_a_secret_inside_a_nested_model(
    envres_cli: Cli, tmp_path: Path
) -> None:
    dev = DEV.replace(f'key: "{NEST}"', 'key: "${API_KEY}"')
    root = make_secret_project(tmp_path / "proj", dev=dev)
    result = envres_cli("env", cwd=root, env={**ENV, "API_KEY": NEST})
    assert result.code == 0
    assert leaked(result.out, result.err) == []


@pytest.mark.parametrize(
    "fail", [{"FAIL_ASSET": "nested"}, {"FAIL_SETUP": "api"}], ids=["asset", "setup"]
)
def test_a_run_error_masks_a_secret_inside_a_nested_model(
    envres_cli: Cli, secret_project: Path, fail: dict[str, str]
) -> None:
    result = envres_cli("run", "--debug", cwd=secret_project, env={**ENV, **fail})
    assert result.code == 3
    assert leaked(result.out, result.err) == []


def test_a_nested_secret_that_fails_validation_is_not_printed(
    envres_cli: Cli, tmp_path: Path
) -> None:
    dev = DEV.replace(f'key: "{NEST}"', "key: 73105526")
    root = make_secret_project(tmp_path / "proj", dev=dev)
    result = envres_cli("validate", cwd=root, env=ENV)
    assert result.code == 1
    assert "73105526" not in result.out + result.err


def test_a_short_secret_that_fails_an_int_field_is_masked(envres_cli: Cli, tmp_path: Path) -> None:
    dev = DEV.replace(
        "      password: ${PG_PASSWORD}\n",
        "      password: ${PG_PASSWORD}\n      pool_size: ${PG_PASSWORD}\n",
    )
    root = make_secret_project(tmp_path / "proj", dev=dev)
    result = envres_cli("validate", cwd=root, env={**ENV, "PG_PASSWORD": "k3y"})
    assert result.code == 1
    assert "k3y" not in result.err
    assert f"(got '{MASK}' from ${{PG_PASSWORD}})" in result.err


@pytest.mark.parametrize(
    "secret", ["cnry\\bkslash-2f7d", "cnry-first-line\nsecond-e41c"], ids=["backslash", "newline"]
)
def test_a_secret_with_escapable_characters_that_fails_an_int_field_is_masked(
    envres_cli: Cli, tmp_path: Path, secret: str
) -> None:
    dev = DEV.replace(
        "      password: ${PG_PASSWORD}\n",
        "      password: ${PG_PASSWORD}\n      pool_size: ${PG_PASSWORD}\n",
    )
    root = make_secret_project(tmp_path / "proj", dev=dev)
    result = envres_cli("validate", cwd=root, env={**ENV, "PG_PASSWORD": secret})
    assert result.code == 1
    for part in (secret, repr(secret)[1:-1], *secret.splitlines()):
        assert part not in result.err
    assert f"(got '{MASK}' from ${{PG_PASSWORD}})" in result.err


@pytest.mark.parametrize(
    "secret", ['cnry"quote-8a1b', "cnry\\bkslash-77c0"], ids=["quote", "backslash"]
)
def test_show_json_masks_a_secret_that_json_escapes(
    envres_cli: Cli, tmp_path: Path, secret: str
) -> None:
    dev = DEV.replace("postgresql://app@db", "postgresql://app:${PG_PASSWORD}@db")
    root = make_secret_project(tmp_path / "proj", dev=dev)
    result = envres_cli("show", "--format", "json", cwd=root, env={**ENV, "PG_PASSWORD": secret})
    assert result.code == 0
    assert json.dumps(secret)[1:-1] not in result.out


def test_a_run_error_masks_the_first_line_of_a_multiline_secret(
    envres_cli: Cli, secret_project: Path
) -> None:
    secret = "cnry-first-line-5d0e\nsecond-line"
    result = envres_cli(
        "run", cwd=secret_project, env={**ENV, "PG_PASSWORD": secret, "FAIL_ASSET": "password"}
    )
    assert result.code == 3
    assert "cnry-first-line-5d0e" not in result.out + result.err


def test_diff_does_not_report_a_default_as_removed_when_a_secret_is_unset(
    envres_cli: Cli, secret_project: Path
) -> None:
    result = envres_cli("diff", "dev", "prod", cwd=secret_project, env={"PG_PASSWORD": PG_DEV})
    assert result.code == 0
    assert "pool_size" not in result.out


# --- the Redactor's spellings, next to the code that lists them ---------------------------


@pytest.mark.parametrize(
    "spell",
    [
        lambda s: urllib.parse.quote(s, safe=""),
        lambda s: urllib.parse.quote_plus(s, safe=""),
        lambda s: urllib.parse.quote(s, safe="/"),  # a path keeps its slashes
        lambda s: json.dumps(s)[1:-1],
        lambda s: repr(s)[1:-1],
    ],
    ids=["url-encoded", "url-encoded-plus", "url-encoded-path", "json", "repr"],
)
def test_a_password_with_url_characters_is_masked_in_each_spelling(spell: Any) -> None:
    secret = "p@ss/w0rd:x y?'\\"
    dsn = f"postgresql://app:{spell(secret)}@db.internal/shop"
    masked = Redactor([secret]).redact(dsn)
    assert masked == f"postgresql://app:{MASK}@db.internal/shop"
