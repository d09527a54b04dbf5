"""Team rules ([[tool.envres.rules]]) and the built-in literal-secret rule, through `validate`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BASE, Cli, make_project

PROD = """\
resources:
  warehouse:
    type: postgres
    config:
      dsn: postgresql://db.internal/shop
      password: ${PG_PASSWORD}
  notifier:
    type: slack
    config:
      channel: "#alerts"
      token: ${SLACK_TOKEN}
"""


def proj(tmp_path: Path, rules: str = "", **profiles: str) -> Path:
    project = make_project(
        tmp_path / "proj",
        {f"{k if k.startswith('_') else k.replace('_', '-')}.yaml": v for k, v in profiles.items()},
    )
    with (project.root / "pyproject.toml").open("a", encoding="utf-8") as fh:
        fh.write(rules)
    return project.root


def validate(envres_cli: Cli, root: Path, *args: str) -> tuple[int, list[str], str]:
    result = envres_cli("validate", "--allow-missing-env", *args, cwd=root)
    return result.code, result.err_lines, result.out


# --- forbid_types -------------------------------------------------------------------------

FORBID = """
[[tool.envres.rules]]
profiles = ["prod", "prod-*"]
forbid_types = ["duckdb", "console"]
"""


def test_forbid_types_fails_a_named_profile_at_the_type_line(
    envres_cli: Cli, tmp_path: Path
) -> None:
    root = proj(tmp_path, FORBID, dev=BASE, prod_eu=BASE)
    code, err, out = validate(envres_cli, root, "--profile", "prod-eu")
    assert (code, out) == (1, "")
    assert err == [
        "profiles/prod-eu.yaml:3:11: E703 resources.warehouse.type: type 'duckdb' is not allowed "
        'in profile \'prod-eu\' by [[tool.envres.rules]] #1 (profiles = ["prod", "prod-*"], '
        'forbid_types = ["duckdb", "console"])',
        "profiles/prod-eu.yaml:7:11: E703 resources.notifier.type: type 'console' is not allowed "
        'in profile \'prod-eu\' by [[tool.envres.rules]] #1 (profiles = ["prod", "prod-*"], '
        'forbid_types = ["duckdb", "console"])',
        "2 problems in profile 'prod-eu'",
    ]


def test_forbid_types_passes_a_profile_it_does_not_name_and_one_that_obeys(
    envres_cli: Cli, tmp_path: Path
) -> None:
    root = proj(tmp_path, FORBID, dev=BASE, prod=PROD)
    assert validate(envres_cli, root)[0] == 0  # dev uses duckdb: not named
    code, _, out = validate(envres_cli, root, "--profile", "prod")
    assert code == 0
    assert out.startswith("profile 'prod' is valid")


# --- require_keys -------------------------------------------------------------------------

REQUIRE = """
[[tool.envres.rules]]
profiles = ["*"]
require_keys = ["warehouse", "reporter"]
"""


def test_require_keys_fails_a_profile_missing_a_key(envres_cli: Cli, tmp_path: Path) -> None:
    root = proj(tmp_path, REQUIRE, dev=BASE)
    code, err, _ = validate(envres_cli, root)
    assert code == 1
    assert err == [
        "profiles/dev.yaml:1:1: E704 resources.reporter: profile 'dev' must define resource "
        "'reporter' by [[tool.envres.rules]] #1 (profiles = [\"*\"], require_keys = "
        '["warehouse", "reporter"])',
        "1 problem in profile 'dev'",
    ]


def test_require_keys_passes_a_profile_defining_them(envres_cli: Cli, tmp_path: Path) -> None:
    with_reporter = BASE + "  reporter:\n    type: report\n    config:\n"
    with_reporter += "      warehouse: {resource: warehouse}\n"
    root = proj(tmp_path, REQUIRE, dev=with_reporter)
    assert validate(envres_cli, root)[0] == 0


# --- literal secrets ----------------------------------------------------------------------

LITERAL = PROD.replace("${PG_PASSWORD}", "hunter2-literal").replace(
    "${SLACK_TOKEN}", '\'{{ env("SLACK_TOKEN", "") }}\''
)


def test_a_secret_field_written_literally_is_an_error_on_its_line_by_default(
    envres_cli: Cli, tmp_path: Path
) -> None:
    root = proj(tmp_path, dev=LITERAL)
    code, err, out = validate(envres_cli, root)
    assert (code, out) == (1, "")
    assert err == [
        "profiles/dev.yaml:6:17: E701 resources.warehouse.config.password: a secret is written "
        "in the profile; read it from a variable (${NAME}) or a secret source, or end the line "
        "with '# envres: allow-literal'",
        "1 problem in profile 'dev'",
    ]
    assert "hunter2-literal" not in "\n".join(err)


def test_a_field_secret_by_its_name_only_is_a_literal_secret_too(
    envres_cli: Cli, tmp_path: Path
) -> None:
    # `channel` is a plain str: a secret here only because the project names it one.
    root = proj(tmp_path, dev=PROD.replace("password: ${PG_PASSWORD}", "password: ${PG_PW}"))
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    (root / "pyproject.toml").write_text(
        text.replace("[tool.envres]\n", '[tool.envres]\nsecret_names = ["channel"]\n'),
        encoding="utf-8",
    )
    code, err, _ = validate(envres_cli, root)
    assert code == 1
    assert err[0].startswith("profiles/dev.yaml:10:16: E701 resources.notifier.config.channel: ")


def test_references_templates_and_empty_values_are_not_literal_secrets(
    envres_cli: Cli, tmp_path: Path
) -> None:
    profile = PROD.replace("${SLACK_TOKEN}", '\'{{ env("SLACK_TOKEN", "") }}\'').replace(
        "${PG_PASSWORD}", "${PG_PASSWORD:-}"
    )
    profile += "  other:\n    type: slack\n    config:\n      channel: c\n      token: ''\n"
    root = proj(tmp_path, dev=profile)
    code, err, _ = validate(envres_cli, root)
    assert code == 0, err


def test_allow_literal_exempts_its_line_and_verbose_lists_it(
    envres_cli: Cli, tmp_path: Path
) -> None:
    profile = LITERAL.replace(
        "password: hunter2-literal", "password: hunter2-literal  # envres: allow-literal"
    )
    profile += "# envres: allow-literal (left over)\n"
    root = proj(tmp_path, dev=profile)
    quiet = validate(envres_cli, root)
    verbose = validate(envres_cli, root, "--verbose")
    assert quiet[0] == 0 and verbose[0] == 0
    assert "allow-literal" not in quiet[2]
    assert verbose[2].splitlines() == [
        "profiles/dev.yaml:6:34: allow-literal: a secret written at "
        "resources.warehouse.config.password",
        "profiles/dev.yaml:12:1: allow-literal: nothing on this line needs it",
        "profile 'dev' is valid (2 resources, 2 assets)",
    ]


def test_a_credential_shape_anywhere_in_a_profile_is_an_error_at_its_column(
    envres_cli: Cli, tmp_path: Path
) -> None:
    profile = PROD.replace(
        "dsn: postgresql://db.internal/shop", "dsn: postgresql://app:s3cr3t-pw@db.internal/shop"
    )
    profile += "# old key: AKIAIOSFODNN7EXAMPLE\n"
    root = proj(tmp_path, dev=profile)
    code, err, _ = validate(envres_cli, root)
    assert code == 1
    assert err == [
        "profiles/dev.yaml:5:29: E702 a password in a URL is written in the profile; read it "
        "from a variable (${NAME}), or end the line with '# envres: allow-literal'",
        "profiles/dev.yaml:12:12: E702 an AWS access key id is written in the profile; read it "
        "from a variable (${NAME}), or end the line with '# envres: allow-literal'",
        # The warnings of --allow-missing-env come along with the errors.
        "profiles/dev.yaml:6:17: warning: E401 resources.warehouse.config.password: "
        "environment variable PG_PASSWORD is not set",
        "profiles/dev.yaml:11:14: warning: E401 resources.notifier.config.token: "
        "environment variable SLACK_TOKEN is not set",
        "2 problems in profile 'dev'",
    ]
    assert "s3cr3t-pw" not in "\n".join(err)


def test_a_partial_extended_by_the_profile_is_scanned_too(envres_cli: Cli, tmp_path: Path) -> None:
    root = proj(
        tmp_path,
        _common="resources:\n  notifier:\n    type: slack\n    config:\n"
        "      channel: c\n      token: xoxb-2934857103-aBcDeFgHiJkL\n",
        dev="extends: _common\n" + BASE.replace("  notifier:\n    type: console\n", ""),
    )
    code, err, _ = validate(envres_cli, root)
    assert code == 1
    # The token field is a secret written literally (E701); the same line is not also E702.
    assert err == [
        "profiles/_common.yaml:6:14: E701 resources.notifier.config.token: a secret is written "
        "in the profile; read it from a variable (${NAME}) or a secret source, or end the line "
        "with '# envres: allow-literal'",
        "1 problem in profile 'dev'",
    ]


@pytest.mark.parametrize(
    ("setting", "code", "severity"),
    [('"warning"', 0, "warning: "), ('"off"', 0, None), ('"error"', 1, "")],
)
def test_literal_secrets_can_be_a_warning_or_off_for_the_profiles_a_rule_names(
    envres_cli: Cli, tmp_path: Path, setting: str, code: int, severity: str | None
) -> None:
    rules = f'\n[[tool.envres.rules]]\nprofiles = ["dev"]\nliteral_secrets = {setting}\n'
    root = proj(tmp_path, rules, dev=LITERAL, prod=LITERAL)
    dev = validate(envres_cli, root)
    prod = validate(envres_cli, root, "--profile", "prod")
    assert dev[0] == code
    assert prod[0] == 1  # the rule names dev only: prod keeps the default
    if severity is None:
        assert not any("E701" in line for line in dev[1])
    else:
        assert dev[1][0].startswith(
            f"profiles/dev.yaml:6:17: {severity}E701 resources.warehouse.config.password: "
        )
        assert dev[1][0].endswith(
            f'([[tool.envres.rules]] #1 (profiles = ["dev"], literal_secrets = {setting}))'
        )


def test_validate_all_checks_the_rules_of_every_profile(envres_cli: Cli, tmp_path: Path) -> None:
    root = proj(tmp_path, FORBID, dev=BASE, prod=BASE)
    result = envres_cli("validate", "--all", cwd=root)
    assert result.code == 1
    assert result.out == "profile 'dev' is valid (2 resources, 2 assets)\n"
    assert result.err_lines[-1] == "1 of 2 profiles invalid: prod"


def test_a_malformed_rule_is_a_settings_problem(envres_cli: Cli, tmp_path: Path) -> None:
    root = proj(tmp_path, '\n[[tool.envres.rules]]\nforbid_type = ["duckdb"]\n', dev=BASE)
    result = envres_cli("validate", cwd=root)
    assert result.code == 1
    assert result.err_lines[0] == (
        "pyproject.toml:1:1: E601 envres setting 'rules.0.forbid_type': "
        "Extra inputs are not permitted"
    )


def test_verbose_github_lists_each_opt_out_as_a_notice_on_its_line(
    envres_cli: Cli, tmp_path: Path
) -> None:
    profile = LITERAL.replace(
        "password: hunter2-literal", "password: hunter2-literal  # envres: allow-literal"
    )
    root = proj(tmp_path, dev=profile)
    result = envres_cli(
        "validate", "--allow-missing-env", "--verbose", "--format", "github", cwd=root
    )
    assert result.code == 0, result.err
    notices = [x for x in result.out.splitlines() if x.startswith("::notice")]
    assert notices == [
        "::notice file=profiles/dev.yaml,line=6,col=34,title=allow-literal::allow-literal: "
        "a secret written at resources.warehouse.config.password"
    ]
    assert "hunter2-literal" not in result.out + result.err


NESTED_DEFS = """
from __future__ import annotations

