"""Secret sources: ``${file:...}``, ``VAR_FILE``, ``${secretsmanager:...}``, ``${ssm:...}``
and a project's own, against real files and a real AWS API double (moto's server).

The AWS tests start ``python -m moto.server`` on a free loopback port and reach it
the way users reach AWS: through ``AWS_ENDPOINT_URL`` and the standard variables,
set in the environment envres runs in. boto3 is never patched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from envres._errors import InterpolationError, MissingVariableError, ProfileError, SourceError
from envres._interpolate import Unavailable, interpolate, references
from envres._load import load_profile
from envres._project import import_definitions
from envres._resolved import ResolvedProfile
from envres._settings import load_settings
from tests.conftest import Cli, Project, make_project, run_real
from tests.motoserver import MotoServer, client
from tests.test_compose_grammar import ROWS

MASK = "**********"
PG = "postgres"  # the standard test definitions' short name (tests/conftest.py)
SOURCES = frozenset({"file", "secretsmanager", "ssm"})


# --- the grammar (pure) ---------------------------------------------------------------------


def test_a_reference_needs_a_registered_source_name() -> None:
    found = {("file", "/run/secrets/pg"): "pw"}
    assert interpolate("${file:/run/secrets/pg}", {}, SOURCES, found).value == "pw"
    with pytest.raises(InterpolationError, match='unexpected ":" after the variable name file'):
        interpolate("${file:/run/secrets/pg}", {}, frozenset(), found)


def test_compose_expressions_keep_their_meaning_whatever_sources_are_registered() -> None:
    """Every row of compose-go's table, with each of its names also a source name."""
    for row in ROWS:
        env = dict(row.env)
        names = frozenset(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", row.template)) | SOURCES
        try:
            expected: Any = interpolate(row.template, env).value
        except InterpolationError as exc:
            expected = (type(exc), str(exc))
        try:
            got: Any = interpolate(row.template, env, names).value
        except InterpolationError as exc:
            got = (type(exc), str(exc))
        assert got == expected, row.template
    env = {"HOST": "h", "URL": ""}
    sources = frozenset({"HOST", "VAR", "URL"})
    assert interpolate("${HOST-db:5432}", {}, sources).value == "db:5432"
    assert interpolate("${VAR:-x}", {}, sources).value == "x"
    assert interpolate("${URL:-http://x:1/y}", env, sources).value == "http://x:1/y"
    assert interpolate("${HOST?no}${HOST+alt}", env, sources).value == "halt"


def test_an_unknown_source_is_a_syntax_error_with_a_did_you_mean() -> None:
    with pytest.raises(InterpolationError) as info:
        interpolate("${secretsmanagr:prod/db}", {}, SOURCES)
    assert "did you mean the secret source 'secretsmanager'?" in str(info.value)


def test_an_arn_reference_keeps_its_colons_and_ends_at_an_operator() -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"
    text = "${secretsmanager:" + arn + "#password:-none}"
    assert references(text, {}, SOURCES) == [("secretsmanager", arn + "#password")]
    found = {("secretsmanager", arn + "#password"): "pw"}
    assert interpolate(text, {}, SOURCES, found).value == "pw"


def test_references_are_needed_lazily_as_defaults_are_evaluated() -> None:
    text = "${PG_PASSWORD:-${file:pw.txt}}"
    assert references(text, {"PG_PASSWORD": "x"}, SOURCES) == []
    assert references(text, {}, SOURCES) == [("file", "pw.txt")]
    nested = "${ssm:/a:-${file:b}}"
    assert references(nested, {}, SOURCES) == [("ssm", "/a")]
    gone = {("ssm", "/a"): Unavailable("no such parameter", not_found=True)}
    assert references(nested, {}, SOURCES, gone) == [("file", "b")]


def test_not_found_counts_as_unset_and_other_failures_are_errors_despite_a_default() -> None:
    missing = {("file", "/x"): Unavailable("no such file", not_found=True)}
    assert interpolate("${file:/x:-fallback}", {}, SOURCES, missing).value == "fallback"
    assert interpolate("${file:/x:-}", {}, SOURCES, missing).value == ""
    with pytest.raises(SourceError) as info:
        interpolate("${file:/x:?mount the pg secret}", {}, SOURCES, missing)
    assert str(info.value) == "file:/x: no such file: mount the pg secret"
    denied = {("ssm", "/p"): Unavailable("access denied (ssm:GetParameter was refused)")}
    with pytest.raises(SourceError, match=r"ssm:/p: access denied \(ssm:GetParameter"):
        interpolate("${ssm:/p:-fallback}", {}, SOURCES, denied)


def test_a_reference_missing_from_what_was_found_is_reported_offline() -> None:
    with pytest.raises(SourceError) as info:
        interpolate("${ssm:/p}", {}, SOURCES)
    assert info.value.offline
    assert str(info.value) == "ssm:/p: not resolved (offline)"


def test_var_file_is_read_when_var_is_unset_and_var_wins_when_both_are_set() -> None:
    found = {("file", "/run/secrets/pg"): "from-file"}
    env = {"PG_PASSWORD_FILE": "/run/secrets/pg"}
    result = interpolate("${PG_PASSWORD}", env, frozenset(), found)
    assert result.value == "from-file"
    assert [(u.name, u.source, u.via) for u in result.uses] == [
        ("PG_PASSWORD", "file", "PG_PASSWORD_FILE")
    ]
    both = {**env, "PG_PASSWORD": "from-env"}
    assert interpolate("${PG_PASSWORD}", both, frozenset(), found).value == "from-env"
    with pytest.raises(MissingVariableError):
        interpolate("${PG_PASSWORD}", {}, frozenset(), found)


def test_a_reference_is_literal_text() -> None:
    with pytest.raises(InterpolationError, match="literal text"):
        interpolate("${file:${DIR}/pw}", {"DIR": "/run"}, SOURCES)
    with pytest.raises(InterpolationError, match='expected a reference after "file:"'):
        interpolate("${file: }", {}, SOURCES)


# --- helpers --------------------------------------------------------------------------------


DEFINITIONS = """\
from pydantic import SecretStr

import envres


class Postgres(envres.Resource):
    dsn: str
    password: SecretStr
    pool_size: int = 5


class Many(envres.Resource):
    values: dict[str, str]


defs = envres.Definitions(resource_types={"postgres": Postgres, "many": Many})
"""
MODULE = "sources_pipeline"


def _project(root: Path, profile: str, table: str = "") -> Project:
    project = make_project(root, {"prod.yaml": profile}, DEFINITIONS, MODULE)
    if table:
        pyproject = project.root / "pyproject.toml"
        pyproject.write_text(pyproject.read_text() + textwrap.dedent(table), encoding="utf-8")
    return project


def _load(project: Project, env: Mapping[str, str] | None = None, **kw: Any) -> ResolvedProfile:
    settings = load_settings(project=project.root, environ=env or {}, profile="prod")
    with contextlib.chdir(project.root):  # paths print relative to the project, as from a shell
        defs = import_definitions(f"{MODULE}:defs", settings.project)
        sys.modules.pop(MODULE, None)
        return load_profile(settings, defs, process_env=env or {}, **kw)


def _password(profile: ResolvedProfile, key: str = "db") -> Any:
    return profile.resources[key].inputs["password"]


def _db(password: str, dsn: str = "postgresql://db/shop") -> str:
    return textwrap.dedent(f"""\
    resources:
      db:
        type: {PG}
        config:
          dsn: {dsn}
          password: {password}
    """)


def _problems(exc: pytest.ExceptionInfo[ProfileError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


# --- ${file:...} and VAR_FILE -----------------------------------------------------------


def test_file_reads_a_regular_file_without_one_trailing_newline(tmp_path: Path) -> None:
    secret = tmp_path / "pg_password"
    secret.write_text("s3cr3t-pw\n\n", encoding="utf-8")
    project = _project(tmp_path / "p", _db(f"${{file:{secret}}}"))
    assert _password(_load(project)) == "s3cr3t-pw\n"
    secret.write_text("s3cr3t-pw\r\n", encoding="utf-8")
    assert _password(_load(project)) == "s3cr3t-pw"


def test_a_relative_path_is_relative_to_the_profile_file_whatever_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path / "p", _db("${file:secrets/pg}"))
    project.write("profiles/secrets/pg", "from-beside-the-profile\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert _password(_load(project)) == "from-beside-the-profile"


def test_a_symlink_to_a_file_is_followed_as_docker_secret_mounts_are(tmp_path: Path) -> None:
    (tmp_path / "..data").mkdir()
    (tmp_path / "..data" / "pg").write_text("linked-secret", encoding="utf-8")
    (tmp_path / "pg").symlink_to(tmp_path / "..data" / "pg")
    project = _project(tmp_path / "p", _db(f"${{file:{tmp_path / 'pg'}}}"))
    assert _password(_load(project)) == "linked-secret"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "it is a directory, not a file"),
        (os.mkfifo, "it is a FIFO (named pipe), not a regular file"),
        (lambda p: p.write_bytes(b"x" * (1024 * 1024 + 1)), "it is larger than 1 MiB"),
    ],
    ids=["missing", "directory", "fifo", "too-large"],
)
def test_file_refuses_what_is_not_a_small_regular_file_saying_why(
    tmp_path: Path, make: Any, reason: str
) -> None:
    target = tmp_path / "pg"
    make(target)
    project = _project(tmp_path / "p", _db(f"${{file:{target}}}"))
    # A real process with a deadline: a FIFO opened for reading must not block it.
    result = run_real("validate", "--profile", "prod", cwd=project.root, timeout=30)
    assert result.code == 1
    assert result.err_lines[0] == (
        f"profiles/prod.yaml:6:17: E404 resources.db.config.password: file:{target}: {reason}"
    )
    assert "Traceback" not in result.err


