"""Canaries: a secret in every shape, by every rule, from every source, never printed.

``tests/test_secrets.py`` proves the common cases. This suite goes after the edges of
the contract (README, "Guarantees"; ``envres/_secrets.py``): one definitions module
whose resources hold a distinct canary in every secret shape (``SecretStr``,
``SecretBytes``, ``Secret[str]``, ``Secret[int]``, inside a list, a dict, a nested
model, a dataclass, a TypedDict), by every naming rule (``password``, ``api_key``,
``apiKey``, ``X-API-KEY``, ``private.key``, ``db_passwd``, ``credentials``, secret keys
of a ``dict[str, str]``, a plain field fed by ``${..._TOKEN}``, the project pattern
``pin``), from every source (literal YAML, the process, an env file, the project's
``.env``, a template), with awkward characters (quotes, DEL, newline, backslash,
unicode, a folded 150-character passphrase) and a password reused inside a DSN.

Every command runs with every relevant flag for both profiles (whose secrets differ at
every depth), then runs fail at every point with the secret in the message in many
forms; every output is searched for every canary in every form (raw, repr, JSON, YAML,
URL-encoded, each line, each long word, and any prefix or suffix of 8 characters or
more, which catches a secret cut short).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import secrets
import sys
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import envres
from tests.conftest import HINT, Cli, Result, make_project, run_real, text_line

MASK = "**********"
MODULE = "canary_pipeline"


# --- the canaries -------------------------------------------------------------------------


def _hex() -> str:
    return secrets.token_hex(4)


def _phrase(tag: str) -> str:
    """A 150-character passphrase of random words: YAML would fold it over lines."""
    words = [f"{_hex()}-cnry-{tag}"]
    while len(" ".join(words)) < 150:
        words.append(secrets.token_hex(5))
    return " ".join(words)[:150].rstrip()


def _number() -> str:
    return str(secrets.randbelow(9 * 10**8) + 10**8)  # nine digits, no leading zero


@dataclass(frozen=True)
class Canary:
    """One secret of each profile: where it sits, by which rule, from which source."""

    name: str  # what the definitions module calls it (CANARY_WHICH)
    resource: str
    rule: str
    source: str
    dev: str
    prod: str


def _pair(tag: str, middle: str = "") -> tuple[str, str]:
    """A dev and a prod canary; their first and last 8 characters are random, so a canary
    cut short is still recognised, and told apart from every other."""
    dev, prod = (f"{_hex()}-cnry-{tag}-{p}{middle}-{_hex()}" for p in ("dev", "prd"))
    return dev, prod


# name, resource key, rule that makes it secret, where its value comes from, dev, prod.
CANARIES: tuple[Canary, ...] = (
    Canary("s_str", "vault", "SecretStr", "process", *_pair("sstr", "-it's")),
    Canary("s_bytes", "vault", "SecretBytes", "literal", *_pair("sbytes", "-é☃")),
    Canary("s_generic", "vault", "Secret[str]", "process", *_pair("sgen", "-\x7f")),
    Canary("s_int", "vault", "Secret[int]", "literal", _number(), _number()),
    Canary("s_list", "vault", "list[SecretStr]", "literal", *_pair("slist", "-\\b\\")),
    Canary("s_dict", "vault", "dict[str, SecretStr]", "env file", *_pair("sdict")),
    Canary("s_model_pw", "vault", "name, in a model", "template", *_pair("smodelpw")),
    Canary("s_model_key", "vault", "SecretStr in a model", ".env", *_pair("smodelkey")),
    Canary("s_dc", "vault", "SecretStr in a dataclass", "literal", *_pair("sdc")),
    Canary("password", "named", "name password", "process", *_pair("pw")),
    Canary("api_key", "named", "name api_key", "process", *_pair("nl", "\nline2")),
    Canary("apiKey", "named", "name apiKey", "template", *_pair("apikey")),
    Canary("x_api_key", "named", "name X-API-KEY", ".env", *_pair("xapikey")),
    Canary("private_key", "named", "name private.key", "literal", *_pair("privkey")),
    Canary("db_passwd", "named", "name db_passwd", "env file", *_pair("passwd", '-"dq"')),
    Canary("credentials", "named", "name credentials", ".env", _phrase("dev"), _phrase("prd")),
    Canary("aws", "named", "key AWS_SECRET_ACCESS_KEY", "env file", *_pair("aws")),
    Canary("s3a", "named", "key spark...secret.key", "literal", *_pair("s3a")),
    Canary("banner", "named", "variable SERVICE_TOKEN", "process", *_pair("banner")),
    Canary("door_pin", "named", "project pattern pin", "literal", *_pair("pin")),
    Canary("signer_key", "signer", "SecretStr parameter", "process", *_pair("signer")),
    Canary("greeting", "sourced", "plain str from a source", "${file:...}", *_pair("file")),
    Canary("nickname", "sourced", "plain str from a source", "VAR_FILE", *_pair("varfile")),
    Canary("slogan", "sourced", "plain str from a source", "project source", *_pair("keeper")),
    # Last: Hypothesis shrinks towards the first canaries, so a failure shows another one
    # when another one fails too.
    Canary("s_td", "vault", "SecretStr in a TypedDict", "process", *_pair("std", "-ünï\u200bcode")),
)
BY_NAME = {c.name: c for c in CANARIES}
#: The default of a secret-named field, written in the definitions module, not a profile.
LEGACY_DEFAULT = f"{_hex()}-cnry-legacy-default-{_hex()}"
ALL_VALUES = tuple(v for c in CANARIES for v in (c.dev, c.prod))


# --- finding a canary in any form ---------------------------------------------------------


def _yaml_scalar(value: str) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9, allow_unicode=True)
    return text.strip().removesuffix("...").strip()


def _forms(secret: str) -> dict[str, str]:
    """Every spelling of ``secret`` to look for, by label."""
    forms = {
        "raw": secret,
        "repr": repr(secret)[1:-1],
        "ascii": ascii(secret)[1:-1],
        "json": json.dumps(secret)[1:-1],
        "json-utf8": json.dumps(secret, ensure_ascii=False)[1:-1],
        "yaml-single-quoted": secret.replace("'", "''"),
        "yaml-scalar": _yaml_scalar(secret).strip("'\""),
        "url": urllib.parse.quote(secret, safe=""),
        "url-plus": urllib.parse.quote_plus(secret, safe=""),
        "utf8-bytes-repr": repr(secret.encode())[2:-1],
    }
    for i, line in enumerate(secret.splitlines()):
        if len(line) >= 8:
            forms[f"line {i}"] = line
    for i, word in enumerate(secret.split()):
        if len(word) >= 8 and word != secret:
            forms[f"word {i}"] = word
    # Any prefix or suffix of 8 characters or more holds the first or last 8: a secret
    # cut short (by envres, by pydantic, by a terminal width) is still found.
    for label, form in list(forms.items()):
        if len(form) > 8:
            forms[f"{label} prefix"] = form[:8]
            forms[f"{label} suffix"] = form[-8:]
    return {k: v for k, v in forms.items() if len(v) >= 4}


FORMS = {value: _forms(value) for value in ALL_VALUES}


def find_leaks(*texts: str, values: tuple[str, ...] = ALL_VALUES) -> list[str]:
    """Each canary found in ``texts``, with the form it took and where."""
    text = "\n".join(texts)
    found = []
    for value in values:
        forms = FORMS.get(value) or _forms(value)
        for label, form in forms.items():
            at = text.find(form)
            if at >= 0:
                context = text[max(0, at - 30) : at + len(form) + 30]
                found.append(f"{value!r} as {label} {form!r} in ...{context!r}...")
                break
    return found


def assert_no_leak(result: Result, *, traceback_allowed: bool = False) -> None:
    leaks = find_leaks(result.out, result.err)
    assert leaks == [], "\n".join(leaks) + f"\n--- stdout\n{result.out}\n--- stderr\n{result.err}"
    if not traceback_allowed:
        assert "Traceback" not in result.err, result.err


# --- the project --------------------------------------------------------------------------

DEFINITIONS = '''
from __future__ import annotations

import dataclasses
import json
import os
import os
import signal
import sys
from collections.abc import Iterator

import yaml
from pydantic import BaseModel, Field, Secret, SecretBytes, SecretStr, field_validator
from typing_extensions import TypedDict

import envres


class CanaryError(Exception):
    pass


class CanaryBaseError(BaseException):
    pass


KINDS = {
    "RuntimeError": RuntimeError,
    "ValueError": ValueError,
    "OSError": OSError,
    "CanaryError": CanaryError,
    "SystemExit": SystemExit,
    "CanaryBaseError": CanaryBaseError,
    "KeyError": KeyError,
}


class Conn(BaseModel):
    dsn: str = Field(max_length=16)


def spell(form: str, value: str) -> str:
    """The message of a failure holding ``value`` in one form."""
    if form == "raw":
        return f"login refused for {value}"
    if form == "repr":
        return f"login refused for {value!r}"
    if form == "escaped":
        return "login refused for " + value.encode("unicode_escape").decode("ascii")
    if form == "json":
        return "login refused for " + json.dumps({"password": value})
    if form == "json-utf8":
        return "login refused for " + json.dumps({"password": value}, ensure_ascii=False)
    if form == "yaml":
        return "login refused for " + yaml.safe_dump({"password": value})
    if form == "bytes":
        return f"login refused for {value.encode()!r}"
    if form == "restored":
        return "login refused for " + "".join(reversed(value))[::-1]
    if form == "second-line":
        return f"login refused\\nfor {value}"
    if form == "split":
        cut = len(value) // 2
        return f"login refused for {value[:cut]}\\n{value[cut:]}"
    if form.startswith("prefix:"):
        return "login refused for " + value[: int(form.split(":")[1])]
    raise AssertionError(form)


def fail(stage: str, found: dict[str, object]) -> None:
    """Raise as the CANARY_* variables ask, if they ask for this stage and this secret."""
    if stage not in os.environ.get("CANARY_FAIL_AT", "").split(","):
        return
    which = os.environ.get("CANARY_WHICH", "")
    if which not in found:
        return
    value = found[which]
    if isinstance(value, SecretStr | SecretBytes | Secret):
        value = value.get_secret_value()
    if isinstance(value, bytes):
        value = value.decode()
    form = os.environ.get("CANARY_FORM", "raw")
    if form == "pydantic":
        Conn(dsn=f"pg://u:{value}@db")  # a ValidationError that quotes the DSN, cut short
    message = spell(form, str(value))
    kind = os.environ.get(f"CANARY_KIND_{stage.upper()}", os.environ.get("CANARY_KIND", ""))
    kind = kind or "RuntimeError"
    if kind == "KeyboardInterrupt":
        signal.raise_signal(signal.SIGINT)  # a real Ctrl-C (one raised by code is a failure)
    if kind == "OSError-filename":
        raise OSError(2, "No such file or directory", message)
    raise KINDS[kind](message)


class Login(BaseModel):
    user: str
    password: str
    key: SecretStr


@dataclasses.dataclass
class DcCreds:
    user: str
    key: SecretStr


class TdCreds(TypedDict):
    user: str
    key: SecretStr


class Vault(envres.Resource):
    """Secrets by type, at every depth."""

    s_str: SecretStr
    s_bytes: SecretBytes
    s_generic: Secret[str]
    s_int: Secret[int]
    s_list: list[SecretStr]
    s_dict: dict[str, SecretStr]
    s_model: Login
    s_dc: DcCreds
    s_td: TdCreds
    dsn: str

    def found(self) -> dict[str, object]:
        return {
            "s_str": self.s_str,
            "s_bytes": self.s_bytes,
            "s_generic": self.s_generic,
            "s_int": self.s_int,
            "s_list": self.s_list[0],
            "s_dict": self.s_dict["primary"],
            "s_model_pw": self.s_model.password,
            "s_model_key": self.s_model.key,
            "s_dc": self.s_dc.key,
            "s_td": self.s_td["key"],
        }

    def lifespan(self) -> Iterator[None]:
        fail("setup", self.found())
        if os.environ.get("CANARY_PRINT"):
            print("vault set up:", self)
        yield
        fail("teardown", self.found())


class Named(envres.Resource):
    """Secrets by name (and one by the name of the variable that feeds it)."""

    password: str
    api_key: str
    apiKey: str
    x_api_key: str = Field(alias="X-API-KEY")
    private_key: str = Field(alias="private.key")
    db_passwd: str
    credentials: str
    motto: str = ""
    spark_conf: dict[str, str] = {}
    banner: str = ""
    door_pin: str = ""

    def found(self) -> dict[str, object]:
        return {
            "password": self.password,
            "api_key": self.api_key,
            "apiKey": self.apiKey,
            "x_api_key": self.x_api_key,
            "private_key": self.private_key,
            "db_passwd": self.db_passwd,
            "credentials": self.credentials,
            "aws": self.spark_conf.get("AWS_SECRET_ACCESS_KEY", ""),
            "s3a": self.spark_conf.get("spark.hadoop.fs.s3a.secret.key", ""),
            "banner": self.banner,
            "door_pin": self.door_pin,
        }

    def lifespan(self) -> Iterator[None]:
        fail("setup", self.found())
        yield
        fail("teardown", self.found())


@envres.resource
def signer(key: SecretStr, algo: str = "hs256") -> Iterator[str]:
    fail("setup", {"signer_key": key})
    yield key.get_secret_value()
    fail("teardown", {"signer_key": key})


class Sourced(envres.Resource):
    """Plain names and types, each value from a secret source: secrets by construction."""

    greeting: str
    nickname: str
    slogan: str

    def found(self) -> dict[str, object]:
        return {"greeting": self.greeting, "nickname": self.nickname, "slogan": self.slogan}

    def lifespan(self) -> Iterator[None]:
        fail("setup", self.found())
        yield
        fail("teardown", self.found())


@envres.asset
def report(vault: Vault, named: Named, signer: str, sourced: Sourced) -> str:
    if os.environ.get("CANARY_PRINT"):
        print("report got", vault, named, sourced)
        print(repr(named), repr(sourced), file=sys.stderr)
    if os.environ.get("CANARY_PRINT") == "all":
        print("signer yields", {"key": signer})  # a plain string: only the CLI can mask it
    fail("asset", {**vault.found(), **named.found(), "signer_key": signer, **sourced.found()})
    return "report done"


@envres.asset
def audit(named: Named) -> str:
    fail("audit", named.found())
    return "audited"


@envres.asset
def publish(report: str, audit: str) -> str:
    return report + ", " + audit


class Strict(envres.Resource):
    """Secrets that fail their own validation."""

    token: SecretStr = Field(default=SecretStr("0" * 64), min_length=64)
    pin_code: Secret[int] | None = None
    api_key: str = Field(default="", max_length=8)
    door_pin: str = ""

    @field_validator("door_pin")
    @classmethod
    def _numeric(cls, value: str) -> str:
        if value and not value.isdigit():
            raise ValueError(f"the pin {value!r} is not numeric")
        return value


defs = envres.Definitions(
    assets=[report, audit, publish],
    resource_types={
        "vault": Vault,
        "named": Named,
        "signer": signer,
        "strict": Strict,
        "sourced": Sourced,
    },
)


class Legacy(envres.Resource):
    """A secret-named field whose value is a default written in the code."""

    session_token: str = "@@LEGACY_DEFAULT@@"
    host: str = "localhost"

    def lifespan(self) -> Iterator[None]:
        fail("setup", {"session_token": self.session_token})
        yield


@envres.asset
def legacy_check(legacy: Legacy) -> str:
    fail("asset", {"session_token": legacy.session_token})
    return "ok"


defs_legacy = envres.Definitions(assets=[legacy_check], resource_types={"legacy": Legacy})
'''


def _lit(name: str, profile: str) -> str:
    """A literal YAML scalar holding the canary (JSON's escapes are YAML's)."""
    return json.dumps(_value(name, profile))


def _value(name: str, profile: str) -> str:
    c = BY_NAME[name]
    return c.dev if profile == "dev" else c.prod


def profile_yaml(p: str) -> str:
    """The profile ``p`` ("dev" or "prod"); its canaries come from every source."""
    P = p.upper()
    return f"""\
