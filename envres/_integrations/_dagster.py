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

Dagster's own classes (``ConfigurableResource``, ``ConfigurableIOManager``,
``ConfigurableIOManagerFactory``) named by a profile's ``type:`` are handed to
Dagster as configured instances, and Dagster runs their lifecycle itself
(:func:`_dagster_instances`): a field given ``{resource: key}`` holds the
instance configured for ``key``. Dagster records an instance's field values in
each run's snapshot, so a secret field is handed over as ``dagster.EnvVar`` of a
variable that envres sets in the process (``ENVRES_SECRET__<key>__<field>``):
the snapshot records the variable's name, and Dagster reads the value in the
process that sets the resource up, which has loaded the code location, and so
set the variable, itself.

Secrets: what Dagster shows and stores (resource descriptions, the event log,
failures of setups and teardowns) goes through the profile's redactor, and the
errors envres raises into Dagster carry no ``__cause__``: the user's original
exception, with the secret in its message, never reaches Dagster's serialised
error chain; its causes, the line of the user's code it came from and the rest
of its message are written into the message instead, masked
(:func:`envres._causes.reason`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from envres._bound import bind
from envres._catalog import Catalog
from envres._causes import explain, reason
from envres._codes import CONFIG_INVALID
from envres._dagster_classes import CATALOG_ATTRIBUTE, SCOPE_KEY
from envres._errors import (
    INTERRUPTS,
    Loc,
    Problem,
    ProfileError,
    RunError,
    SetupError,
    TeardownError,
    UsageError,
)
from envres._events import Event
from envres._integrations._where import project_of
from envres._resolved import ResolvedProfile, ResolvedResource, deps_first
from envres._scope import ResourceScope
from envres._secrets import Redactor, holds_secret, part
from envres._values import Ref

try:
    import dagster as dg
except ImportError as exc:  # pragma: no cover - tested with dagster hidden
    raise UsageError(
        "envres.dagster needs Dagster, which is not installed: pip install 'envres[dagster]'"
    ) from exc

__all__ = ["SCOPE_KEY", "resources"]


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
    default_profile``, else ``dev``; ``project`` is where ``pyproject.toml`` is,
    else ``ENVRES_PROJECT``, else the project of the module that calls this (the
    nearest folder upward of its file whose ``pyproject.toml`` has ``[tool.envres]``),
    so a code location finds its profiles whichever folder Dagster is started
    from; else the project found from the current folder. ``env`` replaces the
    process environment. The profile is validated now, when Dagster loads the code
    location: an invalid one raises :class:`envres.ProfileError` with every
    problem, one per line. With ``allow_missing_env`` an unset variable is a
    warning here (logged on the ``envres`` logger) and the setup of the resource
    that needs it fails, in the process where it is missing, with the same line.

    Returns one Dagster resource per profile key, plus ``envres_scope``. A key whose
    type is one of Dagster's classes is the configured instance (see the module's
    docstring); an envres type is an IO manager definition when the class it
    provides (a Resource subclass itself, a ``@resource`` function's
    ``-> Iterator[X]``) is a ``dagster.IOManager``.
    """
    if project is None and "ENVRES_PROJECT" not in (os.environ if env is None else env):
        # The caller's frame: the definitions module Dagster is loading.
        module_file = sys._getframe(1).f_globals.get("__file__")
        project = project_of(module_file) if isinstance(module_file, str) else None
    bound = bind(
        defs, profile=profile, project=project, env=env, allow_missing_env=allow_missing_env
    )
    for warning in bound.profile.warnings:
        _log.warning("envres: %s (profile '%s')", warning, bound.profile.name)
    resolved = bound.profile
    reload = _reloader(resolved, defs, project, env)
    out: dict[str, dg.ResourceDefinition] = {
        SCOPE_KEY: dg.ResourceDefinition(
            resource_fn=_scope_resource(resolved, defs, reload),
            description=f"envres: the live resources of profile '{resolved.name}' (internal)",
        )
    }
    out.update(_key_definitions(resolved))
    out.update(_dagster_instances(resolved))
    return out


def _reloader(
    resolved: ResolvedProfile,
    defs: Catalog,
    project: str | Path | None,
    env: Mapping[str, str] | None,
) -> Callable[[], ResolvedProfile] | None:
    """How to load the profile again at setup, when it was loaded missing variables."""
    if not any(res.unresolved for res in resolved.resources.values()):
        return None
    # Loaded offline (allow_missing_env): at setup, in the process that runs the
    # step, the profile is loaded again for real, so a variable or a secret source
    # that is there by then is used; one still missing fails that setup.
    name = resolved.name

    def again() -> ResolvedProfile:
        environ = dict(os.environ if env is None else env)  # as it is now
        environ.pop("ENVRES_ALLOW_MISSING_ENV", None)
        return bind(defs, profile=name, project=project, env=environ).profile

    return again


def _key_definitions(resolved: ResolvedProfile) -> dict[str, dg.ResourceDefinition]:
    """A definition per key of an envres type, handing out the scope's live resource."""
    out: dict[str, dg.ResourceDefinition] = {}
    for key, res in resolved.resources.items():
        if res.rtype.dagster:
            continue
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


