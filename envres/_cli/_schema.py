"""The JSON Schema of a profile file, for editors (``envres schema``).

Each resource type's config model becomes a schema (pydantic's), then every place a
value goes in it (a field, at any depth: nested models, items of lists, values of
dicts) is widened to what a profile may write there besides a literal: a string
that is interpolated or rendered (it contains ``${``, ``{{`` or ``{%``), whose type
is only known once the profile is loaded, and a ``{resource: key}`` reference. A
literal of the wrong type or an unknown field is still an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from envres._secrets import DEFAULT_SECRET_NAMES, SecretNames, hide_schema_defaults

if TYPE_CHECKING:
    from envres._resources import ResourceType

__all__ = ["schema"]


def schema(
    resource_types: Mapping[str, ResourceType], secret_names: SecretNames = DEFAULT_SECRET_NAMES
) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of a profile file for the registered resource types.

    The default of a field that is secret (by its type, or by its name under ``names``)
    is left out (under ``secret_names``): a default written in code is a secret too.
    """
    defs, options = _resource_schemas(resource_types, secret_names)
    options.append(_other_entry(sorted(resource_types)))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "envres profile",
        "type": "object",
        "properties": {
            "extends": {
                "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
            },
            "env_files": {
                "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
            },
            "resources": {
                "type": "object",
                "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                "additionalProperties": {"anyOf": options},
            },
        },
        "patternProperties": {"^x-": {}},
        "additionalProperties": False,
        "$defs": defs,
    }


def _resource_schemas(
    resource_types: Mapping[str, ResourceType], secret_names: SecretNames
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Each type's entry schema (its config widened) in ``$defs``, and the options naming them."""
    from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
    from pydantic_core import core_schema

    class _Lenient(GenerateJsonSchema):
        def handle_invalid_for_json_schema(
            self, schema: core_schema.CoreSchema, error_info: str
        ) -> JsonSchemaValue:
            return {}

    defs: dict[str, Any] = {}
    options: list[dict[str, Any]] = [{"type": "null"}]
    for name, rtype in sorted(resource_types.items()):
        cfg = rtype.model.model_json_schema(
            schema_generator=_Lenient, ref_template=f"#/$defs/{name}.{{model}}"
        )
        hide_schema_defaults(cfg, secret_names)
        for sub_name, sub in cfg.pop("$defs", {}).items():
            defs[f"{name}.{sub_name}"] = _widen(sub)
        defs[name] = {
            "type": "object",
            "properties": {"type": {"const": name}, "config": _widen(cfg)},
            "required": ["type"],
            "additionalProperties": False,
        }
        options.append({"$ref": f"#/$defs/{name}"})
    return defs, options


def _other_entry(names: list[str]) -> dict[str, Any]:
    """An entry of a type not registered (``names`` are): its config is not checked."""
    return {
        "type": "object",
        "description": "an import path or plugin type, or a partial entry merged over a parent",
        "properties": {
            "type": {"type": "string", "not": {"enum": names}} if names else {"type": "string"},
            "config": {"type": "object"},
        },
        "additionalProperties": False,
    }


#: A string the loader interpolates (``${VAR}``, ``${VAR:-default}``, ...) or renders
#: (``{{ ... }}``, ``{% ... %}``): what it becomes is checked when the profile loads.
_INTERPOLATED: dict[str, Any] = {"type": "string", "pattern": r"\$\{|\{\{|\{%"}

#: ``{resource: key}``: the value is another resource of the profile.
_REFERENCE: dict[str, Any] = {
    "type": "object",
    "properties": {"resource": {"type": "string"}},
    "required": ["resource"],
    "additionalProperties": False,
}

#: Keywords that describe a value without constraining it; they stay on the outside of
#: a widened value so that an editor's hover and completion still show them.
_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly"}
)

_ANY_STRING: dict[str, Any] = {"type": "string"}


def _widen(node: Any) -> Any:
    """``node`` (a schema that is not itself a value position) with its values widened."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, sub in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {name: _value(s) for name, s in sub.items()}
        elif key in ("additionalProperties", "items"):
            out[key] = _value(sub)
        elif key == "prefixItems":
            out[key] = [_value(s) for s in sub]
        elif key in ("anyOf", "oneOf", "allOf"):
            # A widened branch may overlap another ("${X}" fits each one of a tagged
            # union), so "exactly one" becomes "at least one" (where that loses nothing).
            widened = [_widen(s) for s in sub]
            out["anyOf" if key == "oneOf" and "anyOf" not in node else key] = widened
        elif key == "$defs":
            out[key] = {name: _widen(s) for name, s in sub.items()}
        else:
            out[key] = sub
    return out


def _value(node: Any) -> Any:
    """The schema of one value: ``node``, or an interpolated string, or a reference."""
    if not isinstance(node, dict):  # a boolean schema: true accepts all, false nothing
        return node
    widened = _widen(node)
    notes = {k: v for k, v in widened.items() if k in _ANNOTATIONS}
    rest = {k: v for k, v in widened.items() if k not in _ANNOTATIONS}
    if not rest:  # accepts anything already
        return widened
    branches: list[Any] = list(rest["anyOf"]) if set(rest) == {"anyOf"} else [rest]
    if _ANY_STRING not in branches:
        branches.append(_INTERPOLATED)
    branches.append(_REFERENCE)
    return {**notes, "anyOf": branches}
