from __future__ import annotations

import json
from datetime import UTC, datetime

from modelplane.operator.jobstate import failure_text, job_state, pod_outcome


def test_a_job_is_read_from_its_conditions_and_counts():
    job = job_state(
        {
            "metadata": {
                "name": "j",
                "ownerReferences": [{"uid": "u1"}],
                "annotations": {"a": "b"},
                "creationTimestamp": "2026-01-01T00:00:00Z",
            },
            "spec": {"suspend": False},
            "status": {
                "startTime": "2026-01-01T00:00:05Z",
                "completionTime": "2026-01-01T00:01:00Z",
                "succeeded": 1,
                "conditions": [
                    {"type": "SuccessCriteriaMet", "status": "True"},
                    {"type": "Complete", "status": "True", "lastTransitionTime": "2026-01-01T00:01:00Z"},
                ],
            },
        }
    )
    assert (job.complete, job.finished, job.running, job.failed_terminally) == (True, True, False, False)
    assert job.owner_uids == ("u1",)
    assert job.start_time == datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert job.completion_time == datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    failed = job_state(
        {
            "metadata": {"name": "f"},
            "spec": {"suspend": True},
            "status": {
                "conditions": [
                    {
                        "type": "Failed",
                        "status": "True",
                        "reason": "DeadlineExceeded",
                        "message": "too long",
                        "lastTransitionTime": "2026-01-01T00:02:00Z",
                    }
                ]
            },
        }
    )
    assert (failed.failed_terminally, failed.failure_reason, failed.failure_message) == (
        True,
        "DeadlineExceeded",
        "too long",
    )
    assert failed.completion_time == datetime(2026, 1, 1, 0, 2, tzinfo=UTC)
    assert failed.suspend_requested
    pending = job_state({"metadata": {"name": "p"}})
    assert (pending.running, pending.active) == (True, 0)


def pod(phase: str, created: str, message: str | None, *, reason: str = "Error", exit_code: int = 1) -> dict:
    terminated: dict = {"reason": reason, "exitCode": exit_code}
    if message is not None:
        terminated["message"] = message
    return {
        "metadata": {"creationTimestamp": created},
        "spec": {"nodeName": "node-7"},
        "status": {
            "phase": phase,
            "containerStatuses": [{"imageID": "ghcr.io/x@sha256:" + "1" * 64, "state": {"terminated": terminated}}],
        },
    }


def test_the_newest_relevant_pod_reports_the_result():
    result = {"succeeded": False, "reason": "ValidationFailed", "message": "validation failed: a.minimum"}
    pods = [
        pod("Failed", "2026-01-01T00:00:00Z", "old crash"),
        pod("Failed", "2026-01-01T00:05:00Z", json.dumps(result), exit_code=3),
        pod("Succeeded", "2026-01-01T00:09:00Z", None, reason="Completed", exit_code=0),
    ]
    failed = pod_outcome(pods, want_success=False)
    assert (failed.result, failed.exit_code, failed.node_name) == (result, 3, "node-7")
    assert failed.image_id is not None
    assert failure_text(job_state({"metadata": {"name": "j"}}), failed) == "validation failed: a.minimum; exit code 3"
    text = pod_outcome(
        [pod("Failed", "t", "Traceback ...\nMemoryError", reason="OOMKilled", exit_code=137)], want_success=False
    )
    assert failure_text(job_state({"metadata": {"name": "j"}}), text) == (
        "Traceback ...\nMemoryError; container terminated: OOMKilled; exit code 137"
    )
    assert pod_outcome([], want_success=True).result == {}
