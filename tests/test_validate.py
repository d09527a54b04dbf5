"""`envres validate`: every check of PRODUCT.md §4, its one-line message and exit code."""

from __future__ import annotations

import pytest

from tests.conftest import BASE, Cli, Project

PROD = """\
# profiles/prod.yaml
extends: base
env_files: [.env.prod]
resources:
  warehouse:
    type: postgres
    config:
      dsn: ${PG_DSN:?set PG_DSN to the production database}
      password: ${PG_PASSWORD}
      pool_size: ${PG_POOL:-10}
  notifier:
    type: slack
    config:
      channel: "#alerts-{{ env('TEAM', 'data') }}"
"""


@pytest.fixture
def prod(project: Project) -> Project:
    project.profile("base.yaml", BASE)
    project.profile("prod.yaml", PROD)
    project.write("profiles/.env.prod", "PG_DSN=postgresql://db.internal/shop\n")
    return project


def test_valid_profile_exits_0_and_says_so(envres_cli: Cli, project: Project) -> None:
    result = envres_cli("validate", cwd=project)
    assert (result.code, result.err) == (0, "")
    assert result.out == "profile 'dev' is valid (2 resources, 2 assets)\n"


def test_contract_example_reports_every_problem_with_file_line_and_column(
    envres_cli: Cli, prod: Project
) -> None:
    result = envres_cli("validate", "--profile", "prod", cwd=prod, env={"PG_POOL": "ten"})
    assert result.code == 1
    assert result.out == ""
    assert result.err_lines == [
        "profiles/prod.yaml:9:17: E401 resources.warehouse.config.password: "
        "environment variable PG_PASSWORD is not set",
        "profiles/prod.yaml:10:18: E303 resources.warehouse.config.pool_size: "
        "input should be a valid integer (got 'ten' from ${PG_POOL:-10})",
        "2 problems in profile 'prod'",
        "hint: --allow-missing-env checks structure and types without them (unset variables "
        "become warnings)",
    ]


def test_contract_example_validates_once_its_variables_are_set(
    envres_cli: Cli, prod: Project
) -> None:
    result = envres_cli("validate", "--profile", "prod", cwd=prod, env={"PG_PASSWORD": "pw-123"})
    assert (result.code, result.out) == (0, "profile 'prod' is valid (2 resources, 2 assets)\n")


def test_required_variable_message_is_reported(envres_cli: Cli, prod: Project) -> None:
    prod.write("profiles/.env.prod", "")
    result = envres_cli("validate", "--profile", "prod", cwd=prod, env={"PG_PASSWORD": "pw"})
    assert result.err_lines == [
        "profiles/prod.yaml:8:12: E401 resources.warehouse.config.dsn: environment variable PG_DSN "
        "is not set: set PG_DSN to the production database",
        "1 problem in profile 'prod'",
        "hint: --allow-missing-env checks structure and types without them (unset variables "
        "become warnings)",
    ]


def test_allow_missing_env_turns_unset_variables_into_warnings(
    envres_cli: Cli, prod: Project
) -> None:
    result = envres_cli("validate", "--profile", "prod", "--allow-missing-env", cwd=prod)
    assert result.code == 0
    assert result.err_lines == [
        "profiles/prod.yaml:9:17: warning: E401 resources.warehouse.config.password: "
        "environment variable PG_PASSWORD is not set",
    ]
    assert result.out == "profile 'prod' is valid (2 resources, 2 assets, 1 warning)\n"


def test_allow_missing_env_still_checks_types(envres_cli: Cli, prod: Project) -> None:
    result = envres_cli(
        "validate", "--profile", "prod", "--allow-missing-env", cwd=prod, env={"PG_POOL": "x"}
    )
    assert result.code == 1
    assert "input should be a valid integer (got 'x' from ${PG_POOL:-10})" in result.err


