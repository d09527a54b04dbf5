"""`--format github` and `--format json` for validate, diff and check: what CI reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

from envres._secrets import MASK
from tests.conftest import BASE, Cli, make_project, text_line
from tests.test_check import CHECKS
from tests.test_check import PROFILE as CHECK_PROFILE

# The runner's own parsing of a workflow command: `::kind props::message`.
COMMAND = re.compile(r"::(?P<kind>error|warning|notice)(?: (?P<props>[^:]*))?::(?P<message>.*)")


def unescape(text: str) -> str:
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


def parse(line: str) -> dict[str, str]:
    """A workflow command line back into its kind, properties and message."""
    m = COMMAND.fullmatch(line)
    assert m is not None, line
    props = dict(p.split("=", 1) for p in (m["props"] or "").split(",") if p)
    return {
        "kind": m["kind"],
        **{k: unescape(v) for k, v in props.items()},
        "message": unescape(m["message"]),
    }


BROKEN = """\
resources:
  warehouse:
    type: duckdbb
    config:
      path: ${WAREHOUSE_PATH:-data/dev.duckdb}
  notifier:
    type: slack
    config:
      channel: "#alerts"
      token: ${SLACK_TOKEN}
  pool:
    type: cache
    config:
      size: ${POOL_SIZE}
