"""What the API server does with writes that a mock gets wrong: the status subresource and server-side apply.

The operator relies on both: it writes status only through ``/status`` (which must never touch the
spec, and must not bump ``metadata.generation``), and it applies its children with server-side apply
under its own field manager (which must be a no-op when nothing changed, and must not silently take
fields another manager owns).
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.cluster import kind_path
from harness.kubeapi import KubeApiError, KubeClient

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("modelplane_crds")]

OPERATOR_MANAGER = "modelplane-operator"


def dataset(name: str, url: str = "https://example.com/a.csv", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": name},
        "spec": {"source": {"http": {"url": url}}, **spec},
    }


def condition(status: str, reason: str) -> dict[str, Any]:
    return {"type": "Ready", "status": status, "reason": reason, "lastTransitionTime": "2026-01-01T00:00:00Z"}


@pytest.fixture
def created(kube_client: KubeClient, kube_namespace: str, modelplane_crds: object) -> dict[str, Any]:
    return dict(kube_client.create(kind_path("Dataset", kube_namespace), dataset("iris")))


def test_main_resource_ignores_status_changes(
    kube_client: KubeClient, kube_namespace: str, created: dict[str, Any]
) -> None:
    path = kind_path("Dataset", kube_namespace, "iris")
    patched = kube_client.patch(path, {"spec": {"format": "Parquet"}, "status": {"rows": 150}})
    assert patched["spec"]["format"] == "Parquet"
    assert "status" not in patched or "rows" not in patched["status"]
    assert patched["metadata"]["generation"] == created["metadata"]["generation"] + 1


def test_status_subresource_ignores_spec_changes(
    kube_client: KubeClient, kube_namespace: str, created: dict[str, Any]
) -> None:
    path = kind_path("Dataset", kube_namespace, "iris")
    patched = kube_client.patch(
        f"{path}/status",
        {"spec": {"format": "Parquet"}, "status": {"rows": 150, "conditions": [condition("True", "Ingested")]}},
    )
    assert patched["status"]["rows"] == 150
    assert patched["spec"]["format"] == created["spec"]["format"] == "Csv"
    assert patched["metadata"]["generation"] == created["metadata"]["generation"]
    assert patched["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]
    assert kube_client.get(path)["spec"] == created["spec"]


def test_status_is_validated_against_the_schema(
    kube_client: KubeClient, kube_namespace: str, created: dict[str, Any]
) -> None:
    path = kind_path("Dataset", kube_namespace, "iris", "status")
    with pytest.raises(KubeApiError) as caught:
        kube_client.patch(path, {"status": {"rows": -1, "conditions": [condition("Maybe", "Ingested")]}})
    assert caught.value.status == 422
    fields = {cause["field"] for cause in caught.value.causes}
    assert {"status.rows", "status.conditions[0].status"} <= fields, caught.value.message


def test_server_side_apply_is_idempotent_for_the_operators_field_manager(
    kube_client: KubeClient, kube_namespace: str
) -> None:
    path = kind_path("Dataset", kube_namespace, "applied")
    first = kube_client.apply(path, dataset("applied", format="Parquet"), field_manager=OPERATOR_MANAGER)
    second = kube_client.apply(path, dataset("applied", format="Parquet"), field_manager=OPERATOR_MANAGER)
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert second["metadata"]["generation"] == first["metadata"]["generation"] == 1
    managers = [(m["manager"], m["operation"]) for m in second["metadata"]["managedFields"]]
    assert managers == [(OPERATOR_MANAGER, "Apply")]

    status = {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "applied"},
        "status": {"observedGeneration": 1, "conditions": [condition("True", "Ingested")]},
    }
    applied = kube_client.apply(f"{path}/status", status, field_manager=OPERATOR_MANAGER)
    again = kube_client.apply(f"{path}/status", status, field_manager=OPERATOR_MANAGER)
    assert again["metadata"]["resourceVersion"] == applied["metadata"]["resourceVersion"]
    assert again["metadata"]["generation"] == 1
    assert {m.get("subresource", "") for m in again["metadata"]["managedFields"]} == {"", "status"}


def test_server_side_apply_conflicts_with_another_manager_unless_forced(
    kube_client: KubeClient, kube_namespace: str
) -> None:
    path = kind_path("Dataset", kube_namespace, "contested")
    kube_client.apply(path, dataset("contested", format="Parquet"), field_manager=OPERATOR_MANAGER)

    with pytest.raises(KubeApiError) as caught:
        kube_client.apply(path, dataset("contested", format="JsonLines"), field_manager="someone-else")
    assert caught.value.status == 409
    assert caught.value.body["reason"] == "Conflict"
    assert f'conflict with "{OPERATOR_MANAGER}": .spec.format' in caught.value.message
    assert kube_client.get(path)["spec"]["format"] == "Parquet"

    forced = kube_client.apply(path, dataset("contested", format="JsonLines"), field_manager="someone-else", force=True)
    assert forced["spec"]["format"] == "JsonLines"
    owners = {m["manager"] for m in forced["metadata"]["managedFields"] if "f:format" in str(m.get("fieldsV1"))}
    assert owners == {"someone-else"}


def test_a_stale_resource_version_is_a_conflict(
    kube_client: KubeClient, kube_namespace: str, created: dict[str, Any]
) -> None:
    path = kind_path("Dataset", kube_namespace, "iris")
    kube_client.patch(path, {"spec": {"format": "Parquet"}})
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}, "spec": {"format": "JsonLines"}}
    with pytest.raises(KubeApiError) as caught:
        kube_client.patch(path, stale)
    assert caught.value.status == 409
    assert kube_client.get(path)["spec"]["format"] == "Parquet"