def test_var_file_reads_the_file_and_show_explain_says_so(tmp_path: Path, envres_cli: Cli) -> None:
    secret = tmp_path / "pg_password"
    secret.write_text("file-secret-value\n", encoding="utf-8")
    project = _project(tmp_path / "p", _db("${PG_PASSWORD}"))
    env = {"PG_PASSWORD_FILE": str(secret)}
    assert _password(_load(project, env)) == "file-secret-value"
    result = envres_cli("show", "--explain", "--profile", "prod", cwd=project.root, env=env)
    assert result.code == 0, result.err
    line = next(x for x in result.out.splitlines() if "password:" in x)
    assert line == (
        f"      password: '{MASK}'  # profiles/prod.yaml:6 <- ${{PG_PASSWORD}} "
        "(from the file named by PG_PASSWORD_FILE)"
    )
    assert "file-secret-value" not in result.out + result.err
    listed = envres_cli("env", "--profile", "prod", cwd=project.root, env=env)
    rows = {line.split()[0]: re.split(r"\s{2,}", line) for line in listed.out.splitlines()}
    assert rows["PG_PASSWORD"][1:3] == ["from the file named by PG_PASSWORD_FILE", MASK]
    assert rows["PG_PASSWORD_FILE"][1] == "set (environment)"
    both = {**env, "PG_PASSWORD": "env-wins"}
    assert _password(_load(project, both)) == "env-wins"


