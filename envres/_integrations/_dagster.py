"""envres profiles as the ``resources=`` of a real ``dagster.Definitions``.

One Dagster resource per profile key, plus one internal resource,
``envres_scope``, that owns the live envres resources of a process: a
:class:`~envres._scope.ResourceScope`. Dagster initialises the resources a step
needs (once per run with the in-process executor, once per step process with
the multiprocess executor); each key's Dagster resource asks the scope for its
envres resource, which sets it up on first use, its references first, and the
scope tears them all down in reverse when Dagster tears ``envres_scope`` down,
after the run or step, on failure too. A reference (``{resource: warehouse}``)
is the same instance an asset asking for ``warehouse`` receives in that process.

Secrets: what Dagster shows and stores (resource descriptions, the event log,
failures of setups and teardowns) goes through the profile's redactor, and the
errors envres raises into Dagster carry no ``__cause__``: the user's original
exception, with the secret in its message, never reaches Dagster's serialised
error chain.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from envres._bound import bind
from envres._catalog import Catalog
from envres._errors import RunError, SetupError, TeardownError, UsageError
from envres._events import Event
from envres._resolved import ResolvedProfile, ResolvedResource
from envres._scope import ResourceScope

try:
    import dagster as dg
except ImportError as exc:  # pragma: no cover - tested with dagster hidden
    raise UsageError(
        "envres.dagster needs Dagster, which is not installed: pip install 'envres[dagster]'"
    ) from exc

__all__ = ["SCOPE_KEY", "resources"]

#: The internal resource key that owns the live envres resources of a process.
SCOPE_KEY = "envres_scope"

_log = logging.getLogger("envres")


def resources(
    defs: Catalog,
    *,
    profile: str | None = None,
    project: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    allow_missing_env: bool = False,
) -> dict[str, dg.ResourceDefinition]:
    """The ``resources=`` of a ``dagster.Definitions``, built from an envres profile.

    ::

        types = envres.Definitions(resource_types={"duckdb": DuckDBWarehouse, ...})
        defs = dg.Definitions(assets=[...], resources=envres.dagster.resources(types))

    The profile is ``profile``, else ``ENVRES_PROFILE``, else ``[tool.envres]
    default_profile``, else ``dev``; ``project`` is where ``pyproject.toml`` is
    (else ``ENVRES_PROJECT``, else the current folder); ``env`` replaces the
    process environment. The profile is validated now, when Dagster loads the code
    location: an invalid one raises :class:`envres.ProfileError` with every
    problem, one per line. With ``allow_missing_env`` an unset variable is a
    warning here (logged on the ``envres`` logger) and the setup of the resource
    that needs it fails, in the process where it is missing, with the same line.

    Returns one Dagster resource per profile key (an IO manager definition when the
    implementation is a ``dagster.IOManager``), plus ``envres_scope``.
    """
    bound = bind(
        defs, profile=profile, project=project, env=env, allow_missing_env=allow_missing_env
    )
    for warning in bound.profile.warnings:
        _log.warning("envres: %s (profile '%s')", warning, bound.profile.name)
    resolved = bound.profile
    out: dict[str, dg.ResourceDefinition] = {
        SCOPE_KEY: dg.ResourceDefinition(
            resource_fn=_scope_resource(resolved),
            description=f"envres: the live resources of profile '{resolved.name}' (internal)",
        )
    }
    for key, res in resolved.resources.items():
        kind = (
            dg.IOManagerDefinition
            if isinstance(res.rtype.provides, type) and issubclass(res.rtype.provides, dg.IOManager)
            else dg.ResourceDefinition
        )
        out[key] = kind(
            resource_fn=_key_resource(key),
            required_resource_keys={SCOPE_KEY},
            description=_description(resolved, res),
        )
    return out


def _description(profile: ResolvedProfile, res: ResolvedResource) -> str:
    """What Dagster's UI shows for a resource: the type and the config, secrets masked."""
    import yaml

    config = profile.redactor.mask_data(res.shown_config())
    shown = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=100).rstrip()
    text = f"envres profile '{profile.name}', type {res.type_name}"
    return profile.redactor.redact(f"{text}\n{shown}" if config else text)


def _scope_resource(profile: ResolvedProfile) -> Any:
    def envres_scope(context: dg.InitResourceContext) -> Iterator[ResourceScope]:
        log = context.log

        def report(event: Event) -> None:
            if log is None:
                return
            ms = f"{event.seconds * 1000:.0f} ms"
            if event.error:
                log.error(f"envres: {event.kind.replace('_', ' ')} {event.name}: {event.error}")
            else:
                log.info(f"envres: {event.kind} {event.name} ({ms})")

        scope = ResourceScope(profile, on_event=report)
        try:
            yield scope
        finally:
            errors = scope.close()
            if errors:
                # A clean error: the user's exception (and its message) stays out of
                # what Dagster serialises and stores.
                raise TeardownError(errors[0].key, errors[0].detail) from None

    return envres_scope


def _key_resource(key: str) -> Any:
    def envres_resource(context: dg.InitResourceContext) -> Iterator[Any]:
        scope: ResourceScope = getattr(context.resources, SCOPE_KEY)
        try:
            value = scope.get(key)
        except SetupError as exc:
            raise SetupError(exc.key, exc.detail) from None
        except RunError as exc:
            raise RunError(exc.message) from None
        yield value

    envres_resource.__name__ = f"envres_{key}"
    return envres_resource
