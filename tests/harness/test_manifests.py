"""The manifest validation helper catches what the API server of the pinned version would reject."""

from __future__ import annotations

import copy

import pytest

from harness.manifests import InvalidManifestError, assert_valid_manifests, validate_manifest

pytestmark = pytest.mark.unit

JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "train", "namespace": "ml"},
    "spec": {
        "backoffLimit": 0,
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {"name": "trainer", "image": "example.com/t:1", "resources": {"limits": {"nvidia.com/gpu": "1"}}}
                ],
            }
        },
    },
}
HPA = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "svc"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "svc"},
        "minReplicas": 1,
        "maxReplicas": 4,
        "metrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
            }
        ],
    },
}


def test_valid_builtin_objects_pass():
    assert_valid_manifests([JOB, HPA])


def test_wrong_type_is_named():
    job = copy.deepcopy(JOB)
    job["spec"]["backoffLimit"] = "zero"
    with pytest.raises(InvalidManifestError, match=r"Job/train: spec\.backoffLimit"):
        validate_manifest(job)


def test_unknown_field_is_rejected_in_strict_mode():
    hpa = copy.deepcopy(HPA)
    hpa["spec"]["targetCPU"] = 70
    with pytest.raises(InvalidManifestError, match=r"HorizontalPodAutoscaler/svc"):
        validate_manifest(hpa)


def test_unknown_kind_is_an_error():
    with pytest.raises(InvalidManifestError, match=r"no schema for example\.com/v1 Widget"):
        validate_manifest({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})


def test_modelplane_kinds_use_the_crd_schema():
    dataset = {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "d"},
        "spec": {"source": {"http": {"url": "https://example.com/a.csv"}}, "split": {"train": 0.2}},
    }
    with pytest.raises(InvalidManifestError, match=r"Dataset/d: .*must sum to 1"):
        validate_manifest(dataset)
