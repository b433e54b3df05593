"""The operator runs against the real API server as its own, restricted identity.

A tiny test operator (``status_operator.py``, group-qualified selector, ModelPlane's kopf settings)
runs as ``kopf run`` with the service account of ``harness.cluster.operator_identity``: it must see a
Dataset created by the admin, write its status through the ``status`` subresource, post events, and
log no permission errors, while that identity cannot read Secrets or delete Datasets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.cluster import OperatorIdentity
from harness.kubeapi import KubeApiError, KubeClient, resource_path

pytestmark = pytest.mark.cluster

OPERATOR = Path(__file__).parent / "status_operator.py"
API_VERSION = "modelplane.io/v1alpha1"


def datasets(namespace: str, name: str | None = None, subresource: str | None = None) -> str:
    return resource_path(API_VERSION, "datasets", namespace, name, subresource)


def dataset(name: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Dataset",
        "metadata": {"name": name},
        "spec": {"source": {"http": {"url": "https://example.com/iris.csv"}}},
    }


def ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def test_operator_identity_is_the_service_account(operator_identity: OperatorIdentity) -> None:
    with KubeClient(str(operator_identity.kubeconfig)) as client:
        review = client.create(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
    assert review["status"]["userInfo"]["username"] == operator_identity.username
    assert "system:masters" not in review["status"]["userInfo"].get("groups", [])


def test_operator_identity_is_restricted(
    operator_identity: OperatorIdentity, modelplane_crds: object, kube_client: KubeClient, kube_namespace: str
) -> None:
    kube_client.create(datasets(kube_namespace), dataset("guarded"))
    with KubeClient(str(operator_identity.kubeconfig)) as client:
        assert client.get(datasets(kube_namespace, "guarded"))["metadata"]["name"] == "guarded"
        with pytest.raises(KubeApiError) as secrets:
            client.get(f"/api/v1/namespaces/{kube_namespace}/secrets")
        with pytest.raises(KubeApiError) as deletion:
            client.delete(datasets(kube_namespace, "guarded"))
        with pytest.raises(KubeApiError) as creation:
            client.create(datasets(kube_namespace), dataset("forged"))
    assert (secrets.value.status, deletion.value.status, creation.value.status) == (403, 403, 403)
    assert f'User "{operator_identity.username}" cannot delete resource "datasets"' in deletion.value.message


def test_operator_marks_a_dataset_ready_through_the_status_subresource(
    kube_client: KubeClient, kube_namespace: str, run_cluster_operator: Any
) -> None:
    with run_cluster_operator(
        OPERATOR, namespaces=[kube_namespace], watching=["datasets.v1alpha1.modelplane.io"]
    ) as operator:
        kube_client.create(datasets(kube_namespace), dataset("iris"))
        obj = kube_client.wait_for(datasets(kube_namespace, "iris"), ready, alive=operator.check_running)
        events = kube_client.wait_for(
            f"/api/v1/namespaces/{kube_namespace}/events",
            lambda listed: any(e.get("reason") == "SeenByTestOperator" for e in listed["items"]),
            alive=operator.check_running,
        )
    output = operator.output()

    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"] == 1
    assert obj["status"]["conditions"][0]["reason"] == "SeenByTestOperator"
    # Written through /status: the server records that subresource in the managed fields.
    status_writers = {m["manager"] for m in obj["metadata"]["managedFields"] if m.get("subresource") == "status"}
    assert status_writers == {"kopf"}, obj["metadata"]["managedFields"]
    # ModelPlane's kopf settings: kopf's bookkeeping is under its own prefix, kopf.modelplane.io/ (so
    # modelplane.io/ annotations stay visible to its diffs), and nothing of it is under modelplane.io/.
    annotations = obj["metadata"]["annotations"]
    assert "kopf.modelplane.io/last-handled-configuration" in annotations
    assert not [key for key in annotations if key.startswith("modelplane.io/")]
    assert any(e["involvedObject"]["name"] == "iris" for e in events["items"])
    assert "Marked Dataset iris ready." in output
    assert "Forbidden" not in output
    assert "Not enough permissions" not in output
