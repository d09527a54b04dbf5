"""The JSON Schema of a profile file, for editors (``envres schema``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from envres._resources import ResourceType

__all__ = ["schema"]


def schema(resource_types: Mapping[str, ResourceType]) -> dict[str, Any]:
    """A JSON Schema of a profile file for the registered resource types."""
    from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
    from pydantic_core import core_schema

    class _Lenient(GenerateJsonSchema):
        def handle_invalid_for_json_schema(
            self, schema: core_schema.CoreSchema, error_info: str
        ) -> JsonSchemaValue:
            return {}

    interpolated = {"type": "string", "pattern": r"\$\{|\{\{|\{%"}
    defs: dict[str, Any] = {}
    options: list[dict[str, Any]] = [{"type": "null"}]
    for name, rtype in sorted(resource_types.items()):
        cfg = rtype.model.model_json_schema(
            schema_generator=_Lenient, ref_template=f"#/$defs/{name}.{{model}}"
        )
        for sub_name, sub in cfg.pop("$defs", {}).items():
            defs[f"{name}.{sub_name}"] = sub
        props = cfg.get("properties", {})
        for field, sub in props.items():
            if sub.get("type") != "string":
                props[field] = {"anyOf": [sub, interpolated, _REF_SCHEMA]}
        defs[name] = {
            "type": "object",
            "properties": {"type": {"const": name}, "config": cfg},
            "required": ["type"],
            "additionalProperties": False,
        }
        options.append({"$ref": f"#/$defs/{name}"})
    names = sorted(resource_types)
    options.append(
        {
            "type": "object",
            "description": "an import path or plugin type, or a partial entry merged over a parent",
            "properties": {
                "type": {"type": "string", "not": {"enum": names}} if names else {"type": "string"},
                "config": {"type": "object"},
            },
            "additionalProperties": False,
        }
    )
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


_REF_SCHEMA = {
    "type": "object",
    "properties": {"resource": {"type": "string"}},
    "required": ["resource"],
    "additionalProperties": False,
}