"""


def broken_project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "proj", {"dev.yaml": BROKEN}).root
    return root


def test_github_lines_parse_back_to_the_exact_place_of_each_problem(
    envres_cli: Cli, tmp_path: Path
) -> None:
    root = broken_project(tmp_path)
    env = {"POOL_SIZE": "seven", "SLACK_TOKEN": "tok-9f2c1e-secret"}
    text = envres_cli("validate", cwd=root, env=env)
    github = envres_cli("validate", "--format", "github", cwd=root, env=env)
    assert text.code == github.code == 1
    commands = [parse(line) for line in github.out.splitlines()]
    assert [(c["kind"], c["title"]) for c in commands] == [("error", "E301"), ("error", "E303")]
    # The same places as the text lines, and each is where the offending value is written.
    places = [re.match(r"(.+?):(\d+):(\d+): ", line) for line in text.err_lines[:2]]
    assert [(c["file"], c["line"], c["col"]) for c in commands] == [
        (m[1], m[2], m[3]) for m in places if m is not None
    ]
    lines = (root / "profiles/dev.yaml").read_text(encoding="utf-8").splitlines()
    written = [lines[int(c["line"]) - 1][int(c["col"]) - 1 :] for c in commands]
    assert written == ["duckdbb", "${POOL_SIZE}"]
    assert commands[1]["message"] == (
        "resources.pool.config.size: input should be a valid integer (got 'seven' from "
        "${POOL_SIZE}) (profile 'dev')"
    )
    assert github.err_lines == ["2 problems in profile 'dev'"]


def test_github_warnings_are_warnings_and_a_secret_stays_masked(
    envres_cli: Cli, tmp_path: Path
) -> None:
    secret = "s3cret-pool-6d1f"
    profile = BASE + "  pool:\n    type: cache\n    config:\n      size: ${POOL_TOKEN}\n"
    root = make_project(tmp_path / "proj", {"dev.yaml": profile}).root
    failed = envres_cli("validate", "--format", "github", cwd=root, env={"POOL_TOKEN": secret})
    warned = envres_cli("validate", "--format", "github", "--allow-missing-env", cwd=root)
    assert failed.code == 1 and warned.code == 0
    (error,) = [parse(line) for line in failed.out.splitlines()]
    assert error["message"] == (
        f"resources.pool.config.size: input should be a valid integer (got '{MASK}' from "
        "${POOL_TOKEN}) (profile 'dev')"
    )
    assert secret not in failed.out + failed.err
    commands = [parse(x) for x in warned.out.splitlines() if x.startswith("::")]
    assert [(c["kind"], c["title"], c["line"], c["col"]) for c in commands] == [
        ("warning", "E401", "11", "13")
    ]
    assert (
        warned.out.splitlines()[-1] == "profile 'dev' is valid (3 resources, 2 assets, 1 warning)"
    )


def test_github_escapes_what_would_end_a_command_early(envres_cli: Cli, tmp_path: Path) -> None:
    profile = BASE + "x-odd:\n  '100%, really: yes': 1\n  '100%, really: yes': 2\n"
    root = make_project(tmp_path / "proj", {"dev.yaml": profile}).root
    result = envres_cli("validate", "--format", "github", cwd=root)
    assert result.code == 1
    (line,) = result.out.splitlines()
    assert "%25" in line
    assert parse(line) == {
        "kind": "error",
        "file": "profiles/dev.yaml",
        "line": "10",
        "col": "3",
        "title": "E102",
        "message": "duplicate key '100%, really: yes' (first written at line 9) (profile 'dev')",
    }


def test_json_gives_every_problem_as_data_and_nothing_else_on_stdout(
    envres_cli: Cli, tmp_path: Path
) -> None:
    root = broken_project(tmp_path)
    result = envres_cli("validate", "--format", "json", cwd=root, env={"POOL_SIZE": "7"})
    assert result.code == 1
    assert json.loads(result.out) == {
        "profiles": [{"name": "dev", "valid": False}],
        "problems": [
            {
                "file": "profiles/dev.yaml",
                "line": 3,
                "column": 11,
                "code": "E301",
                "severity": "error",
                "path": "resources.warehouse.type",
                "message": "unknown resource type 'duckdbb'; did you mean 'duckdb'? (known "
                "types: cache, console, duckdb, postgres, report, slack)",
                "source": None,
                "profile": "dev",
            },
            {
                "file": "profiles/dev.yaml",
                "line": 10,
                "column": 14,
                "code": "E401",
                "severity": "error",
                "path": "resources.notifier.config.token",
                "message": "environment variable SLACK_TOKEN is not set",
                "source": None,
                "profile": "dev",
            },
        ],
    }


def test_json_of_validate_all_names_each_profile(envres_cli: Cli, tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "proj", {"dev.yaml": BASE, "prod.yaml": "extends: dev\nextends: dev\n"}
    ).root
    result = envres_cli("validate", "--all", "--format", "json", cwd=root)
    assert result.code == 1
    data = json.loads(result.out)
    assert data["profiles"] == [{"name": "dev", "valid": True}, {"name": "prod", "valid": False}]
    assert [(p["code"], p["line"], p["profile"]) for p in data["problems"]] == [("E102", 2, "prod")]
    assert result.err_lines[-1] == "1 of 2 profiles invalid: prod"


def test_check_json_reports_each_resource_and_github_annotates_a_failure_masked(
    envres_cli: Cli, tmp_path: Path
) -> None:
    root = make_project(
        tmp_path / "proj", {"dev.yaml": CHECK_PROFILE}, definitions=CHECKS, module="checks"
    ).root
    env = {"DB_PW": "pw-4c1b7e", "ANSWER": "refuse"}
    as_json = envres_cli("check", "--format", "json", cwd=root, env=env)
    as_github = envres_cli("check", "--format", "github", cwd=root, env=env)
    assert as_json.code == as_github.code == 3
    data = json.loads(as_json.out[as_json.out.index("{") :])
    assert [(c["key"], c["type"], c["ok"]) for c in data["checks"]] == [
        ("db", "db", False),
        ("cache", "cache", True),
        ("other", "plain", True),
    ]
    at = f"checks.py:{text_line(CHECKS, 'raise PermissionError')}"
    assert data["checks"][0]["reason"] == f"{at}: PermissionError: login refused for {MASK}"
    (failure,) = [parse(x) for x in as_github.out.splitlines() if x.startswith("::")]
    assert (failure["kind"], failure["file"], failure["line"], failure["col"]) == (
        "error",
        "profiles/dev.yaml",
        "2",
        "3",
    )
    assert failure["message"] == (
        f"resource 'db' (db) failed its check: {at}: PermissionError: login refused for {MASK}"
    )
    for result in (as_json, as_github):
        assert "pw-4c1b7e" not in result.out + result.err


def test_diff_json_reports_a_missing_profile_as_a_problem(envres_cli: Cli, tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj").root
    result = envres_cli("diff", "dev", "nope", "--format", "json", cwd=root)
    assert result.code == 1
    (problem,) = json.loads(result.out)["problems"]
    assert (problem["code"], problem["file"], problem["source"]) == ("E204", None, "envres")
    assert problem["message"].startswith("profile 'nope' does not exist")
