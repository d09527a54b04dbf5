"""pytest plugin (entry point ``pytest11``): build bound definitions with fakes in tests.

::

    def test_report(envres_bind):
        bound = envres_bind(defs, "dev", notifier=FakeNotifier())
        result = bound.run(["report"])
        assert result["report"] == ...

    def test_one_asset(envres_call):
        assert envres_call(daily_revenue, orders="rows", notifier=[]) == "revenue:rows"
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from envres._assets import AssetDef
from envres._bound import BoundDefinitions
from envres._definitions import Definitions
from envres._errors import UsageError
from envres._integrations._where import project_of

__all__ = ["envres_bind", "envres_call"]


@pytest.fixture
def envres_bind(request: pytest.FixtureRequest) -> Callable[..., BoundDefinitions]:
    """A factory: ``envres_bind(defs, profile=None, *, project=None, env=None, **overrides)``.

    Loads and validates ``profile`` like ``defs.with_profile`` does, with each
    keyword argument replacing the resource of that key by the object given (a
    ``Resource`` instance is set up and torn down; anything else is used as is).
    A key need not exist in the profile.

    The project is ``project``, else ``ENVRES_PROJECT``, else the one the current
    folder is in, else the one the test file is in: ``pytest path/to/proj/tests``
    works from any folder.
    """
    test_file = request.path

    def bind(
        defs: Definitions,
        profile: str | None = None,
        *,
        project: str | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> BoundDefinitions:
        if project is None and "ENVRES_PROJECT" not in (os.environ if env is None else env):
            found = project_of(Path.cwd()) or project_of(test_file)
            project = None if found is None else str(found)
        return defs.with_profile(profile, project=project, env=env, overrides=overrides)

    return bind


@pytest.fixture
def envres_call() -> Callable[..., Any]:
    """Call one asset with hand-made inputs: every parameter must be given by name.

    Missing parameters raise :class:`envres.UsageError` naming them, so a test
    says exactly what the asset receives.
    """

    def call(asset: AssetDef, /, **inputs: Any) -> Any:
        if not isinstance(asset, AssetDef):
            raise UsageError(f"envres_call takes an @envres.asset, got {asset!r}")
        missing = [p for p in asset.params if p not in inputs]
        unknown = [k for k in inputs if k not in asset.params]
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if unknown:
                parts.append(f"unknown {', '.join(unknown)}")
            raise UsageError(f"asset '{asset.name}' takes {list(asset.params)}: {'; '.join(parts)}")
        result = asset.fn(**inputs)
        if asset.is_async:
            import asyncio

            result = asyncio.run(result)
        return result

    return call
