"""One rule for --profile/-p: before or after the command; refused where no profile is used."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BASE, Cli, Project, make_project

PROD = """\
resources:
  warehouse:
    type: duckdb
    config:
      path: prod.duckdb
  notifier:
    type: console
"""


@pytest.fixture
def two(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj", profiles={"dev.yaml": BASE, "prod.yaml": PROD})


@pytest.mark.parametrize(
    "argv",
    [
        ("--profile", "prod", "show"),
        ("-p", "prod", "show"),
        ("show", "--profile", "prod"),
        ("show", "-p", "prod"),
        ("-p", "prod", "show", "-p", "prod"),
    ],
)
def test_profile_is_the_same_before_and_after_the_command(
    envres_cli: Cli, two: Project, argv: tuple[str, ...]
) -> None:
    result = envres_cli(*argv, cwd=two.root)
    assert result.code == 0, result.err
    assert "path: prod.duckdb" in result.out


@pytest.mark.parametrize("command", ["validate", "env", "graph", "run", "check"])
def test_every_command_that_uses_a_profile_honours_it_before_the_command(
    envres_cli: Cli, two: Project, command: str
) -> None:
    result = envres_cli("-p", "nosuch", command, cwd=two.root)
    assert result.code == 1
    assert "nosuch" in result.err_lines[0]


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (("profiles", "--profile", "nosuch"), "'profiles' uses no profile (it lists them all)"),
        (("-p", "dev", "profiles"), "'profiles' uses no profile (it lists them all)"),
        (("schema", "-p", "dev"), "'schema' uses no profile (it describes the format of every"),
        (("-p", "dev", "assets"), "'assets' uses no profile (it lists the definitions' assets)"),
        (
            ("diff", "dev", "prod", "--profile", "dev"),
            "'diff' uses no profile (it compares the two it names: envres diff A B)",
        ),
        (("-p", "dev", "init"), "'init' uses no profile (it writes dev and prod)"),
        (("validate", "--all", "-p", "dev"), "--all validates every profile"),
        (("-p", "dev", "validate", "--all"), "--all validates every profile"),
        (("-p", "dev", "show", "-p", "prod"), "--profile given twice: 'dev' before the command"),
    ],
)
def test_a_profile_a_command_cannot_use_is_one_usage_line(
    envres_cli: Cli, two: Project, argv: tuple[str, ...], line: str
) -> None:
    result = envres_cli(*argv, cwd=two.root)
    assert result.code == 2
    assert len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith(f"envres: {line}")
    assert result.out == ""


def test_commands_that_use_no_profile_do_not_offer_the_flag_in_their_help(
    envres_cli: Cli, two: Project
) -> None:
    assert "--profile " not in envres_cli("profiles", "--help", cwd=two.root).out
    assert "-p, --profile" in envres_cli("show", "--help", cwd=two.root).out
    assert "-p, --profile" in envres_cli("--help", cwd=two.root).out
