"""Full cause chains: a failure says what failed and why, every link masked.

`explain` on hand-made chains, `reason` (where in the user's code, the rest of a
long message), then `envres run` and `envres check` on a resource whose setup
raises `RuntimeError("could not start dbt") from FileNotFoundError(...)` with a
canary secret in the cause.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envres._causes import MAX_LINKS, MAX_MORE_LINES, explain, reason, user_frame
from envres._secrets import MASK, Redactor
from tests.conftest import Cli, code_line, make_project, text_line

CANARY = "cnry-cause-77c1d0e4"

DEFINITIONS = """
from __future__ import annotations

import os
from collections.abc import Iterator

from pydantic import SecretStr

import envres


class Dbt(envres.Resource):
    profiles_dir: str
    token: SecretStr

    def lifespan(self) -> Iterator[None]:
        try:
            raise FileNotFoundError(
                2, "No such file or directory (token " + self.token.get_secret_value() + ")", "dbt"
            )
        except FileNotFoundError as exc:
            raise RuntimeError("could not start dbt") from exc
        yield


@envres.asset
def models(dbt: Dbt) -> int:
    return 1


defs = envres.Definitions(assets=[models], resource_types={"dbt": Dbt})
"""

PROFILE = """\
resources:
  dbt:
    type: dbt
    config:
      profiles_dir: .
      token: ${DBT_TOKEN}
"""

LINE = (
    "RuntimeError: could not start dbt; caused by FileNotFoundError: [Errno 2] "
    f"No such file or directory (token {MASK}): 'dbt'"
)


def chain(*messages: str, explicit: bool = True) -> BaseException:
    """An exception whose causes are ValueErrors with ``messages`` (first is outermost)."""
    error: BaseException | None = None
    for message in reversed(messages):
        new = ValueError(message)
        if explicit:
            new.__cause__ = error
        else:
            new.__context__ = error
        error = new
    assert error is not None
    return error


def test_explain_names_every_link_with_its_type_and_masks_each() -> None:
    try:
        try:
            raise KeyError(f"pw={CANARY}")
        except KeyError as exc:
            raise OSError("connect failed") from exc
    except OSError as exc:
        text = explain(exc, Redactor([CANARY]))

    assert text == f"OSError: connect failed; caused by KeyError: 'pw={MASK}'"


def test_explain_follows_raise_from_and_leaves_out_an_implicit_context() -> None:
    implicit = chain("outer", "inner", explicit=False)
    explicit = chain("outer", "inner")

    assert explain(implicit, Redactor()) == "ValueError: outer"
    assert explain(explicit, Redactor()) == "ValueError: outer; caused by ValueError: inner"


def test_explain_cuts_a_long_chain_and_survives_a_cycle() -> None:
    long = chain(*(f"m{i}" for i in range(MAX_LINKS + 3)))
    a, b = ValueError("a"), ValueError("b")
    a.__cause__, b.__cause__ = b, a

    links = explain(long, Redactor()).split("; ")
    assert len(links) == MAX_LINKS + 1
    assert links[-1] == "and 3 more"
    assert explain(a, Redactor()) == "ValueError: a; caused by ValueError: b"


def test_run_and_check_show_the_cause_of_a_failed_setup_without_the_secret(
    tmp_path: Path, envres_cli: Cli
) -> None:
    proj = make_project(tmp_path / "p", {"dev.yaml": PROFILE}, DEFINITIONS, module="dbt_pipeline")
    env = {"DBT_TOKEN": CANARY}

    run = envres_cli("run", cwd=proj.root, env=env)
    check = envres_cli("check", cwd=proj.root, env=env)

    at = f"dbt_pipeline.py:{text_line(DEFINITIONS, 'raise RuntimeError')}"
    assert run.code == 3
    assert run.err_lines == [
        f"run failed: setup of resource 'dbt' failed: {at}: {LINE}",
        "(run with --debug for the traceback)",
    ]
    assert check.code == 3
    assert f"{at}: {LINE}" in check.out
    assert check.err_lines[-1] == "(run with --debug for the traceback)"
    assert CANARY not in run.out + run.err + check.out + check.err


def raised(exc: BaseException) -> BaseException:
    """``exc`` with a traceback through this file, as user code raises it."""
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_reason_names_the_users_line_and_keeps_the_rest_of_the_message_masked() -> None:
    exc = raised(ValueError(f"no table raw_user\nDid you mean raw_users?\n\n  token {CANARY}  "))

    why = reason(exc, Redactor([CANARY]))

    assert why.text == "ValueError: no table raw_user"
    assert why.where == code_line(__file__, "raise exc")
    assert why.more == ("Did you mean raw_users?", "", f"  token {MASK}")
    assert str(why) == f"{why.where}: ValueError: no table raw_user"


def test_user_frame_skips_the_standard_library_and_installed_packages() -> None:
    try:
        json.loads("{")  # raised inside the standard library, called from here
    except ValueError as exc:
        where = user_frame(exc)
    try:
        pytest.fail("from a package")  # raised inside pytest, called from here
    except BaseException as exc:
        from_package = user_frame(exc)

    assert where == code_line(__file__, "json.loads(")
    assert from_package == code_line(__file__, 'pytest.fail("from a package")')
    assert user_frame(ValueError("never raised")) == ""


def test_a_cause_without_a_user_frame_of_its_own_is_placed_by_the_exception_it_caused() -> None:
    inner = ValueError("inner")  # never raised: no traceback
    outer = raised(RuntimeError("outer"))
    outer.__cause__ = inner

    assert reason(outer, Redactor()).where == code_line(__file__, "raise exc")
    bare = RuntimeError("bare")
    bare.__cause__ = raised(ValueError("placed"))
    assert reason(bare, Redactor()).where == code_line(__file__, "raise exc")


def test_the_rest_of_a_causes_message_follows_and_is_named_after_the_first_links() -> None:
    only_cause = chain("outer", "1 validation error for Db\ntoken\n  Instance is frozen")
    both = chain("outer\nmore of outer", "1 validation error for Db\ntoken")

    assert reason(only_cause, Redactor()).more == ("token", "  Instance is frozen")
    assert reason(both, Redactor()).more == (
        "more of outer",
        "caused by ValueError: 1 validation error for Db",
        "token",
    )


def test_a_very_long_message_is_cut_with_a_count() -> None:
    exc = ValueError("\n".join(f"line {i}" for i in range(MAX_MORE_LINES + 6)))

    more = reason(exc, Redactor()).more

    assert len(more) == MAX_MORE_LINES + 1
    assert more[-1] == "... (5 more lines)"
    assert more[0] == "line 1"


def test_a_secret_in_the_path_of_the_users_file_is_masked_in_where() -> None:
    code = compile("raise ValueError('boom')", f"/srv/{CANARY}/pipeline.py", "exec")
    try:
        exec(code, {})
    except ValueError as exc:
        why = reason(exc, Redactor([CANARY]))

    assert why.where == f"/srv/{MASK}/pipeline.py:1"
    assert CANARY not in str(why)
