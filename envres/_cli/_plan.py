"""What a change to a profile does, as a plan: resources added, removed and changed.

``envres diff A B`` compares two resolved profiles (either may be a profile at a
git revision) the way a reviewer reads Terraform's plan::

    ~ warehouse (postgres)
        ~ pool_size: 5 -> 10
        ~ password: (changed)
    + cache (redis)
        + url: redis://cache:6379/0
    - scratch (duckdb)
    ~ notifier: type console -> slack
        - prefix: '[shop]'
        + channel: '#alerts'

Values are compared as ``show`` prints them: secrets are already masked by the
resolved profile (:meth:`ResolvedResource.shown_config`, then the profile's
redactor). A value that shows the mask on either side is a secret; it is never
printed, only said to be ``(changed)`` (its value differs) or ``(unchanged)``
(written differently, the same value): the values behind the mask are compared
here, in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from envres._cli._render import input_key, profile_data, scalar
from envres._errors import Loc
from envres._nodes import Node
from envres._resolved import ResolvedProfile, ResolvedResource
from envres._secrets import hidden, holds_mask
from envres._values import MISSING, NOT_SET

__all__ = ["Change", "ResourceChange", "plan", "plan_data", "plan_lines"]

_ABSENT: Any = object()


@dataclass(frozen=True)
class Change:
    """One config value added (``+``), removed (``-``) or changed (``~``).

    ``before`` and ``after`` are shown values (``None`` where absent); for a secret
    both are ``None`` and ``secret`` says ``"changed"`` or ``"unchanged"`` (or, when
    added or removed, the mask or ``<not set>`` stands in ``before``/``after``).
    """

    op: str
    field: str
    before: Any = None
    after: Any = None
    secret: str | None = None
    loc: Loc | None = None

    def text(self) -> str:
        if self.op == "~" and self.secret is not None:
            return f"~ {self.field}: ({self.secret})"
        if self.op == "~":
            return f"~ {self.field}: {scalar(self.before)} -> {scalar(self.after)}"
        shown = self.after if self.op == "+" else self.before
        return f"{self.op} {self.field}: {scalar(shown)}"


@dataclass(frozen=True)
class ResourceChange:
    """A resource key added, removed or changed, with its value changes."""

    op: str
    key: str
    type_before: str | None
    type_after: str | None
    changes: tuple[Change, ...]
    loc: Loc | None = None

    def head(self) -> str:
        if self.op == "~" and self.type_before != self.type_after:
            return f"~ {self.key}: type {self.type_before} -> {self.type_after}"
        return f"{self.op} {self.key} ({self.type_after or self.type_before})"


def _flatten(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _flatten(v, (*path, str(k)))
    else:
        yield path, value


def _secret(value: Any) -> bool:
    """A value the resolved profile masks whole: a secret field (or a list of them)."""
    if isinstance(value, list | dict):
        return holds_mask(value)
    return isinstance(value, str) and value == hidden()


def _raw(res: ResolvedResource, path: tuple[str, ...]) -> Any:
    """The value at ``path`` as interpolated, unmasked: compared, never shown."""
    value: Any = res.inputs.get(input_key(res, path[0]), _ABSENT)
    for part in path[1:]:
        value = value.get(part, _ABSENT) if isinstance(value, dict) else _ABSENT
    return value


def _written(
    profile: ResolvedProfile, key: str, res: ResolvedResource, path: tuple[str, ...]
) -> Any:
    """The value at ``path`` as written in the profile file (before interpolation)."""
    entry = profile.merged.resources.get(key)
    node: Node | None = entry.config if entry is not None else None
    for i, part in enumerate(path):
        if node is None or not isinstance(node.value, dict):
            return _ABSENT
        node = node.value.get(input_key(res, part) if i == 0 else part)
    return node.plain() if node is not None else _ABSENT


def _where(res: ResolvedResource, path: tuple[str, ...]) -> Loc | None:
    origin = res.origins.get((input_key(res, path[0]), *path[1:]))
    return origin.loc if origin is not None else None


def _missing(value: Any) -> bool:
    """Not set: absent, or read from an unset variable."""
    return value is _ABSENT or value is MISSING


def _secret_change(
    a: ResolvedProfile, b: ResolvedProfile, key: str, path: tuple[str, ...]
) -> str | None:
    """``changed``, ``unchanged`` (written differently, same value) or None (no change)."""
    ra, rb = a.resources[key], b.resources[key]
    raw_a, raw_b = _raw(ra, path), _raw(rb, path)
    written_a, written_b = _written(a, key, ra, path), _written(b, key, rb, path)
    if repr(raw_a) != repr(raw_b):
        return "changed"
    if written_a == written_b:
        return None
    # Both unset: the values cannot be compared, only where they are read from.
    return "changed" if _missing(raw_a) and _missing(raw_b) else "unchanged"


def _config_changes(a: ResolvedProfile, b: ResolvedProfile, key: str) -> tuple[Change, ...]:
    shown_a = profile_data(a)["resources"][key]["config"] if key in a.resources else {}
    shown_b = profile_data(b)["resources"][key]["config"] if key in b.resources else {}
    flat_a = dict(_flatten(shown_a, ()))
    flat_b = dict(_flatten(shown_b, ()))
    res_b = b.resources.get(key)
    out: list[Change] = []
    for path in [*flat_a, *(p for p in flat_b if p not in flat_a)]:
        if not path:
            continue
        field = ".".join(path)
        loc = _where(res_b, path) if res_b is not None and path in flat_b else None
        if path not in flat_b:
            out.append(Change("-", field, before=flat_a[path]))
        elif path not in flat_a:
            out.append(Change("+", field, after=flat_b[path], loc=loc))
        elif (
            _secret(flat_a[path])
            or _secret(flat_b[path])
            or (flat_a[path] == flat_b[path] and holds_mask(flat_a[path]))
        ):
            verdict = _secret_change(a, b, key, path)
            if verdict is not None:
                out.append(Change("~", field, secret=verdict, loc=loc))
        elif flat_a[path] != flat_b[path]:
            # A value holding a secret among other text (a DSN with its password) shows
            # that text, masked as `show` masks it.
            out.append(Change("~", field, flat_a[path], flat_b[path], loc=loc))
        elif flat_a[path] == NOT_SET and _written(a, key, a.resources[key], path) != _written(
            b, key, b.resources[key], path
        ):
            # Unset on both sides (CI without the secrets): the values cannot be compared,
            # but where they are read from changed, and a reviewer must see it.
            out.append(Change("~", field, secret="changed", loc=loc))
    return tuple(out)


def plan(a: ResolvedProfile, b: ResolvedProfile) -> list[ResourceChange]:
    """What turning ``a`` into ``b`` changes, resource by resource, in ``a``'s order."""
    out: list[ResourceChange] = []
    for key in [*a.resources, *(k for k in b.resources if k not in a.resources)]:
        ra, rb = a.resources.get(key), b.resources.get(key)
        changes = _config_changes(a, b, key)
        if ra is None and rb is not None:
            out.append(ResourceChange("+", key, None, rb.type_name, changes, rb.type_loc))
        elif rb is None and ra is not None:
            out.append(ResourceChange("-", key, ra.type_name, None, (), b.merged.removed.get(key)))
        elif ra is not None and rb is not None and (changes or ra.type_name != rb.type_name):
            out.append(ResourceChange("~", key, ra.type_name, rb.type_name, changes, rb.type_loc))
    return out


