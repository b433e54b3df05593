"""One reconcile pass over an InferenceService: the only impure part of the InferenceService controller.

Read the ModelVersions the spec names (every ModelVersion of the namespace for an alias) and resolve them;
when they do not resolve, change no child (what runs keeps serving) and report why. Otherwise apply the
predictors' Deployments, the Service, the HPAs and the PodDisruptionBudget (server-side apply: a pass that
changes nothing writes nothing), delete Deployments no longer wanted once every wanted one serves, compute
the status from the Deployments as stored, apply it when it changed, and record the served split in the
control plane once the service is Ready on it.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from modelplane.apis.meta import GROUP
from modelplane.apis.v1alpha1 import InferenceService, InferenceServiceStatus, ModelVersion
from modelplane.apis.v1alpha1.conditions import is_true
from modelplane.kube.resources import DEPLOYMENTS, HPAS, INFERENCE_SERVICES, MODEL_VERSIONS
from modelplane.operator import podspec
from modelplane.operator.accelerators import (
    GOOGLE_TPU,
    Placement,
    UnknownAcceleratorError,
    resolve_accelerator,
)
from modelplane.operator.controlplane import ControlPlaneError
from modelplane.operator.inference import builders, reasons
from modelplane.operator.inference.builders import Predictor
from modelplane.operator.inference.deployment_state import DeploymentState, contains, deployment_state
from modelplane.operator.inference.resolution import Resolution, needed_names, resolve
from modelplane.operator.inference.status import InferenceObservation, compute_inference_service_status
from modelplane.operator.outcome import Outcome, transition_events
from modelplane.operator.passes import PassState, deletion_requested, write_status
from modelplane.operator.runtime import Runtime

ANNOTATION_RECORDED_TRAFFIC = f"{GROUP}/recorded-traffic"
"""On an InferenceService: the split last recorded in the control plane (``[{model, version, percent}]``)."""
logger = logging.getLogger(__name__)


class _Pass(PassState):
    def __init__(self, runtime: Runtime, service: InferenceService) -> None:
        super().__init__(runtime, service)
        self.service = service


async def reconcile_inference_service(runtime: Runtime, body: dict[str, Any]) -> Outcome:
    """Reconcile one InferenceService (the caller holds its lock)."""
    service = InferenceService.from_wire(body)
    if deletion_requested(body):
        return Outcome()
    state = _Pass(runtime, service)
    resolution = resolve(service, await _model_versions(state))
    deployments = await _deployments(state)
    foreign = [d.name for d in deployments if state.uid not in d.owner_uids]
    if foreign:  # left by a deleted InferenceService of the same name (garbage collection has not caught up)
        for name in foreign:
            await runtime.kube.delete(DEPLOYMENTS, state.namespace, name)
        return Outcome(
            retry_after=1.0, retry_message=f"Replacing Deployments {', '.join(foreign)} of an earlier object."
        )
    if not resolution.resolved:
        observed = InferenceObservation(resolution, deployments=tuple(deployments))
        if resolution.reason in reasons.INVALID:
            return await _finish(state, observed, permanent=resolution.message)
        return await _finish(state, observed, retry=resolution.message)
    try:
        placement = _placement(state)
    except ValueError as exc:
        reason = reasons.UNKNOWN_ACCELERATOR if isinstance(exc, UnknownAcceleratorError) else reasons.INVALID_SPEC
        observed = InferenceObservation(resolution, deployments=tuple(deployments), invalid=(reason, str(exc)))
        return await _finish(state, observed, permanent=str(exc))

    primary = next((d for d in deployments if d.name == builders.primary_name(service)), None)
    current = primary.annotations.get(builders.ANNOTATION_MODEL_VERSION) if primary is not None else None
    predictors = builders.plan_predictors(service, resolution.versions, current)
    applied = await _apply_children(state, predictors, deployments, placement)
    wanted = {p.name for p in predictors}
    stale = [d for d in deployments if d.name not in wanted]
    observed = InferenceObservation(resolution, predictors, tuple(applied + stale))
    status = compute_inference_service_status(service, observed, runtime.clock())
    if stale and is_true(status.conditions, reasons.READY):
        await _delete_stale(state, stale)
        observed = InferenceObservation(resolution, predictors, tuple(applied))
        status = compute_inference_service_status(service, observed, runtime.clock())
    retry = None
    if is_true(status.conditions, reasons.READY):
        retry = await _record_traffic(state, resolution)
    return await _finish(state, observed, status=status, retry=retry)


def _placement(state: _Pass) -> Placement:
    accelerator = state.service.spec.resources.accelerator
    placement = resolve_accelerator(accelerator, state.runtime.config.accelerator_profiles)
    if GOOGLE_TPU in placement.limits:
        raise ValueError(
            f"accelerator {accelerator.type if accelerator else ''!r} is a TPU; ONNX Runtime serves on CPUs and "
            "NVIDIA GPUs only"
        )
    return placement


async def _model_versions(state: _Pass) -> dict[str, ModelVersion]:
    """The ModelVersions the spec names, by name (every one of the namespace for an alias)."""
    names = needed_names(state.service)
    kube = state.runtime.kube
    if names is None:
        bodies = await kube.list(MODEL_VERSIONS, state.namespace)
    else:
        bodies = [b for b in [await kube.get(MODEL_VERSIONS, state.namespace, n) for n in dict.fromkeys(names)] if b]
    found: dict[str, ModelVersion] = {}
    for body in bodies:
        try:
            version = ModelVersion.from_wire(body)
        except ValidationError as exc:
            logger.warning("Ignored ModelVersion %s/%s: %s", state.namespace, body.get("metadata", {}).get("name"), exc)
            continue
        found[version.metadata.name] = version
    return found


async def _deployments(state: _Pass) -> list[DeploymentState]:
    listed = await state.runtime.kube.list(DEPLOYMENTS, state.namespace, label_selector=_selector(state.service))
    return [deployment_state(d) for d in listed]


def _selector(service: InferenceService) -> str:
    return ",".join(f"{k}={v}" for k, v in builders.selector(service).items())


async def _apply_children(
    state: _Pass, predictors: tuple[Predictor, ...], observed: list[DeploymentState], placement: Placement
) -> list[DeploymentState]:
    """Apply every child; the Deployments as stored (with their status)."""
    service, kube, config = state.service, state.runtime.kube, state.runtime.config
    existing = {d.name: d for d in observed}
    applied: list[DeploymentState] = []
    for predictor in predictors:
        manifest = builders.build_deployment(service, predictor, config, placement)
        current = existing.get(predictor.name)
        if current is not None and contains(current.body, manifest):  # applied already: no write, no event
            applied.append(current)
            continue
        stored = await kube.apply(manifest)
        applied.append(deployment_state(stored or manifest))
        if current is None:
            state.created.append(predictor.name)
            logger.info(
                "Created Deployment %s for InferenceService %s/%s (ModelVersion %s).",
                predictor.name,
                state.namespace,
                service.metadata.name,
                predictor.version.model_version,
            )
    await kube.apply(builders.build_service(service))
    hpas = {h["metadata"]["name"] for h in await kube.list(HPAS, state.namespace, label_selector=_selector(service))}
    for predictor in predictors:
        if builders.autoscaled(service):
            await kube.apply(builders.build_hpa(service, predictor))
        elif predictor.name in hpas:
            await kube.delete(HPAS, state.namespace, predictor.name)
    for name in hpas - {p.name for p in predictors}:
        await kube.delete(HPAS, state.namespace, name)
    await kube.apply(builders.build_pdb(service, len(predictors)))
    return applied


async def _delete_stale(state: _Pass, stale: list[DeploymentState]) -> None:
    """Deployments of versions no longer listed: removed once the wanted ones serve (they served until now)."""
    for deployment in stale:
        if deployment.deleting:
            continue
        await state.runtime.kube.delete(DEPLOYMENTS, state.namespace, deployment.name)
        logger.info(
            "Deleted Deployment %s/%s of InferenceService %s: it serves %s, no longer in the spec.",
            state.namespace,
            deployment.name,
            state.service.metadata.name,
            deployment.annotations.get(builders.ANNOTATION_MODEL_VERSION, "an earlier version"),
        )


async def _record_traffic(state: _Pass, resolution: Resolution) -> str | None:
    """Record the served split in the control plane when it changed; a message to retry on, or None."""
    service = state.service
    record = builders.traffic_record(resolution.versions)
    if record is None:
        logger.info(
            "Not recording the traffic of InferenceService %s/%s: a served version is not registered yet.",
            state.namespace,
            service.metadata.name,
        )
        return None
    text = podspec.compact_json(record)
    if service.metadata.annotations.get(ANNOTATION_RECORDED_TRAFFIC) == text:
        return None
    try:
        await state.runtime.control_plane.set_traffic(state.namespace, service.metadata.name, record)
    except ControlPlaneError as exc:
        logger.warning(
            "Could not record the traffic of InferenceService %s/%s: %s", state.namespace, service.metadata.name, exc
        )
        return f"Recording the traffic in the control plane failed: {exc}"
    await state.runtime.kube.merge_patch(
        INFERENCE_SERVICES,
        state.namespace,
        service.metadata.name,
        {"metadata": {"annotations": {ANNOTATION_RECORDED_TRAFFIC: text}}},
    )
    logger.info("Recorded the traffic of InferenceService %s/%s: %s.", state.namespace, service.metadata.name, text)
    return None


async def _finish(
    state: _Pass,
    observed: InferenceObservation,
    *,
    status: InferenceServiceStatus | None = None,
    permanent: str | None = None,
    retry: str | None = None,
) -> Outcome:
    service, runtime = state.service, state.runtime
    if status is None:
        status = compute_inference_service_status(service, observed, runtime.clock())
    written = await write_status(runtime, service, status)
    events = transition_events(service.status.conditions if service.status else [], status.conditions, reasons.EVENTS)
    return state.outcome(events, written=written, permanent=permanent, retry=retry)
