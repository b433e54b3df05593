"""The deletion of a ModelVersion: what its finalizer (``modelplane.io/artifact-retention``) waits for. Impure.

While an InferenceService uses the version (``usage``), the deletion waits and ``Deleting`` (reason ``InUse``)
names the services; their events re-check it. Then the aliases the version holds in the registry are removed
unless another live version claims them (that version moves them itself); with ``retentionPolicy: Delete`` the
artifact (and the optimized artifact) is deleted through the control plane unless another ModelVersion of the
namespace has the same digest; last, the finalizer is removed. The registered version itself stays in the
registry: it is history, and lineage points at it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from modelplane.apis.v1alpha1 import ModelVersion, ModelVersionStatus
from modelplane.apis.v1alpha1.model_version import RetentionPolicy
from modelplane.kube.resources import INFERENCE_SERVICES, MODEL_VERSIONS
from modelplane.operator.controlplane import ArtifactDeletionUnsupported, ControlPlaneError
from modelplane.operator.model import reasons, updates
from modelplane.operator.model.aliases import releasable, siblings_of
from modelplane.operator.model.status import deletion_status
from modelplane.operator.model.usage import in_use_message, users_of
from modelplane.operator.outcome import Event, Outcome, transition_events
from modelplane.operator.passes import write_status
from modelplane.operator.runtime import Runtime

logger = logging.getLogger(__name__)
WARNINGS = frozenset({reasons.IN_USE, reasons.ARTIFACT_DELETION_FAILED, reasons.CONTROL_PLANE_UNAVAILABLE})


def _digests(body: Mapping[str, Any]) -> set[str]:
    """The artifacts a stored ModelVersion has or will have (its status, an external source's digest)."""
    status = body.get("status") or {}
    external = ((body.get("spec") or {}).get("source") or {}).get("external") or {}
    found = {(status.get("artifact") or {}).get("sha256"), (status.get("optimizedArtifact") or {}).get("sha256")}
    found.add(external.get("sha256"))
    return {d for d in found if isinstance(d, str) and d}


def artifacts_to_delete(status: ModelVersionStatus, others: list[dict[str, Any]]) -> list[str]:
    """The digests this version's deletion removes: its artifacts no other live ModelVersion has."""
    mine = [a.sha256 for a in (status.artifact, status.optimized_artifact) if a is not None]
    shared = set().union(*(_digests(o) for o in others if not (o.get("metadata") or {}).get("deletionTimestamp")))
    return [sha256 for sha256 in dict.fromkeys(mine) if sha256 not in shared]


async def _wait(runtime: Runtime, model: ModelVersion, reason: str, message: str, *, delay: float) -> Outcome:
    previous = model.status or ModelVersionStatus()
    status = deletion_status(model, previous, reason, message, runtime.clock())
    written = await write_status(runtime, model, status)
    events = tuple(
        Event("Warning", e.reason, e.message) if e.reason in WARNINGS else e
        for e in transition_events(previous.conditions, status.conditions, reasons.EVENTS)
    )
    return Outcome(events=events, retry_after=delay, retry_message=message, status_written=written)


async def finalize_model_version(runtime: Runtime, model: ModelVersion, body: dict[str, Any]) -> Outcome:
    """One pass over a ModelVersion whose deletion was requested."""
    if updates.FINALIZER not in updates.finalizers_of(body):
        return Outcome()
    namespace, name, model_name = model.metadata.namespace or "", model.metadata.name, model.spec.model_name
    status = model.status or ModelVersionStatus()
    version = status.registered_version
    held = list(status.aliases)
    try:
        registered = await runtime.control_plane.get_model(namespace, model_name) if version is not None else None
    except ControlPlaneError as exc:
        message = f"Deletion waits for the control plane: {exc}"
        return await _wait(
            runtime, model, reasons.CONTROL_PLANE_UNAVAILABLE, message, delay=runtime.config.retry_delay_seconds
        )
    if registered is not None and version is not None:
        held = registered.aliases_of(version)

    users = users_of(await runtime.kube.list(INFERENCE_SERVICES, namespace), version=name, model=model_name, held=held)
    if users:
        return await _wait(runtime, model, reasons.IN_USE, in_use_message(users), delay=runtime.config.resync_seconds)

    listed = [
        b for b in await runtime.kube.list(MODEL_VERSIONS, namespace) if (b.get("metadata") or {}).get("name") != name
    ]
    try:
        for alias in releasable(siblings_of(listed, model_name, name), held):
            await runtime.control_plane.delete_model_alias(namespace, model_name, alias)
            logger.info(
                "Removed alias %s of model %s/%s held by deleted ModelVersion %s.", alias, namespace, model_name, name
            )
        if model.spec.retention_policy is RetentionPolicy.DELETE:
            for sha256 in artifacts_to_delete(status, listed):
                await runtime.control_plane.delete_artifact(namespace, sha256)
                logger.info(
                    "Deleted artifact %s of ModelVersion %s/%s (retentionPolicy Delete).", sha256, namespace, name
                )
    except ArtifactDeletionUnsupported as exc:
        message = (
            f"The artifact cannot be deleted: {exc}. "
            "Set retentionPolicy: Retain to delete the ModelVersion and keep the artifact."
        )
        return await _wait(
            runtime, model, reasons.ARTIFACT_DELETION_FAILED, message, delay=runtime.config.resync_seconds
        )
    except ControlPlaneError as exc:
        message = f"Deletion waits for the control plane: {exc}"
        return await _wait(
            runtime, model, reasons.CONTROL_PLANE_UNAVAILABLE, message, delay=runtime.config.retry_delay_seconds
        )
    await updates.remove_finalizer(runtime, body)
    logger.info("Released ModelVersion %s/%s for deletion.", namespace, name)
    return Outcome()