def plan_lines(changes: list[ResourceChange]) -> list[str]:
    """The plan as text: one line per resource, its value changes indented below."""
    lines: list[str] = []
    for rc in changes:
        lines.append(rc.head())
        lines.extend(f"    {c.text()}" for c in rc.changes)
    added = sum(1 for rc in changes if rc.op == "+")
    changed = sum(1 for rc in changes if rc.op == "~")
    removed = sum(1 for rc in changes if rc.op == "-")
    lines.append(f"Plan: {added} to add, {changed} to change, {removed} to remove.")
    return lines


def plan_data(changes: list[ResourceChange]) -> list[dict[str, Any]]:
    """The plan as JSON data: one record per resource, with its value changes."""
    kinds: Mapping[str, str] = {"+": "add", "-": "remove", "~": "change"}
    out: list[dict[str, Any]] = []
    for rc in changes:
        values = []
        for c in rc.changes:
            record: dict[str, Any] = {"change": kinds[c.op], "field": c.field}
            if c.secret is not None:
                record.update(secret=True, value=c.secret)
            else:
                record.update(before=c.before, after=c.after)
            values.append(record)
        out.append(
            {
                "change": kinds[rc.op],
                "resource": rc.key,
                "type": {"before": rc.type_before, "after": rc.type_after},
                "values": values,
            }
        )
    return out
