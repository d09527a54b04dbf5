"""The checks across resources and assets: references, dependency cycles, what assets need.

Run after every config is validated on its own; each check appends problems, and
nothing here raises. Graph walks use an explicit stack, so a chain of any length
is checked without recursion.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

from envres._assets import AssetDef
from envres._catalog import Catalog
from envres._codes import BAD_REFERENCE, INTERFACE, MISSING_RESOURCE
from envres._errors import Loc, Problem, suggest
from envres._paths import display
from envres._resolved import ResolvedResource
from envres._values import Ref, refs_in

__all__ = ["check_assets", "check_refs", "satisfies"]


def satisfies(provided: type, annotation: Any) -> bool | None:
    """Whether a resource of class ``provided`` fits ``annotation``; None when it cannot tell.

    ``Any``, ``object`` and no annotation accept everything; ``X | None`` and unions
    accept what any member accepts; a class accepts its subclasses. Anything else
    (a generic alias, a Protocol that is not runtime-checkable) cannot be checked
    before the run, and is not reported.
    """
    if annotation is None or annotation is Any or annotation is object:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return satisfies(provided, typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        answers = [satisfies(provided, a) for a in typing.get_args(annotation)]
        return True if True in answers else (None if None in answers else False)
    if not isinstance(annotation, type):
        return None
    try:
        return issubclass(provided, annotation)
    except TypeError:  # a Protocol with data members, or not runtime-checkable
        return None


def _describe(annotation: Any) -> str:
    """``a Warehouse``, ``a Warehouse or a Cache``: what an annotation asks for."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _describe(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(_describe(a) for a in members)
    name = getattr(annotation, "__qualname__", None) or str(annotation)
    return f"{_article(name)} {name}"


def _article(name: str) -> str:
    """``an`` before a vowel (``an ApiClient``), else ``a`` (``a UserStore``: its sound)."""
    return "an" if name[:1].lower() in ("a", "e", "i", "o") else "a"


def _unlisted_asset(fn: Any, name: str) -> AssetDef | None:
    """The ``@envres.asset`` named ``name`` beside ``fn`` in its module, if there is one.

    A parameter named after an asset that ``Definitions(assets=...)`` leaves out is
    read as a resource key; this finds the asset the user meant.
    """
    found = getattr(fn, "__globals__", {}).get(name)
    return found if isinstance(found, AssetDef) else None


def check_refs(
    resources: Mapping[str, ResolvedResource], defined: frozenset[str], problems: list[Problem]
) -> None:
    """Each ``{resource: key}`` names a defined key of a fitting type; no dependency cycle."""
    for res in resources.values():
        if not res.deps:  # no reference anywhere in its config
            continue
        for name, value in res.inputs.items():
            for ref in refs_in(value):
                if ref.key not in defined:
                    problems.append(
                        Problem(
                            f"refers to resource '{ref.key}', which the profile does not define"
                            f"{suggest(ref.key, sorted(resources))}",
                            ref.loc,
                            f"resources.{res.key}.config.{name}",
                            code=BAD_REFERENCE,
                        )
                    )
                    continue
                target = resources.get(ref.key)
                fields = res.rtype.model.model_fields
                ann = fields[name].annotation if name in fields else None
                provided = target.rtype.provides if target is not None else None
                if (
                    target is not None
                    and provided is not None
                    and isinstance(value, Ref)
                    and satisfies(provided, ann) is False
                ):
                    problems.append(
                        Problem(
                            f"needs {_describe(ann)}, but resource '{ref.key}' is "
                            f"'{target.type_name}' ({provided.__qualname__})",
                            ref.loc,
                            f"resources.{res.key}.config.{name}",
                            code=BAD_REFERENCE,
                        )
                    )
    _check_cycles(resources, problems)


