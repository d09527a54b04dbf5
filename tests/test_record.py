"""The value classes (envres/_record.py): immutable, equal by value, and safe to pickle.

They replace frozen dataclasses to keep imports cheap, so what the dataclasses
guaranteed is pinned here, for every class at once: a field cannot be assigned,
``__init__`` takes the fields in ``__slots__`` order (pickling and ``replace``
rely on it; an automatic "sort __slots__" fix would silently break it), and a
resolved profile survives the trip to a Dask worker with its secret markers
intact (``shape is SECRET`` and ``value is MISSING`` are identity tests).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pickle
import pkgutil
import sys
from pathlib import Path

import pytest

import envres
from envres._errors import Loc
from envres._nodes import Node
from envres._record import Record
from envres._secrets import PLAIN, SECRET, part, shape_of
from envres._values import MISSING, Origin
from tests.conftest import make_project


def _all_records() -> list[type[Record]]:
    for info in pkgutil.walk_packages(envres.__path__, "envres."):
        if info.name.endswith("__main__") or "dagster" in info.name or "_dask" in info.name:
            continue  # the command itself, and optional extras (they define no Record)
        importlib.import_module(info.name)
    found: list[type[Record]] = []
    stack = list(Record.__subclasses__())
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


RECORDS = _all_records()


def test_the_value_classes_are_found() -> None:
    names = {cls.__qualname__ for cls in RECORDS}
    assert {"Node", "Origin", "ResolvedResource", "ResolvedProfile", "MergedProfile"} <= names


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_init_takes_the_fields_in_slots_order(cls: type[Record]) -> None:
    params = list(inspect.signature(cls.__init__).parameters)[1:]
    if cls.__init__ is object.__init__:  # a field-less marker such as SECRET's class
        params = []
    assert params == list(cls._fields)


def test_a_field_cannot_be_assigned_or_deleted() -> None:
    node = Node("x", Loc("p.yaml", 1, 2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        node.value = "y"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del node.loc  # type: ignore[misc]
    assert node.value == "x"


def test_equality_hash_repr_and_replace_work_by_value() -> None:
    a = Origin(Loc("p.yaml", 3, 4))
    b = Origin(Loc("p.yaml", 3, 4))
    assert a == b
    assert hash(a) == hash(b)
    assert a != Origin(Loc("p.yaml", 3, 5))
    assert a != ("not", "an", "origin")
    assert repr(a) == "Origin(loc=Loc(file='p.yaml', line=3, col=4), uses=(), template=False)"
    moved = a.replace(template=True)
    assert moved.template is True
    assert a.template is False
    assert moved.loc == a.loc


def test_markers_keep_their_identity_through_pickle() -> None:
    assert pickle.loads(pickle.dumps(SECRET)) is SECRET
    assert pickle.loads(pickle.dumps(PLAIN)) is PLAIN
    assert pickle.loads(pickle.dumps(MISSING)) is MISSING


def test_what_a_dask_worker_receives_survives_pickling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic import SecretStr

    # A module name of its own, and sys.path restored: other tests import `pipeline`.
    project = make_project(tmp_path / "proj", module="record_pipeline")
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setitem(sys.modules, "record_pipeline", None)
    del sys.modules["record_pipeline"]
    bound = envres.load("dev", project=project.root, env={"SLACK_TOKEN": "tok-5c1f8a77e2"})
    profile = bound.profile
    # The merged profile (entries and located nodes), the environment, and per resource
    # its shape, origins and locations: the parts the Dask executor ships.
    sent = (
        profile.merged,
        profile.env,
        {k: (r.shape, dict(r.origins), r.key_loc, r.deps) for k, r in profile.resources.items()},
    )
    merged, env, parts = pickle.loads(pickle.dumps(sent))
    assert merged == profile.merged
    assert merged.resources["warehouse"].config == profile.merged.resources["warehouse"].config
    assert env == profile.env
    for key, res in profile.resources.items():
        shape, origins, key_loc, deps = parts[key]
        assert shape == res.shape
        assert origins == dict(res.origins)
        assert (key_loc, deps) == (res.key_loc, res.deps)
    # The secret marker inside a shape is still the marker after the trip.
    shape = pickle.loads(pickle.dumps(shape_of(dict[str, SecretStr])))
    assert part(shape, "anything", profile.names) is SECRET