env_files: [.env.{p}]
resources:
  vault:
    type: vault
    config:
      s_str: ${{VAULT_STR_{P}}}
      s_bytes: {_lit("s_bytes", p)}
      s_generic: ${{VAULT_GENERIC_{P}}}
      s_int: {_value("s_int", p)}
      s_list: [{_lit("s_list", p)}]
      s_dict: {{primary: "${{VAULT_DICT_{P}}}"}}
      s_model:
        user: svc
        password: "{{{{ env('MODEL_PW_{P}') }}}}"
        key: ${{MODEL_KEY_{P}}}
      s_dc: {{user: svc, key: {_lit("s_dc", p)}}}
      s_td: {{user: svc, key: "${{TD_KEY_{P}}}"}}
      dsn: postgresql://app:${{DBPW_{P}}}@db.internal/{p}
  named:
    type: named
    config:
      password: ${{DBPW_{P}}}
      api_key: ${{MULTI_{P}}}
      apiKey: "{{{{ env('AK_SRC_{P}') }}}}"
      X-API-KEY: ${{XKEY_{P}}}
      private.key: {_lit("private_key", p)}
      db_passwd: ${{DQ_{P}}}
      credentials: ${{PHRASE_{P}}}
      motto: ${{PHRASE_{P}}}
      spark_conf:
        AWS_SECRET_ACCESS_KEY: ${{S3_ID_{P}}}
        spark.hadoop.fs.s3a.secret.key: {_lit("s3a", p)}
        spark.executor.memory: 2g
      banner: ${{SERVICE_TOKEN_{P}}}
      door_pin: {_lit("door_pin", p)}
  signer:
    type: signer
    config:
      key: ${{SIGNER_{P}}}
  sourced:
    type: sourced
    config:
      greeting: ${{file:secrets/greeting.{p}}}
      nickname: ${{NICKNAME_{P}}}
      slogan: ${{keeper:slogan-{p}}}
