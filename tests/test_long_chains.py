"""Graph walks never recurse: a chain of 10,000 references or assets validates, plans and runs.

A chain this long is unusual, but a generated profile can hold one, and before the
walks used explicit stacks a chain of 200 resources validated, then failed at run
with RecursionError.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import envres

N = 10_000
log_lines: list[str] = []


class Link(envres.Resource):
    prev: Link | None = None
    n: int

    def lifespan(self) -> Iterator[None]:
        log_lines.append(f"setup {self.n}")
        yield
        log_lines.append(f"teardown {self.n}")


@envres.asset
def top(r9999: Link) -> int:
    depth, link = 0, r9999
    while link.prev is not None:
        depth, link = depth + 1, link.prev
    return depth


def test_a_chain_of_10000_references_validates_runs_and_tears_down_in_reverse(
    tmp_path: Path,
) -> None:
    lines = ["resources:"]
    for i in range(N):
        lines.append(f"  r{i}:\n    type: link\n    config:\n      n: {i}")
        if i:
            lines.append(f"      prev: {{resource: r{i - 1}}}")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "dev.yaml").write_text("\n".join(lines) + "\n")
    defs = envres.Definitions(assets=[top], resource_types={"link": Link})
    assert sys.getrecursionlimit() < N
    log_lines.clear()

    result = defs.with_profile("dev", project=str(tmp_path), env={}).run()

    assert result["top"] == N - 1
    expected = [f"setup {i}" for i in range(N)] + [f"teardown {i}" for i in reversed(range(N))]
    assert log_lines == expected


def test_a_chain_of_10000_assets_plans_and_runs_upstream_first(tmp_path: Path) -> None:
    def make(i: int) -> envres.AssetDef:
        if i == 0:
            return envres.asset(lambda: 0, name="a0")
        namespace: dict[str, object] = {}
        exec(f"def a{i}(a{i - 1}): return a{i - 1} + 1", namespace)
        return envres.asset(namespace[f"a{i}"])  # type: ignore[arg-type]

    defs = envres.Definitions(assets=[make(i) for i in range(N)])

    assert defs.plan([f"a{N - 1}"]) == [f"a{i}" for i in range(N)]
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "dev.yaml").write_text("resources: {}\n")
    result = defs.with_profile("dev", project=str(tmp_path), env={}).run([f"a{N - 1}"], jobs=2)
    assert result[f"a{N - 1}"] == N - 1


def test_a_cycle_in_a_long_chain_of_references_is_reported_once(tmp_path: Path) -> None:
    lines = ["resources:"]
    for i in range(N):
        lines.append(f"  r{i}:\n    type: link\n    config:\n      n: {i}")
        lines.append(f"      prev: {{resource: r{(i - 1) % N}}}")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "dev.yaml").write_text("\n".join(lines) + "\n")
    defs = envres.Definitions(assets=[top], resource_types={"link": Link})
    try:
        defs.with_profile("dev", project=str(tmp_path), env={})
    except envres.ProfileError as exc:
        [problem] = exc.problems
        assert problem.message.startswith("resource dependency cycle: r0 -> r9999 -> r9998")
        assert problem.message.endswith("r1 -> r0")
    else:
        raise AssertionError("a cycle of 10,000 references validated")


def test_deps_first_lists_each_key_once_after_what_it_refers_to() -> None:
    """The one walk that setup, `envres check` and the Dask executor share."""
    from types import SimpleNamespace

    from envres._resolved import deps_first

    def graph(**deps: tuple[str, ...]) -> dict[str, SimpleNamespace]:
        return {key: SimpleNamespace(deps=d) for key, d in deps.items()}

    diamond = graph(top=("left", "right"), left=("base",), right=("base",), base=(), alone=())
    assert deps_first(diamond, ["top"]) == ["base", "left", "right", "top"]  # type: ignore[arg-type]
    assert deps_first(diamond, ["alone", "left", "top"]) == [  # type: ignore[arg-type]
        "alone",
        "base",
        "left",
        "right",
        "top",
    ]
    # What is set up already is left out, with what only it refers to.
    assert deps_first(diamond, ["top"], done={"left", "base"}) == ["right", "top"]  # type: ignore[arg-type]
    assert deps_first(diamond, ["top"], done={"top"}) == []  # type: ignore[arg-type]
    # A key the profile lacks is listed, for the caller to report.
    assert deps_first(graph(a=("ghost",)), ["a"]) == ["ghost", "a"]  # type: ignore[arg-type]
    # No recursion: a chain longer than the recursion limit.
    depth = sys.getrecursionlimit() * 3
    chain = {f"k{i}": SimpleNamespace(deps=(f"k{i - 1}",) if i else ()) for i in range(depth)}
    order = deps_first(chain, [f"k{depth - 1}"])  # type: ignore[arg-type]
    assert order == [f"k{i}" for i in range(depth)]
