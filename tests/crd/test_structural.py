"""Unit tests of the pydantic → structural schema mapping."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field

from modelplane.crd.structural import PRESERVE, UnsupportedSchemaError, to_structural


class Inner(BaseModel):
    """Inner doc."""

    n: int = Field(1, gt=0, le=5, description="A bounded number.")


class Outer(BaseModel):
    inner: Inner | None = Field(None, description="Optional nested object.")
    free: dict[str, Any] = Field(default_factory=dict, description="Free-form map.")
    typed_map: dict[str, float] = Field(default_factory=dict, description="Map of numbers.")
    anything: Any = Field(None, description="Any JSON value.")
    items: list[Inner] = Field(default_factory=list, description="List of objects.", max_length=3)


def test_refs_and_optionals_are_inlined_with_field_description_winning():
    schema = to_structural(Outer.model_json_schema())
    inner = schema["properties"]["inner"]
    assert inner["type"] == "object"
    assert inner["description"] == "Optional nested object."
    assert "default" not in inner
    assert inner["properties"]["n"] == {
        "default": 1,
        "description": "A bounded number.",
        "exclusiveMinimum": True,
        "maximum": 5,
        "minimum": 0,
        "type": "integer",
    }


def test_free_form_values_preserve_unknown_fields_and_typed_maps_keep_their_type():
    props = to_structural(Outer.model_json_schema())["properties"]
    assert props["free"] == {"description": "Free-form map.", "type": "object", PRESERVE: True}
    assert props["typed_map"]["additionalProperties"] == {"type": "number"}
    assert props["anything"][PRESERVE] is True
    assert "type" not in props["anything"]
    assert props["items"]["items"]["properties"]["n"]["type"] == "integer"
    assert props["items"]["maxItems"] == 3


def test_nothing_json_schema_only_survives():
    text = repr(to_structural(Outer.model_json_schema()))
    for keyword in ("$ref", "$defs", "title", "anyOf", "allOf", "'additionalProperties': False"):
        assert keyword not in text


def test_unions_of_types_are_refused():
    class Bad(BaseModel):
        x: int | str

    with pytest.raises(UnsupportedSchemaError, match=r"\.x: a union of 2 types"):
        to_structural(Bad.model_json_schema())


def test_unknown_keywords_are_refused():
    with pytest.raises(UnsupportedSchemaError, match="keyword 'oneOf'"):
        to_structural({"type": "object", "properties": {"a": {"oneOf": [{"type": "string"}]}}})
