"""Helpers of the operator's cluster-tier tests (and of ``bench/operator``): paths, simulated Job progress, and
what the jobs would record in the control plane.

envtest has no kubelet and no Job controller: a test plays them by patching a Job's status through the
``status`` subresource, the way the Job controller would (``startTime``, then ``SuccessCriteriaMet`` +
``Complete`` or ``FailureTarget`` + ``Failed`` with ``completionTime``), and by creating the Job's pod with
the termination message the job writes (:func:`job_exited`). No job runs either: a test records in the
control plane what the job would have recorded (:func:`make_dataset_ready`, :func:`record_run`).
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Callable
from typing import Any

import httpx

from harness.conditions import has_condition
from harness.kubeapi import KubeClient, resource_path
from harness.operator_process import OperatorProcess

API_VERSION = "modelplane.io/v1alpha1"
OPERATOR_MODULE = "modelplane.operator.main"
# What ``modelplane_operator`` waits for kopf to watch before the test starts (it watches more).
WATCHING = (
    "datasets.v1alpha1.modelplane.io",
    "trainingruns.v1alpha1.modelplane.io",
    "modelversions.v1alpha1.modelplane.io",
    "inferenceservices.v1alpha1.modelplane.io",
    "jobs.v1.batch",
)
DATASET_DIGEST = "sha256:" + "5e" * 32  # the version :func:`make_dataset_ready` records
OperatorFactory = Callable[..., contextlib.AbstractContextManager[OperatorProcess]]


def manifest(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A ModelPlane object as a user writes it: ``kind`` named ``name`` with ``spec``."""
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}


def training_run(name: str, dataset: str = "iris", **spec: Any) -> dict[str, Any]:
    """A TrainingRun of a built-in random forest (20 trees, seed 7) on Dataset ``dataset``; ``spec`` adds to it."""
    body: dict[str, Any] = {
        "datasetRef": {"name": dataset},
        "trainer": {"builtin": {"estimator": "RandomForestClassifier"}},
        "hyperparameters": {"n_estimators": 20},
        "seed": 7,
    }
    return manifest("TrainingRun", name, {**body, **spec})


def path(plural: str, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
    return resource_path(API_VERSION, plural, namespace, name, subresource)


def jobs_path(namespace: str, name: str | None = None, subresource: str | None = None) -> str:
    return resource_path("batch/v1", "jobs", namespace, name, subresource)


def now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_jobs(client: KubeClient, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
    params = {"labelSelector": selector} if selector else {}
    return list(client.get(jobs_path(namespace), **params)["items"])


def start_job(client: KubeClient, namespace: str, name: str) -> dict[str, Any]:
    """What the Job controller writes when it starts the Job's pods."""
    started = now()
    return dict(client.patch(jobs_path(namespace, name, "status"), {"status": {"startTime": started, "active": 1}}))


def complete_job(client: KubeClient, namespace: str, name: str) -> dict[str, Any]:
    """What the Job controller writes when the Job's pod succeeded."""
    job = client.get(jobs_path(namespace, name))
    started = (job.get("status") or {}).get("startTime") or now()
    finished = now()
    conditions = [
        {
            "type": "SuccessCriteriaMet",
            "status": "True",
            "reason": "CompletionsReached",
            "lastTransitionTime": finished,
        },
        {"type": "Complete", "status": "True", "reason": "CompletionsReached", "lastTransitionTime": finished},
    ]
    body = {
        "status": {
            "startTime": started,
            "completionTime": finished,
            "active": 0,
            "succeeded": int((job.get("spec") or {}).get("completions") or 1),
            "conditions": conditions,
        }
    }
    return dict(client.patch(jobs_path(namespace, name, "status"), body))


def fail_job(client: KubeClient, namespace: str, name: str, reason: str = "BackoffLimitExceeded") -> dict[str, Any]:
    """What the Job controller writes when the Job failed."""
    job = client.get(jobs_path(namespace, name))
    started = (job.get("status") or {}).get("startTime") or now()
    finished = now()
    message = "Job has reached the specified backoff limit" if reason == "BackoffLimitExceeded" else "Job failed"
    conditions = [
        {
            "type": "FailureTarget",
            "status": "True",
            "reason": reason,
            "message": message,
            "lastTransitionTime": finished,
        },
        {"type": "Failed", "status": "True", "reason": reason, "message": message, "lastTransitionTime": finished},
    ]
    body = {"status": {"startTime": started, "active": 0, "failed": 1, "conditions": conditions}}
    return dict(client.patch(jobs_path(namespace, name, "status"), body))


def env_of(job: dict[str, Any]) -> dict[str, Any]:
    """The first container's environment by name (a value, or the ``valueFrom`` mapping)."""
    container = job["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env") or []}


def terminated_pod(
    client: KubeClient, namespace: str, job_name: str, *, message: str, exit_code: int, phase: str = "Failed"
) -> dict[str, Any]:
    """A pod of ``job_name`` that terminated with ``message`` in its termination log (as the kubelet reports it)."""
    pods = resource_path("v1", "pods", namespace)
    name = f"{job_name}-{exit_code}x"
    client.create(
        pods,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"batch.kubernetes.io/job-name": job_name}},
            "spec": {
                "restartPolicy": "Never",
                "nodeName": "node-1",
                "containers": [{"name": "main", "image": "jobs:1"}],
            },
        },
    )
    finished = now()
    status = {
        "phase": phase,
        "containerStatuses": [
            {
                "name": "main",
                "ready": False,
                "restartCount": 0,
                "image": "jobs:1",
                "imageID": "registry.example.com/jobs@sha256:" + "e" * 64,
                "state": {
                    "terminated": {
                        "exitCode": exit_code,
                        "reason": "Error" if exit_code else "Completed",
                        "message": message,
                        "startedAt": finished,
                        "finishedAt": finished,
                    }
                },
            }
        ],
    }
    return dict(client.patch(resource_path("v1", "pods", namespace, name, "status"), {"status": status}))


