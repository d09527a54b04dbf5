"""Definitions with a validated profile applied: what users run and open scopes from."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envres._errors import Problem, ProfileError, UsageError
from envres._load import import_definitions, load_profile
from envres._run import RunResult, plan, run_assets, run_then_close
from envres._scope import Event, ResourceScope
from envres._validate import ResolvedProfile

if TYPE_CHECKING:
    from distributed import Client

    from envres._definitions import Definitions

__all__ = ["BoundDefinitions", "bind", "load"]


class BoundDefinitions:
    """Definitions plus a validated profile. Nothing is set up until used.

    ::

        bound = defs.with_profile("dev")
        result = bound.run()                       # every asset
        result = bound.run(["daily_revenue"], jobs=4)
        with bound.resources("warehouse") as r:    # outside a run
            r["warehouse"].query("select 1")
    """

    def __init__(
        self,
        defs: Definitions,
        profile: ResolvedProfile,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self.defs = defs
        self.profile = profile
        self.overrides: Mapping[str, Any] = dict(overrides or {})

    def __repr__(self) -> str:
        return f"<BoundDefinitions profile={self.profile.name!r} resources={sorted(self.keys)}>"

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.profile.resources, *self.overrides]))

    def scope(self, on_event: Callable[[Event], None] | None = None) -> ResourceScope:
        """A new :class:`ResourceScope`: resources set up on first use, torn down on close."""
        return ResourceScope(self.profile, self.overrides, on_event)

    @contextlib.contextmanager
    def resources(self, *keys: str) -> Iterator[dict[str, Any]]:
        """Set up ``keys`` (default: every key) for use outside a run; tear down after.

        Yields a dict from key to what an asset would receive.
        """
        wanted = keys or self.keys
        for k in wanted:
            if k not in self.keys:
                raise UsageError(f"resource '{k}' is not defined in profile '{self.profile.name}'")
        scope = self.scope()
        with _closing(scope):
            yield {k: scope.get(k) for k in wanted}

    def call(self, fn: Callable[..., Any], /, **given: Any) -> Any:
        """Call ``fn`` with the resources its parameters name, set up just for this call."""
        scope = self.scope()
        with _closing(scope):
            return scope.call(fn, **given)

    def run(
        self,
        assets: Sequence[str] | None = None,
        *,
        jobs: int = 1,
        on_event: Callable[[Event], None] | None = None,
        executor: str | Client = "local",
    ) -> RunResult:
        """Run ``assets`` (default: all) and what they need, then tear everything down.

        Only the resources the planned assets name are set up. Raises
        :class:`AssetError` (a :class:`RunError`) when an asset or a setup fails,
        :class:`TeardownError` when only a teardown fails; ``failures`` lists
        every failure, the first being the one that stopped the run.

        ``executor`` says where assets run: ``"local"`` (threads here), ``"dask"``
        (a new Dask cluster of ``jobs`` worker processes), a Dask scheduler's
        address, or a connected ``distributed.Client``; the last three need the
        ``envres[dask]`` extra::

            bound.run(executor="tcp://10.0.0.5:8786")
        """
        order = plan(self.defs, assets)
        if not isinstance(executor, str) or executor != "local":
            from envres._dask import run_on_dask  # imports distributed: only for this

            return run_on_dask(self, order, executor, jobs=jobs, on_event=on_event)
        scope = self.scope(on_event)
        return run_then_close(
            lambda: run_assets(self.defs, scope, order, jobs=jobs, on_event=on_event),
            scope.close,
        )


@contextlib.contextmanager
def _closing(scope: ResourceScope) -> Iterator[ResourceScope]:
    """Close ``scope`` after the block; a failed teardown raises its TeardownError.

    If the block itself raised, that error wins and each failed teardown is
    added to it as a note, so neither is lost.
    """
    try:
        yield scope
    except BaseException as exc:
        for error in scope.close():
            exc.add_note(f"also: {error.message}")
        raise
    errors = scope.close()
    if errors:
        errors[0].failures = tuple(errors)
        raise errors[0] from errors[0].__cause__


def bind(
    defs: Definitions,
    *,
    profile: str | None = None,
    project: str | Path | None = None,
    profiles_dir: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    allow_missing_env: bool = False,
) -> BoundDefinitions:
    """Load and validate a profile for ``defs`` (see :meth:`Definitions.with_profile`)."""
    from envres._settings import load_settings  # pydantic-settings: paid only when loading

    environ = os.environ if env is None else env
    settings = load_settings(
        project=project, environ=environ, profile=profile, profiles_dir=profiles_dir
    )
    resolved = load_profile(
        settings,
        defs,
        process_env=environ,
        allow_missing_env=allow_missing_env,
        overrides=frozenset(overrides or ()),
    )
    return BoundDefinitions(defs, resolved, overrides)


def load(
    profile: str | None = None,
    *,
    project: str | Path | None = None,
    definitions: str | None = None,
    profiles_dir: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> BoundDefinitions:
    """Import the project's definitions (``[tool.envres] definitions``) and bind a profile.

    The same lookups as the command line: ``profile`` else ``ENVRES_PROFILE``
    else ``default_profile`` else ``dev``.
    """
    from envres._settings import load_settings

    environ = os.environ if env is None else env
    settings = load_settings(
        project=project,
        environ=environ,
        profile=profile,
        profiles_dir=profiles_dir,
        definitions=definitions,
    )
    if settings.definitions is None:
        raise ProfileError(
            [Problem("no definitions: set [tool.envres] definitions = 'module:attribute'")]
        )
    defs = import_definitions(settings.definitions, settings.project)
    return bind(
        defs,
        profile=settings.profile,
        project=settings.project,
        profiles_dir=settings.profiles_dir,
        env=environ,
        overrides=overrides,
    )