"""


def _dotenv_quoted(value: str) -> str:
    assert "'" not in value and "\n" not in value
    return f"'{value}'"


def process_env() -> dict[str, str]:
    """The variables the profiles read from the process environment."""
    env = {}
    for p in ("dev", "prod"):
        P = p.upper()
        env.update(
            {
                f"VAULT_STR_{P}": _value("s_str", p),
                f"VAULT_GENERIC_{P}": _value("s_generic", p),
                f"MODEL_PW_{P}": _value("s_model_pw", p),
                f"TD_KEY_{P}": _value("s_td", p),
                f"DBPW_{P}": _value("password", p),
                f"MULTI_{P}": _value("api_key", p),
                f"SERVICE_TOKEN_{P}": _value("banner", p),
                f"SIGNER_{P}": _value("signer_key", p),
                # VAR_FILE: relative to the profile file, like ${file:...}.
                f"NICKNAME_{P}_FILE": f"secrets/nickname.{p}",
            }
        )
    return env


ENV = process_env()


def make_canary_project(root: Path, profiles: Mapping[str, str] | None = None) -> Path:
    project = make_project(
        root,
        profiles=profiles or {"dev.yaml": profile_yaml("dev"), "prod.yaml": profile_yaml("prod")},
        definitions=DEFINITIONS.replace("@@LEGACY_DEFAULT@@", LEGACY_DEFAULT),
        module=MODULE,
    )
    project.write(
        "pyproject.toml",
        f'[tool.envres]\ndefinitions = "{MODULE}:defs"\nsecret_names = ["pin"]\n'
        # The profiles write canaries literally on purpose, to prove they stay masked.
        '[[tool.envres.rules]]\nliteral_secrets = "off"\n'
        '[tool.envres.secret_sources]\nkeeper = "canary_keeper:fetch"\n',
    )
    keeper = {f"slogan-{p}": _value("slogan", p) for p in ("dev", "prod")}
    project.write("canary_keeper.py", f"def fetch(reference):\n    return {keeper!r}[reference]\n")
    for p in ("dev", "prod"):
        project.write(f"profiles/secrets/greeting.{p}", _value("greeting", p) + "\n")
        project.write(f"profiles/secrets/nickname.{p}", _value("nickname", p) + "\n")
    for p in ("dev", "prod"):
        P = p.upper()
        project.write(
            f"profiles/.env.{p}",
            f"VAULT_DICT_{P}={_value('s_dict', p)}\n"
            f"DQ_{P}={_dotenv_quoted(_value('db_passwd', p))}\n"
            f"S3_ID_{P}={_value('aws', p)}\n",
        )
    project.write(
        ".env",
        "".join(
            f"MODEL_KEY_{p.upper()}={_value('s_model_key', p)}\n"
            f"XKEY_{p.upper()}={_value('x_api_key', p)}\n"
            f'PHRASE_{p.upper()}="{_value("credentials", p)}"\n'
            f"AK_SRC_{p.upper()}={_value('apiKey', p)}\n"
            for p in ("dev", "prod")
        ),
    )
    return project.root


@pytest.fixture
def canary_project(tmp_path: Path) -> Path:
    return make_canary_project(tmp_path / "proj")


def fail_env(
    stage: str, which: str, form: str = "raw", kind: str = "RuntimeError"
) -> dict[str, str]:
    """The variables that make the canary ``which`` fail ``stage`` in ``form``."""
    return {
        **ENV,
        "CANARY_FAIL_AT": stage,
        "CANARY_WHICH": which,
        "CANARY_FORM": form,
        "CANARY_KIND": kind,
    }


#: Where the definitions raise, as a failure names the line of the user's code.
AT = f"{MODULE}.py:{text_line(DEFINITIONS, 'raise KINDS[kind](message)')}"
AT_OS = f"{MODULE}.py:{text_line(DEFINITIONS, 'raise OSError(2,')}"
AT_PYDANTIC = f"{MODULE}.py:{text_line(DEFINITIONS, 'Conn(dsn=')}"


def run_failed_line(result: Result) -> str:
    return next(line for line in result.err_lines if line.startswith("run failed: "))


# --- 1-2. every command, every flag, both profiles ---------------------------------------

COMMANDS: list[tuple[str, ...]] = [
    ("profiles",),
    ("validate",),
    ("validate", "--all"),
    ("validate", "--allow-missing-env"),
    ("show",),
    ("show", "--format", "json"),
    ("show", "--explain"),
    ("show", "--explain", "--format", "json"),
    ("show", "--allow-missing-env"),
    ("env",),
    ("diff", "dev", "prod"),
    ("diff", "prod", "dev"),
    ("schema",),
    ("run",),
    ("run", "--jobs", "2"),
    ("run", "audit"),
]


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize("profile", ["dev", "prod"])
@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_no_command_shows_any_canary_in_any_form(
    envres_cli: Cli, canary_project: Path, args: tuple[str, ...], profile: str, debug: bool
) -> None:
    # Commands that use no profile refuse --profile: they get the same one as ENVRES_PROFILE.
    uses_profile = args[0] not in ("profiles", "schema", "diff") and "--all" not in args
    flags = (*(("--profile", profile) if uses_profile else ()), *(("--debug",) if debug else ()))
    # CANARY_PRINT: the resources print themselves during the run (setup and asset), and
    # the asset prints the plain string the `signer` function yields.
    env = {**ENV, "CANARY_PRINT": "all", "ENVRES_PROFILE": profile}
    result = envres_cli(*args, *flags, cwd=canary_project, env=env)
    assert result.code == 0, result
    assert_no_leak(result)
    if args[0] in ("show", "env"):
        assert MASK in result.out
    if args[0] == "diff":
        assert "(changed)" in result.out  # a secret that differs, never its value
    if args[:1] == ("run",) and "audit" not in args:
        assert "report got" in result.out  # what the asset printed is there, masked


def expected_show(p: str) -> dict[str, Any]:
    """What `show` prints for profile ``p``: every canary exactly the mask."""
    return {
        "resources": {
            "vault": {
                "type": "vault",
                "config": {
                    "s_str": MASK,
                    "s_bytes": MASK,
                    "s_generic": MASK,
                    "s_int": MASK,
                    "s_list": [MASK],
                    "s_dict": {"primary": MASK},
                    "s_model": {"user": "svc", "password": MASK, "key": MASK},
                    "s_dc": {"user": "svc", "key": MASK},
                    "s_td": {"user": "svc", "key": MASK},
                    # Computed from a secret (the password): a secret as a whole.
                    "dsn": MASK,
                },
            },
            "named": {
                "type": "named",
                "config": {
                    "password": MASK,
                    "api_key": MASK,
                    "apiKey": MASK,
                    "x_api_key": MASK,
                    "private_key": MASK,
                    "db_passwd": MASK,
                    "credentials": MASK,
                    "motto": MASK,  # not a secret field, but it holds `credentials`
                    "spark_conf": {
                        "AWS_SECRET_ACCESS_KEY": MASK,
                        "spark.hadoop.fs.s3a.secret.key": MASK,
                        "spark.executor.memory": "2g",
                    },
                    "banner": MASK,
                    "door_pin": MASK,
                },
            },
            "signer": {"type": "signer", "config": {"key": MASK, "algo": "hs256"}},
            "sourced": {
                "type": "sourced",
                "config": {"greeting": MASK, "nickname": MASK, "slogan": MASK},
            },
        }
    }


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_show_is_valid_yaml_and_json_with_each_canary_exactly_masked(
    envres_cli: Cli, canary_project: Path, profile: str
) -> None:
    def show(*args: str) -> str:
        result = envres_cli("show", "--profile", profile, *args, cwd=canary_project, env=ENV)
        assert result.code == 0, result
        assert_no_leak(result)
        return result.out

    expected = expected_show(profile)
    assert yaml.safe_load(show()) == expected
    assert json.loads(show("--format", "json")) == expected
    assert yaml.safe_load(show("--explain")) == expected  # the comments are YAML comments
    explained = json.loads(show("--explain", "--format", "json"))
    assert explained.pop("explain").keys() == {
        f"resources.{key}.config.{name}"
        for key, res in expected["resources"].items()
        for name in res["config"]
    }
    assert explained == expected


def plan_by_field(lines: list[str]) -> dict[tuple[str, str], str]:
    """``envres diff``'s plan as ``{(resource, field): line}``."""
    out: dict[tuple[str, str], str] = {}
    resource = ""
    for line in lines:
        if line[:2] in ("~ ", "+ ", "- "):
            resource = line[2:].split(" ", 1)[0].rstrip(":")
        elif line.startswith("    "):
            text = line.strip()
            out[resource, text[2:].split(": ", 1)[0]] = text
    return out


