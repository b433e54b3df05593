"""The operator's own Kubernetes client works unchanged against the local store (HTTP semantics included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelplane.kube import errors
from modelplane.kube.client import KubeClient
from modelplane.kube.resources import DATASETS, JOBS
from modelplane.local.apiserver import local_kube_client
from modelplane.local.store import ObjectStore

pytestmark = pytest.mark.unit


@pytest.fixture
async def kube(tmp_path: Path) -> KubeClient:
    return local_kube_client(ObjectStore(tmp_path / "objects.db"))


def job(name: str, labels: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "ml", "labels": labels},
        "spec": {"suspend": False, "template": {"spec": {"containers": []}}},
    }


async def test_apply_get_list_patch_status_delete(kube: KubeClient) -> None:
    await kube.apply(job("a", {"run": "x"}))
    await kube.apply(job("b", {"run": "y"}))
    assert (await kube.get(JOBS, "ml", "a") or {})["metadata"]["labels"] == {"run": "x"}
    assert [j["metadata"]["name"] for j in await kube.list(JOBS, "ml", label_selector="run=y")] == ["b"]
    patched = await kube.merge_patch(JOBS, "ml", "a", {"spec": {"suspend": True}})
    assert patched["spec"]["suspend"] is True
    status = await kube.apply_status({**job("a", {}), "status": {"active": 1}})
    assert status["status"] == {"active": 1}
    assert await kube.delete(JOBS, "ml", "a") is True
    assert await kube.get(JOBS, "ml", "a") is None
    assert await kube.delete(JOBS, "ml", "a") is False
    await kube.aclose()


async def test_errors_are_the_api_servers(kube: KubeClient) -> None:
    with pytest.raises(errors.NotFoundError):
        await kube.merge_patch(DATASETS, "ml", "missing", {"metadata": {"labels": {"a": "b"}}})
    with pytest.raises(errors.NotFoundError):
        await kube.apply_status(
            {
                "apiVersion": "modelplane.io/v1alpha1",
                "kind": "Dataset",
                "metadata": {"name": "missing", "namespace": "ml"},
                "status": {},
            }
        )
    with pytest.raises(errors.KubeError) as bad:
        await kube.list(JOBS, "ml", label_selector="a b c")
    assert bad.value.status == 400
    await kube.aclose()
