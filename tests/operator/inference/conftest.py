"""Fixtures of the InferenceService controller's unit tests: sample objects, and golden files kept beside them.

``make_service``, ``make_version`` and ``make_deployment`` build an InferenceService, a ModelVersion (with the
status its controller writes) and a Deployment (with the status its controller writes).
``golden(name, obj)`` validates ``obj`` against the Kubernetes 1.34 schemas and compares it with
``golden/<name>.yaml`` here (:mod:`harness.golden`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.golden import golden_checker
from modelplane.apis.v1alpha1 import InferenceService, ModelVersion


@pytest.fixture
def golden() -> Callable[[str, dict[str, Any]], None]:
    return golden_checker(Path(__file__).parent / "golden")


NAMESPACE = "risk"
UID = "5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
T0 = "2026-01-01T00:00:00Z"


def inference_service(
    spec: dict[str, Any], *, name: str = "credit", generation: int = 3, **extra: Any
) -> InferenceService:
    body: dict[str, Any] = {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": UID, "generation": generation},
        "spec": spec,
    }
    body.update(extra)
    return InferenceService.from_wire(body)


def model_version(
    name: str,
    *,
    model: str = "credit-default",
    ready: bool = True,
    registered: int | None = 4,
    digest: str = "9f" * 32,
    aliases: list[str] | None = None,
    optimized: str | None = None,
    external: dict[str, Any] | None = None,
) -> ModelVersion:
    source = {"external": external} if external else {"trainingRunRef": {"name": "credit-rf"}}
    status: dict[str, Any] = {
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "reason": "Registered" if ready else "GateFailed",
                "message": "" if ready else "accuracy 0.71 is below 0.8",
                "lastTransitionTime": T0,
                "observedGeneration": 1,
            }
        ],
        "artifact": {
            "uri": (external or {}).get("uri") or f"s3://modelplane/{NAMESPACE}/sha256/{digest[:2]}/{digest}",
            "sha256": digest,
            "sizeBytes": 2048,
        },
        "aliases": aliases or [],
    }
    if registered is not None:
        status["registeredVersion"] = registered
    if optimized is not None:
        status["optimizedArtifact"] = {
            "uri": f"s3://modelplane/{NAMESPACE}/sha256/{optimized[:2]}/{optimized}",
            "sha256": optimized,
            "sizeBytes": 1024,
            "quantization": "Dynamic",
        }
    return ModelVersion.from_wire(
        {
            "apiVersion": "modelplane.io/v1alpha1",
            "kind": "ModelVersion",
            "metadata": {"name": name, "namespace": NAMESPACE, "generation": 1},
            "spec": {"modelName": model, "source": source},
            "status": status,
        }
    )


def deployment(
    name: str,
    model_version: str,
    *,
    weight: int = 100,
    generation: int = 1,
    observed: int = 1,
    desired: int = 2,
    replicas: int = 2,
    updated: int = 2,
    ready: int = 2,
    available: bool = True,
    progressing: tuple[str, str] = ("True", "NewReplicaSetAvailable"),
    message: str = "",
    owner: str = UID,
) -> dict[str, Any]:
    """A Deployment as the API server stores it, with the status its controller would write."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "generation": generation,
            "labels": {"modelplane.io/inferenceservice": "credit", "modelplane.io/model-version": model_version},
            "annotations": {"modelplane.io/model-version": model_version, "modelplane.io/traffic-weight": str(weight)},
            "ownerReferences": [{"uid": owner, "controller": True, "apiVersion": "modelplane.io/v1alpha1"}],
        },
        "spec": {"replicas": desired},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": min(ready, updated),
            "conditions": [
                {
                    "type": "Available",
                    "status": "True" if available else "False",
                    "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                    "message": "Deployment has minimum availability."
                    if available
                    else "Deployment does not have minimum availability.",
                },
                {"type": "Progressing", "status": progressing[0], "reason": progressing[1], "message": message},
            ],
        },
    }


@pytest.fixture
def make_service() -> Callable[..., InferenceService]:
    return inference_service


@pytest.fixture
def make_version() -> Callable[..., ModelVersion]:
    return model_version


@pytest.fixture
def make_deployment() -> Callable[..., dict[str, Any]]:
    return deployment