def test_unknown_type_suggests_the_near_name(envres_cli: Cli, project: Project) -> None:
    project.profile("dev.yaml", BASE.replace("type: duckdb", "type: duckbd"))
    result = envres_cli("validate", cwd=project)
    assert result.code == 1
    assert result.err_lines[0] == (
        "profiles/dev.yaml:3:11: E301 resources.warehouse.type: unknown resource type 'duckbd'; "
        "did you mean 'duckdb'? (known types: cache, console, duckdb, postgres, report, slack)"
    )


def test_import_path_type_resolves(envres_cli: Cli, project: Project) -> None:
    project.profile("dev.yaml", BASE.replace("type: duckdb", "type: pipeline:DuckDBWarehouse"))
    result = envres_cli("validate", cwd=project)
    assert (result.code, result.err) == (0, "")


@pytest.mark.parametrize(
    ("type_name", "message"),
    [
        ("nosuchmod:Thing", "cannot import type 'nosuchmod:Thing': no module named 'nosuchmod'"),
        ("pipeline:Nope", "cannot import type 'pipeline:Nope': module 'pipeline' has no 'Nope'"),
        (
            "pipeline:log",
            "type 'pipeline:log' is a function, not a resource type: subclass envres.Resource",
        ),
        (
            "broken:Thing",
            "cannot import type 'broken:Thing': importing it raised "
            "ZeroDivisionError: division by zero",
        ),
    ],
)
def test_import_path_that_fails_is_one_clear_line(
    envres_cli: Cli, project: Project, type_name: str, message: str
) -> None:
    project.write("broken.py", "x = 1 / 0\n")
    project.profile("dev.yaml", BASE.replace("type: duckdb", f"type: '{type_name}'"))
    result = envres_cli("validate", cwd=project)
    assert result.code == 1
    assert message in result.err_lines[0]
    assert "Traceback" not in result.err


def test_unknown_config_field_is_reported_at_the_key(envres_cli: Cli, project: Project) -> None:
    project.profile("dev.yaml", BASE.replace("      path:", "      pathh:"))
    result = envres_cli("validate", cwd=project)
    assert result.err_lines[0] == (
        "profiles/dev.yaml:5:7: E303 resources.warehouse.config.pathh: unknown field 'pathh'; "
        "did you mean 'path'? (fields: path, read_only)"
    )


def test_missing_required_field_points_at_the_config(envres_cli: Cli, project: Project) -> None:
    project.profile(
        "dev.yaml",
        "resources:\n  warehouse:\n    type: postgres\n    config:\n      dsn: x\n"
        "  notifier:\n    type: console\n",
    )
    result = envres_cli("validate", cwd=project)
    assert result.err_lines[0] == (
        "profiles/dev.yaml:4:5: E303 resources.warehouse.config.password: "
        "missing required field 'password'"
    )


def test_missing_config_section_points_at_the_resource_key(
    envres_cli: Cli, project: Project
) -> None:
    project.profile(
        "dev.yaml", "resources:\n  warehouse:\n    type: postgres\n  notifier:\n    type: console\n"
    )
    result = envres_cli("validate", cwd=project)
    assert result.err_lines[:2] == [
        "profiles/dev.yaml:2:3: E303 resources.warehouse.config.dsn: missing required field 'dsn'",
        "profiles/dev.yaml:2:3: E303 resources.warehouse.config.password: "
        "missing required field 'password'",
    ]


def test_yaml_value_of_wrong_type_is_not_coerced_silently(
    envres_cli: Cli, project: Project
) -> None:
    project.profile("dev.yaml", BASE.replace("${WAREHOUSE_PATH:-data/dev.duckdb}", "123"))
    result = envres_cli("validate", cwd=project)
    assert result.err_lines[0] == (
        "profiles/dev.yaml:5:13: E303 resources.warehouse.config.path: "
        "input should be a valid string (got 123); YAML reads it as a number: quote it to keep "
        "it text"
    )


