"""envres._env: the layering of the environment's sources (PRODUCT.md §2).

Highest first: the process environment, then each env file of the profile (a later
file wins), then the project's ``.env``. These tests sit next to that one function so
that swapping two layers fails here, not only in a far-away end-to-end test.
"""

from __future__ import annotations

from pathlib import Path

from envres._env import PROCESS, build_env
from envres._errors import Loc


def files(tmp_path: Path, **contents: str) -> dict[str, Path]:
    out = {}
    for name, text in contents.items():
        path = tmp_path / name.replace("_", ".")
        path.write_text(text, encoding="utf-8")
        out[name] = path
    return out


def test_each_source_wins_over_those_below_it(tmp_path: Path) -> None:
    f = files(
        tmp_path,
        _env="A=dotenv\nB=dotenv\nC=dotenv\nD=dotenv\n",
        first_env="A=first\nB=first\nC=first\n",
        second_env="A=second\nB=second\n",
    )
    env, problems = build_env(
        {"A": "process"},
        [
            (f["first_env"], "first.env", Loc("profiles/prod.yaml", 2, 1)),
            (f["second_env"], "second.env", Loc("profiles/prod.yaml", 2, 1)),
        ],
        (f["_env"], ".env"),
        Path.read_bytes,
    )
    assert problems == []
    assert dict(env.values) == {"A": "process", "B": "second", "C": "first", "D": "dotenv"}
    assert dict(env.sources) == {"A": PROCESS, "B": "second.env", "C": "first.env", "D": ".env"}


def test_an_empty_process_value_still_wins_over_a_file(tmp_path: Path) -> None:
    f = files(tmp_path, prod_env="TOKEN=from-file\n")
    env, _ = build_env(
        {"TOKEN": ""}, [(f["prod_env"], "prod.env", Loc("p.yaml", 1, 1))], None, Path.read_bytes
    )
    assert env.values["TOKEN"] == ""
    assert env.sources["TOKEN"] == PROCESS


def test_a_missing_env_file_is_a_problem_at_the_line_that_names_it(tmp_path: Path) -> None:
    env, problems = build_env(
        {},
        [(tmp_path / "nope.env", "nope.env", Loc("profiles/prod.yaml", 3, 11))],
        None,
        Path.read_bytes,
    )
    assert dict(env.values) == {}
    assert [(p.loc, p.message) for p in problems] == [
        (Loc("profiles/prod.yaml", 3, 11), "env file nope.env does not exist")
    ]
