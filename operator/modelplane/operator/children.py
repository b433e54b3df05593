"""Child events map back to their parent: a Job (or Service) the operator created changed, so its owner is
reconciled again.

One kopf event handler watches the operator's Jobs (label ``app.kubernetes.io/managed-by``); the
controller owner reference says which Dataset or TrainingRun to reconcile. A deleted Job, a finished one
or one someone edited is noticed at once, not at the next timer tick.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import kopf

from modelplane.apis.meta import GROUP
from modelplane.operator import podspec
from modelplane.operator.runtime import Runtime, runtime_of

ParentPass = Callable[[Runtime, str, str], Awaitable[None]]
MANAGED = {"app.kubernetes.io/managed-by": podspec.MANAGED_BY}


def controller_owner(meta: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(kind, name)`` of the ModelPlane object that controls this child, if any."""
    for owner in meta.get("ownerReferences") or []:
        if owner.get("controller") and str(owner.get("apiVersion", "")).startswith(f"{GROUP}/"):
            return str(owner.get("kind")), str(owner.get("name"))
    return None


def register(registry: kopf.OperatorRegistry, parents: Mapping[str, ParentPass]) -> None:
    """Watch the operator's Jobs and reconcile their owners through ``parents`` (kind → pass)."""

    async def on_job_event(meta: kopf.Meta, namespace: str | None, memo: Any, **_: Any) -> None:
        owner = controller_owner(meta)
        if owner is None or namespace is None:
            return
        kind, name = owner
        reconcile = parents.get(kind)
        if reconcile is not None:
            await reconcile(runtime_of(memo), namespace, name)

    kopf.on.event("batch", "v1", "jobs", registry=registry, id="owner", labels=MANAGED)(on_job_event)
