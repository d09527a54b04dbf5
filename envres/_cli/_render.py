"""Text the inspecting commands print: resolved profiles, provenance, variables, schema.

Pure functions from resolved data to strings. Secret positions are masked in
the data before it is formatted (``ResolvedResource.shown_config``), every other
string through the profile's redactor, and the session masks each printed line
again as a last line of defence.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from envres._env import PROCESS, PROJECT
from envres._resolved import ResolvedProfile, ResolvedResource
from envres._secrets import hidden
from envres._values import Origin

__all__ = [
    "EnvRow",
    "ExplainedResource",
    "ExplainedValue",
    "env_rows",
    "env_table",
    "explain",
    "explain_json",
    "explain_yaml",
    "input_key",
    "profile_data",
    "scalar",
    "show_text",
]


def profile_data(profile: ResolvedProfile) -> dict[str, Any]:
    """The resolved profile in the shape of a profile file."""
    return {
        "resources": {
            key: {"type": res.type_name, "config": _shown(profile, res)}
            for key, res in profile.resources.items()
        }
    }


def _shown(profile: ResolvedProfile, res: ResolvedResource) -> dict[str, Any]:
    """A resource's config as shown: secret positions masked, then any secret text."""
    shown: dict[str, Any] = profile.redactor.mask_data(res.shown_config())
    return shown


def scalar(value: Any) -> str:
    """One value as a YAML flow scalar on one line, as ``show --explain`` and ``diff`` print it."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9, allow_unicode=True)
    text = text.strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    return text.removesuffix("...").strip()


def show_text(profile: ResolvedProfile, fmt: str) -> str:
    data = profile_data(profile)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100).rstrip()


def _operator(expr: str) -> tuple[str, str]:
    """The operator and its argument of a ``${NAME<op>arg}`` expression (``("", "")`` if none)."""
    if not (expr.startswith("${") and expr.endswith("}")):
        return "", ""
    body = expr[2:-1]
    i = len(_name_of(expr))
    for op in (":-", ":?", ":+", "-", "?", "+"):
        if body.startswith(op, i):
            return op, body[i + len(op) :]
    return "", ""


def _name_of(expr: str) -> str:
    """The variable a ``${NAME...}`` expression is about (``""`` if it is not one)."""
    if not expr.startswith("${"):
        return ""
    i = 2
    while i < len(expr) and (expr[i].isalnum() or expr[i] == "_"):
        i += 1
    return expr[2:i]


def _nested(use: Any) -> bool:
    """``use`` is a variable read inside another's default (``B`` of ``${A:-${B}}``)."""
    return not use.source and _name_of(use.expr) != use.name


def _how(use: Any, env: Any) -> str:
    if _nested(use):
        if not use.is_set:
            return f"{use.name}: not set"
        source = env.sources.get(use.name, PROCESS)
        return f"{use.name}: {_source_label(source)}"
    if use.source:
        origin = f"the file named by {use.via}" if use.via else use.name
        if use.default_used:
            return f"{origin}: not found, default used" if not use.is_set else f"{origin}: empty"
        return f"from {origin}" if use.is_set else f"{origin}: not resolved"
    op, _ = _operator(use.expr)
    if op in (":+", "+"):
        return "set, alternative used" if use.default_used else "not set, nothing used"
    if use.default_used:
        return "empty, default used" if use.is_set else "not set, default used"
    if not use.is_set:
        return "not set"
    return _source_label(env.sources.get(use.name, PROCESS))


def _source_label(source: str) -> str:
    """Where a set variable's value came from, as ``show --explain`` says it."""
    if source == PROCESS:
        return "environment"
    return "the project folder" if source == PROJECT else f"env file {source}"


def _explain_origin(origin: Origin | None, res: ResolvedResource, field: str, env: Any) -> str:
    if origin is None:
        return f"default of {res.rtype.model.__name__}.{field}"
    where = f"{origin.loc.file}:{origin.loc.line}"
    # The variables of one expression (``${A:-${B}}`` reads A, then B) share its text:
    # it is written once, with what each read found.
    how: dict[str, list[str]] = {}
    for use in origin.uses:
        how.setdefault(use.expr, []).append(_how(use, env))
    uses = [f"{expr} ({'; '.join(found)})" for expr, found in how.items()]
    if origin.template:
        uses.append("template")
    return where + (" <- " + ", ".join(uses) if uses else "")


@dataclass(frozen=True)
class ExplainedValue:
    """One config value as shown (secrets masked) and where it came from."""

    name: str
    value: Any
    origin: str


@dataclass(frozen=True)
class ExplainedResource:
    """One resource key of a profile: its type, where the type was written, its values."""

    key: str
    type_name: str
    type_where: str
    config: tuple[ExplainedValue, ...]


def explain(profile: ResolvedProfile) -> list[ExplainedResource]:
    """What ``envres show --explain`` says, as data: every value masked, with its origin."""
    out: list[ExplainedResource] = []
    for key, res in profile.resources.items():
        type_where = f"{res.type_loc.file}:{res.type_loc.line}" if res.type_loc else ""
        values = []
        for name, value in _shown(profile, res).items():
            origin = _explain_origin(_origin_of(res, name), res, name, profile.env)
            values.append(ExplainedValue(name, value, origin))
        out.append(ExplainedResource(key, res.type_name, type_where, tuple(values)))
    return out


