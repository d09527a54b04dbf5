"""The portable form of a resolved profile (envres/_portable.py): what a Dask worker gets.

It must survive pickling with its secrets sealed, carry only what the run uses,
and rebuild into a profile whose resources set up as the original's do; a type
that does not import on the other side breaks that resource and whatever refers
to it, with one message naming where.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

import envres
from envres._portable import portable
from envres._resolved import ResolvedProfile
from envres._scope import ResourceScope
from tests.conftest import Project, make_project

SECRET = "pw-7d1e55b0c4"

PROFILE = """\
resources:
  warehouse:
    type: postgres
    config:
      dsn: postgresql://db.internal/shop
      password: ${DB_PASSWORD}
  reporter:
    type: report
    config:
      warehouse: {resource: warehouse}
      title: weekly
  notifier:
    type: console
"""


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    # A module name of its own, and sys.path restored: other tests import `pipeline`.
    project = make_project(tmp_path / "proj", {"dev.yaml": PROFILE}, module="portable_pipeline")
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield project
    sys.modules.pop("portable_pipeline", None)


@pytest.fixture
def profile(proj: Project) -> ResolvedProfile:
    return envres.load("dev", project=proj.root, env={"DB_PASSWORD": SECRET}).profile


def test_only_what_the_run_uses_travels_with_its_secrets_sealed(
    proj: Project, profile: ResolvedProfile
) -> None:
    spec = portable(profile, ["reporter", "not_a_resource"])

    assert list(spec.resources) == ["warehouse", "reporter"]  # what it refers to, first
    assert spec.resources["warehouse"].type_path == "portable_pipeline:PostgresWarehouse"
    assert spec.resources["reporter"].deps == ("warehouse",)
    password = spec.resources["warehouse"].inputs["password"]
    assert isinstance(password, SecretStr)
    assert password.get_secret_value() == SECRET
    assert spec.resources["warehouse"].inputs["dsn"] == "postgresql://db.internal/shop"
    assert SECRET not in repr(spec) + repr(spec.resources) + repr(dict(spec.resources))
    assert SECRET not in repr(dict(spec.resources["warehouse"].inputs))
    assert spec.paths == (str(proj.root.resolve()),)


def test_it_survives_pickling_and_sets_up_as_the_original(profile: ResolvedProfile) -> None:
    spec = pickle.loads(pickle.dumps(portable(profile, ["reporter"])))

    rebuilt, broken = spec.rebuild(where="worker 0")

    assert broken == {}
    assert list(rebuilt.resources) == ["warehouse", "reporter"]
    assert rebuilt.redactor.redact(f"x {SECRET} y") == profile.redactor.redact(f"x {SECRET} y")
    with ResourceScope(rebuilt) as there, ResourceScope(profile) as here:
        sent, local = there.get("reporter"), here.get("reporter")
        assert sent.title == local.title == "weekly"
        assert sent.warehouse.dsn == local.warehouse.dsn
        assert sent.warehouse.password.get_secret_value() == SECRET
        assert there.live == ("warehouse", "reporter")


def test_a_type_that_does_not_import_there_breaks_it_and_what_refers_to_it(
    profile: ResolvedProfile,
) -> None:
    spec = portable(profile, ["reporter", "notifier"])
    gone = spec.resources["warehouse"].replace(type_path="vanished_module:PostgresWarehouse")
    spec = spec.replace(resources={**spec.resources, "warehouse": gone})

    rebuilt, broken = spec.rebuild(where="worker 3")

    assert list(rebuilt.resources) == ["notifier"]
    assert set(broken) == {"warehouse", "reporter"}
    assert broken["reporter"] is broken["warehouse"]  # the root cause, named once
    assert broken["warehouse"].key == "warehouse"
    assert broken["warehouse"].message == (
        "setup of resource 'warehouse' failed: cannot import its type on worker 3: cannot "
        "import type 'vanished_module:PostgresWarehouse': no module named 'vanished_module'"
    )


def test_a_type_defined_in_a_function_is_refused_with_what_to_do(tmp_path: Path) -> None:
    class Local(envres.Resource):
        size: int = 1

    project = make_project(tmp_path / "p", {"dev.yaml": "resources:\n  thing: {type: thing}\n"})
    defs = envres.Definitions(resource_types={"thing": Local})
    profile = defs.with_profile("dev", project=str(project.root), env={}).profile

    with pytest.raises(envres.DefinitionError) as info:
        portable(profile, ["thing"])

    assert "resource 'thing': its type" in str(info.value)
    assert "define it at the top level of an importable module" in str(info.value)