def test_yaml_12_scalars_stay_strings(envres_cli: Cli, project: Project) -> None:
    for raw, shown in [("no", "'no'"), ("on", "'on'"), ("1:30", "'1:30'"), ("0x1F", "31")]:
        text = BASE.replace("${WAREHOUSE_PATH:-data/dev.duckdb}", raw)
        project.profile("dev.yaml", text)
        result = envres_cli("show", cwd=project)
        if shown == "31":
            assert "input should be a valid string (got 31)" in result.err
        else:
            assert f"path: {shown}" in result.out, result


def test_asset_needing_an_undefined_resource_names_where_the_asset_is_defined(
    envres_cli: Cli, project: Project
) -> None:
    project.profile("dev.yaml", BASE.replace("  notifier:\n    type: console\n", ""))
    result = envres_cli("validate", cwd=project)
    line = _def_line(project, "daily_revenue")
    assert result.err_lines == [
        f"definitions: E501 asset 'daily_revenue' (pipeline.py:{line}) needs resource 'notifier', "
        "which profile 'dev' does not define",
        "1 problem in profile 'dev'",
    ]


def _def_line(project: Project, asset: str) -> int:
    """The 1-based line of the ``@envres.asset`` decorator, just above ``def asset(``."""
    lines = (project.root / "pipeline.py").read_text(encoding="utf-8").splitlines()
    return next(i for i, x in enumerate(lines) if x.startswith(f"def {asset}("))


def test_a_key_removed_with_null_is_traced_to_the_line_that_removed_it(
    envres_cli: Cli, project: Project
) -> None:
    project.profile("base.yaml", BASE)
    project.profile("dev.yaml", "extends: base\nresources:\n  notifier: null\n")
    result = envres_cli("validate", cwd=project)
    line = _def_line(project, "daily_revenue")
    assert result.err_lines == [
        f"definitions: E501 asset 'daily_revenue' (pipeline.py:{line}) needs resource 'notifier', "
        "which profile 'dev' removes (profiles/dev.yaml:3: notifier: null)",
        "1 problem in profile 'dev'",
    ]


def test_a_misspelled_resource_parameter_gets_a_did_you_mean(
    envres_cli: Cli, project: Project
) -> None:
    project.profile("dev.yaml", BASE.replace("  notifier:", "  notifyer:"))
    result = envres_cli("validate", cwd=project)
    assert result.err_lines[0].endswith(
        "needs resource 'notifier', which profile 'dev' does not define; did you mean 'notifyer'?"
    )


def test_a_misspelled_upstream_asset_gets_a_did_you_mean_naming_the_asset(
    envres_cli: Cli, project: Project
) -> None:
    project.write(
        "pipeline.py",
        (project.root / "pipeline.py")
        .read_text(encoding="utf-8")
        .replace("def daily_revenue(orders: str,", "def daily_revenue(order: str,"),
    )
    result = envres_cli("validate", cwd=project)
    assert result.code == 1
    assert result.err_lines[0].endswith(
        "needs resource 'order', which profile 'dev' does not define; "
        "did you mean the asset 'orders'?"
    )


def test_interface_annotation_must_be_satisfied(envres_cli: Cli, project: Project) -> None:
    project.profile(
        "dev.yaml",
        BASE.replace("type: duckdb", "type: cache").replace(
            "    config:\n      path: ${WAREHOUSE_PATH:-data/dev.duckdb}\n", ""
        ),
    )
    result = envres_cli("validate", cwd=project)
    assert result.code == 1
    assert result.err_lines == [
        "profiles/dev.yaml:3:11: E503 resources.warehouse.type: asset 'orders' expects a Warehouse "
        "for 'warehouse', but type 'cache' is a Cache",
        "1 problem in profile 'dev'",
    ]


