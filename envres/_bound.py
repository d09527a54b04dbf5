"""Definitions with a validated profile applied: what users run and open scopes from."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from envres._catalog import Catalog
from envres._errors import UsageError
from envres._events import Event
from envres._executors import Job, executor_for
from envres._load import load_profile
from envres._resolved import ResolvedProfile
from envres._run import RunResult
from envres._scope import ResourceScope

__all__ = ["BoundDefinitions", "bind"]


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
        defs: Catalog,
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
        executor: object = "local",
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
        order = tuple(self.defs.plan(assets))
        job = Job(self.defs, self.profile, order, self.overrides, jobs, on_event)
        return executor_for(executor).run(job)


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
    defs: Catalog,
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
        allow_missing_env=allow_missing_env or settings.allow_missing_env,
        overrides=frozenset(overrides or ()),
    )
    return BoundDefinitions(defs, resolved, overrides)
