"""Kind names and printer columns as ``modelplane get`` resolves and renders them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelplane.cli.kinds import UnknownKindError, age, cell, columns, json_path, resolve_kind

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("datasets", "Dataset"),
        ("mptr", "TrainingRun"),
        ("TrainingRun", "TrainingRun"),
        ("modelversions.modelplane.io", "ModelVersion"),
        ("mpisvc", "InferenceService"),
        ("rollout", "Rollout"),
        ("po", "Pod"),
        ("jobs", "Job"),
    ],
)
def test_names_users_type(typed: str, kind: str) -> None:
    assert resolve_kind(typed).kind == kind


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(UnknownKindError, match=r'resource type "widgets".*datasets, trainingruns'):
        resolve_kind("widgets")


def test_json_path_subset_of_printer_columns() -> None:
    obj = {
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "Other", "status": "False"}],
            "aliases": ["champion", "staging"],
        }
    }
    assert json_path(obj, '.status.conditions[?(@.type=="Ready")].status') == ["True"]
    assert json_path(obj, ".status.conditions[1].type") == ["Other"]
    assert json_path(obj, ".status.conditions[*].type") == ["Ready", "Other"]
    assert json_path(obj, ".status.missing") == []
    with pytest.raises(ValueError, match="unsupported"):
        json_path(obj, ".status..x")


def test_cells_follow_the_crd_columns() -> None:
    kind = resolve_kind("modelversions")
    obj = {
        "metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"modelName": "iris"},
        "status": {"aliases": ["champion", "staging"], "conditions": [{"type": "Ready", "status": "True"}]},
    }
    names = [c.name for c in columns(kind, wide=False)]
    assert names[0] == "Ready"
    assert names[-1] == "Age"
    assert "Digest" not in names
    assert "Digest" in [c.name for c in columns(kind, wide=True)]
    now = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    rendered = {c.name: cell(obj, c, now) for c in columns(kind, wide=False)}
    assert rendered["Ready"] == "True"
    assert rendered["Aliases"] == "champion,staging"
    assert rendered["Version"] == "<none>"
    assert rendered["Age"] == "5m0s"


def test_age_like_kubectl() -> None:
    now = datetime(2026, 1, 3, tzinfo=UTC)
    assert age("2026-01-02T23:59:15Z", now) == "45s"
    assert age("2026-01-02T22:00:00Z", now) == "120m"
    assert age("2026-01-02T00:00:00Z", now) == "24h"
    assert age("2026-01-01T00:00:00Z", now) == "2d"
    assert age(None, now) == "<unknown>"