def job_exited(client: KubeClient, namespace: str, job_name: str, *, message: str, exit_code: int) -> dict[str, Any]:
    """The Job's pod exited with ``exit_code`` and ``message`` (the job's result line), then the Job controller
    finished the Job: complete on 0, else failed by the pod failure policy (the job's permanent exit codes)."""
    if exit_code == 0:
        terminated_pod(client, namespace, job_name, message=message, exit_code=0, phase="Succeeded")
        return complete_job(client, namespace, job_name)
    terminated_pod(client, namespace, job_name, message=message, exit_code=exit_code)
    return fail_job(client, namespace, job_name, reason="PodFailurePolicy")


def wait_condition(
    client: KubeClient, obj_path: str, operator: OperatorProcess, type_: str, status: str, reason: str | None = None
) -> dict[str, Any]:
    """The object at ``obj_path`` once it has condition ``type_`` with ``status`` (and ``reason``), while
    ``operator`` runs."""
    return dict(client.wait_for(obj_path, has_condition(type_, status, reason), alive=operator.check_running))


def wait_jobs(
    client: KubeClient,
    namespace: str,
    selector: str,
    operator: OperatorProcess,
    count: int = 1,
    timeout: float = 30.0,
) -> list[dict[str, Any]]:
    """The Jobs matching the label ``selector`` once there are exactly ``count`` of them (while ``operator`` runs)."""
    listed = client.wait_for(
        jobs_path(namespace) + f"?labelSelector={selector}",
        lambda jobs: len(jobs["items"]) == count,
        alive=operator.check_running,
        timeout=timeout,
    )
    return list(listed["items"])


def artifact_uri(namespace: str, sha256: str) -> str:
    """Where the control plane stores an artifact of ``namespace`` (content-addressed)."""
    return f"s3://modelplane/{namespace}/sha256/{sha256[:2]}/{sha256}"


def make_dataset_ready(
    kube: KubeClient, cp: httpx.Client, ns: str, operator: OperatorProcess, name: str = "iris", timeout: float = 30.0
) -> dict[str, Any]:
    """Apply a Dataset and play its ingest: record version :data:`DATASET_DIGEST`, complete the Job; wait until Ready.

    The version has train, validation and test splits and a profile.
    """
    spec = {"source": {"http": {"url": "https://example.com/iris.csv"}}, "schema": {"targetColumn": "species"}}
    kube.create(path("datasets", ns), manifest("Dataset", name, spec))
    (job,) = wait_jobs(kube, ns, f"modelplane.io/dataset={name}", operator, timeout=timeout)
    version = {
        "digest": DATASET_DIGEST,
        "rows": 150,
        "columns": 5,
        "artifacts": {
            "train": "s3://mp/train.parquet",
            "validation": "s3://mp/val.parquet",
            "test": "s3://mp/test.parquet",
        },
        "profile_uri": "s3://mp/profile.json",
    }
    response = cp.post(f"/api/v1/namespaces/{ns}/datasets/{name}/versions", json=version)
    assert response.status_code in (200, 201), response.text
    complete_job(kube, ns, job["metadata"]["name"])
    alive = operator.check_running
    ready = kube.wait_for(path("datasets", ns, name), has_condition("Ready", "True"), alive=alive, timeout=timeout)
    return dict(ready)


def record_training_run(
    cp: httpx.Client, ns: str, run: dict[str, Any], metrics: dict[str, float], artifact: str
) -> str:
    """What a training job records: the run (``run`` is its body, with the operator's ``run_id``), its metrics
    at step 0, its content-addressed artifact (sha256 ``artifact``), Succeeded; the run id."""
    run_id = str(run["run_id"])
    response = cp.post(f"/api/v1/namespaces/{ns}/runs", json=run)
    assert response.status_code in (200, 201), response.text
    now_ms = int(time.time() * 1000)
    points = [{"key": k, "value": v, "step": 0, "timestamp": now_ms} for k, v in metrics.items()]
    response = cp.post(f"/api/v1/runs/{run_id}/log-batch", json={"metrics": points})
    assert response.status_code == 200, response.text
    done = {"status": "Succeeded", "artifact_uri": artifact_uri(ns, artifact)}
    response = cp.patch(f"/api/v1/runs/{run_id}", json=done)
    assert response.status_code == 200, response.text
    return run_id