def test_diff_says_each_changed_secret_differs_without_showing_it(
    envres_cli: Cli, canary_project: Path
) -> None:
    result = envres_cli("diff", "dev", "prod", cwd=canary_project, env=ENV)
    assert result.code == 0, result
    assert_no_leak(result)
    lines = result.out.splitlines()
    paths = {
        "vault": [
            "s_str", "s_bytes", "s_generic", "s_int", "s_list", "s_dict.primary",
            "s_model.password", "s_model.key", "s_dc.key", "s_td.key",
        ],
        "named": [
            "password", "api_key", "apiKey", "x_api_key", "private_key", "db_passwd",
            "credentials", "motto", "spark_conf.AWS_SECRET_ACCESS_KEY",
            "spark_conf.spark.hadoop.fs.s3a.secret.key", "banner", "door_pin",
        ],
        "signer": ["key"],
        # diff contacts no secret source: the `sourced` values are not read at all.
    }  # fmt: skip
    said = plan_by_field(lines)
    missing = [
        (key, name)
        for key, names in paths.items()
        for name in names
        if said.get((key, name)) != f"~ {name}: (changed)"
    ]
    assert missing == [], result.out
    # The DSN is computed from the password: a secret as a whole, that changed.
    assert said["vault", "dsn"] == "~ dsn: (changed)"


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_env_masks_the_value_of_every_variable_that_feeds_a_secret(
    envres_cli: Cli, canary_project: Path, profile: str
) -> None:
    result = envres_cli("env", "--profile", profile, cwd=canary_project, env=ENV)
    assert result.code == 0, result
    assert_no_leak(result)
    rows = {}
    for line in result.out.splitlines()[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) >= 4:
            rows[cells[0]] = cells
    P = profile.upper()
    names = [
        "VAULT_STR", "VAULT_GENERIC", "VAULT_DICT", "MODEL_PW", "MODEL_KEY", "TD_KEY",
        "DBPW", "MULTI", "AK_SRC", "XKEY", "DQ", "PHRASE", "S3_ID", "SERVICE_TOKEN", "SIGNER",
    ]  # fmt: skip
    assert {f"{n}_{P}": rows[f"{n}_{P}"][2] for n in names} == {f"{n}_{P}": MASK for n in names}


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
def test_canaries_stay_masked_when_the_other_profiles_variables_are_not_set(
    envres_cli: Cli, canary_project: Path, args: tuple[str, ...]
) -> None:
    only_dev = {k: v for k, v in ENV.items() if k.endswith("_DEV")}
    # A template's env('NAME') without a default is an error even with unset variables
    # allowed: that one stays set.
    only_dev["MODEL_PW_PROD"] = ENV["MODEL_PW_PROD"]
    result = envres_cli(*args, "--debug", cwd=canary_project, env=only_dev)
    assert result.code == 0, result
    assert_no_leak(result)
    if args[0] == "diff":
        said = plan_by_field(result.out.splitlines())
        assert said[("vault", "s_str")] == "~ s_str: (changed)"
        assert said[("named", "banner")] == "~ banner: (changed)"


# --- 3. runs failing with a canary in the message ----------------------------------------

#: How an asset's message spells the canary (see `spell` in the definitions module).
RUN_FORMS = ["raw", "repr", "json", "json-utf8", "escaped", "yaml", "bytes"]