from typing import Any

from pydantic import SecretStr

import envres


class Api(envres.Resource):
    headers: dict[str, str] = {}
    replicas: list[dict[str, SecretStr]] = []
    upstream: Any = None


defs = envres.Definitions(assets=[], resource_types={"api": Api})
"""

NESTED = """\
resources:
  db:
    type: api
  api:
    type: api
    config:
      headers:
        accept: json
        password: nested-literal-1
      replicas:
        - key: ${REPLICA_KEY}
        - key: nested-literal-2
      upstream: {resource: db}
"""


def test_a_literal_secret_inside_a_mapping_or_a_list_is_found_at_its_line(
    envres_cli: Cli, tmp_path: Path
) -> None:
    root = make_project(tmp_path / "proj", {"dev.yaml": NESTED}, definitions=NESTED_DEFS).root
    code, err, _ = validate(envres_cli, root)
    assert code == 1
    assert [line.split(": a secret")[0] for line in err[:2]] == [
        "profiles/dev.yaml:9:19: E701 resources.api.config.headers.password",
        "profiles/dev.yaml:12:16: E701 resources.api.config.replicas.1.key",
    ], err


SOURCED = """\
resources:
  api:
    type: api
    config:
      headers:
        accept: json
        auth: ${file:token.txt}
        password: pa$$word
"""


def test_an_escaped_dollar_is_written_out_and_a_plain_value_beside_a_source_is_not_a_secret(
    envres_cli: Cli, tmp_path: Path
) -> None:
    # `headers` is fed by a secret source, so it is masked whole; but `accept: json`
    # was not written in a secret position, and is no literal secret. `pa$$word` reads
    # nothing from anywhere: it is.
    project = make_project(tmp_path / "proj", {"dev.yaml": SOURCED}, definitions=NESTED_DEFS)
    project.write("profiles/token.txt", "from-the-file\n")
    code, err, _ = validate(envres_cli, project.root)
    assert code == 1
    assert [line.split(": a secret")[0] for line in err if "E701" in line] == [
        "profiles/dev.yaml:8:19: E701 resources.api.config.headers.password",
    ], err
