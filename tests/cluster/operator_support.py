"""Helpers of the operator's cluster-tier tests: paths, condition predicates, simulated Job progress.

envtest has no kubelet and no Job controller: a test plays them by patching a Job's status through the
``status`` subresource, the way the Job controller would (``startTime``, then ``SuccessCriteriaMet`` +
``Complete`` or ``FailureTarget`` + ``Failed`` with ``completionTime``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from harness.kubeapi import KubeClient, resource_path

API_VERSION = "modelplane.io/v1alpha1"


def path(plural: str, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
    return resource_path(API_VERSION, plural, namespace, name, subresource)


def jobs_path(namespace: str, name: str | None = None, subresource: str | None = None) -> str:
    return resource_path("batch/v1", "jobs", namespace, name, subresource)


def now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item.get("type") == type_:
            return dict(item)
    return {}


def has_condition(type_: str, status: str, reason: str | None = None) -> Callable[[dict[str, Any]], bool]:
    def check(obj: dict[str, Any]) -> bool:
        found = condition(obj, type_)
        return found.get("status") == status and (reason is None or found.get("reason") == reason)

    return check


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
    from harness.kubeapi import resource_path

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
