"""Pydantic JSON schema → Kubernetes structural OpenAPI v3 schema.

The API server accepts only *structural* schemas: every node typed (or explicitly free-form), no
``$ref``, no ``anyOf`` over types, ``exclusiveMinimum`` as an OpenAPI 3.0 boolean. This module is pure:
it maps one schema dict to another and raises :class:`UnsupportedSchemaError` for shapes it cannot map,
so an unsupported field type fails ``make crds`` instead of producing a schema the server rejects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PRESERVE = "x-kubernetes-preserve-unknown-fields"

# Keywords copied as they are (after the ones handled explicitly below).
_KEPT = frozenset(
    {
        "description",
        "type",
        "format",
        "default",
        "enum",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "pattern",
        "required",
        "nullable",
    }
)
# Keywords dropped: documentation for humans reading JSON Schema, or implied by the structure.
_DROPPED = frozenset({"title", "$defs", "examples", "discriminator", "readOnly", "writeOnly", "deprecated"})


class UnsupportedSchemaError(ValueError):
    """A pydantic schema construct with no structural equivalent."""


def to_structural(schema: Mapping[str, Any], defs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The structural equivalent of ``schema``; ``defs`` resolves its ``#/$defs/`` references."""
    definitions = dict(defs if defs is not None else schema.get("$defs", {}))
    return _expand_object_defaults(_convert(schema, definitions, path=""))


def _expand_object_defaults(node: dict[str, Any]) -> dict[str, Any]:
    """Replace ``default: {}`` by the object its properties' defaults make, at every depth.

    The API server validates a default against the node's own schema *before* filling in nested
    defaults, so ``{}`` fails every CEL rule that reads a defaulted field; the materialised object does not.
    """
    for sub in node.get("properties", {}).values():
        _expand_object_defaults(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            _expand_object_defaults(node[key])
    if node.get("type") == "object" and node.get("default") == {}:
        node["default"] = _materialised(node)
    return node


def _materialised(node: dict[str, Any]) -> dict[str, Any]:
    return {name: sub["default"] for name, sub in node.get("properties", {}).items() if "default" in sub}


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Inline ``$ref``, ``allOf`` of one item and ``anyOf`` with ``null`` into one plain node."""
    node = dict(schema)
    if "$ref" in node:
        ref = node.pop("$ref")
        name = ref.removeprefix("#/$defs/")
        if name not in defs:
            raise UnsupportedSchemaError(f"{path or '.'}: unresolvable reference {ref}")
        node = {**_resolve(defs[name], defs, path), **node}
    if "allOf" in node:
        parts = node.pop("allOf")
        if len(parts) != 1:
            raise UnsupportedSchemaError(f"{path or '.'}: allOf with {len(parts)} parts")
        node = {**_resolve(parts[0], defs, path), **node}
    if "anyOf" in node:
        variants = [v for v in node.pop("anyOf") if v.get("type") != "null"]
        if len(variants) != 1:
            raise UnsupportedSchemaError(f"{path or '.'}: a union of {len(variants)} types is not structural")
        if node.get("default", ...) is None:
            del node["default"]
        node = {**_resolve(variants[0], defs, path), **node}
    return node


def _convert(schema: Mapping[str, Any], defs: Mapping[str, Any], path: str) -> dict[str, Any]:
    node = _resolve(schema, defs, path)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in _DROPPED:
            out.update(_convert_keyword(key, value, defs, path))
    if "type" not in out and not out.get(PRESERVE) and not out.get("x-kubernetes-int-or-string"):
        # Any: a free-form value of any JSON type.
        out[PRESERVE] = True
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        out[PRESERVE] = True
    if isinstance(out.get("enum"), list) and "type" not in out:
        raise UnsupportedSchemaError(f"{path or '.'}: an enum needs a type")
    return _ordered(out)


def _convert_keyword(key: str, value: Any, defs: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The structural keywords that stand for one JSON-schema keyword of a node."""
    if key == "properties":
        return {"properties": {name: _convert(sub, defs, f"{path}.{name}") for name, sub in value.items()}}
    if key == "items":
        return {"items": _convert(value, defs, f"{path}[]")}
    if key == "additionalProperties":
        if value is True or value == {}:
            return {PRESERVE: True}
        return {} if value is False else {"additionalProperties": _convert(value, defs, f"{path}.*")}
    if key == "const":
        return {"enum": [value]}
    if key in ("exclusiveMinimum", "exclusiveMaximum"):
        return {"minimum" if key == "exclusiveMinimum" else "maximum": value, key: True}
    if key in _KEPT or key.startswith("x-kubernetes-"):
        return {key: value}
    raise UnsupportedSchemaError(f"{path or '.'}: keyword {key!r} has no structural equivalent")


def _ordered(node: dict[str, Any]) -> dict[str, Any]:
    """Keys sorted for stable files, except that properties keep their declaration order."""
    return {key: node[key] for key in sorted(node)}
