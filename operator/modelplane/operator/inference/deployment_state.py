"""What a Deployment says about the model servers it runs: a pure reader of its status.

The Deployment controller reports a rollout through ``observedGeneration``, ``replicas`` (old and new
pods), ``updatedReplicas`` (pods of the current template), ``readyReplicas``/``availableReplicas`` and the
conditions ``Available`` (``MinimumReplicasAvailable``/``MinimumReplicasUnavailable``) and ``Progressing``
(``ReplicaSetUpdated``, ``NewReplicaSetAvailable``, ``ProgressDeadlineExceeded``). A rollout is complete
when the controller has seen the current generation and every pod runs the current template
(``kubectl rollout status`` uses the same test).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DeploymentCondition:
    status: str
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class DeploymentState:
    """The observed state of one Deployment."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    owner_uids: tuple[str, ...] = ()
    generation: int = 0
    observed_generation: int = 0
    desired: int = 1
    """``spec.replicas`` (set by the operator or the HPA; 1 when unset)."""
    replicas: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    conditions: dict[str, DeploymentCondition] = field(default_factory=dict)
    deleting: bool = False
    body: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The object as read (to tell whether a desired object is already applied)."""

    @property
    def observed(self) -> bool:
        """The controller has seen the current spec."""
        return self.observed_generation >= self.generation

    @property
    def rolled_out(self) -> bool:
        """Every pod runs the current template and the rollout completed: all of them were available at once
        (``kubectl rollout status``), or the controller said so (``Progressing`` ``NewReplicaSetAvailable``, which
        stays after pods of a completed rollout fail: that is unavailability, not progress)."""
        progressing = self.conditions.get("Progressing")
        completed = progressing is not None and progressing.reason == "NewReplicaSetAvailable"
        return (
            self.observed
            and self.updated >= self.desired
            and self.replicas <= self.updated
            and (self.available >= self.updated or completed)
        )

    @property
    def deadline_exceeded(self) -> bool:
        progressing = self.conditions.get("Progressing")
        return progressing is not None and progressing.reason == "ProgressDeadlineExceeded"

    @property
    def available_condition(self) -> DeploymentCondition | None:
        return self.conditions.get("Available")

    @property
    def ready_updated(self) -> int:
        """Ready pods of the current template: all ready ones once rolled out, else those beyond the old pods
        (an estimate: the controller counts ready pods, not ready pods per template)."""
        if self.rolled_out:
            return self.ready
        old = max(0, self.replicas - self.updated)
        return max(0, min(self.updated, self.ready - old))


def contains(stored: Any, desired: Any) -> bool:
    """Whether ``stored`` already holds every field of ``desired`` (maps: a superset; lists: same length, each item
    containing the desired one), so applying ``desired`` again would change nothing. Fields the API server
    defaults (``protocol``, ``terminationMessagePath``, ...) do not count as a difference."""
    if isinstance(desired, Mapping):
        return isinstance(stored, Mapping) and all(k in stored and contains(stored[k], v) for k, v in desired.items())
    if isinstance(desired, list):
        return (
            isinstance(stored, list)
            and len(stored) == len(desired)
            and all(contains(s, d) for s, d in zip(stored, desired, strict=True))
        )
    return bool(stored == desired)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def deployment_state(deployment: Mapping[str, Any]) -> DeploymentState:
    """Read a Deployment object."""
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    conditions = {
        str(c.get("type")): DeploymentCondition(
            status=str(c.get("status", "Unknown")),
            reason=str(c.get("reason") or ""),
            message=str(c.get("message") or ""),
        )
        for c in status.get("conditions") or []
    }
    return DeploymentState(
        name=str(meta.get("name", "")),
        labels=dict(meta.get("labels") or {}),
        annotations=dict(meta.get("annotations") or {}),
        owner_uids=tuple(str(o.get("uid")) for o in meta.get("ownerReferences") or [] if o.get("uid")),
        generation=_int(meta.get("generation")),
        observed_generation=_int(status.get("observedGeneration")),
        desired=_int(spec.get("replicas"), 1),
        replicas=_int(status.get("replicas")),
        updated=_int(status.get("updatedReplicas")),
        ready=_int(status.get("readyReplicas")),
        available=_int(status.get("availableReplicas")),
        conditions=conditions,
        deleting=bool(meta.get("deletionTimestamp")),
        body=deployment,
    )
