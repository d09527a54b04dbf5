"""Full cause chains: a failure says what failed and why, every link masked.

`explain` on hand-made chains, then `envres run` and `envres check` on a resource
whose setup raises `RuntimeError("could not start dbt") from FileNotFoundError(...)`
with a canary secret in the cause.
"""

from __future__ import annotations

from pathlib import Path

from envres._causes import MAX_LINKS, explain
from envres._secrets import MASK, Redactor
from tests.conftest import Cli, make_project

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

    assert run.code == 3
    assert f"setup of resource 'dbt' failed: {LINE}" in run.err + run.out
    assert check.code == 3
    assert LINE in check.out
    assert CANARY not in run.out + run.err + check.out + check.err
