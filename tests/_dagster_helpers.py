"""What the Dagster test modules share: a DAGSTER_HOME of a test's own, the environment
the `dagster` command runs in, and the command itself (a real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.conftest import Project


def new_dagster_home(tmp_path: Path) -> Path:
    """A persistent DAGSTER_HOME for one test (its event log and run storage)."""
    path = tmp_path / "dagster_home"
    path.mkdir()
    (path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return path


def dagster_environ(project: Project, home: Path, **values: str) -> dict[str, str]:
    """This process's environment without its ENVRES_ and DAGSTER_ variables, pointed
    at the project (import path and envres project) and at ``home``, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENVRES_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(home),
        PYTHONPATH=str(project.root),
        ENVRES_PROJECT=str(project.root),
    )
    env.update(values)
    return env


def dagster(*args: str, env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The `dagster` command as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "dagster", *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
