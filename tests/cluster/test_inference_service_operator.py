"""The InferenceService controller end to end on a real API server: the operator as its restricted identity, a
live control plane, and the test playing the ModelVersion controller (it writes Ready ModelVersions' status) and
the Deployment controller (it writes the Deployments' status; envtest runs no controllers).

The operator runs the InferenceService controller alone (``harness/inference_operator.py``, registered as
``registration`` does): the ModelVersion controller would recompute the status this test writes from a
validation Job.
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import pytest

from cluster.operator_support import OperatorFactory, artifact_uri, manifest, now, path, wait_condition
from harness.conditions import condition
from harness.kubeapi import KubeApiError, KubeClient, resource_path
from harness.manifests import validate_manifest
from harness.operator_process import OperatorProcess
from harness.operators import INFERENCE_OPERATOR

pytestmark = pytest.mark.cluster

WATCHING = ("inferenceservices.v1alpha1.modelplane.io", "modelversions.v1alpha1.modelplane.io", "deployments.v1.apps")


@pytest.fixture
def inference_operator(
    run_cluster_operator: OperatorFactory, operator_env: dict[str, str], kube_namespace: str
) -> OperatorFactory:
    """``with inference_operator() as operator:`` runs the InferenceService controller on the test's namespace."""

    def start() -> contextlib.AbstractContextManager[OperatorProcess]:
        return run_cluster_operator(INFERENCE_OPERATOR, namespaces=[kube_namespace], watching=list(WATCHING))

    return start


def deployments_path(namespace: str, name: str | None = None, subresource: str | None = None) -> str:
    return resource_path("apps/v1", "deployments", namespace, name, subresource)


def register(cp: httpx.Client, ns: str, digest: str) -> int:
    """What the ModelVersion's validation job records: the version in the registry."""
    body = {"artifact_uri": artifact_uri(ns, digest), "sha256": digest, "size_bytes": 512}
    response = cp.post(f"/api/v1/namespaces/{ns}/models/credit/versions", json=body)
    assert response.status_code in (200, 201), response.text
    return int(response.json()["version"])


def apply_model_version(kube: KubeClient, ns: str, name: str, digest: str, *, ready: bool, version: int | None) -> None:
    """A ModelVersion with the status its controller writes (Ready, or failing its gates)."""
    spec = {"modelName": "credit", "source": {"trainingRunRef": {"name": "credit-rf"}}}
    if not kube.exists(path("modelversions", ns, name)):
        kube.create(path("modelversions", ns), manifest("ModelVersion", name, spec))
    status: dict[str, Any] = {
        "observedGeneration": 1,
        "artifact": {"uri": artifact_uri(ns, digest), "sha256": digest, "sizeBytes": 512},
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "reason": "Registered" if ready else "GateFailed",
                "message": "" if ready else "accuracy 0.7 is below 0.8",
                "lastTransitionTime": now(),
                "observedGeneration": 1,
            }
        ],
    }
    if version is not None:
        status["registeredVersion"] = version
    kube.patch(path("modelversions", ns, name, "status"), {"status": status})


def roll_out(kube: KubeClient, ns: str, name: str) -> dict[str, Any]:
    """What the Deployment controller writes once every replica of the current template is available."""
    deployment = kube.get(deployments_path(ns, name))
    replicas = deployment["spec"].get("replicas", 1)
    stamp = now()
    status = {
        "observedGeneration": deployment["metadata"]["generation"],
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
                "lastUpdateTime": stamp,
                "lastTransitionTime": stamp,
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{name}-6d5f" has successfully progressed.',
                "lastUpdateTime": stamp,
                "lastTransitionTime": stamp,
            },
        ],
    }
    return dict(kube.patch(deployments_path(ns, name, "status"), {"status": status}))


def active_traffic(cp: httpx.Client, ns: str, service: str) -> list[tuple[int, int]]:
    response = cp.get(f"/api/v1/namespaces/{ns}/services/{service}/deployments", params={"active": "true"})
    assert response.status_code == 200, response.text
    return sorted((d["version"], d["percent"]) for d in response.json()["items"])


