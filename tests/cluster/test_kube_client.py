"""``modelplane.kube`` against a real API server: server-side apply creates and is idempotent, status goes
through the subresource, reads and deletes, and the API server's answers map to the error tree.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.cluster import OperatorIdentity
from harness.kubeapi import KubeClient as AdminClient
from modelplane.kube import errors
from modelplane.kube.client import KubeClient
from modelplane.kube.connection import load_connection
from modelplane.kube.resources import DATASETS, JOBS, ResourceType

pytestmark = pytest.mark.cluster

SECRETS = ResourceType("v1", "Secret", "secrets")


def job(namespace: str, name: str = "probe", image: str = "busybox:1.36") -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/name": "probe"}},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": image}]},
            }
        },
    }


async def test_apply_creates_then_is_a_no_op_and_reads_list_patch_delete(kubeconfig: str, kube_namespace: str):
    ns = kube_namespace
    async with KubeClient(load_connection(kubeconfig)) as client:
        assert await client.get(JOBS, ns, "probe") is None
        created = await client.apply(job(ns))
        again = await client.apply(job(ns))
        assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
        assert {m["manager"] for m in created["metadata"]["managedFields"]} == {"modelplane-operator"}
        listed = await client.list(JOBS, ns, label_selector="app.kubernetes.io/name=probe")
        assert [j["metadata"]["name"] for j in listed] == ["probe"]
        assert await client.list(JOBS, ns, label_selector="app.kubernetes.io/name=other") == []
        patched = await client.merge_patch(JOBS, ns, "probe", {"metadata": {"annotations": {"a": "b"}}})
        assert patched["metadata"]["annotations"] == {"a": "b"}
        assert await client.delete(JOBS, ns, "probe") is True
        assert await client.delete(JOBS, ns, "probe") is False


async def test_status_is_applied_through_the_subresource(
    kubeconfig: str, kube_namespace: str, modelplane_crds: object, kube_client: AdminClient
):
    ns = kube_namespace
    kube_client.create(
        DATASETS.path(ns),
        {
            "apiVersion": "modelplane.io/v1alpha1",
            "kind": "Dataset",
            "metadata": {"name": "d"},
            "spec": {"source": {"http": {"url": "https://example.com/x.csv"}}},
        },
    )
    status = {"observedGeneration": 1, "rows": 3}
    async with KubeClient(load_connection(kubeconfig)) as client:
        stored = await client.apply_status(
            {
                "apiVersion": "modelplane.io/v1alpha1",
                "kind": "Dataset",
                "metadata": {"name": "d", "namespace": ns},
                "status": status,
            }
        )
    assert stored["status"] == status
    assert stored["metadata"]["generation"] == 1
    writers = {m["manager"] for m in stored["metadata"]["managedFields"] if m.get("subresource") == "status"}
    assert writers == {"modelplane-operator"}


async def test_the_api_servers_answers_map_to_the_error_tree(
    kubeconfig: str, kube_namespace: str, operator_identity: OperatorIdentity
):
    async with KubeClient(load_connection(kubeconfig)) as client:
        with pytest.raises(errors.InvalidError) as invalid:
            await client.apply(job(kube_namespace, name="Not_A_Name"))
        with pytest.raises(errors.NotFoundError):
            await client.apply(job("no-such-namespace-xyz"))
    assert invalid.value.status == 422
    assert invalid.value.reason == "Invalid"
    async with KubeClient(load_connection(str(operator_identity.kubeconfig))) as restricted:
        with pytest.raises(errors.ForbiddenError) as forbidden:
            await restricted.list(SECRETS, kube_namespace)
    assert forbidden.value.status == 403
    assert 'cannot list resource "secrets"' in forbidden.value.message
