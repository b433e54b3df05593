"""The TrainingRun handlers are wired: against kmock, a TrainingRun waits (kopf retries it) for its
Dataset; the Dataset turning Ready starts it at once (through the index of waiting runs, long before the
retry); its trial Job is created, owned and labelled; a Job failure reaches the run through the Job's event.
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
DIGEST = "sha256:" + "ee" * 32


@pytest.fixture
def operator_env(monkeypatch: pytest.MonkeyPatch, kmock_cluster: KmockCluster) -> None:
    """Retries longer than the test waits: a waiting run must be started by its Dataset turning Ready."""
    isolate_operator_env(monkeypatch, kmock_cluster.kubeconfig, retry_delay_seconds=60)


def skipped() -> float:
    """Child events that ran no pass: a pass had already seen that version of the child."""
    return REGISTRY.get_sample_value("modelplane_operator_child_events_total", {"outcome": "skipped"}) or 0.0


def ready_dataset() -> dict[str, Any]:
    return {
        "metadata": {"name": "iris"},
        "spec": {"source": {"http": {"url": "https://example.com/d.csv"}}},
        "status": {
            "digest": DIGEST,
            "version": "1",
            "artifacts": {"train": "s3://b/train"},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "VersionReady",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                    "observedGeneration": 1,
                }
            ],
        },
    }


def test_a_run_waits_for_its_dataset_then_gets_its_job(kmock_cluster: KmockCluster, operator_env: None) -> None:
    run = {
        "metadata": {"name": "rf"},
        "spec": {"datasetRef": {"name": "iris"}, "trainer": {"builtin": {"estimator": "RandomForestClassifier"}}},
    }
    skipped_before = skipped()
    with kmock_cluster.run_operator(OPERATOR) as runner:
        kmock_cluster.create("trainingruns", run)
        waiting = kmock_cluster.wait_for(
            "trainingruns", "rf", lambda o: condition(o, "DatasetReady").get("reason") == "DatasetNotFound"
        )
        # A Ready Dataset, created with its status (kmock stores it; a real API server would not): no ingest here.
        kmock_cluster.create("datasets", ready_dataset())
        started = kmock_cluster.wait_for(
            "trainingruns", "rf", lambda o: condition(o, "DatasetReady").get("status") == "True", timeout=10
        )
        (job,) = [j for j in kmock_cluster.list("jobs", "default") if j["metadata"]["name"].startswith("rf-")]
        kmock_cluster.patch(
            "jobs",
            job["metadata"]["name"],
            {
                "status": {
                    "conditions": [
                        {
                            "type": "Failed",
                            "status": "True",
                            "reason": "DeadlineExceeded",
                            "message": "Job was active longer than specified deadline",
                            "lastTransitionTime": "2026-01-01T00:00:00Z",
                        }
                    ]
                }
            },
            subresource="status",
        )
        failed = kmock_cluster.wait_for(
            "trainingruns", "rf", lambda o: condition(o, "Succeeded").get("reason") == "DeadlineExceeded"
        )
    assert condition(waiting, "Succeeded")["status"] == "Unknown"
    assert "failed temporarily" in runner.output  # kopf retried the create handler while the Dataset was missing
    assert job["metadata"]["labels"]["modelplane.io/training-run"] == "rf"
    assert job["metadata"]["ownerReferences"][0]["uid"] == started["metadata"]["uid"]
    assert DIGEST in job["metadata"]["annotations"]["modelplane.io/dataset"]
    assert condition(failed, "Ready")["status"] == "False"
    assert "deadline" in condition(failed, "Succeeded")["message"]
    # The passes read the run's Jobs and its Dataset from kopf's indices of their watches, never the API.
    ours = [r for r in kmock_cluster.requests() if r.headers.get("User-Agent", "").startswith("modelplane-operator")]
    assert any(r.method == "PATCH" and r.resource is not None and r.resource.plural == "jobs" for r in ours)
    reads = [
        r for r in ours if r.method == "GET" and r.resource is not None and r.resource.plural in ("jobs", "datasets")
    ]
    assert reads == []
    # The Job's ADDED event (a version the pass that created the Job saw) ran no pass; its failure did.
    assert skipped() - skipped_before >= 1
    # No kopf timer, hence no kopf finalizer on Datasets and TrainingRuns (a finished run carries none).
    assert "finalizers" not in failed["metadata"]
    assert kmock_cluster.unexpected_errors() == []
