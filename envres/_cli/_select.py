"""``envres run --select/--exclude`` (dbt's graph operators) and ``--dry-run``.

A spec is an asset's name, with ``+`` before it for everything upstream of it and
``+`` after it for everything downstream: ``orders``, ``+orders``, ``orders+``,
``+orders+``. Several specs (repeated flags, or one value with spaces or commas)
are a union; ``--exclude`` removes its assets from what was selected.

envres keeps no asset's value between runs, so a selected asset receives its
upstream assets' values only by running them in the same run. A selection that
leaves out an asset a selected one takes is a usage error naming both, never a run
that would fail half-way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from envres._catalog import Catalog
from envres._errors import UsageError, suggest
from envres._resolved import ResolvedProfile, deps_first

__all__ = ["dry_run_lines", "select"]


def select(
    catalog: Catalog,
    assets: Sequence[str] = (),
    selects: Sequence[str] = (),
    excludes: Sequence[str] = (),
) -> list[str]:
    """The assets to run, upstream first.

    ``assets`` (the positional names) run with everything upstream, as ``+name``
    does; ``selects`` are specs. With neither, every asset. Raises
    :class:`UsageError` for an unknown name, an empty selection, or an asset whose
    upstream asset the selection leaves out.
    """
    chosen: set[str] = set()
    for name in assets:
        chosen.update(_expand(catalog, name), _walk(catalog.upstream, name))
    for spec in _specs(selects):
        chosen.update(_expand(catalog, spec))
    if not assets and not selects:
        chosen = set(catalog.assets)
    for spec in _specs(excludes):
        chosen.difference_update(_expand(catalog, spec))
    if not chosen:
        raise UsageError("the selection is empty: no asset to run")
    # The positional names first, then definition order: what `plan` ran before.
    starts = [*dict.fromkeys(assets), *(n for n in catalog.assets if n in chosen)]
    order = [name for name in catalog.plan(starts) if name in chosen]
    missing = [(name, up) for name in order for up in catalog.upstream[name] if up not in chosen]
    if missing:
        name, up = missing[0]
        more = f" ({len(missing) - 1} more like it)" if len(missing) > 1 else ""
        raise UsageError(
            f"asset '{name}' takes the value of '{up}', which the selection leaves out{more}: "
            f"select it too (--select +{name} runs {name} with everything upstream); "
            "envres keeps no value between runs"
        )
    return order


def _specs(values: Iterable[str]) -> list[str]:
    return [part for value in values for part in value.replace(",", " ").split()]


def _expand(catalog: Catalog, spec: str) -> set[str]:
    name = spec.strip("+")
    if name not in catalog.assets:
        known = sorted(catalog.assets)
        within = f" in '{spec}'" if spec != name else ""
        raise UsageError(
            f"unknown asset '{name}'{within}{suggest(name, known)} "
            f"(assets: {', '.join(known) or 'none'})"
        )
    found = {name}
    if spec.startswith("+"):
        found.update(_walk(catalog.upstream, name))
    if spec.endswith("+"):
        downstream: dict[str, list[str]] = {n: [] for n in catalog.assets}
        for n, ups in catalog.upstream.items():
            for up in ups:
                downstream[up].append(n)
        found.update(_walk(downstream, name))
    return found


def _walk(edges: Mapping[str, Sequence[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        for nxt in edges[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def dry_run_lines(catalog: Catalog, profile: ResolvedProfile, order: Sequence[str]) -> list[str]:
    """What ``envres run`` would do with one job, in order: each setup, each asset, teardown.

    A resource is set up when the first asset that takes it (or a resource that
    refers to it) is about to run, as in a real run; nothing is set up here.
    """
    lines: list[str] = []
    done: list[str] = []
    for name in order:
        keys = [k for k in catalog.resource_params[name] if k in profile.resources]
        for key in deps_first(profile.resources, keys, set(done)):
            done.append(key)
            lines.append(f"  setup   {key} ({profile.resources[key].type_name})")
        lines.append(f"  run     {name}")
    lines.extend(f"  down    {key}" for key in reversed(done))
    return lines
