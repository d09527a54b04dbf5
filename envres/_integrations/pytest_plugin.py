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

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from envres._assets import AssetDef
from envres._bound import BoundDefinitions
from envres._definitions import Definitions
from envres._errors import UsageError

__all__ = ["envres_bind", "envres_call"]


@pytest.fixture
def envres_bind() -> Callable[..., BoundDefinitions]:
    """A factory: ``envres_bind(defs, profile=None, *, project=None, env=None, **overrides)``.

    Loads and validates ``profile`` like ``defs.with_profile`` does, with each
    keyword argument replacing the resource of that key by the object given (a
    ``Resource`` instance is set up and torn down; anything else is used as is).
    A key need not exist in the profile.
    """

    def bind(
        defs: Definitions,
        profile: str | None = None,
        *,
        project: str | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> BoundDefinitions:
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
