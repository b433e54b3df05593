"""The Dataset controller end to end on a real API server: the real operator (``kopf run -m
modelplane.operator.main`` as its restricted identity), a live control plane, and the test playing the
Job controller and the ingest job.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from cluster.operator_support import (
    OperatorFactory,
    complete_job,
    env_of,
    fail_job,
    job_exited,
    jobs_path,
    manifest,
    path,
    start_job,
    wait_condition,
    wait_jobs,
)
from harness.conditions import condition, has_condition
from harness.kubeapi import KubeClient
from harness.manifests import validate_manifest

pytestmark = pytest.mark.cluster

DIGEST = "sha256:" + "ab" * 32


def dataset(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": {
            "s3": {
                "uri": "s3://ml-data/iris.csv",
                "accessKeyIdRef": {"name": "reader", "key": "id"},
                "secretAccessKeyRef": {"name": "reader", "key": "secret"},
            }
        },
        "schema": {"targetColumn": "species"},
    }
    body.update(spec)
    return manifest("Dataset", name, body)


def record_version(client: httpx.Client, namespace: str, name: str, digest: str = DIGEST) -> dict[str, Any]:
    """What the ingest job records in the control plane."""
    response = client.post(
        f"/api/v1/namespaces/{namespace}/datasets/{name}/versions",
        json={
            "digest": digest,
            "rows": 150,
            "columns": 5,
            "schema": {"species": "Categorical"},
            "artifacts": {"train": "s3://modelplane/train.parquet", "test": "s3://modelplane/test.parquet"},
            "profile_uri": "s3://modelplane/profile.json",
        },
    )
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def test_dataset_ingest_job_then_ready_from_the_control_plane(
    kube_client: KubeClient,
    kube_namespace: str,
    modelplane_operator: OperatorFactory,
    control_plane_client: httpx.Client,
) -> None:
    ns = kube_namespace
    with modelplane_operator() as operator:
        kube_client.create(path("datasets", ns), dataset("iris"))
        (job,) = wait_jobs(kube_client, ns, "modelplane.io/dataset=iris", operator)
        created = wait_condition(kube_client, path("datasets", ns, "iris"), operator, "Ingesting", "True", "JobCreated")
        assert has_condition("Ready", "False", "Ingesting")(created)

        # The Job is what the builders promise: valid for Kubernetes 1.34, owned, labelled, the job contract.
        job = kube_client.get(jobs_path(ns, job["metadata"]["name"]))
        validate_manifest({k: v for k, v in job.items() if k != "status"})
        assert job["metadata"]["name"].startswith("iris-ingest-")
        owner = job["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"]) == ("Dataset", "iris", created["metadata"]["uid"])
        assert job["metadata"]["labels"]["modelplane.io/dataset"] == "iris"
        assert job["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "modelplane-operator"
        env = env_of(job)
        assert env["MODELPLANE_TOKEN_FILE"] == "/var/run/modelplane/token"
        assert env["MODELPLANE_API_URL"] == "http://modelplane-api.modelplane-system.svc:8080"
        assert env["MODELPLANE_SOURCE_ACCESS_KEY_ID"] == {"secretKeyRef": {"name": "reader", "key": "id"}}
        assert job["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "ingest"
        managers = {m["manager"] for m in job["metadata"]["managedFields"]}
        assert "modelplane-operator" in managers

        start_job(kube_client, ns, job["metadata"]["name"])
        wait_condition(kube_client, path("datasets", ns, "iris"), operator, "Ingesting", "True", "JobRunning")
        record_version(control_plane_client, ns, "iris")
        complete_job(kube_client, ns, job["metadata"]["name"])
        ready = wait_condition(kube_client, path("datasets", ns, "iris"), operator, "Ready", "True", "VersionReady")
        events = kube_client.wait_for(
            f"/api/v1/namespaces/{ns}/events",
            lambda listed: any(e.get("reason") == "VersionReady" for e in listed["items"]),
            alive=operator.check_running,
        )
    status = ready["status"]
    assert status["digest"] == DIGEST
    assert (status["version"], status["rows"], status["columns"]) == ("1", 150, 5)
    assert status["artifacts"]["train"] == "s3://modelplane/train.parquet"
    assert status["artifacts"]["profile"] == "s3://modelplane/profile.json"
    assert status["observedGeneration"] == ready["metadata"]["generation"]
    assert condition(ready, "Ingesting")["reason"] == "JobSucceeded"
    status_writers = {m["manager"] for m in ready["metadata"]["managedFields"] if m.get("subresource") == "status"}
    assert status_writers == {"modelplane-operator"}
    assert any(e["involvedObject"]["name"] == "iris" for e in events["items"])
    output = operator.output()
    assert "Forbidden" not in output
    assert "Traceback" not in output


def test_refresh_annotation_ingests_again_and_supersedes_the_old_job(
    kube_client: KubeClient,
    kube_namespace: str,
    modelplane_operator: OperatorFactory,
    control_plane_client: httpx.Client,
) -> None:
    ns = kube_namespace
    with modelplane_operator() as operator:
        kube_client.create(path("datasets", ns), dataset("flowers"))
        (first,) = wait_jobs(kube_client, ns, "modelplane.io/dataset=flowers", operator)
        record_version(control_plane_client, ns, "flowers")
        complete_job(kube_client, ns, first["metadata"]["name"])
        wait_condition(kube_client, path("datasets", ns, "flowers"), operator, "Ready", "True")

        kube_client.patch(
            path("datasets", ns, "flowers"), {"metadata": {"annotations": {"modelplane.io/refresh": "1"}}}
        )
        try:
            jobs = kube_client.wait_for(
                jobs_path(ns),
                lambda listed: any(j["metadata"]["name"] != first["metadata"]["name"] for j in listed["items"]),
                alive=operator.check_running,
            )
        except TimeoutError:
            print(operator.output()[-20000:])
            raise
        second = next(j for j in jobs["items"] if j["metadata"]["name"] != first["metadata"]["name"])
        # While the refresh runs the current version stays Ready.
        refreshing = wait_condition(kube_client, path("datasets", ns, "flowers"), operator, "Ingesting", "True")
        assert has_condition("Ready", "True", "VersionReady")(refreshing)
        new_digest = "sha256:" + "cd" * 32
        record_version(control_plane_client, ns, "flowers", new_digest)
        complete_job(kube_client, ns, second["metadata"]["name"])
        refreshed = kube_client.wait_for(
            path("datasets", ns, "flowers"),
            lambda obj: (obj.get("status") or {}).get("digest") == new_digest,
            alive=operator.check_running,
        )
        remaining = kube_client.wait_for(
            jobs_path(ns),
            lambda listed: (
                [j["metadata"]["name"] for j in listed["items"] if not j["metadata"].get("deletionTimestamp")]
                == [second["metadata"]["name"]]
            ),
            alive=operator.check_running,
        )
    assert refreshed["status"]["version"] == "2"
    assert len(remaining["items"]) >= 1


def test_failed_ingest_reports_the_job_reason_and_a_deleted_job_is_recreated(
    kube_client: KubeClient, kube_namespace: str, modelplane_operator: OperatorFactory
) -> None:
    ns = kube_namespace
    with modelplane_operator() as operator:
        kube_client.create(path("datasets", ns), dataset("broken"))
        (job,) = wait_jobs(kube_client, ns, "modelplane.io/dataset=broken", operator)
        name = job["metadata"]["name"]
        kube_client.delete(jobs_path(ns, name), propagationPolicy="Background")
        recreated = kube_client.wait_for(
            jobs_path(ns, name),
            lambda obj: obj["metadata"]["uid"] != job["metadata"]["uid"],
            alive=operator.check_running,
        )
        fail_job(kube_client, ns, name)
        failed = wait_condition(kube_client, path("datasets", ns, "broken"), operator, "Ready", "False", "JobFailed")
    assert recreated["metadata"]["name"] == name
    assert "backoff limit" in condition(failed, "Ready")["message"]


def test_control_plane_unavailable_is_a_condition_and_retried(
    kube_client: KubeClient,
    kube_namespace: str,
    modelplane_operator: OperatorFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness.ports import free_port

    # After the fixtures' settings: the operator is told of a control plane where nothing listens.
    monkeypatch.setenv("MODELPLANE_OPERATOR_API_URL", f"http://127.0.0.1:{free_port()}")
    ns = kube_namespace
    with modelplane_operator() as operator:
        kube_client.create(path("datasets", ns), dataset("lonely"))
        (job,) = wait_jobs(kube_client, ns, "modelplane.io/dataset=lonely", operator)
        complete_job(kube_client, ns, job["metadata"]["name"])
        unavailable = wait_condition(
            kube_client, path("datasets", ns, "lonely"), operator, "Ready", "False", "ControlPlaneUnavailable"
        )
    assert "unreachable" in condition(unavailable, "Ready")["message"]
    assert f"Retrying Dataset {ns}/lonely in 1s" in operator.output()


def test_a_validation_failure_reported_by_the_pod_names_the_failed_rules(
    kube_client: KubeClient, kube_namespace: str, modelplane_operator: OperatorFactory
) -> None:
    ns = kube_namespace
    result = {
        "kind": "Dataset",
        "name": "strict",
        "succeeded": False,
        "reason": "ValidationFailed",
        "message": "validation failed: age.minimum, postcode.pattern",
        "validation": {
            "policy": "Fail",
            "passed": False,
            "violations": 7,
            "failedRules": ["age.minimum", "postcode.pattern"],
        },
    }
    with modelplane_operator() as operator:
        kube_client.create(path("datasets", ns), dataset("strict"))
        (job,) = wait_jobs(kube_client, ns, "modelplane.io/dataset=strict", operator)
        job_exited(kube_client, ns, job["metadata"]["name"], message=json.dumps(result), exit_code=3)
        failed = wait_condition(
            kube_client, path("datasets", ns, "strict"), operator, "Ready", "False", "ValidationFailed"
        )
    assert condition(failed, "Ready")["message"] == "Validation failed: age.minimum, postcode.pattern."
    assert failed["status"]["validation"] == {"violations": 7, "failedRules": ["age.minimum", "postcode.pattern"]}
    assert "Forbidden" not in operator.output()
