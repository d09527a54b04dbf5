"""The one ready queue both executors keep (envres/_executors/_schedule.py).

What the local executor needs from it: which assets to hand to free threads,
that a failure or Ctrl-C starts nothing more while running assets are still
waited for. What the Dask executor needs: the same order of ``asset_started``
events as it follows Dask, and the plan in levels to submit. Both: a plan order
that does not depend on the order in which assets happen to finish.
"""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import given
from hypothesis import strategies as st

from envres._executors._schedule import Schedule

# a -> b -> d, a -> c -> d, e alone; d needs b and c.
DIAMOND: Mapping[str, tuple[str, ...]] = {
    "a": (),
    "b": ("a",),
    "c": ("a",),
    "d": ("b", "c"),
    "e": (),
}
ORDER = ("a", "b", "c", "d", "e")


def test_first_the_assets_without_upstream_then_each_once_its_upstream_finished() -> None:
    s = Schedule(ORDER, DIAMOND)

    assert s.ready() == ["a", "e"]
    assert s.ready() == []  # each handed out once
    s.done("e")
    assert s.ready() == []
    s.done("a")
    assert s.ready() == ["b", "c"]
    s.done("c")
    assert s.ready() == []  # d still waits for b
    s.done("b")
    assert s.ready() == ["d"]
    assert s.running == {"d"}
    s.done("d")
    assert s.running == set()
    assert s.not_run == ()
    assert not s.stopped


def test_a_failure_starts_nothing_more_not_even_independent_assets() -> None:
    s = Schedule(ORDER, {**DIAMOND, "e": ("a",)})
    assert s.ready() == ["a"]
    s.done("a")
    assert s.ready() == ["b", "c", "e"]

    s.done("b", ok=False)

    assert s.stopped
    assert s.ready() == []
    assert s.running == {"c", "e"}  # still waited for
    s.done("c")
    s.done("e")
    assert s.ready() == []
    assert s.running == set()
    assert s.not_run == ("d",)


def test_after_a_failure_a_finishing_upstream_does_not_release_its_dependents() -> None:
    s = Schedule(ORDER, DIAMOND)
    s.ready()
    s.done("e", ok=False)
    s.done("a")

    assert s.ready() == []
    assert s.not_run == ("b", "c", "d")


def test_stop_on_a_signal_keeps_what_is_running_until_it_ends() -> None:
    s = Schedule(ORDER, DIAMOND)
    assert s.ready() == ["a", "e"]
    s.done("a")  # b and c are ready, not handed out yet

    s.stop()

    assert s.ready() == []
    assert s.running == {"e"}
    s.done("e")
    assert s.running == set()
    assert s.not_run == ("b", "c", "d")


def test_upstream_assets_outside_the_plan_are_not_waited_for() -> None:
    catalog_upstream = {"b": ("a",), "c": ("b", "x")}
    s = Schedule(["b", "c"], catalog_upstream)

    assert s.ready() == ["b"]
    s.done("b")
    assert s.ready() == ["c"]


def test_levels_put_each_asset_one_after_its_latest_upstream() -> None:
    s = Schedule(ORDER, DIAMOND)

    assert s.levels() == [["a", "e"], ["b", "c"], ["d"]]
    assert Schedule((), {}).levels() == []


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, tuple[str, ...]]:
    """A random asset graph: each asset may take any of the earlier ones."""
    n = draw(st.integers(1, 12))
    names = [f"n{i}" for i in range(n)]
    return {
        name: tuple(draw(st.lists(st.sampled_from(names[:i]), unique=True)) if i else ())
        for i, name in enumerate(names)
    }


@given(graph=graphs(), data=st.data())
def test_any_finishing_order_runs_each_asset_once_after_its_upstream_in_plan_order(
    graph: dict[str, tuple[str, ...]], data: st.DataObject
) -> None:
    order = list(graph)  # upstream first, as a plan is
    s = Schedule(order, graph)
    started: list[str] = []
    finished: set[str] = set()
    running: list[str] = []
    while True:
        ready = s.ready()
        assert ready == sorted(ready, key=order.index)  # plan order, however they finished
        for name in ready:
            assert set(graph[name]) <= finished
        started += ready
        running += ready
        if not running:
            break
        name = running.pop(data.draw(st.integers(0, len(running) - 1)))
        finished.add(name)
        s.done(name)
    assert sorted(started) == sorted(order)
    assert s.not_run == ()
