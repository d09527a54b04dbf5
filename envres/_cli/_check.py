"""``envres check``: set each resource up, call its ``check()``, tear everything down.

Like ``dbt debug``: does the profile's warehouse accept these credentials, does the
webhook answer? Each resource is set up (its references first) in a worker
thread, so a resource that hangs is given up after ``timeout`` seconds and the
others are still checked; then everything set up is torn down, in reverse, each
teardown interrupted (and failed) once it has run ``timeout`` seconds. A
resource's ``check()`` (on the instance assets receive) raises to fail and may
return a short text to show (a server version, an HTTP status).

A setup or ``check()`` given up keeps running on its daemon thread, unwatched,
until it returns or the process exits: Python cannot stop a thread. Its
resource is still torn down (a setup that completes later, at once); what it
refers to stays up until then. The command does not wait for it.

A signal (Ctrl-C, SIGTERM, SIGHUP) stops the check like a run: what was set up is
torn down in reverse, and the interrupt goes on to the command line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from envres._causes import reason as reason_of
from envres._errors import SetupError, TeardownError, UsageError, suggest
from envres._resolved import ResolvedProfile, deps_first
from envres._scope import ResourceScope
from envres._secrets import Redactor

__all__ = ["Checked", "Reference", "check_resources", "source_references"]


@dataclass(frozen=True)
class Checked:
    """The outcome of one resource's check; ``reason`` is one masked line.

    A failure that user code raised adds ``more`` (the rest of its message, masked),
    ``where`` (the line of the user's code it came from) and the exception itself,
    ``error``, for ``--debug``'s traceback.
    """

    key: str
    type_name: str
    ok: bool
    seconds: float
    reason: str
    more: tuple[str, ...] = ()
    where: str = ""
    error: BaseException | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Reference:
    """One secret source reference of the profile, as ``envres check`` reports it."""

    reference: str
    result: str
    used_at: str


def source_references(profile: ResolvedProfile, keys: Sequence[str] = ()) -> list[Reference]:
    """Each source reference the resources (or ``keys``) read, and whether it resolved.

    A reference that failed fails validation before ``check`` gets here (one line
    each, with the reason), so what is left says resolved, or not found and a
    default used. Never a value.
    """
    out: list[Reference] = []
    for key, res in profile.resources.items():
        if keys and key not in keys:
            continue
        for path, origin in res.origins.items():
            for use in origin.uses:
                if not use.source:
                    continue
                name = f"{use.name} (file named by {use.via})" if use.via else use.name
                if use.default_used:
                    result = "not found, default used" if not use.is_set else "empty, default used"
                else:
                    result = "resolved" if use.is_set else "not resolved"
                dotted = ".".join(str(p) for p in path)
                where = f"{origin.loc.file}:{origin.loc.line} resources.{key}.config.{dotted}"
                out.append(Reference(name, result, where))
    return out


def _order(profile: ResolvedProfile, keys: Sequence[str]) -> list[str]:
    """``keys`` (default: all) and what they refer to, dependencies first."""
    resources = profile.resources
    for key in keys:
        if key not in resources:
            raise UsageError(
                f"resource '{key}' is not defined in profile '{profile.name}'"
                f"{suggest(key, sorted(resources))} (resources: {', '.join(resources)})"
            )
    return deps_first(resources, keys or list(resources))


def check_resources(profile: ResolvedProfile, keys: Sequence[str], timeout: float) -> list[Checked]:
    """Check ``keys`` (default: every key) and what they need; always tears down."""
    order = _order(profile, keys)
    redactor = profile.redactor
    results: list[Checked] = []
    scope = ResourceScope(profile)
    try:
        _check_each(scope, order, timeout, results)
    except BaseException:
        scope.close(timeout)  # notes what it could not tear down on the interrupt
        raise
    for error in scope.close(timeout):
        _teardown_failed(results, error, redactor)
    return results


def _teardown_failed(results: list[Checked], error: TeardownError, redactor: Redactor) -> None:
    """Mark the row failed by its teardown (a timeout reads "teardown timed out ...")."""
    key, detail, more, where = error.key, error.detail, error.reason.more, error.reason.where
    reason = f"teardown {detail}" if detail.startswith("timed out") else f"teardown: {detail}"
    for i, r in enumerate(results):
        if r.key == key:
            said = f"{r.reason}; {reason}" if r.reason and not r.ok else reason
            results[i] = Checked(
                r.key,
                r.type_name,
                False,
                r.seconds,
                redactor.redact(said),
                (*r.more, *more),
                r.where or where,
                r.error or error,
            )
            return


def _check_each(
    scope: ResourceScope, order: list[str], timeout: float, results: list[Checked]
) -> None:
    profile = scope.profile
    redactor = profile.redactor
    for key in order:
        outcome: dict[str, Any] = {}

        def attempt(key: str = key, outcome: dict[str, Any] = outcome) -> None:
            try:
                value = scope.get(key)
                check = getattr(value, "check", None)
                outcome["said"] = check() if callable(check) else None
            except BaseException as exc:  # the worker thread reports, never raises
                outcome["error"] = exc

        started = time.perf_counter()
        worker = threading.Thread(target=attempt, name=f"envres-check-{key}", daemon=True)
        worker.start()
        worker.join(timeout)
        seconds = time.perf_counter() - started
        type_name = profile.resources[key].type_name
        if worker.is_alive():
            reason = f"timed out after {timeout:g} s"
            results.append(Checked(key, type_name, False, seconds, reason))
            continue
        # A KeyboardInterrupt here is the check's own (signals reach the main thread
        # only): a failure like any other exception.
        error = outcome.get("error")
        if isinstance(error, SetupError) and error.key == key:
            why = error.reason
            results.append(
                Checked(key, type_name, False, seconds, str(why), why.more, why.where, error)
            )
        elif isinstance(error, SetupError):
            reason = f"not checked: resource '{error.key}' could not be set up"
            results.append(Checked(key, type_name, False, seconds, reason))
        elif error is not None:
            why = reason_of(error, redactor)
            results.append(
                Checked(key, type_name, False, seconds, str(why), why.more, why.where, error)
            )
        else:
            said = outcome.get("said")
            reason = redactor.redact(" ".join(str(said).split())) if said is not None else ""
            results.append(Checked(key, type_name, True, seconds, reason))
