"""A lint over every node of every generated schema, and the CRDs as apiextensions.k8s.io/v1 objects."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from modelplane.crd.cel import RuleError, compile_rule, evaluate_rule
from modelplane.crd.structural import PRESERVE

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES_VERSION = "1.34.0"
CRD_FILES = sorted((ROOT / "crds").glob("modelplane.io_*.yaml"))
TYPES = {"object", "array", "string", "integer", "number", "boolean"}


def nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path or ".", schema
    for name, sub in schema.get("properties", {}).items():
        yield from nodes(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from nodes(schema["additionalProperties"], f"{path}.*")


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def schema_of(crd: dict[str, Any]) -> dict[str, Any]:
    [version] = crd["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]


@pytest.fixture(params=CRD_FILES, ids=lambda p: p.name)
def crd(request) -> dict[str, Any]:
    return load(request.param)


def test_there_are_five_crds():
    assert len(CRD_FILES) == 5


def test_every_node_is_structural(crd):
    for path, node in nodes(schema_of(crd)):
        assert not any(k in node for k in ("$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "title")), path
        assert node.get("type") in TYPES or node.get(PRESERVE) is True or node.get("x-kubernetes-int-or-string"), (
            f"{path} has no type and does not preserve unknown fields"
        )
        if node.get("type") == "array":
            assert "items" in node, f"{path}: array without items"
        if "properties" in node:
            assert node.get("type") == "object", f"{path}: properties on a non-object"
        if node.get("additionalProperties") is not None:
            assert "properties" not in node, f"{path}: both properties and additionalProperties"
        for bound in ("exclusiveMinimum", "exclusiveMaximum"):
            assert node.get(bound, True) is True, f"{path}: {bound} must be a boolean (OpenAPI v3.0)"


def test_every_field_is_documented_for_kubectl_explain(crd):
    for path, node in nodes(schema_of(crd)):
        if path.startswith((".spec", ".status")) and not path.endswith(("[]", ".*")):
            assert node.get("description"), f"{path} has no description"


def test_list_maps_have_required_or_defaulted_keys(crd):
    for path, node in nodes(schema_of(crd)):
        if node.get("x-kubernetes-list-type") == "map":
            item = node["items"]
            for key in node["x-kubernetes-list-map-keys"]:
                assert key in item.get("required", []) or "default" in item["properties"][key], f"{path}: map key {key}"


def test_cel_rules_compile_and_have_messages(crd):
    for path, node in nodes(schema_of(crd)):
        for rule in node.get("x-kubernetes-validations", []):
            assert rule.get("message"), f"{path}: rule {rule['rule']!r} without message"
            # Evaluating on an empty object may fail on a missing field, but never on syntax.
            with contextlib.suppress(RuleError):
                evaluate_rule(rule["rule"], {}, node)
            compile_rule(rule["rule"])


def test_lists_referenced_by_cel_are_bounded(crd):
    """The API server estimates rule cost: unbounded lists or strings in rules make the CRD rejected."""
    for path, node in nodes(schema_of(crd)):
        if not node.get("x-kubernetes-validations"):
            continue
        for sub_path, sub in nodes(node, path):
            if sub.get("type") == "array":
                assert "maxItems" in sub, f"{sub_path}: list under a CEL rule at {path} needs maxItems"


def test_names_and_columns(crd):
    spec = crd["spec"]
    assert spec["group"] == "modelplane.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["categories"] == ["modelplane"]
    assert spec["names"]["shortNames"][0].startswith("mp")
    [version] = spec["versions"]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns[0] == "Ready"
    assert columns[-1] == "Age"


def test_crds_are_valid_apiextensions_objects(crd):
    kubernetes_validate.validate(crd, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validate_would_catch_a_broken_crd(crd):
    broken = yaml.safe_load(yaml.safe_dump(crd))
    broken["spec"]["versions"][0]["served"] = "yes"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