def test_resource_dependency_cycle_prints_the_cycle(envres_cli: Cli, project: Project) -> None:
    project.profile(
        "dev.yaml",
        BASE
        + "  a:\n    type: report\n    config:\n      warehouse: {resource: b}\n"
        + "  b:\n    type: report\n    config:\n      warehouse: {resource: a}\n",
    )
    result = envres_cli("validate", cwd=project)
    assert (
        "profiles/dev.yaml:15:29: E502 resources.b: resource dependency cycle: a -> b -> a"
        in result.err_lines
    )
    assert result.code == 1


@pytest.mark.parametrize(
    ("added", "line"),
    [
        pytest.param(
            "  reporter:\n    type: report\n    config:\n      warehouse: {resource: warehous}\n",
            "profiles/dev.yaml:11:29: E502 resources.reporter.config.warehouse: refers to "
            "resource 'warehous', which the profile does not define; did you mean 'warehouse'?",
            id="undefined-key",
        ),
        pytest.param(
            "  cache:\n    type: cache\n"
            "  reporter:\n    type: report\n    config:\n      warehouse: {resource: cache}\n",
            "profiles/dev.yaml:13:29: E502 resources.reporter.config.warehouse: needs a "
            "Warehouse, but resource 'cache' is 'cache' (Cache)",
            id="wrong-interface",
        ),
    ],
)
def test_a_bad_resource_reference_is_one_problem_at_its_line(
    envres_cli: Cli, project: Project, added: str, line: str
) -> None:
    project.profile("dev.yaml", BASE + added)
    result = envres_cli("validate", cwd=project)
    assert result.code == 1
    assert result.err_lines == [line, "1 problem in profile 'dev'"]


def test_reference_to_the_right_interface_is_valid(envres_cli: Cli, project: Project) -> None:
    project.profile(
        "dev.yaml",
        BASE
        + "  reporter:\n    type: report\n    config:\n      warehouse: {resource: warehouse}\n",
    )
    result = envres_cli("validate", cwd=project)
    assert (result.code, result.err) == (0, "")


def test_validate_all_skips_partials_and_reports_each_profile(
    envres_cli: Cli, prod: Project
) -> None:
    prod.profile("_common.yaml", "resources: {}\n")
    result = envres_cli("validate", "--all", cwd=prod, env={"PG_PASSWORD": "pw-123"})
    assert result.code == 0
    assert result.out.splitlines() == [
        "profile 'base' is valid (2 resources, 2 assets)",
        "profile 'dev' is valid (2 resources, 2 assets)",
        "profile 'prod' is valid (2 resources, 2 assets)",
    ]


def test_validate_all_fails_if_any_profile_fails(envres_cli: Cli, prod: Project) -> None:
    result = envres_cli("validate", "--all", cwd=prod)
    assert result.code == 1
    assert "profile 'dev' is valid" in result.out
    assert result.err_lines[-1] == "1 of 3 profiles invalid: prod"


def test_missing_profile_exits_1(envres_cli: Cli, project: Project) -> None:
    result = envres_cli("validate", "--profile", "prd", cwd=project)
    assert result.code == 1
    assert result.err_lines == ["envres: E204 profile 'prd' does not exist (profiles: dev)"]


@pytest.mark.parametrize("given", ["dev.yaml", "profiles/dev.yaml", "./profiles/dev.yml"])
def test_a_profile_given_as_its_file_suggests_its_name(
    envres_cli: Cli, project: Project, given: str
) -> None:
    result = envres_cli("validate", "--profile", given, cwd=project)
    assert result.code == 1
    assert result.err_lines == [
        f"envres: E204 '{given}' is a file name; a profile is named without its folder and "
        "extension: did you mean 'dev'?"
    ]


def test_a_missing_profiles_folder_is_named_as_the_absolute_folder_looked_in(
    envres_cli: Cli, project: Project
) -> None:
    result = envres_cli("validate", "--profiles-dir", "profilez", cwd=project)
    assert result.code == 1
    looked_in = (project.root / "profilez").resolve()
    assert result.err_lines[0].startswith(
        f"envres: E204 profiles folder {looked_in} does not exist"
    )


