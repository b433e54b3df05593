"""The Dataset handlers are wired: kopf (in-process, against kmock) selects Datasets by their group, the
pass creates the ingest Job through the Kubernetes client (server-side apply; kmock falls back to a
create), writes status through the ``status`` subresource, and a Job event reconciles its owner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from harness.conditions import condition
from harness.kube import KmockCluster
from harness.operators import isolate_operator_env

pytestmark = pytest.mark.kmock

OPERATOR = Path(__file__).parent / "wiring_operator.py"


@pytest.fixture
def operator_env(monkeypatch: pytest.MonkeyPatch, kmock_cluster: KmockCluster) -> None:
    """No control plane listens; a pass that cannot reach it is retried within the test's waits."""
    isolate_operator_env(monkeypatch, kmock_cluster.kubeconfig, retry_delay_seconds=0.5)


def dataset(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"source": {"http": {"url": "https://example.com/d.csv"}}}}


def ingest_jobs(cluster: KmockCluster) -> list[dict[str, Any]]:
    return [j for j in cluster.list("jobs", "default") if j["metadata"]["name"].startswith("iris-ingest-")]


def passes(kind: str) -> float:
    return REGISTRY.get_sample_value("modelplane_operator_reconcile_duration_seconds_count", {"kind": kind}) or 0.0


def errors(kind: str, error: str) -> float:
    labels = {"kind": kind, "error": error}
    return REGISTRY.get_sample_value("modelplane_operator_reconcile_errors_total", labels) or 0.0


def test_a_dataset_gets_its_ingest_job_and_status(kmock_cluster: KmockCluster, operator_env: None) -> None:
    passes_before, retries_before = passes("Dataset"), errors("Dataset", "Retry")
    with kmock_cluster.run_operator(OPERATOR) as runner:
        kmock_cluster.create("datasets", dataset("iris"))
        obj = kmock_cluster.wait_for("datasets", "iris", lambda o: condition(o, "Ingesting").get("status") == "True")
        (job,) = ingest_jobs(kmock_cluster)
        # The Job's completion (the test plays the Job controller) reaches the Dataset through the Job's event.
        kmock_cluster.patch(
            "jobs",
            job["metadata"]["name"],
            {
                "status": {
                    "completionTime": "2026-01-01T00:00:00Z",
                    "conditions": [
                        {"type": "Complete", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}
                    ],
                }
            },
            subresource="status",
        )
        unavailable = kmock_cluster.wait_for(
            "datasets", "iris", lambda o: condition(o, "Ready").get("reason") == "ControlPlaneUnavailable"
        )
    assert condition(obj, "Ready") | {"lastTransitionTime": None} == {
        "type": "Ready",
        "status": "False",
        "reason": "Ingesting",
        "message": f"Waiting for Job {job['metadata']['name']} to ingest the source.",
        "lastTransitionTime": None,
        "observedGeneration": 1,
    }
    assert job["metadata"]["ownerReferences"][0]["uid"] == obj["metadata"]["uid"]
    assert unavailable["status"]["observedGeneration"] == 1
    requests = kmock_cluster.requests()
    applies = [
        r for r in requests if r.method == "PATCH" and r.headers.get("Content-Type") == "application/apply-patch+yaml"
    ]
    assert any(r.resource is not None and r.resource.plural == "jobs" for r in applies)
    assert any(r.resource is not None and r.resource.plural == "datasets" for r in applies)  # status
    assert all("fieldManager=modelplane-operator" in str(r.url) for r in applies)
    assert len(ingest_jobs(kmock_cluster)) == 1  # every pass after the first found the Job
    assert "Retrying Dataset default/iris" in runner.output
    # Operator metrics (the same process's default registry): passes timed and retries counted, per kind:
    # the create pass and the pass of the Job's completion (the Job's ADDED event, a version the create
    # pass saw, runs none).
    assert passes("Dataset") - passes_before >= 2
    assert errors("Dataset", "Retry") - retries_before >= 1
    assert kmock_cluster.unexpected_errors() == []


def test_handlers_select_modelplane_kinds_and_the_operators_jobs(kmock_cluster: KmockCluster, operator_env: None):
    with kmock_cluster.run_operator(OPERATOR):
        watched = {plural: kmock_cluster.watched(plural) for plural in ("datasets", "trainingruns", "jobs")}
        others = {plural: kmock_cluster.watched(plural) for plural in ("rollouts", "pods", "services")}
    assert watched == {"datasets": True, "trainingruns": True, "jobs": True}
    assert others == {"rollouts": False, "pods": False, "services": False}  # read on demand, never watched


def test_a_new_refresh_annotation_value_is_an_update_and_legacy_bookkeeping_is_removed(
    kmock_cluster: KmockCluster, operator_env: None
) -> None:
    """kopf's bookkeeping lives under kopf.modelplane.io/, so modelplane.io/refresh reaches the update handler.

    The Dataset also carries kopf's bookkeeping from before the move: while the old marker stays, kopf
    would hide every modelplane.io/ annotation again, so the first pass removes it.
    """
    body = dataset("iris")
    body["metadata"]["annotations"] = {
        "modelplane.io/kopf-managed": "yes",
        "modelplane.io/last-handled-configuration": '{"spec":{}}',
        "modelplane.io/refresh": "1",
    }
    with kmock_cluster.run_operator(OPERATOR) as runner:
        kmock_cluster.create("datasets", body)
        first = kmock_cluster.wait_for("datasets", "iris", lambda o: condition(o, "Ingesting").get("status") == "True")
        (job,) = ingest_jobs(kmock_cluster)
        annotations = kmock_cluster.get("datasets", "iris")["metadata"]["annotations"]
        kmock_cluster.patch("datasets", "iris", {"metadata": {"annotations": {"modelplane.io/refresh": "2"}}})
        refreshed = kmock_cluster.wait_for(
            "datasets",
            "iris",
            lambda o: job["metadata"]["name"] not in condition(o, "Ingesting").get("message", ""),
        )
        jobs = {j["metadata"]["name"] for j in ingest_jobs(kmock_cluster)}
    assert "modelplane.io/kopf-managed" not in annotations
    assert "modelplane.io/last-handled-configuration" not in annotations
    assert annotations["modelplane.io/refresh"] == "1"
    assert "kopf.modelplane.io/last-handled-configuration" in annotations
    # A new ingest key, hence a new Job (the first is kept until the new one completes). Only the update
    # handler can have made it within the wait: the timer's first firing is a minute away, and no retry is
    # pending (the first Job has not finished).
    assert len(jobs) == 2
    assert first["metadata"]["uid"] == refreshed["metadata"]["uid"]
    assert "Updating is processed" in runner.output
    assert kmock_cluster.unexpected_errors() == []
