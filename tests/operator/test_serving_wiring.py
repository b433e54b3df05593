"""The InferenceService handlers are wired: against kmock, a service whose ModelVersion is missing waits (kopf
retries it) and the ModelVersion appearing Ready starts it at once (through the index of services by version,
long before the retry); its Deployment, Service and PodDisruptionBudget are created, owned and labelled; the
Deployment's status reaches the service through the Deployment's event (Ready, URL, traffic).

The operator here is the InferenceService controller alone (its handlers, the Deployment events and the
runtime, registered as ``registration`` does): the test writes the ModelVersions' status itself, which the
ModelVersion controller would otherwise recompute from a validation Job.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.conditions import condition
from harness.kube import CORE_RESOURCES, MODELPLANE_RESOURCES, KmockCluster, ResourceRef
from harness.operators import INFERENCE_OPERATOR, isolate_operator_env
from modelplane.operator.naming import child_name, short_hash

pytestmark = pytest.mark.kmock

HPAS = ResourceRef("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler")
PDBS = ResourceRef("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", subresources=frozenset())
DIGEST = "4b" * 32
T0 = "2026-01-01T00:00:00Z"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KmockCluster]:
    """kmock with the autoscaling and policy kinds an InferenceService owns besides the usual ones."""
    workdir = tmp_path / "kmock"
    workdir.mkdir()
    with KmockCluster(workdir, (*MODELPLANE_RESOURCES, *CORE_RESOURCES, HPAS, PDBS)) as started:
        yield started


@pytest.fixture
def operator_env(monkeypatch: pytest.MonkeyPatch, cluster: KmockCluster) -> None:
    """Retries longer than the test waits: the waiting service must be started by its ModelVersion."""
    isolate_operator_env(monkeypatch, cluster.kubeconfig, retry_delay_seconds=60)


def ready_model_version(name: str) -> dict[str, Any]:
    """A Ready ModelVersion, created with its status (kmock stores it; a real API server would not)."""
    return {
        "metadata": {"name": name},
        "spec": {"modelName": "credit", "source": {"trainingRunRef": {"name": "credit-rf"}}},
        "status": {
            "registeredVersion": 3,
            "artifact": {"uri": f"s3://modelplane/default/sha256/4b/{DIGEST}", "sha256": DIGEST, "sizeBytes": 100},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Registered",
                    "lastTransitionTime": T0,
                    "observedGeneration": 1,
                }
            ],
        },
    }


def rolled_out(deployment: dict[str, Any]) -> dict[str, Any]:
    """What the Deployment controller writes once every replica of the current template is available."""
    replicas = deployment["spec"].get("replicas", 1)
    return {
        "status": {
            "observedGeneration": deployment["metadata"].get("generation", 1),
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "ok"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": "done"},
            ],
        }
    }


def test_a_service_waits_for_its_model_version_then_serves_once_its_deployment_is_available(
    cluster: KmockCluster, operator_env: None
) -> None:
    service = {"metadata": {"name": "credit"}, "spec": {"modelVersionRef": {"name": "credit-v3"}}}
    with cluster.run_operator(INFERENCE_OPERATOR) as runner:
        cluster.create("inferenceservices", service)
        waiting = cluster.wait_for(
            "inferenceservices",
            "credit",
            lambda o: condition(o, "ModelResolved").get("reason") == "ModelVersionNotFound",
        )
        assert cluster.list("deployments", "default") == []
        cluster.create("modelversions", ready_model_version("credit-v3"))
        deployment = cluster.wait_for("deployments", "credit-predictor", lambda o: True, timeout=10)
        resolved = cluster.wait_for(
            "inferenceservices", "credit", lambda o: condition(o, "ModelResolved").get("status") == "True"
        )
        assert condition(resolved, "Ready")["reason"] == "DeploymentProgressing"
        cluster.patch("deployments", "credit-predictor", rolled_out(deployment), subresource="status")
        ready = cluster.wait_for("inferenceservices", "credit", lambda o: condition(o, "Ready").get("status") == "True")
        service_obj = cluster.get("services", "credit")
        pdb = cluster.get("poddisruptionbudgets", "credit")
    assert condition(waiting, "Ready")["reason"] == "ModelVersionNotFound"
    assert "failed temporarily" in runner.output  # kopf retried the create handler while the version was missing
    uid = ready["metadata"]["uid"]
    for child in (deployment, service_obj, pdb):
        assert child["metadata"]["ownerReferences"][0]["uid"] == uid
        assert child["metadata"]["labels"]["modelplane.io/inferenceservice"] == "credit"
    assert deployment["metadata"]["labels"]["modelplane.io/model-version"] == "credit-v3"
    assert (
        deployment["spec"]["template"]["metadata"]["annotations"]["modelplane.io/served-digests"] == f"sha256:{DIGEST}"
    )
    assert ready["status"]["url"] == "http://credit.default.svc.cluster.local/v2/models/credit"
    assert ready["status"]["readyReplicas"] == 1
    assert ready["status"]["traffic"] == [{"modelVersion": "credit-v3", "weight": 100, "readyReplicas": 1}]
    assert pdb["spec"]["maxUnavailable"] == 1
    assert cluster.list("horizontalpodautoscalers", "default") == []  # no autoscaling: fixed replicas
    errors = [e for e in cluster.unexpected_errors() if "JsonPatchTestFailed" not in repr(e)]
    assert errors == []


def test_an_autoscaled_service_gets_an_hpa_and_leaves_replicas_to_it(cluster: KmockCluster, operator_env: None) -> None:
    service = {
        "metadata": {"name": "churn"},
        "spec": {
            "modelVersionRef": {"name": "credit-v3"},
            "replicas": {"min": 2, "max": 6},
            "autoscaling": {"metric": "Concurrency", "target": 8},
        },
    }
    with cluster.run_operator(INFERENCE_OPERATOR):
        cluster.create("modelversions", ready_model_version("credit-v3"))
        cluster.create("inferenceservices", service)
        hpa = cluster.wait_for("horizontalpodautoscalers", "churn-predictor", lambda o: True)
        deployment = cluster.get("deployments", "churn-predictor")
    assert "replicas" not in deployment["spec"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert hpa["spec"]["metrics"][0]["pods"]["metric"]["name"] == "modelplane_serving_inflight_requests"
    assert hpa["metadata"]["ownerReferences"][0]["kind"] == "InferenceService"


def test_a_split_gets_a_deployment_per_version_and_a_promotion_removes_the_extra_once_the_primary_rolled(
    cluster: KmockCluster, operator_env: None
) -> None:
    traffic = [{"modelVersion": "credit-v3", "weight": 90}, {"modelVersion": "credit-v4", "weight": 10}]
    service = {"metadata": {"name": "credit"}, "spec": {"modelVersionRef": {"name": "credit-v3"}, "traffic": traffic}}
    with cluster.run_operator(INFERENCE_OPERATOR):
        cluster.create("modelversions", ready_model_version("credit-v3"))
        cluster.create("modelversions", ready_model_version("credit-v4"))
        cluster.create("inferenceservices", service)
        primary = cluster.wait_for("deployments", "credit-predictor", lambda o: True)
        extra = cluster.wait_for(
            "deployments", child_name("credit", "predictor", short_hash("credit-v4", length=6)), bool
        )
        for deployment in (primary, extra):
            cluster.patch("deployments", deployment["metadata"]["name"], rolled_out(deployment), subresource="status")
        split = cluster.wait_for("inferenceservices", "credit", lambda o: condition(o, "Ready").get("status") == "True")

        # The Rollout promotes credit-v4: the primary rolls to it; the extra serves until the primary has rolled.
        cluster.patch(
            "inferenceservices", "credit", {"spec": {"traffic": [{"modelVersion": "credit-v4", "weight": 100}]}}
        )
        rolling = cluster.wait_for(
            "deployments",
            "credit-predictor",
            lambda o: o["metadata"]["labels"]["modelplane.io/model-version"] == "credit-v4",
        )
        kept = cluster.get("deployments", extra["metadata"]["name"])
        cluster.patch("deployments", "credit-predictor", rolled_out(rolling), subresource="status")
        promoted = cluster.wait_for(
            "inferenceservices",
            "credit",
            lambda o: condition(o, "Ready").get("status") == "True" and len(o["status"]["traffic"]) == 1,
        )
        remaining = [d["metadata"]["name"] for d in cluster.list("deployments", "default")]
    assert extra["metadata"]["labels"]["modelplane.io/model-version"] == "credit-v4"
    assert extra["metadata"]["annotations"]["modelplane.io/traffic-weight"] == "10"
    assert [(t["modelVersion"], t["weight"]) for t in split["status"]["traffic"]] == [
        ("credit-v3", 90),
        ("credit-v4", 10),
    ]
    assert kept["metadata"]["name"] == extra["metadata"]["name"]
    assert promoted["status"]["traffic"] == [{"modelVersion": "credit-v4", "weight": 100, "readyReplicas": 1}]
    assert remaining == ["credit-predictor"]