def spec_only(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as written (what a builder produced), for schema validation: no status, no server metadata."""
    meta = {
        k: v
        for k, v in obj["metadata"].items()
        if k in ("name", "namespace", "labels", "annotations", "ownerReferences")
    }
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": meta, "spec": obj["spec"]}


def test_a_service_serves_a_ready_version_rolls_to_a_new_one_and_records_both(
    kube_client: KubeClient,
    kube_namespace: str,
    inference_operator: OperatorFactory,
    control_plane_client: httpx.Client,
) -> None:
    ns, kube, cp = kube_namespace, kube_client, control_plane_client
    v1_digest, v2_digest = "a1" * 32, "b2" * 32
    apply_model_version(kube, ns, "credit-v1", v1_digest, ready=True, version=register(cp, ns, v1_digest))
    spec = {"modelVersionRef": {"name": "credit-v1"}, "replicas": {"min": 2, "max": 2}}
    service = manifest("InferenceService", "credit", spec)
    with inference_operator() as operator:
        kube.create(path("inferenceservices", ns), service)
        deployment = kube.wait_for(
            deployments_path(ns, "credit-predictor"), lambda d: True, alive=operator.check_running
        )
        svc = kube.wait_for(resource_path("v1", "services", ns, "credit"), lambda s: True, alive=operator.check_running)
        pdb = kube.wait_for(
            resource_path("policy/v1", "poddisruptionbudgets", ns, "credit"),
            lambda p: True,
            alive=operator.check_running,
        )
        progressing = wait_condition(
            kube, path("inferenceservices", ns, "credit"), operator, "Ready", "False", "DeploymentProgressing"
        )
        roll_out(kube, ns, "credit-predictor")
        ready = wait_condition(kube, path("inferenceservices", ns, "credit"), operator, "Ready", "True", "Serving")
        kube.wait_for(
            path("inferenceservices", ns, "credit"),
            lambda o: "modelplane.io/recorded-traffic" in o["metadata"].get("annotations", {}),
            alive=operator.check_running,
        )
        assert active_traffic(cp, ns, "credit") == [(1, 100)]

        # A new version: the Deployment's template changes (it rolls); the service is not Ready until it rolled out.
        apply_model_version(kube, ns, "credit-v2", v2_digest, ready=True, version=register(cp, ns, v2_digest))
        kube.patch(path("inferenceservices", ns, "credit"), {"spec": {"modelVersionRef": {"name": "credit-v2"}}})
        rolled = kube.wait_for(
            deployments_path(ns, "credit-predictor"),
            lambda d: d["metadata"]["labels"]["modelplane.io/model-version"] == "credit-v2",
            alive=operator.check_running,
        )
        rolling = kube.wait_for(
            path("inferenceservices", ns, "credit"),
            lambda o: (
                condition(o, "Ready").get("observedGeneration") == 2
                and condition(o, "Ready").get("reason") == "DeploymentProgressing"
            ),
            alive=operator.check_running,
        )
        assert active_traffic(cp, ns, "credit") == [(1, 100)]  # the old version serves until the new one is ready
        roll_out(kube, ns, "credit-predictor")
        kube.wait_for(
            path("inferenceservices", ns, "credit"),
            lambda o: (
                condition(o, "Ready").get("status") == "True"
                and o["status"]["traffic"][0]["modelVersion"] == "credit-v2"
            ),
            alive=operator.check_running,
        )
        kube.wait_for(
            path("inferenceservices", ns, "credit"),
            lambda o: '"version":2' in o["metadata"].get("annotations", {}).get("modelplane.io/recorded-traffic", ""),
            alive=operator.check_running,
        )
        assert active_traffic(cp, ns, "credit") == [(2, 100)]

        # Deleted: its deployments end in the control plane (kopf's finalizer held the object until they did).
        kube.delete(path("inferenceservices", ns, "credit"))
        kube.wait_for(
            path("inferenceservices", ns),
            lambda listed: not [i for i in listed["items"] if i["metadata"]["name"] == "credit"],
            alive=operator.check_running,
        )
        assert active_traffic(cp, ns, "credit") == []
        output = operator.output()

    uid = ready["metadata"]["uid"]
    for child in (deployment, svc, pdb):
        validate_manifest(spec_only(child))
        (owner,) = child["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == ("InferenceService", uid, True)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert pdb["spec"]["minAvailable"] == 1
    assert svc["spec"]["ports"][0]["port"] == 80
    assert condition(progressing, "ModelResolved")["reason"] == "ModelVersionResolved"
    status = ready["status"]
    assert status["url"] == f"http://credit.{ns}.svc.cluster.local/v2/models/credit"
    assert status["readyReplicas"] == 2
    assert status["traffic"] == [{"modelVersion": "credit-v1", "weight": 100, "readyReplicas": 2}]
    old_template, new_template = deployment["spec"]["template"], rolled["spec"]["template"]
    assert old_template["metadata"]["annotations"]["modelplane.io/served-digests"] == f"sha256:{v1_digest}"
    assert new_template["metadata"]["annotations"]["modelplane.io/served-digests"] == f"sha256:{v2_digest}"
    assert rolled["metadata"]["uid"] == deployment["metadata"]["uid"]  # the same Deployment rolls
    assert rolling["status"]["readyReplicas"] == 2  # the old pods
    assert "Forbidden" not in output


def test_a_version_that_is_not_ready_waits_and_changes_nothing_until_it_is(
    kube_client: KubeClient,
    kube_namespace: str,
    inference_operator: OperatorFactory,
    control_plane_client: httpx.Client,
) -> None:
    ns, kube = kube_namespace, kube_client
    digest = "c3" * 32
    apply_model_version(kube, ns, "credit-v3", digest, ready=False, version=None)
    spec = {
        "modelVersionRef": {"name": "credit-v3"},
        "replicas": {"min": 1, "max": 4},
        "autoscaling": {"metric": "Cpu", "target": 60},
    }
    service = manifest("InferenceService", "credit", spec)
    with inference_operator() as operator:
        kube.create(path("inferenceservices", ns), service)
        waiting = wait_condition(
            kube, path("inferenceservices", ns, "credit"), operator, "ModelResolved", "False", "ModelVersionNotReady"
        )
        with pytest.raises(KubeApiError) as missing:
            kube.get(deployments_path(ns, "credit-predictor"))
        apply_model_version(
            kube, ns, "credit-v3", digest, ready=True, version=register(control_plane_client, ns, digest)
        )
        deployment = kube.wait_for(
            deployments_path(ns, "credit-predictor"), lambda d: True, alive=operator.check_running
        )
        hpa = kube.wait_for(
            resource_path("autoscaling/v2", "horizontalpodautoscalers", ns, "credit-predictor"),
            lambda h: True,
            alive=operator.check_running,
        )
    assert missing.value.status == 404
    assert condition(waiting, "Ready")["reason"] == "ModelVersionNotReady"
    assert "GateFailed" in condition(waiting, "Ready")["message"]
    owned = [f for f in deployment["metadata"]["managedFields"] if f["manager"] == "modelplane-operator"]
    assert owned
    assert all("f:replicas" not in f["fieldsV1"].get("f:spec", {}) for f in owned)  # the HPA's, not ours
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 4)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    validate_manifest(spec_only(hpa))
