"""Validate a custom resource against its CRD the way the API server does, without an API server.

The CLI's ``apply`` and the local runtime call :func:`validate_resource`: it rejects unknown fields
(strict field validation, ``kubectl``'s default), applies schema defaults, checks types, bounds, enums,
patterns and list uniqueness, then evaluates the CEL rules. Errors name the field in the API server's
words (``spec.numNodes: Invalid value: 0: ...``) so a message reads the same locally and on a cluster.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from modelplane.apis.v1alpha1 import KINDS
from modelplane.crd.build import build_openapi_schema
from modelplane.crd.cel import PRESERVE, RuleError, evaluate_rule

_MISSING: Any = object()
UNKNOWN_FIELD = "Unknown field"
NAME_DETAIL = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_TYPE_NAMES = {
    "object": "object",
    "array": "array",
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
}


class _Json(str):
    """A value already rendered as the API server renders it (compact JSON), printed as is."""


def _quote(value: Any) -> str:
    if isinstance(value, _Json):
        return str(value)
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    if value is None:
        return "null"
    return str(value)


@dataclass(frozen=True)
class FieldError:
    """One invalid field, worded like the API server's ``field.Error``."""

    path: str
    type: str
    detail: str = ""
    value: Any = _MISSING

    def __str__(self) -> str:
        if self.type == UNKNOWN_FIELD:
            return self.detail
        text = f"{self.path}: {self.type}"
        if self.value is not _MISSING:
            text += f": {_quote(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text


class InvalidResourceError(ValueError):
    """A resource the API server would reject; ``errors`` names every invalid field."""

    def __init__(self, kind: str, name: str, errors: list[FieldError]) -> None:
        self.kind = kind
        self.name = name
        self.errors = errors
        if errors and errors[0].type == UNKNOWN_FIELD:
            super().__init__(errors[0].detail)
            return
        lines = "\n".join(f"* {error}" for error in errors)
        super().__init__(
            f'{kind} "{name}" is invalid:\n{lines}' if len(errors) > 1 else f'{kind} "{name}" is invalid: {errors[0]}'
        )


@cache
def _schemas() -> dict[tuple[str, str], dict[str, Any]]:
    return {(kind.kind_info.api_version, kind.kind_info.kind): build_openapi_schema(kind) for kind in KINDS}


def known_kinds() -> list[tuple[str, str]]:
    """``(apiVersion, kind)`` of every kind this validator knows."""
    return list(_schemas())


