"""An InferenceService's status from what one pass observed: pure, recomputed in full on every pass.

``ModelResolved`` says whether the reference resolved to Ready ModelVersions. ``Ready`` says whether the
service serves what its spec asks for, from the Deployments' own status: their ``Progressing`` condition
(``ProgressDeadlineExceeded``), whether every pod runs the current template, their ``Available`` condition
and ready replicas. While a version change rolls a Deployment, ``Ready`` is False (``DeploymentProgressing``)
although the previous version keeps serving; ``readyReplicas`` counts every ready model server pod.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from modelplane.apis.v1alpha1 import InferenceService, InferenceServiceStatus
from modelplane.apis.v1alpha1.conditions import Condition, ConditionStatus, set_condition
from modelplane.apis.v1alpha1.inference_service import ServedVersion as ServedStatus
from modelplane.operator.inference import builders, reasons
from modelplane.operator.inference.builders import Predictor
from modelplane.operator.inference.deployment_state import DeploymentState
from modelplane.operator.inference.resolution import Resolution

TRUE, FALSE = ConditionStatus.TRUE, ConditionStatus.FALSE


@dataclass(frozen=True)
class InferenceObservation:
    """What a pass saw: the resolution, the predictors it applied, and every Deployment of the service."""

    resolution: Resolution
    predictors: tuple[Predictor, ...] = ()
    deployments: tuple[DeploymentState, ...] = ()
    invalid: tuple[str, str] | None = None
    """``(reason, message)`` of a spec the operator cannot build (an unknown accelerator profile)."""


def _served_by(deployment: DeploymentState) -> str:
    return deployment.annotations.get(builders.ANNOTATION_MODEL_VERSION, "")


def _weight(deployment: DeploymentState) -> int:
    try:
        return max(0, min(100, int(deployment.annotations.get(builders.ANNOTATION_WEIGHT, "0"))))
    except ValueError:
        return 0


def _observed_traffic(deployments: Sequence[DeploymentState]) -> list[ServedStatus]:
    """What the Deployments serve, by ModelVersion (when the spec's versions do not resolve)."""
    served: dict[str, ServedStatus] = {}
    for deployment in deployments:
        name = _served_by(deployment)
        if not name:
            continue
        entry = served.setdefault(name, ServedStatus(model_version=name, weight=_weight(deployment), ready_replicas=0))
        entry.ready_replicas += deployment.ready_updated
    return list(served.values())


def _desired_traffic(observed: InferenceObservation, by_name: dict[str, DeploymentState]) -> list[ServedStatus]:
    """The spec's versions and weights, with the ready pods running each (a Deployment being replaced counts)."""
    predictors = {p.name for p in observed.predictors}
    traffic: list[ServedStatus] = []
    for version in observed.resolution.versions:
        ready = 0
        for predictor in observed.predictors:
            deployment = by_name.get(predictor.name)
            if predictor.version.model_version == version.model_version and deployment is not None:
                ready += deployment.ready_updated
        for deployment in observed.deployments:
            if deployment.name not in predictors and _served_by(deployment) == version.model_version:
                ready += deployment.ready
        traffic.append(ServedStatus(model_version=version.model_version, weight=version.weight, ready_replicas=ready))
    return traffic


def _resolved_message(resolution: Resolution) -> str:
    versions = resolution.versions
    model = versions[0].model_name
    if len(versions) == 1:
        only = versions[0]
        optimized = " (optimized artifact)" if only.optimized else ""
        return f"Serving ModelVersion {only.model_version}{optimized}: model {model} version {only.version}."
    parts = ", ".join(f"{v.model_version} ({v.weight}%)" for v in versions)
    return f"Serving ModelVersions {parts} of model {model}."


def _predictor_problem(predictor: Predictor, deployment: DeploymentState | None) -> tuple[int, str, str] | None:
    """``(severity, reason, message)`` of a predictor that is not serving its version yet; None when it is."""
    name, version = predictor.name, predictor.version.model_version
    if deployment is None:
        return 1, reasons.DEPLOYMENT_PROGRESSING, f"Deployment {name} was created for ModelVersion {version}."
    if deployment.deadline_exceeded:
        message = deployment.conditions["Progressing"].message or "no progress within its deadline"
        return 3, reasons.PROGRESS_DEADLINE_EXCEEDED, f"Deployment {name} is stuck rolling out {version}: {message}"
    if not deployment.observed:
        return 1, reasons.DEPLOYMENT_PROGRESSING, f"Deployment {name} has not been observed by its controller yet."
    if not deployment.rolled_out:
        ready = f"{deployment.ready_updated} of {deployment.desired} updated replicas ready"
        if deployment.replicas > deployment.updated:
            message = f"Deployment {name} is rolling out ModelVersion {version} ({ready}); the previous pods serve."
        else:
            message = f"Deployment {name} is starting ModelVersion {version} ({ready})."
        return 1, reasons.DEPLOYMENT_PROGRESSING, message
    if deployment.desired == 0:
        return 2, reasons.DEPLOYMENT_UNAVAILABLE, f"Deployment {name} runs no replicas (replicas.min is 0)."
    available = deployment.available_condition
    if (available is not None and available.status != "True") or deployment.ready < 1:
        why = available.message if available is not None and available.message else "no ready replicas"
        return 2, reasons.DEPLOYMENT_UNAVAILABLE, f"Deployment {name} is not available: {why}"
    return None


class _Conditions:
    def __init__(self, service: InferenceService, now: datetime) -> None:
        previous = service.status or InferenceServiceStatus()
        self.conditions: list[Condition] = list(previous.conditions)
        self.generation = service.metadata.generation
        self.now = now

    def put(self, type_: str, value: ConditionStatus, reason: str, message: str) -> None:
        self.conditions = set_condition(
            self.conditions, type_, value, reason, message=message, observed_generation=self.generation, now=self.now
        )


def compute_inference_service_status(
    service: InferenceService, observed: InferenceObservation, now: datetime
) -> InferenceServiceStatus:
    """The status to write after a pass."""
    previous = service.status or InferenceServiceStatus()
    state = _Conditions(service, now)
    live = [d for d in observed.deployments if not d.deleting]
    by_name = {d.name: d for d in live}
    ready_total = sum(d.ready for d in live)
    resolution = observed.resolution
    status = InferenceServiceStatus(
        observed_generation=service.metadata.generation, url=previous.url, ready_replicas=ready_total
    )
    if not resolution.resolved:
        state.put(reasons.MODEL_RESOLVED, FALSE, resolution.reason, resolution.message)
        status.traffic = _observed_traffic(live)
        serving = ", ".join(t.model_version for t in status.traffic if t.ready_replicas > 0)
        still = f" Still serving {serving} ({ready_total} ready replicas)." if serving else ""
        state.put(reasons.READY, FALSE, resolution.reason, resolution.message + still)
        status.conditions = state.conditions
        return status

    state.put(reasons.MODEL_RESOLVED, TRUE, reasons.RESOLVED, _resolved_message(resolution))
    if observed.invalid is not None:  # nothing was applied: report what runs
        reason, message = observed.invalid
        status.traffic = _observed_traffic(live)
        state.put(reasons.READY, FALSE, reason, message)
        status.conditions = state.conditions
        return status
    status.url = builders.service_url(service, resolution.versions[0].model_name)
    status.traffic = _desired_traffic(observed, by_name)
    problems = [p for p in (_predictor_problem(p, by_name.get(p.name)) for p in observed.predictors) if p is not None]
    if problems:
        _, reason, message = max(problems, key=lambda p: p[0])
        state.put(reasons.READY, FALSE, reason, message)
    else:
        replicas = "replica" if ready_total == 1 else "replicas"
        message = f"Serving at {status.url} with {ready_total} ready {replicas}."
        state.put(reasons.READY, TRUE, reasons.SERVING, message)
    status.conditions = state.conditions
    return status
