"""values.schema.json: the shipped values pass it, bad values fail at install with a message naming the key,
and docs/install.md's values reference is generated from it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml

from helm.chart import CHART_DIR, CI_VALUES, REPO_ROOT, HelmError, render

pytestmark = pytest.mark.unit

SCHEMA = json.loads((CHART_DIR / "values.schema.json").read_text(encoding="utf-8"))
EXAMPLE_VALUES = sorted((REPO_ROOT / "helm" / "argocd").glob("values-*.yaml"))


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def merged(base: Any, override: Any) -> Any:
    """Helm's coalescing of a values file over values.yaml (maps merge, everything else replaces)."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {key: merged(base.get(key), override[key]) if key in base else override[key] for key in override} | {
            key: value for key, value in base.items() if key not in override
        }
    return override


def test_schema_is_valid_draft_7() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", [CHART_DIR / "values.yaml", *CI_VALUES, *EXAMPLE_VALUES], ids=lambda p: p.name)
def test_shipped_values_pass_the_schema(path: Path) -> None:
    jsonschema.Draft7Validator(SCHEMA).validate(merged(load(CHART_DIR / "values.yaml"), load(path)))


def test_every_key_of_values_yaml_is_in_the_schema_with_a_description() -> None:
    def walk(values: Any, node: dict[str, Any], path: str) -> None:
        if not isinstance(values, dict) or "properties" not in node:
            return
        for key, value in values.items():
            assert key in node["properties"], f"{path}{key} is not in values.schema.json"
            child = node["properties"][key]
            if not (child.get("type") == "object" and "properties" in child):
                assert child.get("description"), f"{path}{key} has no description"
            walk(value, child, f"{path}{key}.")

    walk(load(CHART_DIR / "values.yaml"), SCHEMA, "")


def test_objects_in_the_schema_reject_unknown_keys() -> None:
    def walk(node: dict[str, Any], path: str) -> None:
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, f"{path or '<root>'} accepts unknown keys"
            for key, child in node["properties"].items():
                walk(child, f"{path}.{key}" if path else key)

    walk(SCHEMA, "")


BAD_VALUES = [
    ({"operator": {"replicas": 2}}, "at '/operator/replicas': maximum: got 2, want 1"),
    ({"operator": {"logFormat": "xml"}}, "at '/operator/logFormat': value must be one of 'plain', 'full', 'json'"),
    ({"api": {"replicsa": 2}}, "at '/api': additional properties 'replicsa' not allowed"),
    ({"s3": {"endpoint": "https://s3.example.com"}}, "at '/s3/endpoint'"),
    ({"database": {"url": "mysql://u:p@h/db"}}, "at '/database/url'"),
    ({"operator": {"watchNamespaces": ["Team_A"]}}, "at '/operator/watchNamespaces/0'"),
    ({"operator": {"acceleratorProfiles": {"a100": {"nodeSelector": {}}}}}, "missing property 'resourceName'"),
    (
        {"database": {"url": "postgresql+psycopg://u:p@db:5432/mp"}},
        "an external database is configured (database.url or database.existingSecret.name) while the trial "
        "PostgreSQL is on: set trial.postgres.enabled=false",
    ),
    (
        {"trial": {"postgres": {"enabled": False}}},
        "database: trial.postgres.enabled is false, so set database.existingSecret.name",
    ),
    (
        {
            "trial": {"postgres": {"enabled": False}},
            "database": {"url": "postgresql://a@b/c", "existingSecret": {"name": "x"}},
        },
        "database: set database.url or database.existingSecret.name, not both",
    ),
    ({"trial": {"s3": {"enabled": False}}}, "s3.endpoint: trial.s3.enabled is false, so set the S3 endpoint"),
    (
        {"trial": {"s3": {"enabled": False}}, "s3": {"endpoint": "s3.example.com"}},
        "s3: set s3.existingSecret.name (a Secret with the access and secret keys) or both s3.accessKey",
    ),
    ({"s3": {"endpoint": "s3.example.com"}}, "while the trial S3 server is on: set trial.s3.enabled=false"),
    (
        {"api": {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}}},
        "api.autoscaling: minReplicas must not exceed maxReplicas",
    ),
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES, ids=[m[:50] for _, m in BAD_VALUES])
def test_bad_values_fail_with_a_message_naming_the_key(values: dict[str, Any], message: str, tmp_path: Path) -> None:
    with pytest.raises(HelmError) as failed:
        render(values, tmp_dir=tmp_path)
    assert message in failed.value.stderr
    assert "goroutine" not in failed.value.stderr


# --- the values reference in docs/install.md -----------------------------------------------------------------


def reference_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("values_reference", REPO_ROOT / "helm" / "values_reference.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_install_guide_holds_the_current_values_reference() -> None:
    module = reference_module()
    current = module.DOC.read_text(encoding="utf-8")
    assert current == module.render_doc(current), "docs/install.md is stale: run `python helm/values_reference.py`"


def test_values_reference_lists_every_leaf_key_with_its_default() -> None:
    table = reference_module().table()
    assert "| `operator.replicas` | integer | `1` |" in table
    assert "| `trial.postgres.enabled` | boolean | `true` |" in table
    assert "one of `plain`, `full`, `json`" in table