def validate_resource(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The resource with schema defaults applied; :class:`InvalidResourceError` if the server would reject it."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    name = str(metadata.get("name", "")) if isinstance(metadata, Mapping) else ""
    schema = _schemas().get((str(api_version), str(kind)))
    if schema is None:
        supported = ", ".join(f"{v}/{k}" for v, k in _schemas())
        raise InvalidResourceError(
            str(kind),
            name,
            [FieldError("kind", "Unsupported value", f"supported kinds: {supported}", f"{api_version}/{kind}")],
        )
    return validate_against_schema(obj, schema, kind=str(kind))


def validate_against_schema(obj: Mapping[str, Any], schema: Mapping[str, Any], kind: str = "object") -> dict[str, Any]:
    """Validate any object against an ``openAPIV3Schema``; the defaulted copy, or :class:`InvalidResourceError`."""
    resource = copy.deepcopy(dict(obj))
    unknown = list(_unknown_fields(resource, schema, ""))
    if unknown:
        # Strict field validation happens while decoding, before anything else, as on the server.
        version = str(resource.get("apiVersion", "")).rsplit("/", 1)[-1]
        listed = ", ".join(f'unknown field "{path}"' for path in unknown)
        message = f'{kind} in version "{version}" cannot be handled as a {kind}: strict decoding error: {listed}'
        name = resource.get("metadata", {}).get("name", "") if isinstance(resource.get("metadata"), Mapping) else ""
        raise InvalidResourceError(kind, str(name), [FieldError(path, UNKNOWN_FIELD, message) for path in unknown])
    errors = list(_metadata_errors(resource.get("metadata")))
    walker = _Walker()
    walker.default(resource, schema)
    walker.check(resource, schema, "")
    errors.extend(walker.errors)
    if errors:
        name = resource.get("metadata", {}).get("name", "") if isinstance(resource.get("metadata"), Mapping) else ""
        raise InvalidResourceError(kind, str(name), errors)
    return resource


def _unknown_fields(value: Any, schema: Mapping[str, Any], path: str) -> Iterable[str]:
    """Paths of fields the schema does not declare (``metadata`` is the server's business), in document order."""
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            child = _join(path, key)
            if key in properties:
                if child != "metadata":
                    yield from _unknown_fields(item, properties[key], child)
            elif isinstance(extra, Mapping):
                yield from _unknown_fields(item, extra, child)
            elif not schema.get(PRESERVE) and not (path == "" and key in {"apiVersion", "kind", "metadata"}):
                yield child
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            yield from _unknown_fields(item, schema["items"], f"{path}[{index}]")


def _metadata_errors(metadata: Any) -> Iterable[FieldError]:
    if not isinstance(metadata, Mapping):
        yield FieldError("metadata", "Required value", "metadata with a name is required")
        return
    name = metadata.get("name")
    if not name and not metadata.get("generateName"):
        yield FieldError("metadata.name", "Required value", "name or generateName is required")
    elif name and (not isinstance(name, str) or len(name) > 253 or not DNS_SUBDOMAIN.match(name)):
        yield FieldError("metadata.name", "Invalid value", NAME_DETAIL, name)


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Walker:
    """One pass of defaulting, then one of checking, over an object and its schema."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def default(self, value: Any, schema: Mapping[str, Any]) -> None:
        """Fill missing properties that have defaults, depth first, as the server does before validating."""
        if isinstance(value, dict) and "properties" in schema:
            for key, sub in schema["properties"].items():
                if key not in value and "default" in sub:
                    value[key] = copy.deepcopy(sub["default"])
                if key in value:
                    self.default(value[key], sub)
        elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), Mapping):
            for item in value.values():
                self.default(item, schema["additionalProperties"])
        elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
            for item in value:
                self.default(item, schema["items"])

    def check(self, value: Any, schema: Mapping[str, Any], path: str) -> bool:
        """Record the errors of ``value`` at ``path``; whether it is valid (so its CEL rules may run)."""
        before = len(self.errors)
        if value is None:
            if not schema.get("nullable"):
                self.errors.append(
                    FieldError(
                        path,
                        "Invalid value",
                        f"{path} in body must be of type {schema.get('type', 'object')}",
                        None,
                    )
                )
            return False
        if not self._check_type(value, schema, path):
            return False
        if isinstance(value, dict):
            self._check_object(value, schema, path)
        elif isinstance(value, list):
            self._check_array(value, schema, path)
        else:
            self._check_scalar(value, schema, path)
        valid = len(self.errors) == before
        if valid:
            self._check_rules(value, schema, path)
        return len(self.errors) == before

    def _check_type(self, value: Any, schema: Mapping[str, Any], path: str) -> bool:
        expected = schema.get("type")
        if expected is None or (schema.get("x-kubernetes-int-or-string") and isinstance(value, int | str)):
            return True
        matches = {
            "object": isinstance(value, dict),
            "array": isinstance(value, list),
            "string": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
        }.get(expected, True)
        if not matches:
            actual = _json_type(value)
            detail = f"{path} in body must be of type {_TYPE_NAMES.get(expected, expected)}: {_quote(actual)}"
            self.errors.append(FieldError(path, "Invalid value", detail, actual))
        return matches

    def _check_object(self, value: dict[str, Any], schema: Mapping[str, Any], path: str) -> None:
        properties: Mapping[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key in schema.get("required", []):
            if key not in value:
                self.errors.append(FieldError(_join(path, key), "Required value"))
        for key, item in value.items():
            child = _join(path, key)
            if key in properties:
                self.check(item, properties[key], child)
            elif isinstance(extra, Mapping):
                self.check(item, extra, child)
        self._check_size(len(value), schema, path, low="minProperties", high="maxProperties", noun="properties")

    def _check_array(self, value: list[Any], schema: Mapping[str, Any], path: str) -> None:
        item_schema = schema.get("items", {PRESERVE: True})
        for index, item in enumerate(value):
            self.check(item, item_schema, f"{path}[{index}]")
        self._check_size(len(value), schema, path, low="minItems", high="maxItems", noun="items")
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "set":
            self._check_unique(value, path, [_freeze(item) for item in value])
        elif list_type == "map":
            keys = schema.get("x-kubernetes-list-map-keys", [])
            self._check_unique(
                value,
                path,
                [tuple(_freeze(item.get(k)) for k in keys) if isinstance(item, dict) else None for item in value],
                keys,
            )

    def _check_unique(self, value: list[Any], path: str, identities: list[Any], keys: list[str] | None = None) -> None:
        seen: set[Any] = set()
        for index, identity in enumerate(identities):
            if identity is None:
                continue
            if identity in seen:
                shown = value[index] if keys is None else {k: value[index].get(k) for k in keys}
                if keys is not None or not isinstance(shown, str | int | float | bool):
                    shown = _Json(json.dumps(shown, separators=(",", ":"), sort_keys=True))
                self.errors.append(FieldError(f"{path}[{index}]", "Duplicate value", "", shown))
            seen.add(identity)

    def _check_size(self, size: int, schema: Mapping[str, Any], path: str, *, low: str, high: str, noun: str) -> None:
        if low in schema and size < schema[low]:
            self.errors.append(
                FieldError(path, "Invalid value", f"{path} in body should have at least {schema[low]} {noun}", size)
            )
        if high in schema and size > schema[high]:
            self.errors.append(FieldError(path, "Too many", f"must have at most {schema[high]} {noun}", size))

    def _check_scalar(self, value: Any, schema: Mapping[str, Any], path: str) -> None:
        if "enum" in schema and value not in schema["enum"]:
            supported = ", ".join(_quote(v) for v in schema["enum"])
            self.errors.append(FieldError(path, "Unsupported value", f"supported values: {supported}", value))
            return
        if isinstance(value, str):
            self._check_string(value, schema, path)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self._check_number(value, schema, path)

    def _check_string(self, value: str, schema: Mapping[str, Any], path: str) -> None:
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            self.errors.append(FieldError(path, "Too long", f"may not be more than {schema['maxLength']} bytes", value))
        if "minLength" in schema and len(value) < schema["minLength"]:
            self.errors.append(
                FieldError(
                    path,
                    "Invalid value",
                    f"{path} in body should be at least {schema['minLength']} chars long",
                    value,
                )
            )
        if "pattern" in schema and not _regex(schema["pattern"]).search(value):
            self.errors.append(
                FieldError(path, "Invalid value", f"{path} in body should match '{schema['pattern']}'", value)
            )
        if schema.get("format") == "date-time" and not _is_datetime(value):
            self.errors.append(FieldError(path, "Invalid value", f"{path} in body must be of type date-time", value))

    def _check_number(self, value: float, schema: Mapping[str, Any], path: str) -> None:
        if "minimum" in schema:
            low, exclusive = schema["minimum"], schema.get("exclusiveMinimum", False)
            if value < low or (exclusive and value == low):
                relation = "greater than" if exclusive else "greater than or equal to"
                self.errors.append(
                    FieldError(path, "Invalid value", f"{path} in body should be {relation} {low}", value)
                )
        if "maximum" in schema:
            high, exclusive = schema["maximum"], schema.get("exclusiveMaximum", False)
            if value > high or (exclusive and value == high):
                relation = "less than" if exclusive else "less than or equal to"
                self.errors.append(
                    FieldError(path, "Invalid value", f"{path} in body should be {relation} {high}", value)
                )

    def _check_rules(self, value: Any, schema: Mapping[str, Any], path: str) -> None:
        for rule in schema.get("x-kubernetes-validations", []):
            target = path + rule.get("fieldPath", "") if rule.get("fieldPath") else path
            try:
                holds = evaluate_rule(rule["rule"], value, schema)
            except RuleError as error:
                self.errors.append(FieldError(target or "<root>", "Invalid value", str(error), value))
                continue
            if not holds:
                detail = rule.get("message") or f"failed rule: {rule['rule']}"
                self.errors.append(FieldError(target or "<root>", "Invalid value", detail, value))


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