def _check_cycles(resources: Mapping[str, ResolvedResource], problems: list[Problem]) -> None:
    """Report each dependency cycle once, at the reference that closes it."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start, first in resources.items():
        if start in state or not first.deps:
            continue
        path = [start]
        state[start] = 1
        stack = [iter(first.deps)]
        while stack:
            key = path[-1]
            for dep in stack[-1]:
                if dep not in resources:
                    continue
                if state.get(dep) == 1:
                    cycle = [*path[path.index(dep) :], dep]
                    res = resources[key]
                    loc = next(
                        (r.loc for v in res.inputs.values() for r in refs_in(v) if r.key == dep),
                        res.key_loc,
                    )
                    problems.append(
                        Problem(
                            f"resource dependency cycle: {' -> '.join(cycle)}",
                            loc,
                            f"resources.{key}",
                            code=BAD_REFERENCE,
                        )
                    )
                elif dep not in state:
                    state[dep] = 1
                    path.append(dep)
                    stack.append(iter(resources[dep].deps))
                    break
            else:
                state[key] = 2
                path.pop()
                stack.pop()


def check_assets(
    catalog: Catalog,
    resources: Mapping[str, ResolvedResource],
    profile: str,
    defined: frozenset[str],
    removed: Mapping[str, Loc],
    problems: list[Problem],
    empty_at: Loc | None = None,
) -> None:
    """Every resource an asset takes is bound, and is a subclass of the annotated interface.

    A key the profile removed with ``key: null`` is traced to the line that removed it.
    ``empty_at`` is the start of a profile that defines nothing (an empty file, say):
    the keys the assets need are then one problem there, not one per asset.
    """
    unbound: list[str] = []
    fits: dict[tuple[type, Any], bool | None] = {}
    for a in catalog.assets.values():
        for param in catalog.resource_params[a.name]:
            res = resources.get(param)
            if res is None:
                # Defined but invalid (already reported), overridden, or optional.
                if param in defined or param in a.optional:
                    continue
                problem = _unbound(a, param, catalog, resources, profile, removed, empty_at)
                if problem is not None:
                    problems.append(problem)
                elif param not in unbound:
                    unbound.append(param)
                continue
            problem = _misfit(a, param, res, fits)
            if problem is not None:
                problems.append(problem)
    if unbound and empty_at is not None:
        problems.append(
            Problem(
                f"profile '{profile}' is empty, but the assets need {', '.join(unbound)}: "
                "define them under 'resources:'",
                empty_at,
                code=MISSING_RESOURCE,
            )
        )


def _unbound(
    a: AssetDef,
    param: str,
    catalog: Catalog,
    resources: Mapping[str, ResolvedResource],
    profile: str,
    removed: Mapping[str, Loc],
    empty_at: Loc | None,
) -> Problem | None:
    """Why asset ``a``'s ``param`` has no resource; ``None`` when the empty profile says it."""
    where = f" ({display(a.source[0])}:{a.source[1]})" if a.source else ""
    if param in removed:
        loc = removed[param]
        why = f"removes ({loc.file}:{loc.line}: {param}: null)"
        hint = ""
    elif _unlisted_asset(a.fn, param) is not None:
        return Problem(
            f"asset '{a.name}'{where} takes '{param}', an asset that is missing "
            f"from the definitions: add it to Definitions(assets=[...])",
            code=MISSING_RESOURCE,
        )
    elif empty_at is not None:
        return None
    else:
        why = "does not define"
        hint = suggest(param, sorted(resources)) or suggest(param, sorted(catalog.assets)).replace(
            "did you mean", "did you mean the asset"
        )
    return Problem(
        f"{a.kind} '{a.name}'{where} needs resource '{param}', which profile "
        f"'{profile}' {why}{hint}",
        code=MISSING_RESOURCE,
    )


def _misfit(
    a: AssetDef,
    param: str,
    res: ResolvedResource,
    fits: dict[tuple[type, Any], bool | None],
) -> Problem | None:
    """A problem when ``res``'s type is not the interface ``a`` annotates ``param`` with.

    ``fits`` remembers each (provided type, annotation) pair already judged.
    """
    provided = res.rtype.provides
    if provided is None:
        return None
    ann = a.annotations.get(param)
    try:
        fit = fits[provided, ann]
    except KeyError:
        fit = fits[provided, ann] = satisfies(provided, ann)
    except TypeError:  # an annotation that cannot be hashed
        fit = satisfies(provided, ann)
    if fit is not False:
        return None
    return Problem(
        f"asset '{a.name}' expects {_describe(ann)} for '{param}', but type "
        f"'{res.type_name}' is {_describe(provided)}",
        res.type_loc,
        f"resources.{param}.type",
        code=INTERFACE,
    )
