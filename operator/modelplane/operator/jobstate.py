"""What a Job and its Pods say about a run: pure readers of their status.

Failure reasons are taken from the API objects, never guessed: the Job's ``Failed`` condition
(``BackoffLimitExceeded``, ``DeadlineExceeded``, ``PodFailurePolicy``) and, when the operator could read
them, the pods' terminated state (``OOMKilled``, exit codes) and termination message — where the
ModelPlane jobs write their result as JSON (docs/operator.md, "Results").
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _condition(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_ and condition.get("status") == "True":
            return dict(condition)
    return None


@dataclass(frozen=True, slots=True)
class JobState:
    """The observed state of one Job.

    Compact on purpose: kopf's index of the operator's Jobs holds one per Job, including the Jobs of
    finished runs, so it has slots and its label and annotation strings are interned (the same keys and
    the same pinned Dataset on a thousand Jobs are stored once).
    """

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    owner_uids: tuple[str, ...] = ()
    suspended: bool = False
    suspend_requested: bool = False
    active: int = 0
    succeeded: int = 0
    failed: int = 0
    complete: bool = False
    failed_terminally: bool = False
    failure_reason: str | None = None
    failure_message: str | None = None
    start_time: datetime | None = None
    completion_time: datetime | None = None
    creation_time: datetime | None = None
    deleting: bool = False
    resource_version: str = ""
    """The version observed (compared for equality only: a child event of a version a pass already saw is skipped)."""

    @property
    def finished(self) -> bool:
        return self.complete or self.failed_terminally

    @property
    def running(self) -> bool:
        return not self.finished


def _interned(mapping: Mapping[str, Any] | None) -> dict[str, str]:
    return {sys.intern(str(k)): sys.intern(str(v)) for k, v in (mapping or {}).items()}


def job_state(job: Mapping[str, Any]) -> JobState:
    """Read a Job object."""
    meta = job.get("metadata") or {}
    spec = job.get("spec") or {}
    status = job.get("status") or {}
    complete = _condition(job, "Complete")
    failed = _condition(job, "Failed")
    finished_at = parse_time(status.get("completionTime"))
    if finished_at is None and complete is not None:
        finished_at = parse_time(complete.get("lastTransitionTime"))
    if finished_at is None and failed is not None:
        finished_at = parse_time(failed.get("lastTransitionTime"))
    return JobState(
        name=str(meta.get("name", "")),
        labels=_interned(meta.get("labels")),
        annotations=_interned(meta.get("annotations")),
        owner_uids=tuple(str(o.get("uid")) for o in meta.get("ownerReferences") or [] if o.get("uid")),
        suspended=bool(spec.get("suspend")) or _condition(job, "Suspended") is not None,
        suspend_requested=bool(spec.get("suspend")),
        active=int(status.get("active") or 0),
        succeeded=int(status.get("succeeded") or 0),
        failed=int(status.get("failed") or 0),
        complete=complete is not None,
        failed_terminally=failed is not None and complete is None,
        failure_reason=str(failed.get("reason") or "JobFailed") if failed is not None else None,
        failure_message=str(failed.get("message") or "") if failed is not None else None,
        start_time=parse_time(status.get("startTime")),
        completion_time=finished_at,
        creation_time=parse_time(meta.get("creationTimestamp")),
        deleting=bool(meta.get("deletionTimestamp")),
        resource_version=str(meta.get("resourceVersion") or ""),
    )


@dataclass(frozen=True)
class PodOutcome:
    """What the pods of a finished Job reported: the result document, terminated reasons, placement facts."""

    result: dict[str, Any] = field(default_factory=dict)
    text: str | None = None
    reason: str | None = None
    exit_code: int | None = None
    node_name: str | None = None
    image_id: str | None = None


def _terminated(pod: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        state = (container.get("state") or {}).get("terminated") or (container.get("lastState") or {}).get("terminated")
        if state:
            return container, state
    return None


def pod_outcome(pods: Iterable[Mapping[str, Any]], *, want_success: bool) -> PodOutcome:
    """The outcome of the most relevant pod: the newest that succeeded (or failed, for a failed Job)."""
    candidates: list[tuple[str, Mapping[str, Any]]] = []
    for pod in pods:
        phase = (pod.get("status") or {}).get("phase")
        if (phase == "Succeeded") == want_success and phase in ("Succeeded", "Failed"):
            candidates.append((str((pod.get("metadata") or {}).get("creationTimestamp") or ""), pod))
    if not candidates:
        return PodOutcome()
    pod = max(candidates, key=lambda item: item[0])[1]
    found = _terminated(pod)
    node = (pod.get("spec") or {}).get("nodeName")
    if found is None:
        return PodOutcome(node_name=node)
    container, state = found
    message = state.get("message")
    result: dict[str, Any] = {}
    text: str | None = None
    if message:
        try:
            parsed = json.loads(message)
        except ValueError:
            text = str(message).strip()[-1024:]
        else:
            if isinstance(parsed, dict):
                result = parsed
            else:
                text = str(message).strip()[-1024:]
    exit_code = state.get("exitCode")
    return PodOutcome(
        result=result,
        text=text,
        reason=state.get("reason"),
        exit_code=int(exit_code) if exit_code is not None else None,
        node_name=node,
        image_id=container.get("imageID") or None,
    )


def failure_text(job: JobState, pods: PodOutcome) -> str:
    """A sentence about why a Job failed, from its condition and its pod's result or termination state."""
    parts: list[str] = []
    if job.failure_message:
        parts.append(job.failure_message.rstrip("."))
    if pods.result.get("message"):
        parts.append(str(pods.result["message"]).rstrip("."))
    elif pods.text:
        parts.append(pods.text.rstrip("."))
    if pods.reason and pods.reason not in ("Error", "Completed"):
        parts.append(f"container terminated: {pods.reason}")
    if pods.exit_code not in (None, 0):
        parts.append(f"exit code {pods.exit_code}")
    return "; ".join(parts) or f"Job {job.name} failed ({job.failure_reason})"
