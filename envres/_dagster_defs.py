"""A ``dagster.Definitions`` read as envres definitions, for validation and listing.

When ``[tool.envres] definitions`` names a ``dagster.Definitions``, envres reads
what each of its assets, jobs, sensors and schedules needs (their required
resource keys, leaving out envres's own ``envres_scope`` and Dagster's implicit
``io_manager``), so ``envres validate --all`` reports, per profile, a key one of
them needs that the profile lacks, and ``envres assets`` lists the assets. The
short type names come from the catalog given to ``envres.dagster.resources``.
Dagster is only touched when it is already imported (the object is Dagster's).
"""

from __future__ import annotations

import sys
from typing import Any

from envres._assets import AssetDef
from envres._catalog import Catalog
from envres._dagster_classes import CATALOG_ATTRIBUTE, SCOPE_KEY
from envres._definitions import Definitions

__all__ = ["IMPLICIT_KEYS", "from_dagster"]

#: Keys no profile has to define: envres's own, and Dagster's default IO manager.
IMPLICIT_KEYS = frozenset({SCOPE_KEY, "io_manager"})


def from_dagster(obj: object) -> Definitions | None:
    """envres Definitions standing for ``obj`` when it is a ``dagster.Definitions``, else None."""
    dg: Any = sys.modules.get("dagster")
    if dg is None or not isinstance(obj, dg.Definitions):
        return None
    found: list[tuple[str, list[str], tuple[str, ...], tuple[str, int] | None]] = []
    for assets_def in obj.assets or ():
        if not isinstance(assets_def, dg.AssetsDefinition):
            continue  # specs and source assets: nothing of theirs runs
        needs = _needed(assets_def.required_resource_keys)
        source = _source_of(assets_def)
        for key in assets_def.keys:
            upstream = sorted(k.to_user_string() for k in assets_def.asset_deps.get(key, ()))
            found.append((key.to_user_string(), upstream, needs, source))
    names = {name for name, *_ in found}
    # An upstream asset defined elsewhere (a spec, another code location) is no resource.
    declared = [
        AssetDef.declared(name, (*(u for u in ups if u in names), *needs), source=source)
        for name, ups, needs, source in found
    ]
    for kind, defs in (("job", obj.jobs), ("sensor", obj.sensors), ("schedule", obj.schedules)):
        for d in defs or ():
            needs = _needed(getattr(d, "required_resource_keys", ()) or ())
            if needs:
                name = d.name if d.name not in names else f"{kind}:{d.name}"
                names.add(name)
                declared.append(AssetDef.declared(name, needs, kind=kind))
    out = Definitions(declared)
    out.resource_types = _catalog_of(obj).resource_types
    return out


def _needed(keys: Any) -> tuple[str, ...]:
    return tuple(sorted(k for k in keys if k not in IMPLICIT_KEYS))


def _source_of(assets_def: Any) -> tuple[str, int] | None:
    fn = getattr(getattr(assets_def.op, "compute_fn", None), "decorated_fn", None)
    code = getattr(fn, "__code__", None)
    return (code.co_filename, code.co_firstlineno) if code is not None else None


def _catalog_of(obj: Any) -> Catalog:
    """The catalog envres.dagster.resources was given, else one with no short names."""
    scope = (obj.resources or {}).get(SCOPE_KEY)
    found = getattr(getattr(scope, "resource_fn", None), CATALOG_ATTRIBUTE, None)
    return found if isinstance(found, Catalog) else Catalog()