def explain_yaml(profile: ResolvedProfile) -> str:
    """The resolved profile as YAML with a comment on each value saying where it came from."""
    lines = ["resources:"]
    for res in explain(profile):
        lines.append(f"  {res.key}:")
        lines.append(f"    type: {scalar(res.type_name)}  # {res.type_where}")
        if not res.config:
            continue
        lines.append("    config:")
        lines.extend(f"      {v.name}: {scalar(v.value)}  # {v.origin}" for v in res.config)
    return "\n".join(lines)


def explain_json(profile: ResolvedProfile) -> str:
    data = profile_data(profile)
    data["explain"] = {
        f"resources.{res.key}.config.{v.name}": v.origin
        for res in explain(profile)
        for v in res.config
    }
    return json.dumps(data, indent=2, ensure_ascii=False)


def _origin_of(res: ResolvedResource, field: str) -> Origin | None:
    """Where a field's value was written: the field itself, or its first written part
    (a mapping or a list); found under its alias if it has one. None: a default."""
    key = input_key(res, field)
    origin = res.origins.get((key,))
    if origin is None and isinstance(res.inputs.get(key), dict | list):
        origin = _first_origin(res.origins, key)
    return origin


def _first_origin(origins: Mapping[tuple[str | int, ...], Origin], name: str) -> Origin | None:
    for path, origin in origins.items():
        if path and path[0] == name:
            return origin
    return None


@dataclass(frozen=True)
class EnvRow:
    """One variable the profile reads, as ``envres env`` shows it.

    ``value`` is masked (the mask for a variable that feeds a secret, else every
    known secret masked in it) and ``None`` when the variable is not set.
    """

    name: str
    state: str
    value: str | None
    defaults: tuple[str, ...]
    used_at: tuple[str, ...]
    secret: bool


def env_rows(profile: ResolvedProfile) -> list[EnvRow]:
    """The variables the merged profile reads, by name: state, masked value, defaults, uses."""
    rows: dict[str, dict[str, Any]] = {}
    for rec in profile.variables:
        name = rec.use.name
        row = rows.setdefault(name, {"secret": False, "where": [], "defaults": [], "via": ""})
        row["secret"] = row["secret"] or rec.secret
        row["via"] = row["via"] or rec.use.via
        row["where"].append(f"{rec.loc.file}:{rec.loc.line} {rec.path}")
        default = None if _nested(rec.use) else _default_of(rec.use.expr)
        if default is not None and default not in row["defaults"]:
            row["defaults"].append(default)
    out: list[EnvRow] = []
    for name in sorted(rows):
        row = rows[name]
        value: str | None = None
        if name in profile.env.values:
            source = profile.env.sources.get(name, PROCESS)
            over = "".join(
                f", over {lower}" for lower in reversed(profile.env.shadowed.get(name, ()))
            )
            label = "the project folder" if source == PROJECT else source
            state = f"set ({label}{over})"
            value = profile.redactor.shown(profile.env.values[name], row["secret"])
        elif row["via"]:
            # Read from the file VAR_FILE names (a secret source): its value is a secret.
            state, value = f"from the file named by {row['via']}", hidden()
        else:
            state = "not set"
        out.append(
            EnvRow(name, state, value, tuple(row["defaults"]), tuple(row["where"]), row["secret"])
        )
    return out


def env_table(profile: ResolvedProfile) -> str:
    """One row per variable the merged profile reads: state, value, default, where used."""
    rows = env_rows(profile)
    if not rows:
        return "the profile reads no environment variables"
    table: list[tuple[str, str, str, str, str]] = []
    for row in rows:
        # Masked before it is cut, so a cut never shows the start of a secret.
        raw = row.value
        value = "-" if raw is None else (raw if len(raw) <= 40 else raw[:39] + "…")
        default = ", ".join(row.defaults) or "-"
        for i, where in enumerate(row.used_at):
            table.append(
                (row.name, row.state, value, default, where) if i == 0 else ("", "", "", "", where)
            )
    header = ("VARIABLE", "STATE", "VALUE", "DEFAULT", "USED AT")
    # Masked before the columns are sized: a padded column must not tell a secret's
    # length (a template's env(env('X')) can make a secret the name of a variable).
    # USED AT is structure (file:line and a path of keys): masked whole, never by
    # fragment, so a key that shares eight letters with a secret stays readable.
    redact = profile.redactor.redact_untrusted
    whole = profile.redactor.redact
    table = [(redact(a), b, c, redact(d), whole(e)) for a, b, c, d, e in table]
    widths = [max(len(r[i]) for r in [header, *table]) + 2 for i in range(4)]
    return "\n".join(
        "".join(cell.ljust(w) for cell, w in zip(r[:4], widths, strict=True)) + r[4]
        for r in [header, *table]
    )


def _default_of(expr: str) -> str | None:
    op, arg = _operator(expr)
    return arg if op in (":-", "-") else None


def input_key(res: ResolvedResource, field: str) -> str:
    """The key a field is written under in the profile: its alias, when it has one."""
    if field in res.inputs:
        return field
    info = res.rtype.model.model_fields.get(field)
    for alias in (getattr(info, "alias", None), getattr(info, "validation_alias", None)):
        if isinstance(alias, str) and alias in res.inputs:
            return alias
    return field
