"""The kopf indices and the timer filter of the ModelVersion handlers (plain functions of the object's parts)."""

from __future__ import annotations

from typing import Any

from modelplane.operator.model.handlers import (
    deleting_model_versions,
    model_versions_by_model,
    needs_timer,
    waiting_model_versions,
)


def ready(generation: int = 1, status: str = "True", reason: str = "Registered") -> dict[str, Any]:
    condition = {"type": "Ready", "status": status, "reason": reason, "observedGeneration": generation}
    return {"conditions": [condition]}


def test_versions_not_validated_yet_are_indexed_by_the_run_and_dataset_they_name():
    spec = {"modelName": "iris", "source": {"trainingRunRef": {"name": "rf"}}, "evaluation": {}}
    meta = {"generation": 1}
    keys = waiting_model_versions("ml", "v1", spec, {}, meta)
    assert keys == {("ml", "TrainingRun", "rf"): "v1", ("ml", "Dataset", "*"): "v1"}
    named = {**spec, "evaluation": {"datasetRef": {"name": "holdout"}}}
    assert ("ml", "Dataset", "holdout") in (waiting_model_versions("ml", "v1", named, {}, meta) or {})
    assert waiting_model_versions("ml", "v1", spec, ready(), meta) is None  # Ready: nothing to wait for
    assert waiting_model_versions("ml", "v1", spec, ready(reason="GateFailed", status="False"), meta) is None
    assert waiting_model_versions("ml", "v1", spec, ready(generation=0), meta) is not None  # an older generation
    deleting = {**meta, "deletionTimestamp": "2026-01-01T00:00:00Z"}
    assert waiting_model_versions("ml", "v1", spec, {}, deleting) is None
    external = {"modelName": "iris", "source": {"external": {"uri": "s3://b/k", "sha256": "a" * 64}}}
    assert waiting_model_versions("ml", "v1", external, {}, meta) is None


def test_versions_with_aliases_are_indexed_by_model():
    assert model_versions_by_model("ml", "v1", {"modelName": "iris", "aliases": ["b", "a"]}, {"aliases": ["c"]}) == {
        ("ml", "iris"): ("v1", ("a", "b", "c"))
    }
    assert model_versions_by_model("ml", "v1", {"modelName": "iris"}, {}) is None


def test_versions_whose_deletion_waits_for_the_operator_are_indexed_by_namespace():
    body = {
        "metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["modelplane.io/artifact-retention"]}
    }
    assert deleting_model_versions("ml", "v1", body) == {"ml": "v1"}
    assert (
        deleting_model_versions("ml", "v1", {"metadata": {"finalizers": ["modelplane.io/artifact-retention"]}}) is None
    )
    assert deleting_model_versions("ml", "v1", {"metadata": {"deletionTimestamp": "x", "finalizers": []}}) is None


def test_the_timer_runs_until_validation_is_over_and_while_aliases_are_claimed_or_held():
    meta = {"generation": 1}
    assert needs_timer({}, {}, meta)
    assert not needs_timer({}, ready(), meta)
    assert not needs_timer({}, ready(status="False", reason="DigestMismatch"), meta)
    assert needs_timer({}, ready(status="False", reason="SourceNotReady"), meta)
    assert needs_timer({"aliases": ["champion"]}, ready(), meta)
    assert needs_timer({}, {**ready(), "aliases": ["beta"]}, meta)
