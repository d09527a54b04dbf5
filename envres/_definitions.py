"""``Definitions``: the catalog of a pipeline, and the door to binding it to a profile."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from envres._catalog import Catalog

if TYPE_CHECKING:
    from envres._bound import BoundDefinitions

__all__ = ["Definitions"]


class Definitions(Catalog):
    """The assets of a pipeline and the resource types its profiles may name.

    ::

        defs = envres.Definitions(
            assets=[orders, report],
            resource_types={"duckdb": DuckDBWarehouse, "console": console},
        )
        bound = defs.with_profile("dev")   # validated, nothing set up yet
        bound.run()

    A parameter of an asset that names another asset is a dependency on it;
    every other parameter is a resource key the profile must bind (unless the
    parameter has a default).
    """

    def with_profile(
        self,
        profile: str | None = None,
        *,
        project: str | None = None,
        profiles_dir: str | None = None,
        env: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
        allow_missing_env: bool = False,
    ) -> BoundDefinitions:
        """Load, merge and validate a profile; return the bound definitions.

        Raises :class:`envres.ProfileError` listing every problem. Nothing is set
        up until you run or open a scope. ``env`` replaces the process environment
        (handy in tests); ``overrides`` binds keys to objects of your own.
        """
        # The loader and the runner load on first use: a module that only defines
        # resources and assets (and `envres validate`) does not pay for them.
        from envres._bound import bind

        return bind(
            self,
            profile=profile,
            project=project,
            profiles_dir=profiles_dir,
            env=env,
            overrides=overrides,
            allow_missing_env=allow_missing_env,
        )
