from __future__ import annotations

from modelplane.operator.selectors import SELECTORS, Selector


def test_every_kind_has_a_group_qualified_selector():
    assert {
        "Dataset": Selector("modelplane.io", "v1alpha1", "datasets"),
        "TrainingRun": Selector("modelplane.io", "v1alpha1", "trainingruns"),
        "ModelVersion": Selector("modelplane.io", "v1alpha1", "modelversions"),
        "InferenceService": Selector("modelplane.io", "v1alpha1", "inferenceservices"),
        "Rollout": Selector("modelplane.io", "v1alpha1", "rollouts"),
    } == SELECTORS
