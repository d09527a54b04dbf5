"""`envres check`: the connection check, like `dbt debug`.

Against the shop example: DuckDB in dev, the suite's real PostgreSQL (right and
wrong password) and a webhook on loopback in prod; and on a small project with a
check that hangs, one that fails, and a reference.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import HINT, Cli, make_project, run_real, text_line
from tests.test_example_shop import Webhook, clean_env, pg_env, webhook  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent

CHECKS = """
from __future__ import annotations

import time
from collections.abc import Iterator

from pydantic import SecretStr

import envres


class Db(envres.Resource):
    password: SecretStr
    answer: str = "ok"

    def lifespan(self) -> Iterator[None]:
        print("setup db")
        yield
        print("teardown db")

    def check(self) -> str:
        if self.answer == "hang":
            time.sleep(30)
        if self.answer == "refuse":
            raise PermissionError("login refused for " + self.password.get_secret_value())
        if self.answer == "essay":
            raise ValueError("refused\\nLINE 1: " + self.password.get_secret_value() + "\\n  ^")
        return f"server {self.answer}"


class Cache(envres.Resource):
    db: Db

    def lifespan(self) -> Iterator[None]:
        print("setup cache")
        yield
        print("teardown cache")


@envres.resource
def plain() -> Iterator[int]:
    yield 1


defs = envres.Definitions(resource_types={"db": Db, "cache": Cache, "plain": plain})
"""

PROFILE = """\
resources:
  db: {type: db, config: {password: "${DB_PW}", answer: "${ANSWER:-ok}"}}
  cache: {type: cache, config: {db: {resource: db}}}
  other: {type: plain}
