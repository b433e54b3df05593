"""The writes of a ModelVersion pass besides its children and its status (``passes.write_status``): its
finalizer, its managed-aliases annotation, a Job's annotations.

The finalizer and the annotation are JSON merge patches guarded by the object's ``resourceVersion`` (on a
conflict the object is read again and the patch recomputed once). They must not be server-side applied with
the operator's field manager: the TrainingRun controller applies the ModelVersions it creates with that
manager, and its next apply would drop fields it does not state.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from modelplane.apis.meta import GROUP
from modelplane.kube import errors as kube_errors
from modelplane.kube.resources import JOBS, MODEL_VERSIONS
from modelplane.operator.runtime import Runtime

FINALIZER = f"{GROUP}/artifact-retention"
"""Held by every ModelVersion the operator has seen: its deletion waits for the in-use guard, the release of
its aliases and (``retentionPolicy: Delete``) the deletion of its artifact."""
ANNOTATION_MANAGED_ALIASES = f"{GROUP}/managed-aliases"
"""The aliases the operator holds for this version (comma-separated): one dropped from ``spec.aliases`` is
removed from the registry; an alias someone set in the registry directly is never removed."""


def finalizers_of(body: Mapping[str, Any]) -> list[str]:
    return [str(f) for f in (body.get("metadata") or {}).get("finalizers") or []]


def managed_aliases(body: Mapping[str, Any]) -> set[str]:
    text = ((body.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_MANAGED_ALIASES, "")
    return {alias for alias in str(text).split(",") if alias}


async def _patch_metadata(
    runtime: Runtime, body: dict[str, Any], change: Callable[[Mapping[str, Any]], dict[str, Any] | None]
) -> dict[str, Any]:
    """Merge-patch ``change(body)`` into the metadata, guarded by the body's resourceVersion; the object as
    stored now. On a conflict the object is read again and the change recomputed once (a writer raced us)."""
    for attempt in (1, 2):
        metadata = change(body)
        if metadata is None:
            return body
        meta = body.get("metadata") or {}
        namespace, name = meta.get("namespace"), str(meta.get("name"))
        patch = {"metadata": {**metadata, "resourceVersion": meta.get("resourceVersion")}}
        try:
            return await runtime.kube.merge_patch(MODEL_VERSIONS, namespace, name, patch) or body
        except kube_errors.ConflictError:
            if attempt == 2:
                raise
            fresh = await runtime.kube.get(MODEL_VERSIONS, namespace, name)
            if fresh is None:
                return body
            body = fresh
    return body


async def ensure_finalizer(runtime: Runtime, body: dict[str, Any]) -> dict[str, Any]:
    """Add the finalizer when missing; the object as stored now."""

    def change(current: Mapping[str, Any]) -> dict[str, Any] | None:
        finalizers = finalizers_of(current)
        return None if FINALIZER in finalizers else {"finalizers": [*finalizers, FINALIZER]}

    return await _patch_metadata(runtime, body, change)


async def remove_finalizer(runtime: Runtime, body: dict[str, Any]) -> None:
    """Remove the finalizer (the others stay): the API server then deletes the object once nobody else waits."""

    def change(current: Mapping[str, Any]) -> dict[str, Any] | None:
        finalizers = finalizers_of(current)
        return {"finalizers": [f for f in finalizers if f != FINALIZER]} if FINALIZER in finalizers else None

    await _patch_metadata(runtime, body, change)


async def set_managed_aliases(runtime: Runtime, body: dict[str, Any], aliases: Collection[str]) -> dict[str, Any]:
    """Record the aliases the operator holds for this version (none: the annotation is removed)."""

    def change(current: Mapping[str, Any]) -> dict[str, Any] | None:
        if set(aliases) == managed_aliases(current):
            return None
        return {"annotations": {ANNOTATION_MANAGED_ALIASES: ",".join(sorted(aliases)) or None}}

    return await _patch_metadata(runtime, body, change)


async def annotate_job(runtime: Runtime, namespace: str, job: str, annotations: dict[str, str]) -> None:
    await runtime.kube.merge_patch(JOBS, namespace, job, {"metadata": {"annotations": annotations}})