@pytest.mark.parametrize("form", RUN_FORMS)
@pytest.mark.parametrize("canary", CANARIES, ids=lambda c: c.name)
def test_an_asset_failing_with_a_canary_in_its_message_never_shows_it(
    envres_cli: Cli, canary_project: Path, canary: Canary, form: str
) -> None:
    result = envres_cli(
        "run", "--debug", cwd=canary_project, env=fail_env("asset", canary.name, form)
    )
    assert result.code == 3, result
    assert_no_leak(result, traceback_allowed=True)
    assert "Traceback (most recent call last):" in result.err
    line = run_failed_line(result)
    assert line.startswith(f"run failed: asset 'report' failed: {AT}: RuntimeError: login refused")
    assert MASK in line


# (what fails, with which canary, what the "run failed:" line names)
STAGES = [
    ("setup", "s_generic", "setup of resource 'vault' failed"),
    ("setup", "s_td", "setup of resource 'vault' failed"),
    ("setup", "api_key", "setup of resource 'named' failed"),
    ("setup", "door_pin", "setup of resource 'named' failed"),
    ("setup", "signer_key", "setup of resource 'signer' failed"),
    ("asset", "banner", "asset 'report' failed"),
    ("asset", "s_list", "asset 'report' failed"),
    ("audit", "credentials", "asset 'audit' failed"),
    ("audit", "aws", "asset 'audit' failed"),
    ("teardown", "s_int", "teardown of resource 'vault' failed"),
    ("teardown", "s_dc", "teardown of resource 'vault' failed"),
    ("teardown", "db_passwd", "teardown of resource 'named' failed"),
    ("teardown", "signer_key", "teardown of resource 'signer' failed"),
]


@pytest.mark.parametrize(
    "flags",
    [(), ("--debug",), ("--jobs", "2"), ("--jobs", "2", "--debug")],
    ids=["plain", "debug", "jobs2", "jobs2-debug"],
)
@pytest.mark.parametrize(("stage", "which", "what"), STAGES, ids=[f"{s}-{w}" for s, w, _ in STAGES])
def test_a_failure_at_each_point_of_a_run_masks_the_canary(
    envres_cli: Cli,
    canary_project: Path,
    stage: str,
    which: str,
    what: str,
    flags: tuple[str, ...],
) -> None:
    result = envres_cli("run", *flags, cwd=canary_project, env=fail_env(stage, which))
    assert result.code == 3, result
    debug = "--debug" in flags
    assert_no_leak(result, traceback_allowed=debug)
    assert ("Traceback (most recent call last):" in result.err) == debug
    assert run_failed_line(result) == (
        f"run failed: {what}: {AT}: RuntimeError: login refused for {MASK}"
    )
    assert (result.err_lines[-1] == HINT) != debug  # --debug shows the traceback instead


@pytest.mark.parametrize("flags", [(), ("--jobs", "2", "--debug")], ids=["plain", "jobs2-debug"])
def test_an_asset_and_every_teardown_failing_mask_every_canary(
    envres_cli: Cli, canary_project: Path, flags: tuple[str, ...]
) -> None:
    # The asset and then the teardown of `named` fail, each with the password.
    env = fail_env("asset,teardown", "password", "repr", "KeyError")
    result = envres_cli("run", *flags, cwd=canary_project, env=env)
    assert result.code == 3, result
    assert_no_leak(result, traceback_allowed=bool(flags))
    hint = [] if "--debug" in flags else [HINT]
    assert result.err_lines[-2 - len(hint) :] == [
        f"run failed: asset 'report' failed: {AT}: KeyError: \"login refused for '{MASK}'\"",
        f"also: teardown of resource 'named' failed: {AT}: KeyError: "
        f"\"login refused for '{MASK}'\"",
        *hint,
    ]


# --- 3. validation failing on the canary itself ------------------------------------------

_STRICT = {
    "token-too-short": f"{_hex()}-cnry-strict-token-{_hex()}",  # 35 characters, 64 needed
    "pin-code-not-an-int": f"{_hex()}-cnry-strict-pincode-{_hex()}",
    "api-key-too-long": f"{_hex()}-cnry-strict-apikey-{_hex()}",
    "pin-fails-its-validator": f"{_hex()}-cnry-strict-pin-{_hex()}",
    "template-names-no-variable": f"{_hex()}-cnry-strict-tmpl-{_hex()}",
}
# (case, config line, variables, the problem's message)
STRICT_CASES = [
    (
        "token-too-short",
        "token: ${STRICT_TOKEN}",
        {"STRICT_TOKEN": _STRICT["token-too-short"]},
        f"E303 resources.strict.config.token: should have at least 64 characters "
        f"(got '{MASK}' from ${{STRICT_TOKEN}})",
    ),
    (
        "pin-code-not-an-int",
        "pin_code: ${PIN_CODE}",
        {"PIN_CODE": _STRICT["pin-code-not-an-int"]},
        f"E303 resources.strict.config.pin_code: input should be a valid integer "
        f"(got '{MASK}' from ${{PIN_CODE}})",
    ),
    (
        "api-key-too-long",
        f"api_key: {_STRICT['api-key-too-long']}",
        {},
        f"E303 resources.strict.config.api_key: should have at most 8 characters (got '{MASK}')",
    ),
    (
        "pin-fails-its-validator",
        f"door_pin: {_STRICT['pin-fails-its-validator']}",
        {},
        f"E303 resources.strict.config.door_pin: value error, the pin '{MASK}' is not numeric "
        f"(got '{MASK}')",
    ),
    (
        "template-names-no-variable",
        "token: \"{{ env(env('PW_NAME')) }}\"",
        {"PW_NAME": _STRICT["template-names-no-variable"]},
        f"E401 resources.strict.config.token: environment variable {MASK} is not set",
    ),
]


@pytest.mark.parametrize(
    "args",
    [
        ("validate",),
        ("validate", "--debug"),
        ("validate", "--all", "--debug"),
        ("show", "--explain", "--format", "json", "--debug"),
        ("env",),
        ("run", "--debug"),
    ],
    ids=" ".join,
)
@pytest.mark.parametrize(
    ("line", "env", "message"), [c[1:] for c in STRICT_CASES], ids=[c[0] for c in STRICT_CASES]
)
def test_a_canary_failing_its_own_validation_is_not_shown_nor_its_length(
    envres_cli: Cli,
    tmp_path: Path,
    args: tuple[str, ...],
    line: str,
    env: dict[str, str],
    message: str,
) -> None:
    strict = f"extends: dev\nresources:\n  strict:\n    type: strict\n    config:\n      {line}\n"
    root = make_canary_project(
        tmp_path / "proj",
        {"dev.yaml": profile_yaml("dev"), "prod.yaml": profile_yaml("prod"), "strict.yaml": strict},
    )
    # ENVRES_PROFILE, not --profile, which validate --all refuses.
    result = envres_cli(*args, cwd=root, env={**ENV, **env, "ENVRES_PROFILE": "strict"})
    leaks = find_leaks(result.out, result.err, values=(*_STRICT.values(), *ALL_VALUES))
    assert leaks == [], leaks
    if args == ("env",) and "env(env(" in line:
        # env() of an unset variable is a missing variable like ${X}: `env` lists it
        # (by a masked name, in a column sized after masking), and fails nothing.
        assert result.code == 0, result
        widths = {len(x) - len(x.lstrip()) for x in result.out.splitlines()[1:] if MASK in x}
        assert widths == {0}
        assert result.out.splitlines()[0].startswith("VARIABLE")
        return
    assert result.code == 1, result
    assert "Traceback" not in result.err or "--debug" in args
    problems = [x for x in result.err_lines if x.startswith("profiles/strict.yaml:6:")]
    assert len(problems) == 1, result.err
    assert problems[0].split(": ", 1)[1] == message
    lengths = {str(len(v)) for v in _STRICT.values()}
    assert not set(re.findall(r"\d+", problems[0].split(": ", 1)[1])) & lengths  # no length