"""


def table(out: str) -> dict[str, list[str]]:
    """KEY -> [TYPE, RESULT, TIME, REASON] from the check's table (resources' prints skipped)."""
    lines = [x for x in out.splitlines() if not x.startswith(("setup ", "teardown "))]
    assert lines[0].split() == ["KEY", "TYPE", "RESULT", "TIME"]
    rows = {}
    for line in lines[1:]:
        key, type_name, result, ms, _, *reason = [*line.split(maxsplit=5), ""]
        rows[key] = [type_name, result, ms, " ".join(reason).strip()]
    return rows


def test_dev_checks_every_resource_of_the_example(envres_cli: Cli) -> None:
    result = envres_cli("check", cwd=ROOT, env={"SHOP_DUCKDB": ":memory:"})

    assert result.code == 0, result.err
    rows = table(result.out)
    assert list(rows) == ["warehouse", "notifier", "report_dir"]
    assert rows["warehouse"][:2] == ["duckdb", "ok"]
    assert re.fullmatch(r"DuckDB v[0-9.]+", rows["warehouse"][3])
    assert [r[1] for r in rows.values()] == ["ok", "ok", "ok"]


@pytest.mark.postgres
def test_staging_against_a_real_postgres_passes_and_a_wrong_password_fails_masked(
    postgres_db: str, tmp_path: Path
) -> None:
    env = clean_env(**pg_env(postgres_db))
    wrong = {**env, "PG_PASSWORD": "wrong-" + env["PG_PASSWORD"]}

    right = run_real("check", "--profile", "staging", cwd=ROOT, env=env)
    refused = run_real("check", "--profile", "staging", cwd=ROOT, env=wrong)

    assert right.code == 0, right.err
    assert re.fullmatch(r"PostgreSQL [0-9.]+", table(right.out)["warehouse"][3])
    assert refused.code == 3
    row = table(refused.out)["warehouse"]
    assert row[1] == "FAILED"
    assert "password authentication failed" in row[3]
    assert row[3].startswith("examples/shop/shop/resources.py:")  # the example's own line
    assert refused.err_lines == [
        "check failed: 1 of 3 resources failed their check: warehouse",
        HINT,
    ]
    for output in (right.out + right.err, refused.out + refused.err):
        assert env["PG_PASSWORD"] not in output
    assert wrong["PG_PASSWORD"] not in refused.out + refused.err


@pytest.mark.postgres
def test_prod_checks_the_webhook_with_a_head_request_and_fails_on_a_refused_token(
    postgres_db: str,
    webhook: Webhook,  # noqa: F811
) -> None:
    env = clean_env(
        **pg_env(postgres_db), SHOP_WEBHOOK_URL=webhook.url, SHOP_WEBHOOK_TOKEN="tok-7f3c9a"
    )

    ok = run_real("check", "notifier", "--profile", "prod", cwd=ROOT, env=env)
    heads_sent = webhook.heads
    webhook.status = 401
    refused = run_real("check", "notifier", "--profile", "prod", cwd=ROOT, env=env)

    assert ok.code == 0, ok.err
    assert table(ok.out)["notifier"][1] == "ok"
    assert table(ok.out)["notifier"][3] == "HTTP 405 (answers POST only)"
    assert webhook.received == []  # HEAD only: nothing was posted
    assert heads_sent == 1
    assert refused.code == 3
    where, _, said = table(refused.out)["notifier"][3].partition(": ")
    assert said == "HTTPError: HTTP Error 401: Unauthorized"
    assert re.fullmatch(r"examples/shop/shop/resources\.py:\d+", where)
    assert "tok-7f3c9a" not in ok.out + ok.err + refused.out + refused.err


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj", {"dev.yaml": PROFILE}, CHECKS).root


def test_a_failing_check_is_masked_and_what_depends_on_its_resource_is_still_checked(
    envres_cli: Cli, small: Path
) -> None:
    result = envres_cli("check", cwd=small, env={"DB_PW": "pw-9c1e", "ANSWER": "refuse"})

    assert result.code == 3
    rows = table(result.out)
    assert rows["db"][1] == "FAILED"
    at = f"pipeline.py:{text_line(CHECKS, 'raise PermissionError')}"
    assert rows["db"][3] == f"{at}: PermissionError: login refused for **********"
    assert result.err_lines[-1] == HINT
    assert rows["cache"][1] == "ok"  # set up (db is up), it has no check of its own
    assert rows["other"][1] == "ok"
    assert "pw-9c1e" not in result.out + result.err
    # Every resource set up was torn down, in reverse.
    printed = [x for x in result.out.splitlines() if x.startswith(("setup", "teardown"))]
    assert printed == ["setup db", "setup cache", "teardown cache", "teardown db"]


def test_a_failing_check_shows_the_rest_of_its_message_under_it_and_debug_the_traceback(
    envres_cli: Cli, small: Path
) -> None:
    env = {"DB_PW": "pw-9c1e", "ANSWER": "essay"}
    plain = envres_cli("check", cwd=small, env=env)
    debug = envres_cli("check", "--debug", cwd=small, env=env)

    assert plain.code == debug.code == 3
    lines = [x for x in plain.out.splitlines() if not x.startswith(("setup", "teardown"))]
    db = next(i for i, line in enumerate(lines) if line.startswith("db "))
    at = f"pipeline.py:{text_line(CHECKS, 'raise ValueError')}"
    assert lines[db].endswith(f"  {at}: ValueError: refused")
    # The rest of the message, indented under the reason it continues, masked.
    column = lines[db].index(at)
    assert lines[db + 1 : db + 3] == [
        " " * (column + 2) + "LINE 1: **********",
        " " * column + "    ^",
    ]
    assert plain.err_lines == ["check failed: 1 of 3 resources failed their check: db", HINT]
    assert "Traceback (most recent call last)" not in plain.err
    assert "Traceback (most recent call last)" in debug.err
    assert 'raise ValueError("refused' in debug.err
    assert debug.err_lines[-1] == "check failed: 1 of 3 resources failed their check: db"
    assert "pw-9c1e" not in plain.out + plain.err + debug.out + debug.err


def test_a_hanging_check_times_out_and_the_others_are_checked(small: Path) -> None:
    env = {"DB_PW": "pw-9c1e", "ANSWER": "hang"}

    result = run_real("check", "--timeout", "0.5", cwd=small, env=env, timeout=25)

    assert result.code == 3
    rows = table(result.out)
    assert rows["db"][1] == "FAILED"
    assert rows["db"][3] == "timed out after 0.5 s"
    assert rows["other"][1] == "ok"


def test_named_keys_check_those_and_what_they_refer_to(envres_cli: Cli, small: Path) -> None:
    result = envres_cli("check", "cache", cwd=small, env={"DB_PW": "x"})

    assert result.code == 0, result.err
    assert list(table(result.out)) == ["db", "cache"]


def test_an_unknown_key_is_a_usage_error_with_a_suggestion(envres_cli: Cli, small: Path) -> None:
    result = envres_cli("check", "cahce", cwd=small, env={"DB_PW": "x"})

    assert result.code == 2
    assert result.err_lines == [
        "envres: resource 'cahce' is not defined in profile 'dev'; did you mean 'cache'? "
        "(resources: db, cache, other)"
    ]


def test_colour_only_on_a_terminal_and_never_with_no_color(small: Path) -> None:
    import pty
    import subprocess
    import sys

    def on_terminal(**extra: str) -> str:
        main, child = pty.openpty()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENVRES_")}
        env.pop("NO_COLOR", None)
        env.update(DB_PW="x", **extra)
        proc = subprocess.Popen(
            [sys.executable, "-m", "envres", "check"],
            cwd=small,
            env=env,
            stdout=child,
            stderr=child,
            stdin=subprocess.DEVNULL,
        )
        os.close(child)
        chunks = []
        while True:
            try:
                data = os.read(main, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(main)
        proc.wait(timeout=20)
        return b"".join(chunks).decode()

    assert "\x1b[32mok" in on_terminal()
    assert "\x1b[" not in on_terminal(NO_COLOR="1")
    assert "\x1b[" not in run_real("check", cwd=small, env={"DB_PW": "x"}).out