#: The variable a secret field of a Dagster class is handed over through.
SECRET_VARIABLE = "ENVRES_SECRET__{key}__{field}"


def _dagster_instances(profile: ResolvedProfile) -> dict[str, Any]:
    """The keys whose type is one of Dagster's classes: configured instances, references
    filled with the instance of the key they name, dependencies first."""
    resources = profile.resources
    wanted = [key for key, res in resources.items() if res.rtype.dagster]
    out: dict[str, Any] = {}
    usable: dict[str, Any] = {}  # the instances a reference can hold
    problems: list[Problem] = []
    for key in deps_first(resources, wanted):
        res = resources[key]
        if res.rtype.dagster:
            out[key] = _configured(profile, res, usable, problems)
            if not isinstance(out[key], dg.ResourceDefinition):
                usable[key] = out[key]
    if problems:
        raise ProfileError(problems, profile.name)
    return out


def _configured(
    profile: ResolvedProfile,
    res: ResolvedResource,
    made: Mapping[str, Any],
    problems: list[Problem],
) -> Any:
    """One Dagster class configured from the profile, or a resource that fails to set up."""
    why = "; ".join(res.unresolved)
    config: dict[str, Any] = {}
    for name, value in res.inputs.items():
        if why:
            break
        try:
            config[name] = _with_instances(value, made)
        except _Unavailable as exc:
            why = f"needs resource '{exc.args[0]}', which Dagster cannot set up here"
            break
        if not isinstance(value, Ref) and _is_secret(profile, res, name, config[name]):
            config[name] = _secret_variable(res, name, config[name], problems)
    cls = res.rtype.model
    if why:
        return _unavailable(res.key, why, cls)
    guarded = _guarded(cls, res.key, profile.redactor)
    try:
        return guarded(**config)
    except INTERRUPTS:
        raise
    except BaseException as exc:  # a validator that rejects what Dagster is handed
        if isinstance(exc, ValidationError):  # each error without its input
            reason = "; ".join(
                f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
        else:
            reason = explain(exc, profile.redactor)
        message = profile.redactor.redact_untrusted(f"Dagster rejects this config: {reason}")
        problems.append(Problem(message, res.key_loc, f"resources.{res.key}", code=CONFIG_INVALID))
        return None


class _Unavailable(Exception):
    """A reference to a key that has no Dagster instance (unresolved, or an envres type)."""


def _with_instances(value: Any, made: Mapping[str, Any]) -> Any:
    if isinstance(value, Ref):
        if value.key not in made:
            raise _Unavailable(value.key)
        return made[value.key]
    if isinstance(value, dict):
        return {k: _with_instances(v, made) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_instances(v, made) for v in value]
    return value


def _is_secret(profile: ResolvedProfile, res: ResolvedResource, name: str, value: Any) -> bool:
    if value == "" or value is None:
        return False  # an unset secret (``${TOKEN:-}``) reveals nothing, and Dagster
        # reads an empty variable as a missing one
    # A secret inside a dict or list (by its key's name, or by its variable) counts too:
    # the whole field would be recorded.
    shape = part(res.shape, name, profile.names)
    return holds_secret(value, shape, profile.names, profile.redactor)


def _secret_variable(res: ResolvedResource, name: str, value: Any, problems: list[Problem]) -> Any:
    """``dagster.EnvVar`` of a variable set to the secret here: what the run snapshot records."""
    variable = SECRET_VARIABLE.format(key=res.key, field=name)
    if isinstance(value, bool) or not isinstance(value, str | int):
        problems.append(
            Problem(
                f"a secret in a {type(value).__name__} field of a Dagster class would be stored "
                "in Dagster's run storage: make the field a str (or int)",
                _field_loc(res, name),
                f"resources.{res.key}.config.{name}",
                code=CONFIG_INVALID,
            )
        )
        return value
    os.environ[variable] = str(value)
    if isinstance(value, int):
        return dg.IntEnvVar.create(variable)
    return dg.EnvVar(variable)


def _field_loc(res: ResolvedResource, name: str) -> Loc:
    """Where the profile writes field ``name`` (its first value), else the resource's key."""
    locs = [origin.loc for path, origin in res.origins.items() if path[:1] == (name,)]
    return min(locs, key=lambda loc: (loc.line, loc.col)) if locs else res.key_loc


def _unavailable(key: str, why: str, cls: type) -> dg.ResourceDefinition:
    def unavailable(_: dg.InitResourceContext) -> Any:
        raise SetupError(key, why)

    kind = (
        dg.IOManagerDefinition
        if issubclass(cls, dg.ConfigurableIOManagerFactory)
        else dg.ResourceDefinition
    )
    return kind(resource_fn=unavailable, description=f"envres: not set up here: {why}")


def _guarded(cls: type, key: str, redactor: Redactor) -> Callable[..., Any]:
    """``cls`` with its setup and teardown failures turned into envres's one masked line.

    A subclass with the same names, so Dagster's UI and ``isinstance`` see the user's
    class; only ``yield_for_execution`` is wrapped, around the user's own (or Dagster's
    default, which calls ``setup_for_execution`` and ``teardown_after_execution``).
    An async ``yield_for_execution`` is handed over as it is.
    """
    original = cls.yield_for_execution  # type: ignore[attr-defined]

    def yield_for_execution(self: Any, context: dg.InitResourceContext) -> Any:
        inner = original(self, context)
        if isinstance(inner, contextlib.AbstractAsyncContextManager):
            return inner
        return _guarded_lifecycle(inner, key, redactor)

    namespace = {
        "yield_for_execution": yield_for_execution,
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
    }
    guarded: Callable[..., Any] = type(cls.__name__, (cls,), namespace)
    return guarded


@contextlib.contextmanager
def _guarded_lifecycle(
    inner: contextlib.AbstractContextManager[Any], key: str, redactor: Redactor
) -> Iterator[Any]:
    failure: RunError | None = None
    try:
        value = inner.__enter__()
    except INTERRUPTS:
        raise
    except BaseException as exc:  # user code's, SystemExit too: the setup's failure
        failure = SetupError(key, reason(exc, redactor))
    if failure is not None:
        # Raised outside the handler: no __context__ leads Dagster to the user's
        # exception and the secret in its message.
        raise failure
    try:
        yield value
    except BaseException:
        if not inner.__exit__(*sys.exc_info()):
            raise
        return
    try:
        inner.__exit__(None, None, None)
    except INTERRUPTS:
        raise
    except BaseException as exc:
        failure = TeardownError(key, reason(exc, redactor))
    if failure is not None:
        raise failure


def _description(profile: ResolvedProfile, res: ResolvedResource) -> str:
    """What Dagster's UI shows for a resource: the type and the config, secrets masked."""
    import yaml

    config = profile.redactor.mask_data(res.shown_config())
    shown = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=100).rstrip()
    text = f"envres profile '{profile.name}', type {res.type_name}"
    return profile.redactor.redact(f"{text}\n{shown}" if config else text)