def test_profile_from_environment_variable(envres_cli: Cli, prod: Project) -> None:
    result = envres_cli("validate", cwd=prod, env={"ENVRES_PROFILE": "base"})
    assert result.out == "profile 'base' is valid (2 resources, 2 assets)\n"


def test_flag_beats_environment_variable(envres_cli: Cli, prod: Project) -> None:
    result = envres_cli("validate", "--profile", "dev", cwd=prod, env={"ENVRES_PROFILE": "base"})
    assert result.out == "profile 'dev' is valid (2 resources, 2 assets)\n"


def test_default_profile_from_pyproject(envres_cli: Cli, prod: Project) -> None:
    prod.write(
        "pyproject.toml",
        '[tool.envres]\ndefinitions = "pipeline:defs"\ndefault_profile = "base"\n',
    )
    result = envres_cli("validate", cwd=prod)
    assert result.out == "profile 'base' is valid (2 resources, 2 assets)\n"


def test_profiles_dir_from_flag_and_environment(envres_cli: Cli, project: Project) -> None:
    project.write(
        "other/dev.yaml", BASE.replace("type: console", "type: slack\n    config: {channel: x}")
    )
    by_flag = envres_cli("show", "--profiles-dir", "other", cwd=project)
    by_env = envres_cli("show", cwd=project, env={"ENVRES_PROFILES_DIR": "other"})
    assert "type: slack" in by_flag.out
    assert by_flag.out == by_env.out


def test_project_flag_finds_pyproject_elsewhere(envres_cli: Cli, project: Project) -> None:
    result = envres_cli("validate", "--project", str(project.root), cwd=project.root.parent)
    assert (result.code, result.out) == (0, "profile 'dev' is valid (2 resources, 2 assets)\n")


def test_definitions_that_cannot_be_imported(envres_cli: Cli, project: Project) -> None:
    result = envres_cli("validate", "--definitions", "nope:defs", cwd=project)
    assert result.code == 1
    assert result.err_lines[0].startswith(
        "definitions: E504 cannot import definitions module 'nope'"
    )


def test_definitions_that_raise_on_import(envres_cli: Cli, project: Project) -> None:
    project.write("bad.py", "raise RuntimeError('boom')\n")
    result = envres_cli("validate", "--definitions", "bad:defs", cwd=project)
    assert result.code == 1
    assert result.err_lines[0] == "definitions: E504 importing 'bad' raised RuntimeError: boom"
    assert "Traceback" not in result.err


def test_unknown_flag_exits_2(envres_cli: Cli, project: Project) -> None:
    result = envres_cli("validate", "--bogus", cwd=project)
    assert result.code == 2
    assert "No such option '--bogus'" in result.err


def test_unknown_command_exits_2(envres_cli: Cli, project: Project) -> None:
    result = envres_cli("valdate", cwd=project)
    assert result.code == 2


def test_secret_that_fails_validation_is_never_printed(envres_cli: Cli, project: Project) -> None:
    class_text = (
        "resources:\n  warehouse:\n    type: postgres\n    config:\n      dsn: x\n"
        "      password: ${PW}\n      pool_size: ${PW}\n  notifier:\n    type: console\n"
    )
    project.profile("dev.yaml", class_text)
    canary = "canary-7f3a9c-secret"
    result = envres_cli("validate", "--debug", cwd=project, env={"PW": canary})
    assert result.code == 1
    assert canary not in result.out + result.err
    assert "input should be a valid integer (got '**********' from ${PW})" in result.err


def test_a_broken_resource_is_reported_once_not_again_by_each_asset(
    envres_cli: Cli, project: Project
) -> None:
    project.profile("dev.yaml", BASE.replace("type: duckdb", "type: nope"))
    result = envres_cli("validate", cwd=project)
    assert len(result.err_lines) == 2
    assert result.err_lines[0].startswith("profiles/dev.yaml:3:11: E301 resources.warehouse.type:")
    assert result.err_lines[1] == "1 problem in profile 'dev'"
