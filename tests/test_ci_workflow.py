"""`envres init --ci github`: the workflow it writes, its envres steps run as the runner would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import Cli

BIN = Path(sys.executable).parent


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    return done.stdout.decode()


def run_step(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A `run:` step as GitHub runs it: bash -e, the envres of this suite on PATH."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("ENVRES_")}
    full.update(env, PATH=f"{BIN}{os.pathsep}{full.get('PATH', '')}")
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_init_ci_github_writes_a_workflow_whose_steps_validate_and_diff(
    envres_cli: Cli, tmp_path: Path
) -> None:
    root = tmp_path / "shop"
    result = envres_cli("init", "--ci", "github", "--project", str(root))
    assert result.code == 0, result.err
    assert "created " + str(root / ".github/workflows/envres.yml") in result.out.splitlines()
    workflow = yaml.safe_load((root / ".github/workflows/envres.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["profiles"]["steps"]
    assert steps[0] == {"uses": "actions/checkout@v4", "with": {"fetch-depth": 0}}
    validate_step, diff_step = (s["run"] for s in steps if "envres " in s.get("run", ""))

    # A pull request: main as the target branch, a branch that changes prod and adds staging.
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "user.name", "dev")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    git(root, "update-ref", "refs/remotes/origin/main", "HEAD")
    prod = root / "profiles/prod.yaml"
    prod.write_text(
        prod.read_text().replace(
            "${WAREHOUSE_PATH:?set WAREHOUSE_PATH to the production database file}",
            "${WAREHOUSE_PATH:-/srv/prod.db}",
        )
    )
    (root / "profiles/staging.yaml").write_text("extends: base\n")

    validated = run_step(validate_step, root)
    assert validated.returncode == 0, validated.stderr
    assert "profile 'prod' is valid (2 resources, 2 assets)" in validated.stdout

    diffed = run_step(diff_step, root, GITHUB_BASE_REF="main")
    assert diffed.returncode == 0, diffed.stderr
    notices = [x for x in diffed.stdout.splitlines() if x.startswith("::notice")]
    assert "::notice file=profiles/staging.yaml::new profile 'staging'" in notices
    assert (
        "::notice file=profiles/prod.yaml,line=6,col=13,title=envres diff::"
        "warehouse: ~ path: <not set> -> /srv/prod.db"
    ) in notices


def test_init_without_ci_writes_no_workflow(envres_cli: Cli, tmp_path: Path) -> None:
    result = envres_cli("init", "--project", str(tmp_path / "p"))
    assert result.code == 0
    assert not (tmp_path / "p/.github").exists()