# --- 3. env files: a malformed line is never echoed ---------------------------------------

_BAD = f"{_hex()}-cnry-badline-{_hex()}"
BAD_LINES = {
    "colon-instead-of-equals": f"DQ_DEV: {_BAD}",
    "unclosed-double-quote": f'DQ_DEV="{_BAD}',
    "unclosed-single-quote": f"DQ_DEV='{_BAD}",
    "words-with-spaces": f"{_BAD} is the new one",
    "export-without-equals": f"export DQ_DEV {_BAD}",
}


@pytest.mark.parametrize(
    "args",
    [
        ("validate",),
        ("validate", "--debug"),
        ("validate", "--all"),
        ("show", "--allow-missing-env", "--debug"),
        ("env",),
        ("diff", "dev", "prod"),
        ("run", "--debug"),
    ],
    ids=" ".join,
)
@pytest.mark.parametrize("where", ["profiles/.env.dev", ".env"])
@pytest.mark.parametrize("bad", list(BAD_LINES.values()), ids=list(BAD_LINES))
def test_a_malformed_env_file_line_holding_a_secret_is_never_echoed(
    envres_cli: Cli, canary_project: Path, args: tuple[str, ...], where: str, bad: str
) -> None:
    path = canary_project / where
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(1, bad)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = envres_cli(*args, cwd=canary_project, env=ENV)
    assert result.code == 1, result
    leaks = find_leaks(result.out, result.err, values=(_BAD, *ALL_VALUES))
    assert leaks == [], leaks
    assert "Traceback" not in result.err or "--debug" in args
    assert (
        f"{where}:2:1: E105 cannot parse this line of the env file: expected NAME=value "
        "(the line is not shown, as it may hold a secret)"
    ) in result.err_lines


# --- 4. any exception, any spelling (Hypothesis) ------------------------------------------

#: Exception types an asset raises, the simplest first (Hypothesis shrinks towards them).
KIND_NAMES = [
    "RuntimeError",
    "ValueError",
    "OSError",
    "OSError-filename",
    "CanaryError",
    "SystemExit",
    "CanaryBaseError",
    "KeyError",
]
#: How each kind is named in "run failed: asset 'report' failed: <type>: ...".
KIND_SHOWN = {"OSError-filename": "FileNotFoundError"}
#: The secret as the user's code spells it: raw, repr-quoted, escaped, JSON-dumped, a
#: fresh string equal to it, on the message's second line, split over two lines, and cut
#: short by the user's code (a prefix of 8 characters or more).
USER_FORMS = ["raw", "repr", "escaped", "json", "restored", "second-line", "split", "prefix"]


@pytest.mark.parametrize("form", USER_FORMS)
@settings(
    max_examples=50,
    deadline=None,
    # The same examples every run (the canaries are random, not what is drawn): a leak
    # found once is found again, and nothing is written to a .hypothesis folder.
    derandomize=True,
    database=None,
    # No shrinking: a leak is reported as first found (every draw is printed), so a
    # failing run stays as quick as a passing one.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_whatever_an_asset_raises_with_a_canary_in_any_spelling_is_masked(
    envres_cli: Cli, canary_project: Path, form: str, data: st.DataObject
) -> None:
    canary = data.draw(st.sampled_from(CANARIES), label="canary")
    profile = data.draw(st.sampled_from(["dev", "prod"]), label="profile")
    kind = data.draw(st.sampled_from(KIND_NAMES), label="kind")
    debug = data.draw(st.booleans(), label="debug")
    jobs = data.draw(st.sampled_from(["1", "2"]), label="jobs")
    value = canary.dev if profile == "dev" else canary.prod
    spelled = form
    if form == "prefix":
        spelled = f"prefix:{data.draw(st.integers(8, len(value) - 1), label='length')}"
    args = ("run", "--profile", profile, "--jobs", jobs, *(("--debug",) if debug else ()))
    env = fail_env("asset", canary.name, spelled, kind)
    result = envres_cli(*args, cwd=canary_project, env=env)
    assert result.code == 3, result
    assert_no_leak(result, traceback_allowed=debug)
    assert ("Traceback (most recent call last):" in result.err) == debug
    shown = KIND_SHOWN.get(kind, kind)
    at = AT_OS if kind == "OSError-filename" else AT
    assert run_failed_line(result).startswith(f"run failed: asset 'report' failed: {at}: {shown}")


@pytest.mark.parametrize("stage", ["asset", "setup", "teardown"])
def test_the_rest_of_a_multi_line_message_is_shown_with_the_canary_masked(
    envres_cli: Cli, canary_project: Path, stage: str
) -> None:
    # The whole message is shown now, not only its first line: the line after it (the
    # secret alone, or the second half of one split over two lines) passes the gate too.
    which = {"asset": "banner", "setup": "s_generic", "teardown": "db_passwd"}[stage]
    second = envres_cli("run", cwd=canary_project, env=fail_env(stage, which, "second-line"))
    split = envres_cli("run", cwd=canary_project, env=fail_env(stage, which, "split"))
    for result in (second, split):
        assert result.code == 3, result
        assert_no_leak(result)
        assert result.err_lines[-1] == HINT
    assert f"  for {MASK}" in second.err_lines
    assert run_failed_line(split).endswith(f": RuntimeError: login refused for {MASK}")
    assert split.err_lines[1] == f"  {MASK}"


# --- 3. the same on Dask, and as real processes --------------------------------------------


def test_a_run_on_dask_masks_canaries_from_assets_prints_and_teardowns_on_workers(
    canary_project: Path,
) -> None:
    # The asset fails with the AWS key from an env file, as repr; `named` then fails its
    # teardown on each worker that set it up; the resources print themselves on workers.
    env = {**fail_env("asset,teardown", "aws", "repr"), "CANARY_PRINT": "all"}
    args = ("run", "--executor", "dask", "--jobs", "2", "--debug")
    result = run_real(*args, cwd=canary_project, env=env, timeout=120)
    assert result.code == 3, result
    assert_no_leak(result, traceback_allowed=True)
    assert run_failed_line(result) == (
        f"run failed: asset 'report' failed: {AT}: RuntimeError: login refused for '{MASK}'"
    )
    also = [x for x in result.err_lines if x.startswith("also: ")]
    assert also, result.err
    for line in also:
        assert line.startswith(
            f"also: teardown of resource 'named' failed: {AT}: RuntimeError: login refused for "
            f"'{MASK}' (on worker "
        )


def test_a_setup_failing_on_dask_masks_a_canary_with_a_del_character(
    canary_project: Path,
) -> None:
    args = ("run", "--executor", "dask", "--jobs", "2")
    result = run_real(
        *args, cwd=canary_project, env=fail_env("setup", "s_generic", "json"), timeout=120
    )
    assert result.code == 3, result
    assert_no_leak(result)
    assert run_failed_line(result) == (
        f"run failed: setup of resource 'vault' failed: {AT}: RuntimeError: login refused for "
        f'{{"password": "{MASK}"}}'
    )


@pytest.mark.parametrize(
    ("args", "env", "code"),
    [
        (("show", "--debug"), ENV, 0),
        (("show", "--explain", "--format", "json", "--profile", "prod"), ENV, 0),
        (("env", "--profile", "prod"), ENV, 0),
        (("run", "--jobs", "2", "--debug"), fail_env("asset", "api_key", "repr"), 3),
        (("run",), fail_env("teardown", "s_list", "json", "CanaryBaseError"), 3),
    ],
    ids=["show", "show-explain-json-prod", "env-prod", "run-asset-jobs2-debug", "run-teardown"],
)
def test_a_real_process_shows_no_canary(
    canary_project: Path, args: tuple[str, ...], env: dict[str, str], code: int
) -> None:
    result = run_real(*args, cwd=canary_project, env=env)
    assert result.code == code, result
    assert_no_leak(result, traceback_allowed="--debug" in args)
    if args[0] == "show" and "json" not in args:
        assert yaml.safe_load(result.out) == expected_show("dev")
    if "json" in args:
        assert json.loads(result.out)["resources"] == expected_show("prod")["resources"]


