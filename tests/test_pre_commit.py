"""The repository's .pre-commit-hooks.yaml, run by the real pre-commit as a user's repo would.

`pre-commit try-repo` installs envres from this repository's path into the hook's own
virtualenv (its dependencies come from the package index) and runs the hook in a
temporary git repository: a good profile passes, a bad one fails on its line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import BASE, make_project

ROOT = Path(__file__).resolve().parent.parent
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def try_repo(repo: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENVRES_", "VIRTUAL_ENV"))}
    env["PRE_COMMIT_HOME"] = str(home)
    return subprocess.run(
        [str(PRE_COMMIT), "try-repo", str(ROOT), "envres-validate", "--all-files"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_the_hook_passes_a_good_profile_and_fails_a_bad_one_on_its_line(tmp_path: Path) -> None:
    repo = make_project(tmp_path / "user").root
    git(repo, "init", "-q")
    git(repo, "add", "-A")  # try-repo runs on what is staged (--all-files: every tracked file)
    home = tmp_path / "pre-commit-home"

    good = try_repo(repo, home)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "envres validate" in good.stdout and "Passed" in good.stdout

    (repo / "profiles/prod.yaml").write_text(
        BASE.replace(
            "type: console",
            "type: slack\n    config:\n      channel: alerts\n      token: xoxb-1234-abcdefghij",
        ),
        encoding="utf-8",
    )
    git(repo, "add", "-A")
    bad = try_repo(repo, home)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout
    assert "profile 'dev' is valid" in bad.stdout
    assert "profiles/prod.yaml:10:14: E701 resources.notifier.config.token: " in bad.stdout
    assert "1 of 2 profiles invalid: prod" in bad.stdout
    assert "xoxb-1234-abcdefghij" not in bad.stdout + bad.stderr


def test_the_hooks_run_on_profiles_env_files_and_pyproject_only() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))

    for hook in hooks:
        assert hook["entry"] == "envres validate --all --allow-missing-env"
        assert hook["pass_filenames"] is False
        files = re.compile(hook["files"])
        for path in (
            "profiles/prod.yaml",
            "deploy/profiles/_base.yml",
            ".env",
            "profiles/.env.prod",
            "config/prod.env",
            "pyproject.toml",
            "sub/pyproject.toml",
        ):
            assert files.search(path), path
        for path in ("README.md", ".github/workflows/ci.yaml", "pipeline.py", "environment.yml"):
            assert not files.search(path), path
