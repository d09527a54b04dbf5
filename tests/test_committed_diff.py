"""`envres diff NAME@REV ...`: profiles as committed, read through real git repositories."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Cli, Project, make_project

PG = """\
resources:
  warehouse:
    type: postgres
    config:
      dsn: postgresql://db.internal/shop
      password: ${PG_PASSWORD}
      pool_size: 5
"""

PROD = """\
extends: _pg
env_files: [.env.prod]
resources:
  notifier:
    type: slack
    config:
      channel: "#alerts"
      token: ${SLACK_TOKEN}
"""

#: Secrets committed in env files at each revision; none may ever be printed.
TOKEN_1 = "xtok-first-7d41c9"
TOKEN_2 = "xtok-second-0be5a2"
PW = "pg-pass-91f3e0"


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Project:
    """A project in a git repository with three commits:

    1. prod does not exist yet (only dev);
    2. prod extends the partial _pg, its env file holds TOKEN_1;
    3. _pg renamed _postgres (pool_size 10), the env file holds TOKEN_2.
    """
    project = make_project(tmp_path / "repo")
    root = project.root
    git(root, "init", "-q")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "user.name", "dev")
    git(root, "config", "commit.gpgsign", "false")
    commit(root, "dev only")
    project.profile("_pg.yaml", PG)
    project.profile("prod.yaml", PROD)
    project.write("profiles/.env.prod", f"SLACK_TOKEN={TOKEN_1}\n")
    commit(root, "prod")
    (root / "profiles/_pg.yaml").unlink()
    project.profile("_postgres.yaml", PG.replace("pool_size: 5", "pool_size: 10"))
    project.profile("prod.yaml", PROD.replace("extends: _pg", "extends: _postgres"))
    project.write("profiles/.env.prod", f"SLACK_TOKEN={TOKEN_2}\n")
    commit(root, "rename the partial, a bigger pool, a new token")
    return project


def never_shown(*texts: str) -> None:
    for secret in (TOKEN_1, TOKEN_2, PW):
        for text in texts:
            assert secret not in text


def test_a_revision_is_resolved_with_its_own_renamed_partial_and_env_file(
    envres_cli: Cli, repo: Project
) -> None:
    result = envres_cli("diff", "prod@HEAD~1", "prod@HEAD", cwd=repo.root, env={"PG_PASSWORD": PW})
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "--- prod@HEAD~1",
        "+++ prod@HEAD",
        "~ warehouse (postgres)",
        "    ~ pool_size: 5 -> 10",
        "~ notifier (slack)",
        "    ~ token: (changed)",
        "Plan: 0 to add, 2 to change, 0 to remove.",
    ]
    never_shown(result.out, result.err)


def test_the_working_tree_against_a_branch_shows_uncommitted_changes(
    envres_cli: Cli, repo: Project
) -> None:
    branch = git(repo.root, "rev-parse", "--abbrev-ref", "HEAD").strip()
    repo.profile(
        "prod.yaml",
        PROD.replace("extends: _pg", "extends: _postgres").replace("#alerts", "#alerts-prod")
        + "  cache:\n    type: cache\n    config:\n      size: 3\n",
    )
    result = envres_cli("diff", f"prod@{branch}", "prod", cwd=repo.root)
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        f"--- prod@{branch}",
        "+++ prod",
        "~ notifier (slack)",
        "    ~ channel: '#alerts' -> '#alerts-prod'",
        "+ cache (cache)",
        "    + size: 3",
        "Plan: 1 to add, 1 to change, 0 to remove.",
    ]


def test_reading_revisions_never_touches_the_working_tree(envres_cli: Cli, repo: Project) -> None:
    repo.profile("prod.yaml", PROD.replace("extends: _pg", "extends: _postgres") + "# edited\n")
    (repo.root / "untracked.txt").write_text("x", encoding="utf-8")
    before = (git(repo.root, "status", "--porcelain"), git(repo.root, "rev-parse", "HEAD"))
    files = {
        p: p.read_bytes() for p in repo.root.rglob("*") if p.is_file() and ".git" not in p.parts
    }
    result = envres_cli("diff", "prod@HEAD~1", "prod", cwd=repo.root)
    assert result.code == 0, result.err
    after = (git(repo.root, "status", "--porcelain"), git(repo.root, "rev-parse", "HEAD"))
    assert after == before
    assert {p: p.read_bytes() for p in files} == files
    assert not (repo.root / "profiles/_pg.yaml").exists()


def test_a_revision_where_the_profile_does_not_exist_yet_is_one_line_exit_1(
    envres_cli: Cli, repo: Project
) -> None:
    result = envres_cli("diff", "prod@HEAD~2", "prod", cwd=repo.root)
    assert (result.code, result.out) == (1, "")
    assert len(result.err_lines) == 1, result.err
    assert re.fullmatch(
        r"envres: E204 profile 'prod' does not exist at revision 'HEAD~2' \([0-9a-f]{12}\) "
        r"\(profiles there: dev\)",
        result.err_lines[0],
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("prod@no-such-branch", "envres: unknown revision 'no-such-branch' in the git repository"),
        ("prod@", "envres: 'prod@' names no revision after '@' (e.g. prod@main, prod@HEAD~1)"),
        ("prod@--output=x", "envres: '--output=x' is not a revision"),
    ],
)
def test_a_bad_revision_is_one_line_exit_2(
    envres_cli: Cli, repo: Project, spec: str, message: str
) -> None:
    result = envres_cli("diff", spec, "prod", cwd=repo.root)
    assert (result.code, result.out) == (2, "")
    assert len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith(message)
    assert not (repo.root / "x").exists()


def test_outside_a_git_repository_is_one_line_exit_2(envres_cli: Cli, project: Project) -> None:
    result = envres_cli("diff", "dev@HEAD", "dev", cwd=project.root)
    assert (result.code, result.out) == (2, "")
    assert result.err_lines == ["envres: . is not in a git repository: cannot read revision 'HEAD'"]


def test_a_project_in_a_subfolder_of_the_repository(envres_cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "mono"
    project = make_project(root / "pipelines" / "shop")
    git(root, "init", "-q")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "user.name", "dev")
    commit(root, "shop")
    project.profile(
        "dev.yaml",
        project.root.joinpath("profiles/dev.yaml")
        .read_text()
        .replace("data/dev.duckdb", "data/other.duckdb"),
    )
    result = envres_cli("diff", "dev@HEAD", "dev", cwd=project.root)
    assert result.code == 0, result.err
    assert "    ~ path: data/dev.duckdb -> data/other.duckdb" in result.out.splitlines()


def test_a_secret_moved_from_a_literal_to_a_variable_is_unchanged_and_a_new_one_changed(
    envres_cli: Cli, repo: Project
) -> None:
    repo.profile(
        "prod.yaml",
        PROD.replace("extends: _pg", "extends: _postgres").replace("${SLACK_TOKEN}", TOKEN_2),
    )
    commit(repo.root, "the token written in the profile (the same value)")
    repo.profile(
        "prod.yaml",
        PROD.replace("extends: _pg", "extends: _postgres").replace("${SLACK_TOKEN}", TOKEN_1),
    )
    same = envres_cli("diff", "prod@HEAD~1", "prod@HEAD", cwd=repo.root)
    changed = envres_cli("diff", "prod@HEAD", "prod", cwd=repo.root)
    assert same.out.splitlines()[2:] == [
        "~ notifier (slack)",
        "    ~ token: (unchanged)",
        "Plan: 0 to add, 1 to change, 0 to remove.",
    ]
    assert changed.out.splitlines()[2:] == [
        "~ notifier (slack)",
        "    ~ token: (changed)",
        "Plan: 0 to add, 1 to change, 0 to remove.",
    ]
    never_shown(same.out, same.err, changed.out, changed.err)


def test_exit_code_says_whether_the_profiles_differ(envres_cli: Cli, repo: Project) -> None:
    differ = envres_cli("diff", "prod@HEAD~1", "prod", "--exit-code", cwd=repo.root)
    same = envres_cli("diff", "prod@HEAD", "prod", "--exit-code", cwd=repo.root)
    plain = envres_cli("diff", "prod@HEAD~1", "prod", cwd=repo.root)
    assert (differ.code, same.code, plain.code) == (1, 0, 0)
    assert differ.out == plain.out and differ.err == ""
    assert same.out == "profiles 'prod@HEAD' and 'prod' resolve the same\n"


def test_json_gives_the_plan_as_data_secrets_only_as_changed(
    envres_cli: Cli, repo: Project
) -> None:
    result = envres_cli("diff", "prod@HEAD~1", "prod@HEAD", "--format", "json", cwd=repo.root)
    assert result.code == 0, result.err
    assert json.loads(result.out) == {
        "a": "prod@HEAD~1",
        "b": "prod@HEAD",
        "differ": True,
        "changes": [
            {
                "change": "change",
                "resource": "warehouse",
                "type": {"before": "postgres", "after": "postgres"},
                "values": [{"change": "change", "field": "pool_size", "before": 5, "after": 10}],
            },
            {
                "change": "change",
                "resource": "notifier",
                "type": {"before": "slack", "after": "slack"},
                "values": [
                    {"change": "change", "field": "token", "secret": True, "value": "changed"}
                ],
            },
        ],
        "problems": [],
    }
    never_shown(result.out, result.err)


def test_github_format_puts_each_change_on_the_line_that_makes_it(
    envres_cli: Cli, repo: Project
) -> None:
    repo.profile("_postgres.yaml", PG.replace("pool_size: 5", "pool_size: 20"))
    result = envres_cli("diff", "prod@HEAD", "prod", "--format", "github", cwd=repo.root)
    assert result.code == 0, result.err
    notices = [line for line in result.out.splitlines() if line.startswith("::notice ")]
    assert notices == [
        "::notice file=profiles/_postgres.yaml,line=7,col=18,title=envres diff::"
        "warehouse: ~ pool_size: 10 -> 20",
    ]
    # Each notice points at the very value it names.
    line = (repo.root / "profiles/_postgres.yaml").read_text().splitlines()[6]
    assert line[17:] == "20"


def test_where_an_unset_secret_is_read_from_changing_is_shown_without_the_secrets(
    envres_cli: Cli, repo: Project
) -> None:
    # CI holds no secrets: both sides are unset, yet the password now comes from
    # another variable, and the review must say so.
    branch = git(repo.root, "rev-parse", "--abbrev-ref", "HEAD").strip()
    repo.profile(
        "_postgres.yaml",
        PG.replace("pool_size: 5", "pool_size: 10").replace("${PG_PASSWORD}", "${OTHER_PASSWORD}"),
    )
    result = envres_cli("diff", f"prod@{branch}", "prod", cwd=repo.root)
    assert result.code == 0, result.err
    assert "    ~ password: (changed)" in result.out.splitlines()