# --- 5. public reprs of the Python API ------------------------------------------------------


@pytest.fixture
def canary_defs(
    canary_project: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[envres.Definitions, Path]]:
    monkeypatch.syspath_prepend(str(canary_project))
    for name in list(os.environ):
        if name.startswith("CANARY_"):
            monkeypatch.delenv(name)
    module = importlib.import_module(MODULE)
    try:
        yield module.defs, canary_project
    finally:
        sys.modules.pop(MODULE, None)


def test_reprs_of_the_bound_definitions_profile_env_resources_and_result_hold_no_canary(
    canary_defs: tuple[envres.Definitions, Path],
) -> None:
    defs, root = canary_defs
    bound = defs.with_profile("dev", project=str(root), env=ENV)
    profile = bound.profile
    texts = [repr(bound), str(bound), repr(profile), str(profile), repr(profile.env)]
    texts += [str(profile.env), repr(profile.resources), repr(profile.variables)]
    for res in profile.resources.values():
        texts += [repr(res), str(res), repr(res.inputs), str(res.inputs)]
    result = bound.run()
    texts += [repr(result), str(result)]
    assert result["publish"] == "report done, audited"
    assert find_leaks(*texts) == []


def test_reprs_of_the_resource_instances_hold_no_canary(
    canary_defs: tuple[envres.Definitions, Path],
) -> None:
    defs, root = canary_defs
    bound = defs.with_profile("dev", project=str(root), env=ENV)
    texts = []
    with bound.resources("vault", "named") as live:
        for obj in live.values():
            texts += [repr(obj), str(obj), f"{obj}", f"{obj!r}"]
    for key in ("vault", "named"):
        texts += [repr(bound.profile.resources[key].validated)]
    leaks = find_leaks(*texts)
    assert leaks == [], "\n".join(leaks)


