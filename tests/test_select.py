"""envres run --select/--exclude with dbt's graph operators, --dry-run, and completion."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli, Project, make_project
from tests.test_terminal import _complete

#: a -> b, a -> c, (b, c) -> d; e alone. Each asset logs that it ran.
DIAMOND = """
from __future__ import annotations

import os
from collections.abc import Iterator

import envres

print("chatty definitions module")


def log(line: str) -> None:
    with open(os.environ["ENVRES_TEST_LOG"], "a", encoding="utf-8") as fh:
        fh.write(line + "\\n")


class Db(envres.Resource):
    path: str = ":memory:"

    def lifespan(self) -> Iterator[None]:
        log("setup db")
        yield
        log("teardown db")


class Cache(envres.Resource):
    db: Db


@envres.asset
def a(db: Db) -> int:
    log("a")
    return 1


@envres.asset
def b(a: int) -> int:
    log("b")
    return a + 1


@envres.asset
def c(a: int, cache: Cache) -> int:
    log("c")
    return a + 2


@envres.asset
def d(b: int, c: int) -> int:
    log("d")
    return b + c


@envres.asset
def e() -> str:
    log("e")
    return "e"


defs = envres.Definitions(assets=[a, b, c, d, e], resource_types={"db": Db, "cache": Cache})
"""

PROFILE = """\
resources:
  db:
    type: db
  cache:
    type: cache
    config:
      db: {resource: db}
"""


@pytest.fixture
def diamond(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj", {"dev.yaml": PROFILE}, definitions=DIAMOND)


def _ran(
    envres_cli: Cli, project: Project, tmp_path: Path, *args: str
) -> tuple[int, list[str], str]:
    log = tmp_path / "log.txt"
    log.write_text("")
    result = envres_cli("run", *args, cwd=project.root, env={"ENVRES_TEST_LOG": str(log)})
    ran = [line for line in log.read_text().splitlines() if len(line) == 1]
    err = result.err.replace("chatty definitions module\n", "")
    return result.code, ran, err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), ["a", "b", "c", "d", "e"]),
        (("d",), ["a", "b", "c", "d"]),
        (("--select", "+d"), ["a", "b", "c", "d"]),
        (("--select", "e"), ["e"]),
        (("--select", "a+"), ["a", "b", "c", "d"]),
        (("--select", "+b"), ["a", "b"]),
        (("--select", "+b+", "--select", "c"), ["a", "b", "c", "d"]),
        (("-s", "a", "-s", "e"), ["a", "e"]),
        (("--select", "a, e"), ["a", "e"]),
        (("--select", "a b"), ["a", "b"]),
        (("--exclude", "d", "--exclude", "e"), ["a", "b", "c"]),
        (("--select", "a+", "--exclude", "c+"), ["a", "b"]),
    ],
)
def test_selection_runs_exactly_the_selected_assets_upstream_first(
    envres_cli: Cli, diamond: Project, tmp_path: Path, args: tuple[str, ...], expected: list[str]
) -> None:
    code, ran, err = _ran(envres_cli, diamond, tmp_path, *args)
    assert code == 0, err
    assert ran == expected


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("--select", "d"),
            "envres: asset 'd' takes the value of 'b', which the selection leaves out "
            "(1 more like it): select it too (--select +d runs d with everything upstream); "
            "envres keeps no value between runs",
        ),
        (
            ("--exclude", "a"),
            "envres: asset 'b' takes the value of 'a', which the selection leaves out "
            "(1 more like it): select it too (--select +b runs b with everything upstream); "
            "envres keeps no value between runs",
        ),
        (
            ("--select", "+dd"),
            "envres: unknown asset 'dd' in '+dd'; did you mean 'd'? (assets: a, b, c, d, e)",
        ),
        (("--select", "e", "--exclude", "e"), "envres: the selection is empty: no asset to run"),
        (
            ("--select", "+b+"),
            "envres: asset 'd' takes the value of 'c', which the selection leaves out: "
            "select it too (--select +d runs d with everything upstream); "
            "envres keeps no value between runs",
        ),
    ],
)
def test_a_selection_that_cannot_run_is_one_usage_line_and_nothing_runs(
    envres_cli: Cli, diamond: Project, tmp_path: Path, args: tuple[str, ...], line: str
) -> None:
    code, ran, err = _ran(envres_cli, diamond, tmp_path, *args)
    assert code == 2
    assert err.strip().splitlines() == [line]
    assert ran == []


def test_dry_run_says_what_would_be_set_up_and_run_in_order_and_does_nothing(
    envres_cli: Cli, diamond: Project, tmp_path: Path
) -> None:
    log = tmp_path / "log.txt"
    log.write_text("")
    result = envres_cli(
        "run", "--dry-run", "-s", "+c", cwd=diamond.root, env={"ENVRES_TEST_LOG": str(log)}
    )
    assert result.code == 0, result.err
    assert result.out.splitlines()[1:] == [
        "  setup   db (db)",
        "  run     a",
        "  setup   cache (cache)",
        "  run     c",
        "  down    cache",
        "  down    db",
    ]
    assert result.out.splitlines()[0] == (
        "envres run --dry-run: profile 'dev', 2 assets; nothing is set up or run"
    )
    assert log.read_text() == ""


def test_dry_run_validates_the_profile_first(envres_cli: Cli, diamond: Project) -> None:
    diamond.profile("dev.yaml", "resources:\n  db:\n    type: dbb\n")
    result = envres_cli("run", "--dry-run", cwd=diamond.root)
    assert result.code == 1
    assert "dbb" in result.err
    assert result.out == ""


def test_completion_offers_asset_names_with_the_operator_and_resource_keys(
    diamond: Project,
) -> None:
    for words, expected in [
        ("envres run ", "plain,a\nplain,b\nplain,c\nplain,d\nplain,e\n"),
        ("envres run --select +", "plain,+a\nplain,+b\nplain,+c\nplain,+d\nplain,+e\n"),
        ("envres run --exclude d", "plain,d\n"),
        ("envres check ", "plain,cache\nplain,db\n"),
        ("envres -p dev check c", "plain,cache\n"),
    ]:
        answer = _complete(diamond.root, words)
        # The definitions module prints on import: none of it reaches the shell.
        assert (answer.returncode, answer.stdout, answer.stderr) == (0, expected, ""), words
