"""`profiles`, `show`, `env`, `diff`, `schema` and `init`: what they print and their exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import BASE, Cli, Project, run_real

PROD = """\
extends: base
env_files: [.env.prod]
resources:
  warehouse:
    type: postgres
    config:
      dsn: ${PG_DSN}
      password: ${PG_PASSWORD}
      pool_size: ${PG_POOL:-10}
  notifier:
    type: slack
    config:
      channel: "#alerts-{{ env('TEAM', 'data') }}-{{ profile }}"
"""


@pytest.fixture
def prod(project: Project) -> Project:
    project.profile("base.yaml", BASE)
    project.profile("dev.yaml", "extends: base\n")
    project.profile("prod.yaml", PROD)
    project.profile("_common.yaml", "resources: {}\n")
    project.write("profiles/.env.prod", "PG_DSN=postgresql://db.internal/shop\nPG_POOL=20\n")
    return project


def test_profiles_lists_name_extends_and_file(envres_cli: Cli, prod: Project) -> None:
    result = envres_cli("profiles", cwd=prod)
    assert result.code == 0
    assert result.out.splitlines() == [
        "PROFILE            EXTENDS  FILE",
        "_common (partial)  -        profiles/_common.yaml",
        "base               -        profiles/base.yaml",
        "dev                base     profiles/dev.yaml",
        "prod               base     profiles/prod.yaml",
    ]


def test_show_prints_the_merged_interpolated_validated_profile(
    envres_cli: Cli, prod: Project
) -> None:
    result = envres_cli("show", "--profile", "prod", cwd=prod, env={"PG_PASSWORD": "hunter22"})
    assert result.code == 0, result.err
    assert yaml.safe_load(result.out) == {
        "resources": {
            "warehouse": {
                "type": "postgres",
                "config": {
                    "dsn": "postgresql://db.internal/shop",
                    "password": "**********",
                    "pool_size": 20,
                },
            },
            "notifier": {
                "type": "slack",
                "config": {"channel": "#alerts-data-prod", "token": None},
            },
        }
    }
    assert "hunter22" not in result.out + result.err


def test_show_json_has_the_same_data(envres_cli: Cli, prod: Project) -> None:
    env = {"PG_PASSWORD": "hunter22"}
    as_yaml = envres_cli("show", "--profile", "prod", cwd=prod, env=env)
    as_json = envres_cli("show", "--profile", "prod", "--format", "json", cwd=prod, env=env)
    assert json.loads(as_json.out) == yaml.safe_load(as_yaml.out)


def test_show_includes_defaults_of_unset_fields(envres_cli: Cli, project: Project) -> None:
    result = envres_cli("show", cwd=project)
    data = yaml.safe_load(result.out)
    assert data["resources"]["warehouse"]["config"] == {
        "path": "data/dev.duckdb",
        "read_only": False,
    }


def test_show_explain_says_where_each_value_came_from(envres_cli: Cli, prod: Project) -> None:
    result = envres_cli(
        "show", "--profile", "prod", "--explain", cwd=prod, env={"PG_PASSWORD": "hunter22"}
    )
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert "    type: postgres  # profiles/prod.yaml:5" in lines
    assert (
        "      dsn: postgresql://db.internal/shop  # profiles/prod.yaml:7 <- ${PG_DSN} "
        "(env file profiles/.env.prod)"
    ) in lines
    assert (
        "      password: '**********'  # profiles/prod.yaml:8 <- ${PG_PASSWORD} (environment)"
        in lines
    )
    assert (
        "      pool_size: 20  # profiles/prod.yaml:9 <- ${PG_POOL:-10} (env file "
        "profiles/.env.prod)"
    ) in lines
    assert "      token: null  # default of slack_config.token" in lines
    assert any(
        line.startswith("      channel: '#alerts-data-prod'  # profiles/prod.yaml:13 <- ")
        and "template" in line
        for line in lines
    )


def test_show_explain_marks_a_default_that_was_used(envres_cli: Cli, project: Project) -> None:
    result = envres_cli("show", "--explain", cwd=project)
    assert (
        "      path: data/dev.duckdb  # profiles/dev.yaml:5 <- "
        "${WAREHOUSE_PATH:-data/dev.duckdb} (not set, default used)"
    ) in result.out.splitlines()


def test_show_explain_names_the_line_and_the_variable_of_an_unset_value(
    envres_cli: Cli, prod: Project
) -> None:
    result = envres_cli("show", "--profile", "prod", "--explain", "--allow-missing-env", cwd=prod)
    assert result.code == 0, result.err
    assert (
        "      password: <not set>  # profiles/prod.yaml:8 <- ${PG_PASSWORD} (not set)"
    ) in result.out.splitlines()


def test_show_explain_json_has_an_explain_map(envres_cli: Cli, project: Project) -> None:
    result = envres_cli("show", "--explain", "--format", "json", cwd=project)
    data = json.loads(result.out)
    assert data["explain"]["resources.warehouse.config.read_only"] == (
        "default of DuckDBWarehouse.read_only"
    )


def test_show_fails_on_unset_variable_unless_allowed(envres_cli: Cli, prod: Project) -> None:
    strict = envres_cli("show", "--profile", "prod", cwd=prod)
    assert strict.code == 1
    assert strict.out == ""
    lenient = envres_cli("show", "--profile", "prod", "--allow-missing-env", cwd=prod)
    assert lenient.code == 0
    data = yaml.safe_load(lenient.out)
    assert data["resources"]["warehouse"]["config"]["password"] == "<not set>"


def test_env_lists_variables_state_default_and_use(envres_cli: Cli, prod: Project) -> None:
    result = envres_cli(
        "env", "--profile", "prod", cwd=prod, env={"PG_PASSWORD": "hunter22", "TEAM": "core"}
    )
    assert result.code == 0, result.err
    rows = {line.split()[0]: line for line in result.out.splitlines()[1:]}
    assert set(rows) == {"PG_DSN", "PG_PASSWORD", "PG_POOL", "TEAM"}
    assert "set (profiles/.env.prod)" in rows["PG_DSN"]
    assert "postgresql://db.internal/shop" in rows["PG_DSN"]
    assert "set (environment)" in rows["PG_PASSWORD"] and "**********" in rows["PG_PASSWORD"]
    assert "hunter22" not in result.out
    assert rows["PG_POOL"].split()[3:5] == ["20", "10"]
    assert rows["PG_POOL"].endswith("profiles/prod.yaml:9 resources.warehouse.config.pool_size")
    assert "core" in rows["TEAM"]


def test_env_does_not_list_variables_of_overridden_entries(envres_cli: Cli, prod: Project) -> None:
    result = envres_cli("env", "--profile", "prod", cwd=prod, env={"PG_PASSWORD": "x"})
    assert "WAREHOUSE_PATH" not in result.out


def test_env_shows_unset_variables(envres_cli: Cli, prod: Project) -> None:
    result = envres_cli("env", "--profile", "prod", cwd=prod)
    assert result.code == 0, result.err
    row = next(line for line in result.out.splitlines() if line.startswith("PG_PASSWORD"))
    assert row.split()[1:3] == ["not", "set"]


def test_diff_shows_what_differs_with_secrets_masked(envres_cli: Cli, prod: Project) -> None:
    result = envres_cli("diff", "dev", "prod", cwd=prod, env={"PG_PASSWORD": "hunter22"})
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "--- dev",
        "+++ prod",
        "~ warehouse: type duckdb -> postgres",
        "    - path: data/dev.duckdb",
        "    - read_only: false",
        "    + dsn: postgresql://db.internal/shop",
        "    + password: '**********'",
        "    + pool_size: 20",
        "~ notifier: type console -> slack",
        "    - prefix: ''",
        "    + channel: '#alerts-data-prod'",
        "    + token: null",
        "Plan: 0 to add, 2 to change, 0 to remove.",
    ]
    assert "hunter22" not in result.out


def test_diff_of_identical_profiles_exits_0(envres_cli: Cli, prod: Project) -> None:
    result = envres_cli("diff", "base", "dev", cwd=prod)
    assert (result.code, result.out) == (0, "profiles 'base' and 'dev' resolve the same\n")


def test_diff_reports_a_changed_secret_without_showing_it(envres_cli: Cli, prod: Project) -> None:
    prod.profile(
        "prod2.yaml",
        "extends: prod\nresources:\n  warehouse:\n    config:\n      password: other-secret\n",
    )
    result = envres_cli("diff", "prod", "prod2", cwd=prod, env={"PG_PASSWORD": "hunter22"})
    assert result.out.splitlines()[2:] == [
        "~ warehouse (postgres)",
        "    ~ password: (changed)",
        "~ notifier (slack)",
        "    ~ channel: '#alerts-data-prod' -> '#alerts-data-prod2'",
        "Plan: 0 to add, 2 to change, 0 to remove.",
    ]
    assert "hunter22" not in result.out and "other-secret" not in result.out


def test_diff_of_missing_profile_exits_1(envres_cli: Cli, prod: Project) -> None:
    result = envres_cli("diff", "dev", "nope", cwd=prod)
    assert result.code == 1
    assert "profile 'nope' does not exist" in result.err


def test_schema_describes_every_registered_type(envres_cli: Cli, project: Project) -> None:
    result = envres_cli("schema", cwd=project)
    assert result.code == 0
    schema = json.loads(result.out)
    assert set(schema["properties"]) == {"extends", "env_files", "resources"}
    assert {"duckdb", "postgres", "console", "slack", "report", "cache"} <= set(schema["$defs"])
    pg = schema["$defs"]["postgres"]["properties"]["config"]
    assert pg["required"] == ["dsn", "password"]
    assert pg["additionalProperties"] is False
    # A field is what its type accepts, or an interpolated string, or a reference; the
    # annotations stay outside, for an editor's hover.
    password = pg["properties"]["password"]
    assert password["writeOnly"] is True
    literal, interpolated, reference = password["anyOf"]
    assert literal == {"format": "password", "type": "string"}
    assert interpolated == {"type": "string", "pattern": r"\$\{|\{\{|\{%"}
    assert reference["required"] == ["resource"]


def test_schema_validates_a_real_profile(envres_cli: Cli, prod: Project) -> None:
    import jsonschema

    schema = json.loads(envres_cli("schema", cwd=prod).out)
    for name in ("base.yaml", "prod.yaml"):
        jsonschema.validate(yaml.safe_load((prod.root / "profiles" / name).read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"resources": {"w": {"type": "duckdb", "config": {"x": 1}}}}, schema)


def test_init_scaffolds_a_project_that_validates_and_runs(envres_cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "new"
    created = envres_cli("init", "--project", str(folder), cwd=tmp_path)
    assert created.code == 0, created.err
    assert (folder / "profiles" / "dev.yaml").is_file()
    validated = envres_cli("validate", cwd=folder)
    assert (validated.code, validated.out) == (
        0,
        "profile 'dev' is valid (2 resources, 2 assets)\n",
    )
    ran = envres_cli("run", cwd=folder)
    assert ran.code == 0, ran.err
    assert "[dev] total is 6" in ran.out
    assert ran.out.splitlines()[-1].startswith("2 succeeded in ")


def test_init_makes_a_project_whose_own_pytest_passes_and_that_runs_from_a_subfolder(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "new"
    created = run_real("init", "--project", str(folder), cwd=tmp_path)
    assert created.code == 0, created.err
    assert created.out.splitlines()[-1] == (
        "next: envres validate && envres run && python -m pytest"
    )
    assert ".env" in (folder / ".gitignore").read_text().splitlines()
    assert (folder / ".env.example").is_file()
    assert "type: ignore" not in (folder / "pipeline.py").read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENVRES_", "PYTEST_"))}
    env.pop("PYTHONPATH", None)
    # Plain pytest, as the user types it: the made project's settings make pipeline
    # importable and its test uses envres's fixtures.
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "2 passed" in tested.stdout
    assert run_real("validate", cwd=folder / "tests").out == (
        "profile 'dev' is valid (2 resources, 2 assets)\n"
    )
    ran = run_real("run", cwd=folder / "tests")
    assert ran.code == 0, ran.err
    assert "[dev] total is 6" in ran.out


def test_init_refuses_to_overwrite(envres_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "dev.yaml").write_text("resources: {}\n")
    result = envres_cli("init", cwd=tmp_path)
    assert result.code == 1
    assert result.err_lines[0] == (
        "envres init: E602 profiles/dev.yaml already exists; envres init never overwrites a file"
    )
    assert (tmp_path / "profiles" / "dev.yaml").read_text() == "resources: {}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["profiles"]


def test_init_in_a_folder_with_a_pyproject_appends_the_table_and_says_what_is_left_to_do(
    envres_cli: Cli, tmp_path: Path
) -> None:
    original = '[project]\nname = "mine"\n\n[tool.ruff]\nline-length = 99'  # no final newline
    (tmp_path / "pyproject.toml").write_text(original)
    (tmp_path / ".gitignore").write_text("*.pyc")
    result = envres_cli("init", cwd=tmp_path)
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == (
        "appended [tool.envres] to pyproject.toml (its dependencies are yours: add envres to "
        'them, and pythonpath = ["."] to pytest\'s settings so tests can import pipeline)'
    )
    assert "created profiles/dev.yaml" in result.out.splitlines()
    assert "added .env to .gitignore" in result.out.splitlines()
    assert (tmp_path / ".gitignore").read_text() == "*.pyc\n.env\n"
    data = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    assert data["project"] == {"name": "mine"}
    assert data["tool"]["ruff"] == {"line-length": 99}
    assert data["tool"]["envres"]["definitions"] == "pipeline:defs"


@pytest.mark.parametrize(
    "existing",
    [
        '[tool.envres]\ndefinitions = "x:y"\n',
        '[tool]\nenvres = { definitions = "x:y" }\n',
        '[tool."envres"]\ndefinitions = "x:y"\n',
        'tool.envres.definitions = "x:y"\n',
    ],
    ids=["table", "inline", "quoted", "dotted"],
)
def test_init_refuses_any_spelling_of_an_existing_envres_table_and_writes_nothing(
    envres_cli: Cli, tmp_path: Path, existing: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(existing)
    result = envres_cli("init", cwd=tmp_path)
    assert result.code == 1
    assert result.err_lines == [
        "envres init: E602 pyproject.toml already has a [tool.envres] table; envres init only "
        "writes into a project without one",
        "1 problem",
    ]
    assert (tmp_path / "pyproject.toml").read_text() == existing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]


def test_init_refuses_an_invalid_pyproject_and_writes_nothing(
    envres_cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\nname = 1\n")
    result = envres_cli("init", cwd=tmp_path)
    assert result.code == 1
    assert result.err_lines[0].startswith(
        "envres init: E602 pyproject.toml cannot be read as TOML ("
    )
    assert result.err_lines[0].endswith("); fix it first")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]


def test_init_refuses_a_profiles_file_and_leaves_no_half_written_project(
    envres_cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "profiles").write_text("not a folder\n")
    result = envres_cli("init", cwd=tmp_path)
    assert result.code == 1
    assert "profiles exists and is not a folder" in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["profiles"]