def _scope_resource(
    profile: ResolvedProfile,
    catalog: Catalog,
    reload: Callable[[], ResolvedProfile] | None = None,
) -> Any:
    def envres_scope(context: dg.InitResourceContext) -> Iterator[ResourceScope]:
        log = context.log
        live = profile
        if reload is not None:
            # Still missing here: the setup of what needs it fails, saying so.
            with contextlib.suppress(ProfileError):
                live = reload()

        def report(event: Event) -> None:
            if log is None:
                return
            ms = f"{event.seconds * 1000:.0f} ms"
            if event.error:
                log.error(f"envres: {event.kind.replace('_', ' ')} {event.name}: {event.error}")
            else:
                log.info(f"envres: {event.kind} {event.name} ({ms})")

        scope = ResourceScope(live, on_event=report)
        try:
            yield scope
        finally:
            errors = scope.close()
            if errors:
                # A clean error: the user's exception (and its message) stays out of
                # what Dagster serialises and stores.
                raise TeardownError(errors[0].key, errors[0].reason) from None

    setattr(envres_scope, CATALOG_ATTRIBUTE, catalog)
    return envres_scope


def _key_resource(key: str) -> Any:
    def envres_resource(context: dg.InitResourceContext) -> Iterator[Any]:
        scope: ResourceScope = getattr(context.resources, SCOPE_KEY)
        try:
            value = scope.get(key)
        except SetupError as exc:
            raise SetupError(exc.key, exc.reason) from None
        except RunError as exc:
            raise RunError(exc.message) from None
        yield value

    envres_resource.__name__ = f"envres_{key}"
    return envres_resource