def test_what_an_asset_prints_of_its_resources_through_the_api_holds_no_canary(
    canary_defs: tuple[envres.Definitions, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    defs, root = canary_defs
    bound = defs.with_profile("dev", project=str(root), env=ENV)
    monkeypatch.setenv("CANARY_PRINT", "1")  # Vault and Named print themselves (str and repr)
    capsys.readouterr()
    bound.run()
    printed = capsys.readouterr()
    assert "report got" in printed.out
    leaks = find_leaks(printed.out, printed.err)
    assert leaks == [], "\n".join(leaks)


@pytest.mark.parametrize(
    ("stage", "which", "error"),
    [
        ("asset", "s_generic", envres.AssetError),
        ("setup", "credentials", envres.SetupError),
        ("teardown", "door_pin", envres.TeardownError),
        ("asset,teardown", "banner", envres.AssetError),
    ],
    ids=["asset", "setup", "teardown", "asset-and-teardown"],
)
def test_run_errors_of_the_api_hold_no_canary(
    canary_defs: tuple[envres.Definitions, Path],
    monkeypatch: pytest.MonkeyPatch,
    stage: str,
    which: str,
    error: type[envres.RunError],
) -> None:
    defs, root = canary_defs
    bound = defs.with_profile("dev", project=str(root), env=ENV)
    for name, value in fail_env(stage, which, "repr").items():
        if name.startswith("CANARY_"):
            monkeypatch.setenv(name, value)
    with pytest.raises(error) as info:
        bound.run()
    exc = info.value
    texts = [str(exc), repr(exc), exc.message, *(str(a) for a in exc.args)]
    for failure in exc.failures:
        texts += [str(failure), repr(failure), failure.message]
    assert find_leaks(*texts) == []
    assert MASK in str(exc)
    assert len(exc.failures) == (2 if "," in stage else 1)


# --- where envres (or pydantic) cuts a text short, and other edges --------------------------


def test_a_known_secret_cut_short_in_an_interpolation_error_is_not_shown(
    envres_cli: Cli, tmp_path: Path
) -> None:
    # door_pin is a literal secret of the profile; a typo'd expression (no closing brace)
    # in another field holds it too. The error quotes the expression cut at 80
    # characters, in the middle of the secret.
    pin = _value("door_pin", "dev")
    head = "${MOTTO_OVERRIDE:-the door code of the north gate is "
    head += "." * (77 - 12 - len(head))  # the cut falls 12 characters into the secret
    dev = profile_yaml("dev").replace(
        "      motto: ${PHRASE_DEV}\n", f"      motto: '{head}{pin} (ask the guard)'\n"
    )
    root = make_canary_project(
        tmp_path / "proj", {"dev.yaml": dev, "prod.yaml": profile_yaml("prod")}
    )
    for args in (("validate",), ("show", "--debug"), ("run",)):
        result = envres_cli(*args, cwd=root, env=ENV)
        assert result.code == 1, result
        assert_no_leak(result, traceback_allowed="--debug" in args)
        assert any(
            "resources.named.config.motto: invalid interpolation" in x for x in result.err_lines
        ), result.err


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_a_pydantic_error_in_a_setup_quoting_a_secret_cut_short_is_not_shown(
    envres_cli: Cli, canary_project: Path, debug: bool
) -> None:
    # The setup of `named` validates a DSN holding the 150-character passphrase: pydantic's
    # message quotes the input cut to its first and last 24 characters.
    args = ("run", *(("--debug",) if debug else ()))
    result = envres_cli(*args, cwd=canary_project, env=fail_env("setup", "credentials", "pydantic"))
    assert result.code == 3, result
    assert_no_leak(result, traceback_allowed=debug)
    assert run_failed_line(result) == (
        f"run failed: setup of resource 'named' failed: {AT_PYDANTIC}: "
        "ValidationError: 1 validation error for Conn"
    )
    # pydantic's own lines follow, the input cut short and masked (assert_no_leak above).
    assert "  dsn" in result.err_lines


@pytest.mark.parametrize(
    ("args", "fail", "code"),
    [
        (("schema",), None, 0),
        (("show",), None, 0),
        (("show", "--format", "json"), None, 0),
        (("run",), "asset", 3),
        (("run", "--debug"), "setup", 3),
    ],
    ids=["schema", "show", "show-json", "run-asset", "run-setup-debug"],
)
def test_the_code_default_of_a_secret_named_field_is_a_secret_too(
    envres_cli: Cli, tmp_path: Path, args: tuple[str, ...], fail: str | None, code: int
) -> None:
    legacy = "resources:\n  legacy:\n    type: legacy\n    config:\n      host: db.internal\n"
    root = make_canary_project(tmp_path / "proj", {"dev.yaml": legacy})
    env = fail_env(fail, "session_token") if fail else ENV
    result = envres_cli(*args, "--definitions", f"{MODULE}:defs_legacy", cwd=root, env=env)
    assert result.code == code, result
    leaks = find_leaks(result.out, result.err, values=(LEGACY_DEFAULT,))
    assert leaks == [], "\n".join(leaks)
    if args[0] == "show":
        assert MASK in result.out


def test_a_secret_shorter_than_4_characters_is_masked_where_it_stands_alone(
    envres_cli: Cli, canary_project: Path
) -> None:
    short = "Q7x"
    env = {**ENV, "DBPW_DEV": short}
    shown = envres_cli("show", cwd=canary_project, env=env)
    failed = envres_cli("run", cwd=canary_project, env={**fail_env("asset", "password"), **env})
    for result, code in ((shown, 0), (failed, 3)):
        assert result.code == code, result
        assert not re.search(rf"(?<![A-Za-z0-9]){short}(?![A-Za-z0-9])", result.out + result.err)
    assert f"      dsn: '{MASK}'" in shown.out.splitlines()
    assert run_failed_line(failed) == (
        f"run failed: asset 'report' failed: {AT}: RuntimeError: login refused for {MASK}"
    )


def test_env_cuts_a_long_value_only_after_masking_the_secret_in_it(
    envres_cli: Cli, tmp_path: Path
) -> None:
    # DSN_FULL is not a secret variable, but holds the password; `env` cuts values at 40
    # characters, which would fall in the middle of it.
    dev = profile_yaml("dev").replace(
        "dsn: postgresql://app:${DBPW_DEV}@db.internal/dev", "dsn: ${DSN_FULL}"
    )
    root = make_canary_project(
        tmp_path / "proj", {"dev.yaml": dev, "prod.yaml": profile_yaml("prod")}
    )
    dsn = f"postgresql://app-user:{_value('password', 'dev')}@db.internal/dev"
    result = envres_cli("env", cwd=root, env={**ENV, "DSN_FULL": dsn})
    assert result.code == 0, result
    # Only the password is looked for: another canary's leak has its own tests.
    leaks = find_leaks(result.out, result.err, values=(_value("password", "dev"),))
    assert leaks == [], leaks
    row = next(x for x in result.out.splitlines() if x.startswith("DSN_FULL "))
    assert f"postgresql://app-user:{MASK}" in row


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_ctrl_c_in_an_asset_with_a_teardown_failing_on_a_canary_masks_it(
    envres_cli: Cli, canary_project: Path, debug: bool
) -> None:
    env = {**fail_env("asset,teardown", "db_passwd"), "CANARY_KIND_ASSET": "KeyboardInterrupt"}
    result = envres_cli("run", *(("--debug",) if debug else ()), cwd=canary_project, env=env)
    assert result.code == 130, result
    assert_no_leak(result)
    assert result.err_lines == [
        "interrupted; every resource that was set up has been torn down",
        f"  also: teardown of resource 'named' failed: {AT}: "
        f"RuntimeError: login refused for {MASK}",
    ]


# --- 6. values from AWS secret sources (moto's server) ---------------------------------------

AWS_CANARIES = {
    "sm_string": _pair("smstr"),
    "sm_key": _pair("smkey"),
    "ssm_secure": _pair("ssm"),
}
AWS_VALUES = tuple(v for pair in AWS_CANARIES.values() for v in pair)

AWS_DEFINITIONS = '''
import os
from collections.abc import Iterator

import envres


class Cloud(envres.Resource):
    """Plain names and types: only the secret sources make these secrets."""

    greeting: str
    motto: str
    banner: str

    def lifespan(self) -> Iterator[None]:
        if os.environ.get("CANARY_FAIL_AT") == "setup":
            raise RuntimeError(f"login refused for {self.greeting!r} and {self.motto}")
        yield


@envres.asset
def shout(cloud: Cloud) -> str:
    print("cloud says", cloud.greeting, cloud.motto, cloud.banner, repr(cloud))
    if os.environ.get("CANARY_FAIL_AT") == "asset":
        raise ValueError(f"bad banner {cloud.banner}")
    return "shouted"


defs = envres.Definitions(assets=[shout], resource_types={"cloud": Cloud})
'''


@pytest.fixture(scope="module")
def aws_canaries() -> Iterator[dict[str, str]]:
    """moto's server holding each profile's AWS canaries; the variables that reach it."""
    from tests.motoserver import MotoServer

    server = MotoServer()
    try:
        sm, ssm = server.client("secretsmanager"), server.client("ssm")
        for i, p in enumerate(("dev", "prod")):
            sm.create_secret(Name=f"canary/{p}/plain", SecretString=AWS_CANARIES["sm_string"][i])
            sm.create_secret(
                Name=f"canary/{p}/doc",
                SecretString=json.dumps({"db": {"banner": AWS_CANARIES["sm_key"][i]}}),
            )
            ssm.put_parameter(
                Name=f"/canary/{p}/motto", Value=AWS_CANARIES["ssm_secure"][i], Type="SecureString"
            )
        yield server.env()
    finally:
        server.stop()


def _aws_profile(p: str) -> str:
    return f"""\
resources:
  cloud:
    type: cloud
    config:
      greeting: ${{secretsmanager:canary/{p}/plain}}
      motto: ${{ssm:/canary/{p}/motto}}
      banner: ${{secretsmanager:canary/{p}/doc#db.banner}}
"""


@pytest.mark.parametrize(
    ("args", "fail_at", "code"),
    [
        (("show",), "", 0),
        (("show", "--explain"), "", 0),
        (("show", "--explain", "--format", "json"), "", 0),
        (("show", "--format", "json", "--profile", "prod"), "", 0),
        (("env",), "", 0),
        (("diff", "dev", "prod"), "", 0),
        (("check",), "", 0),
        (("run",), "", 0),
        (("run", "--debug"), "asset", 3),
        (("run", "--jobs", "2"), "setup", 3),
        (("docs", "--out", "site"), "", 0),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else str(v),
)
def test_values_from_aws_secret_sources_are_never_shown(
    envres_cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    aws_canaries: dict[str, str],
    args: tuple[str, ...],
    fail_at: str,
    code: int,
) -> None:
    root = tmp_path / "cloud"
    make_project(
        root,
        {"dev.yaml": _aws_profile("dev"), "prod.yaml": _aws_profile("prod")},
        definitions=AWS_DEFINITIONS,
        module="cloud_pipeline",
    )
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    env = {**aws_canaries, "CANARY_FAIL_AT": fail_at}
    result = envres_cli(*args, cwd=root, env=env)
    assert result.code == code, result
    texts = [result.out, result.err]
    if args[0] == "docs":
        texts += [p.read_text(encoding="utf-8") for p in (root / "site").rglob("*.html")]
        assert texts[2:]
    leaks = find_leaks(*texts, values=AWS_VALUES)
    assert leaks == [], "\n".join(leaks)
    if args[0] == "show" and "json" in args:
        shown = json.loads(result.out)["resources"]["cloud"]["config"]
        assert shown == {"greeting": MASK, "motto": MASK, "banner": MASK}
    if args[:1] == ("run",) and not fail_at:
        assert "cloud says" in result.out  # what the asset printed is there, masked
    if args == ("check",):
        assert "secretsmanager:canary/dev/doc#db.banner" in result.out
        assert result.out.count("resolved") == 3


def test_a_failing_aws_reference_names_it_and_shows_no_value(
    envres_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aws_canaries: dict[str, str]
) -> None:
    root = tmp_path / "cloud"
    profile = _aws_profile("dev").replace("#db.banner", "#db.banner.deeper")
    make_project(root, {"dev.yaml": profile}, definitions=AWS_DEFINITIONS, module="cloud_pipeline")
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    result = envres_cli("validate", "--debug", cwd=root, env=aws_canaries)
    assert result.code == 1, result
    assert (
        "profiles/dev.yaml:7:15: E404 resources.cloud.config.banner: "
        "secretsmanager:canary/dev/doc#db.banner.deeper: "
        "#db.banner is not a JSON object, so #db.banner.deeper cannot pick a key"
    ) in result.err_lines
    assert "botocore" not in result.err
    assert find_leaks(result.out, result.err, values=AWS_VALUES) == []
