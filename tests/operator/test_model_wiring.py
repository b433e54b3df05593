"""The ModelVersion handlers are wired: against kmock, a version gets the operator's finalizer and its
validation Job (owned, labelled, carrying the resolved source); the Job's failure reaches the version through
the Job's event; a version waiting for its TrainingRun starts as soon as the run's event says it succeeded (long
before a retry); and a version's deletion waits while an InferenceService uses it, then goes on that service's
deletion event.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from harness.conditions import condition
from harness.kube import KmockCluster, KubeApiError
from harness.operators import isolate_operator_env

pytestmark = pytest.mark.kmock

OPERATOR = Path(__file__).parent / "wiring_operator.py"
SHA = "5a" * 32
FINALIZER = "modelplane.io/artifact-retention"


@pytest.fixture
def operator_env(monkeypatch: pytest.MonkeyPatch, kmock_cluster: KmockCluster) -> None:
    """No control plane listens; retries are longer than the tests wait (events must do the work)."""
    isolate_operator_env(monkeypatch, kmock_cluster.kubeconfig, retry_delay_seconds=60, resync_seconds=60)


def external(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"modelName": "iris", "source": {"external": {"uri": "https://example.com/iris.onnx", "sha256": SHA}}},
    }


def jobs_of(cluster: KmockCluster, name: str) -> list[dict[str, Any]]:
    return [j for j in cluster.list("jobs", "default") if j["metadata"]["name"].startswith(f"{name}-validate-")]


def passes() -> float:
    labels = {"kind": "ModelVersion"}
    return REGISTRY.get_sample_value("modelplane_operator_reconcile_duration_seconds_count", labels) or 0.0


def test_a_version_gets_its_finalizer_and_validation_job_and_the_jobs_failure(
    kmock_cluster: KmockCluster, operator_env: None
) -> None:
    before = passes()
    with kmock_cluster.run_operator(OPERATOR):
        kmock_cluster.create("modelversions", external("iris-v1"))
        created = kmock_cluster.wait_for(
            "modelversions", "iris-v1", lambda o: condition(o, "Validated").get("reason") == "JobCreated"
        )
        (job,) = jobs_of(kmock_cluster, "iris-v1")
        fail_job(kmock_cluster, job["metadata"]["name"])
        failed = kmock_cluster.wait_for(
            "modelversions", "iris-v1", lambda o: condition(o, "Ready").get("reason") == "DeadlineExceeded"
        )
    assert FINALIZER in created["metadata"]["finalizers"]
    assert condition(created, "Ready")["status"] == "False"
    assert condition(created, "AliasesAssigned")["reason"] == "NoAliases"
    assert job["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    assert job["metadata"]["labels"]["modelplane.io/model-version"] == "iris-v1"
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert json.loads(env["MODELPLANE_MODEL_SOURCE"])["sha256"] == SHA
    assert condition(failed, "Validated")["status"] == "False"
    assert "deadline" in condition(failed, "Validated")["message"]
    assert passes() - before >= 2
    # kopf's finalizer JSON patches test resourceVersion; kmock answers a race with an operator write by a 500
    # (JsonPatchTestFailed) instead of a 422, and kopf retries. Nothing else may fail.
    errors = [e for e in kmock_cluster.unexpected_errors() if "JsonPatchTestFailed" not in repr(e)]
    assert errors == []


def succeeded_run() -> dict[str, Any]:
    return {
        "metadata": {"name": "iris-rf"},
        "spec": {"datasetRef": {"name": "iris"}, "trainer": {"builtin": {"estimator": "RandomForestClassifier"}}},
        "status": {
            "observedGeneration": 1,
            "runId": "9" * 32,
            "artifactUri": f"s3://modelplane/default/sha256/5a/{SHA}",
            "artifactDigest": f"sha256:{SHA}",
            "lineage": {"datasetDigest": "sha256:" + "d1" * 32},
            "conditions": [
                {
                    "type": "Succeeded",
                    "status": "True",
                    "reason": "JobSucceeded",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                    "observedGeneration": 1,
                }
            ],
        },
    }


def test_a_version_waiting_for_its_training_run_starts_on_the_runs_event(
    kmock_cluster: KmockCluster, operator_env: None
) -> None:
    version = {
        "metadata": {"name": "iris-v2"},
        "spec": {"modelName": "iris", "source": {"trainingRunRef": {"name": "iris-rf"}}},
    }
    with kmock_cluster.run_operator(OPERATOR) as runner:
        kmock_cluster.create("modelversions", version)
        waiting = kmock_cluster.wait_for(
            "modelversions", "iris-v2", lambda o: condition(o, "Ready").get("reason") == "SourceNotFound"
        )
        # A succeeded run, created with its status (kmock stores it; a real API server would not).
        kmock_cluster.create("trainingruns", succeeded_run())
        started = kmock_cluster.wait_for(
            "modelversions", "iris-v2", lambda o: condition(o, "Validated").get("reason") == "JobCreated"
        )
        (job,) = jobs_of(kmock_cluster, "iris-v2")
    assert condition(waiting, "Validated")["status"] == "Unknown"
    assert "failed temporarily" in runner.output  # kopf retries the create handler while the run is missing
    source = json.loads(job["metadata"]["annotations"]["modelplane.io/model-source"])
    assert source == {
        "uri": f"s3://modelplane/default/sha256/5a/{SHA}",
        "sha256": SHA,
        "runId": "9" * 32,
        "trainingRun": "iris-rf",
        "datasetDigest": "sha256:" + "d1" * 32,
    }
    assert started["status"]["trainingRun"] == "iris-rf"
    errors = [e for e in kmock_cluster.unexpected_errors() if "JsonPatchTestFailed" not in repr(e)]
    assert errors == []


def test_a_deletion_waits_while_an_inference_service_uses_the_version(
    kmock_cluster: KmockCluster, operator_env: None
) -> None:
    service = {"metadata": {"name": "iris-svc"}, "spec": {"modelVersionRef": {"name": "iris-v3"}}}
    with kmock_cluster.run_operator(OPERATOR):
        kmock_cluster.create("modelversions", external("iris-v3"))
        kmock_cluster.wait_for("modelversions", "iris-v3", lambda o: bool(jobs_of(kmock_cluster, "iris-v3")))
        (job,) = jobs_of(kmock_cluster, "iris-v3")
        fail_job(kmock_cluster, job["metadata"]["name"])
        # Settled: no timer, so kopf lets go of its own finalizer and only the operator's remains. (kmock answers
        # kopf's resourceVersion-guarded JSON patch of a finalizer that raced a status write with a 500, which
        # kopf retries for a long while, where a real API server's 422 makes it retry on the next event.)
        kmock_cluster.wait_for("modelversions", "iris-v3", lambda o: o["metadata"].get("finalizers") == [FINALIZER])
        kmock_cluster.create("inferenceservices", service)
        kmock_cluster.delete("modelversions", "iris-v3")
        blocked = kmock_cluster.wait_for(
            "modelversions", "iris-v3", lambda o: condition(o, "Deleting").get("reason") == "InUse"
        )
        kmock_cluster.delete("inferenceservices", "iris-svc")
        gone = _wait_gone(kmock_cluster, "modelversions", "iris-v3")
    assert blocked["metadata"]["deletionTimestamp"]
    assert condition(blocked, "Deleting")["message"] == (
        "Deletion waits: InferenceService iris-svc (modelVersionRef) uses this version."
    )
    assert gone
    errors = [e for e in kmock_cluster.unexpected_errors() if "JsonPatchTestFailed" not in repr(e)]
    assert errors == []


def fail_job(cluster: KmockCluster, name: str, reason: str = "DeadlineExceeded") -> None:
    """What the Job controller writes when the Job failed."""
    failed = {
        "type": "Failed",
        "status": "True",
        "reason": reason,
        "message": "Job was active longer than specified deadline",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    cluster.patch("jobs", name, {"status": {"conditions": [failed]}}, subresource="status")


def _wait_gone(cluster: KmockCluster, resource: str, name: str, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            cluster.get(resource, name)
        except KubeApiError as exc:
            if exc.status == 404:
                return True
            raise
        time.sleep(0.05)
    return False
