"""kmock + kopf in-process, and (when one is configured) a real cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from harness.kube import DATASETS, MODELPLANE_RESOURCES, KmockCluster, KubeApiError, probe_cluster

SAMPLE_OPERATOR = Path(__file__).with_name("sample_operator.py")
ANNOTATION = "harness.modelplane.io/seen-by"


@pytest.mark.kmock
def test_modelplane_kinds_are_discoverable(kmock_cluster: KmockCluster) -> None:
    api = httpx.get(f"{kmock_cluster.url}/apis/modelplane.io/v1alpha1").json()
    assert api["groupVersion"] == "modelplane.io/v1alpha1"
    served = {r["name"]: r for r in api["resources"]}
    for ref in MODELPLANE_RESOURCES:
        assert served[ref.plural]["kind"] == ref.kind
        assert served[ref.plural]["namespaced"] is True
        assert {"list", "watch", "patch"} <= set(served[ref.plural]["verbs"])
        assert f"{ref.plural}/status" in served
    assert httpx.get(f"{kmock_cluster.url}/readyz").text == "ok"
    assert {r["kind"] for r in api["resources"]} == {
        "Dataset",
        "TrainingRun",
        "ModelVersion",
        "InferenceService",
        "Rollout",
    }


@pytest.mark.kmock
def test_kmock_keeps_state_and_fills_in_metadata(kmock_cluster: KmockCluster) -> None:
    created = kmock_cluster.create("datasets", {"metadata": {"name": "iris"}, "spec": {"source": "s3://b/iris"}})
    meta = created["metadata"]
    assert created["apiVersion"] == "modelplane.io/v1alpha1"
    assert created["kind"] == "Dataset"
    assert meta["namespace"] == "default"
    assert meta["uid"]
    assert meta["creationTimestamp"]
    assert meta["generation"] == 1
    rv1 = int(meta["resourceVersion"])

    with pytest.raises(KubeApiError) as conflict:
        kmock_cluster.create("datasets", {"metadata": {"name": "iris"}})
    assert conflict.value.status == 409

    patched = [
        kmock_cluster.patch("datasets", "iris", {"status": {"phase": "Ready"}}, subresource="status"),
        kmock_cluster.patch("datasets", "iris", {"spec": {"source": "s3://b/iris2"}}),
        kmock_cluster.patch("ds", "iris", [{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}]),
    ]
    rvs = [rv1] + [int(p["metadata"]["resourceVersion"]) for p in patched]
    assert rvs == sorted(set(rvs))  # every write bumps resourceVersion
    obj = kmock_cluster.get(DATASETS, "iris")
    assert obj["status"] == {"phase": "Ready"}
    assert obj["spec"] == {"source": "s3://b/iris2"}
    assert obj["metadata"]["labels"] == {"a": "b"}
    assert obj["metadata"]["uid"] == meta["uid"]
    assert obj["metadata"]["generation"] == 2  # only the spec change bumps it
    assert int(obj["metadata"]["resourceVersion"]) == rvs[-1]

    assert [o["metadata"]["name"] for o in kmock_cluster.list("datasets")] == ["iris"]
    assert kmock_cluster.list("datasets", namespace="other") == []

    kmock_cluster.delete("datasets", "iris")
    with pytest.raises(KubeApiError) as gone:
        kmock_cluster.get("datasets", "iris")
    assert gone.value.status == 404
    assert kmock_cluster.unexpected_errors() == []


@pytest.mark.kmock
def test_kopf_operator_handles_a_dataset(kmock_cluster: KmockCluster) -> None:
    with kmock_cluster.run_operator(SAMPLE_OPERATOR) as runner:
        assert kmock_cluster.watched("datasets")
        kmock_cluster.create("datasets", {"metadata": {"name": "iris"}, "spec": {"source": "s3://b/iris"}})
        obj = kmock_cluster.wait_for(
            "datasets", "iris", lambda o: o.get("metadata", {}).get("annotations", {}).get(ANNOTATION) is not None
        )
        obj = kmock_cluster.wait_for("datasets", "iris", lambda o: "dataset_created" in o.get("status", {}))

    # The patch is visible through the API, …
    assert obj["metadata"]["annotations"][ANNOTATION] == "harness-sample-operator"
    assert obj["status"]["harness"] == {"observedName": "iris", "source": "s3://b/iris"}
    assert obj["status"]["dataset_created"] == {"handled": True}  # the handler's return value
    # … kopf really made the calls, …
    patches = [r for r in kmock_cluster.requests() if r.method == "PATCH" and r.name == "iris"]
    assert patches
    assert all(r.headers.get("User-Agent", "").startswith("kopf/") for r in patches)
    # … and logged that it handled the creation.
    assert "harness sample operator saw dataset iris" in runner.output
    assert "Handler 'dataset_created' succeeded." in runner.output
    assert runner.exit_code == 0
    assert kmock_cluster.unexpected_errors() == []


@pytest.mark.kmock
def test_operator_runs_twice_in_one_process(kmock_cluster: KmockCluster) -> None:
    # Each run gets a fresh kopf registry and re-executes the operator file.
    for name in ("first", "second"):
        with kmock_cluster.run_operator(SAMPLE_OPERATOR):
            kmock_cluster.create("datasets", {"metadata": {"name": name}})
            kmock_cluster.wait_for("datasets", name, lambda o: "dataset_created" in o.get("status", {}))


@pytest.mark.kmock
def test_kubeconfig_works_with_the_kubernetes_client(kmock_cluster: KmockCluster, kmock_kubeconfig: Path) -> None:
    from kubernetes import client, config

    kmock_cluster.create("datasets", {"metadata": {"name": "iris"}, "spec": {"source": "s3://b/iris"}})
    with config.new_client_from_config(config_file=str(kmock_kubeconfig)) as api_client:  # type: ignore[no-untyped-call]
        api = client.CustomObjectsApi(api_client)
        listed = cast(
            "dict[str, Any]", api.list_namespaced_custom_object("modelplane.io", "v1alpha1", "default", "datasets")
        )
        fetched = cast(
            "dict[str, Any]",
            api.get_namespaced_custom_object("modelplane.io", "v1alpha1", "default", "datasets", "iris"),
        )
    assert [item["metadata"]["name"] for item in listed["items"]] == ["iris"]
    assert fetched["spec"] == {"source": "s3://b/iris"}


@pytest.mark.cluster
def test_real_cluster_lists_namespaces(kubeconfig: str) -> None:
    from kubernetes import client, config

    with config.new_client_from_config(config_file=kubeconfig) as api_client:  # type: ignore[no-untyped-call]
        namespaces = client.CoreV1Api(api_client).list_namespace(_request_timeout=10)
    names = {ns.metadata.name for ns in namespaces.items if ns.metadata is not None}
    assert "default" in names or "kube-system" in names


@pytest.mark.kmock
def test_operator_startup_failure_is_raised(kmock_cluster: KmockCluster, tmp_path: Path) -> None:
    broken = tmp_path / "broken_operator.py"
    broken.write_text("raise RuntimeError('the operator module is broken')\n")
    with pytest.raises(RuntimeError, match="the operator module is broken"):  # noqa: SIM117
        with kmock_cluster.run_operator(broken):
            pytest.fail("the operator should not have started")


@pytest.mark.kmock
def test_probe_cluster_answers_for_a_live_api_server(kmock_kubeconfig: Path) -> None:
    # What the `kubeconfig` fixture checks before handing out a real cluster's kubeconfig.
    assert probe_cluster(str(kmock_kubeconfig)).startswith("v1.")