def test_var_file_naming_a_missing_file_is_one_line_naming_both(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", _db("${PG_PASSWORD}"))
    with pytest.raises(ProfileError) as info:
        _load(project, {"PG_PASSWORD_FILE": str(tmp_path / "nope")})
    assert _problems(info) == [
        "profiles/prod.yaml:6:17: E404 resources.db.config.password: "
        "PG_PASSWORD (from the file named by PG_PASSWORD_FILE): no such file"
    ]


def test_a_file_value_is_masked_whole_even_in_a_field_that_is_not_secret(
    tmp_path: Path, envres_cli: Cli
) -> None:
    (tmp_path / "dsn").write_text("postgresql://u:hunter2-dsn@db/shop", encoding="utf-8")
    (tmp_path / "pool").write_text("7321\n", encoding="utf-8")
    profile = _db("x", dsn=f"${{file:{tmp_path / 'dsn'}}}").replace(
        "password: x", f"password: x\n      pool_size: ${{file:{tmp_path / 'pool'}}}"
    )
    project = _project(tmp_path / "p", profile)
    result = envres_cli("show", "--profile", "prod", "--format", "json", cwd=project.root)
    assert result.code == 0, result.err
    config = json.loads(result.out)["resources"]["db"]["config"]
    assert config == {"dsn": MASK, "password": MASK, "pool_size": MASK}


# --- project sources and plugins ------------------------------------------------------------

RECORDING_SOURCE = """\
import os
import threading
import time

calls = []
barrier = threading.Barrier(int(os.environ.get("BARRIER", "1")), timeout=20)


def fetch(reference):
    with open(os.environ["SOURCE_LOG"], "a") as fh:
        fh.write(f"start {reference} {time.monotonic()}\\n")
    if reference == "hang":
        threading.Event().wait(60)
    if reference.startswith("missing"):
        raise KeyError(reference)
    if reference == "boom":
        raise RuntimeError("the vault is sealed")
    barrier.wait()
    with open(os.environ["SOURCE_LOG"], "a") as fh:
        fh.write(f"end {reference} {time.monotonic()}\\n")
    return "vault-value-" + reference
"""


@pytest.fixture(autouse=True)
def _forget_project_modules() -> Iterator[None]:
    """Each test's project imports its own modules of these names."""
    for name in (MODULE, "vaultsrc"):
        sys.modules.pop(name, None)
    yield
    for name in (MODULE, "vaultsrc"):
        sys.modules.pop(name, None)


def _vault_project(root: Path, profile: str) -> Project:
    project = _project(root, profile, 'secret_sources = { vault = "vaultsrc:fetch" }\n')
    project.write("vaultsrc.py", RECORDING_SOURCE)
    return project


def _log(path: Path) -> list[tuple[str, str, float]]:
    if not path.exists():
        return []
    rows = [line.split() for line in path.read_text().splitlines()]
    return [(kind, ref, float(t)) for kind, ref, t in rows]


def test_thirty_references_are_fetched_concurrently_each_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All 30 calls are in flight at once: each waits at a barrier of 30 before returning,
    which only a concurrent resolution gets through. Each is used twice, fetched once."""
    fields = "\n".join(
        f"        f{i}: ${{vault:s{i}}}\n        g{i}: pre-${{vault:s{i}}}" for i in range(30)
    )
    profile = f"resources:\n  many:\n    type: many\n    config:\n      values:\n{fields}\n"
    project = _vault_project(tmp_path / "p", profile)
    log = tmp_path / "calls.log"
    monkeypatch.setenv("SOURCE_LOG", str(log))
    monkeypatch.setenv("BARRIER", "30")
    monkeypatch.syspath_prepend(str(project.root))
    resolved = _load(project)
    inputs = resolved.resources["many"].inputs["values"]
    assert inputs["f7"] == "vault-value-s7"
    assert inputs["g7"] == "pre-vault-value-s7"
    calls = _log(log)
    starts = [t for kind, _, t in calls if kind == "start"]
    ends = [t for kind, _, t in calls if kind == "end"]
    assert sorted(ref for kind, ref, _ in calls if kind == "start") == sorted(
        f"s{i}" for i in range(30)
    )
    assert max(starts) < min(ends)  # every call had started before the first one ended


def test_a_source_that_never_answers_times_out_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _vault_project(tmp_path / "p", _db("${vault:hang}"))
    monkeypatch.setenv("SOURCE_LOG", str(tmp_path / "calls.log"))
    monkeypatch.syspath_prepend(str(project.root))
    env = {"ENVRES_SOURCE_TIMEOUT": "0.3"}
    with pytest.raises(ProfileError) as info:
        _load(project, env)
    assert _problems(info) == [
        "profiles/prod.yaml:6:17: E404 resources.db.config.password: "
        "vault:hang: timed out after 0.3 s"
    ]


def test_a_project_source_failing_or_missing_is_one_line_and_defaults_apply_to_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = _db("${vault:boom}").replace(
        "password: ${vault:boom}",
        "password: ${vault:boom}\n      pool_size: ${vault:missing-pool:-3}",
    )
    project = _vault_project(tmp_path / "p", profile)
    monkeypatch.setenv("SOURCE_LOG", str(tmp_path / "calls.log"))
    monkeypatch.syspath_prepend(str(project.root))
    with pytest.raises(ProfileError) as info:
        _load(project)
    assert _problems(info) == [
        "profiles/prod.yaml:6:17: E404 resources.db.config.password: "
        "vault:boom: the source raised RuntimeError: the vault is sealed"
    ]


def test_validate_offline_contacts_no_source_and_reports_each_reference(
    tmp_path: Path, envres_cli: Cli
) -> None:
    profile = _db("${vault:s1}").replace(
        "password: ${vault:s1}",
        "password: ${vault:s1}\n      pool_size: ${secretsmanager:prod/pool#size}",
    )
    project = _vault_project(tmp_path / "p", profile)
    log = tmp_path / "calls.log"
    env = {"SOURCE_LOG": str(log), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    for args, extra in (
        (["--allow-missing-env"], {}),
        ([], {"ENVRES_ALLOW_MISSING_ENV": "1"}),
    ):
        result = envres_cli(
            "validate", "--profile", "prod", *args, cwd=project.root, env=env | extra
        )
        assert result.code == 0, result.err
        assert result.err_lines == [
            "profiles/prod.yaml:6:17: warning: E404 resources.db.config.password: "
            "vault:s1: not resolved (offline)",
            "profiles/prod.yaml:7:18: warning: E404 resources.db.config.pool_size: "
            "secretsmanager:prod/pool#size: not resolved (offline)",
        ]
        assert "profile 'prod' is valid (1 resource, 0 assets, 2 warnings)" in result.out
    assert _log(log) == []


# --- AWS through moto's server --------------------------------------------------------------


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer()
    try:
        yield server
    finally:
        server.stop()


def _point_at(env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The process environment points at moto (boto3 reads it, as for any AWS user)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for k, v in env.items():
        monkeypatch.setenv(k, v)


@pytest.fixture
def aws(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = moto.env()
    _point_at(env, monkeypatch)
    return env


def _client(service: str, env: Mapping[str, str]) -> Any:
    return client(env, service)


def _name(tag: str) -> str:
    return f"test/{tag}-{uuid.uuid4().hex[:8]}"


def test_secretsmanager_string_json_key_nested_key_and_arn(
    tmp_path: Path, aws: dict[str, str]
) -> None:
    sm = _client("secretsmanager", aws)
    plain = _name("plain")
    sm.create_secret(Name=plain, SecretString="plain-secret-value")
    doc = _name("doc")
    arn = sm.create_secret(
        Name=doc,
        SecretString=json.dumps({"password": "json-pw", "db": {"port": 6543, "host": "h"}}),
    )["ARN"]
    profile = _db(f"${{secretsmanager:{plain}}}") + textwrap.indent(
        textwrap.dedent(f"""\
        second:
          type: {PG}
          config:
            dsn: x
            password: ${{secretsmanager:{doc}#password}}
            pool_size: ${{secretsmanager:{doc}#db.port}}
        third:
          type: {PG}
          config:
            dsn: x
            password: ${{secretsmanager:{arn}#password}}
        """),
        "  ",
    )
    resolved = _load(_project(tmp_path / "p", profile))
    assert _password(resolved) == "plain-secret-value"
    assert _password(resolved, "second") == "json-pw"
    assert resolved.resources["second"].inputs["pool_size"] == "6543"
    assert resolved.resources["second"].validated.pool_size == 6543  # type: ignore[union-attr]
    assert _password(resolved, "third") == "json-pw"


def test_ssm_securestring_is_decrypted(tmp_path: Path, aws: dict[str, str]) -> None:
    name = "/" + _name("ssm")
    _client("ssm", aws).put_parameter(Name=name, Value="ssm-secure-value", Type="SecureString")
    resolved = _load(_project(tmp_path / "p", _db(f"${{ssm:{name}}}")))
    assert _password(resolved) == "ssm-secure-value"


def test_missing_secret_key_and_not_json_are_one_line_each_never_a_value(
    tmp_path: Path, aws: dict[str, str], envres_cli: Cli
) -> None:
    sm = _client("secretsmanager", aws)
    doc = _name("doc")
    sm.create_secret(Name=doc, SecretString=json.dumps({"password": "pw-9f8e7d", "user": "u"}))
    text = _name("text")
    sm.create_secret(Name=text, SecretString="not-json-4c3b2a")
    profile = f"""\
    resources:
      a:
        type: {PG}
        config:
          dsn: ${{secretsmanager:test/nope-{uuid.uuid4().hex[:6]}}}
          password: ${{secretsmanager:{doc}#pasword}}
      b:
        type: {PG}
        config:
          dsn: ${{secretsmanager:{text}#password}}
          password: ${{ssm:/no/such/param:-fallback}}
    """
    project = _project(tmp_path / "p", profile)
    result = envres_cli("validate", "--profile", "prod", cwd=project.root, env=aws)
    assert result.code == 1
    lines = result.err_lines
    assert re.fullmatch(
        r"profiles/prod.yaml:5:12: E404 resources.a.config.dsn: "
        r"secretsmanager:test/nope-\w+: no such secret",
        lines[0],
    )
    assert lines[1] == (
        "profiles/prod.yaml:6:17: E404 resources.a.config.password: "
        f"secretsmanager:{doc}#pasword: key 'pasword' absent (keys: password, user)"
    )
    assert lines[2] == (
        "profiles/prod.yaml:10:12: E404 resources.b.config.dsn: "
        f"secretsmanager:{text}#password: not JSON, so #password cannot pick a key from it"
    )
    assert lines[3:] == ["3 problems in profile 'prod'"]
    for value in ("pw-9f8e7d", "not-json-4c3b2a", "Traceback", "botocore"):
        assert value not in result.out + result.err


def test_no_credentials_and_no_region_are_said_in_the_users_terms(
    tmp_path: Path, aws: dict[str, str], envres_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path / "p", _db("${ssm:/shop/pg}"))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = envres_cli("validate", "--profile", "prod", cwd=project.root)
    assert result.code == 1
    assert result.err_lines[0] == (
        "profiles/prod.yaml:6:17: E404 resources.db.config.password: ssm:/shop/pg: no AWS "
        "credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    result = envres_cli("validate", "--profile", "prod", cwd=project.root)
    assert result.err_lines[0] == (
        "profiles/prod.yaml:6:17: E404 resources.db.config.password: ssm:/shop/pg: "
        "no AWS region (set AWS_DEFAULT_REGION, or region in the AWS profile)"
    )


def test_access_denied_names_the_iam_action(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto's server enforces IAM after INITIAL_NO_AUTH_ACTION_COUNT requests: the first
    four set up a user whose policy allows only SSM and a secret, then every request is
    authorised against IAM."""
    server = MotoServer({"INITIAL_NO_AUTH_ACTION_COUNT": "4"})
    try:
        admin = server.env()
        iam = _client("iam", admin)
        iam.create_user(UserName="ci")
        key = iam.create_access_key(UserName="ci")["AccessKey"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="ci", PolicyName="ssm", PolicyDocument=json.dumps(policy))
        _client("secretsmanager", admin).create_secret(Name="prod/db", SecretString="denied-pw")
        _point_at(server.env(key["AccessKeyId"], key["SecretAccessKey"]), monkeypatch)
        project = _project(tmp_path / "p", _db("${secretsmanager:prod/db}"))
        with pytest.raises(ProfileError) as info:
            _load(project)
        assert _problems(info) == [
            "profiles/prod.yaml:6:17: E404 resources.db.config.password: secretsmanager:prod/db: "
            "access denied (secretsmanager:GetSecretValue was refused)"
        ]
    finally:
        server.stop()


def test_check_says_per_reference_whether_it_resolved_never_the_value(
    tmp_path: Path, aws: dict[str, str], envres_cli: Cli
) -> None:
    name = _name("chk")
    _client("secretsmanager", aws).create_secret(
        Name=name, SecretString=json.dumps({"password": "check-pw-5e6f"})
    )
    profile = _db(f"${{secretsmanager:{name}#password}}").replace(
        "dsn: postgresql://db/shop", "dsn: ${ssm:/no/such:-postgresql://db/shop}"
    )
    project = _project(tmp_path / "p", profile)
    result = envres_cli("check", "--profile", "prod", cwd=project.root, env=aws)
    assert result.code == 0, result.err
    rows = [line.split() for line in result.out.splitlines()]
    assert ["REFERENCE", "RESULT", "USED", "AT"] in rows
    expected = [f"secretsmanager:{name}#password", "resolved", "profiles/prod.yaml:6"]
    assert [*expected, "resources.db.config.password"] in rows
    assert "ssm:/no/such" in result.out
    assert "not found, default used" in result.out
    assert "check-pw-5e6f" not in result.out + result.err


def test_show_explain_names_the_source_and_masks_its_value(
    tmp_path: Path, aws: dict[str, str], envres_cli: Cli
) -> None:
    name = "/" + _name("explain")
    _client("ssm", aws).put_parameter(Name=name, Value="explained-9a8b", Type="SecureString")
    project = _project(tmp_path / "p", _db(f"${{ssm:{name}}}"))
    result = envres_cli("show", "--explain", "--profile", "prod", cwd=project.root, env=aws)
    assert result.code == 0, result.err
    assert (
        f"      password: '{MASK}'  # profiles/prod.yaml:6 <- ${{ssm:{name}}} (from ssm:{name})"
        in result.out.splitlines()
    )
    assert "explained-9a8b" not in result.out + result.err


def test_without_boto3_an_aws_reference_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    blocker = tmp_path / "no_boto3"
    (blocker / "boto3").mkdir(parents=True)
    (blocker / "boto3" / "__init__.py").write_text(
        "raise ImportError(\"No module named 'boto3'\")\n", encoding="utf-8"
    )
    project = _project(tmp_path / "p", _db("${secretsmanager:prod/db}"))
    result = run_real(
        "validate", "--profile", "prod", cwd=project.root, env={"PYTHONPATH": str(blocker)}
    )
    assert result.code == 1
    assert result.err_lines[0] == (
        "profiles/prod.yaml:6:17: E404 resources.db.config.password: secretsmanager:prod/db: "
        "the secretsmanager source needs boto3: pip install 'envres[aws]'"
    )


def test_boto3_is_imported_only_when_an_aws_reference_is_resolved(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("pw", encoding="utf-8")
    project = _project(tmp_path / "p", _db(f"${{file:{tmp_path / 'pw'}}}"))
    code = (
        "import sys; from envres._cli import invoke; "
        "code = invoke(['validate', '--profile', 'prod']); "
        "print(code, 'boto3' in sys.modules, 'botocore' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.stdout.split()[-3:] == ["0", "False", "False"], proc.stderr


def test_a_project_source_name_must_be_spelled_like_a_variable(
    tmp_path: Path, envres_cli: Cli
) -> None:
    project = _project(
        tmp_path / "p", _db("x"), '[tool.envres.secret_sources]\n"my-vault" = "vaultsrc:fetch"\n'
    )
    result = envres_cli("validate", "--profile", "prod", cwd=project.root)
    assert result.code == 1
    assert "source name 'my-vault' must be spelled like a variable name" in result.err
    assert "Traceback" not in result.err


def test_a_project_source_that_cannot_be_imported_is_one_line(tmp_path: Path) -> None:
    project = _project(
        tmp_path / "p", _db("${vault:x}"), '[tool.envres.secret_sources]\nvault = "nope:fetch"\n'
    )
    with pytest.raises(ProfileError) as info:
        _load(project)
    assert _problems(info) == [
        "profiles/prod.yaml:6:17: E404 resources.db.config.password: "
        "vault:x: cannot load the source (nope:fetch): no module named 'nope'"
    ]


def test_a_source_returning_something_else_than_a_string_is_refused(tmp_path: Path) -> None:
    project = _project(
        tmp_path / "p", _db("${num:x}"), '[tool.envres.secret_sources]\nnum = "numsrc:fetch"\n'
    )
    project.write("numsrc.py", "def fetch(reference):\n    return 42\n")
    with pytest.raises(ProfileError) as info:
        _load(project)
    assert _problems(info) == [
        "profiles/prod.yaml:6:17: E404 resources.db.config.password: "
        "num:x: the source returned a value of type int, not a string"
    ]
    sys.modules.pop("numsrc", None)
