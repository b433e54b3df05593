"""Child events map back to their parent: a Job (or Service) the operator created changed, so its owner is
reconciled again.

One kopf event handler watches the operator's Jobs (label ``app.kubernetes.io/managed-by``); the
controller owner reference says which Dataset or TrainingRun to reconcile. A deleted Job, a finished one
or one someone edited is noticed at once, not at the next timer tick. Another watches the operator's
Deployments the same way: a rollout's progress reaches its InferenceService's status at once.

The same Job watch feeds kopf's index ``jobs_by_owner`` (controller uid → ``JobState``), which passes read
instead of listing Jobs; a Job event whose version a pass already saw (the ``ADDED`` event of a Job it
just created) does not run the owner's pass again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import kopf

from modelplane.apis.meta import GROUP
from modelplane.operator import metrics, podspec
from modelplane.operator.jobstate import JobState, job_state
from modelplane.operator.runtime import JOBS_INDEX, Runtime, runtime_of

ParentPass = Callable[[Runtime, str, str], Awaitable[None]]
MANAGED = {"app.kubernetes.io/managed-by": podspec.MANAGED_BY}


def controller_owner(meta: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(kind, name)`` of the ModelPlane object that controls this child, if any."""
    for owner in meta.get("ownerReferences") or []:
        if owner.get("controller") and str(owner.get("apiVersion", "")).startswith(f"{GROUP}/"):
            return str(owner.get("kind")), str(owner.get("name"))
    return None


async def jobs_by_owner(body: kopf.Body, meta: kopf.Meta, **_: Any) -> dict[str, JobState] | None:
    """kopf index ``JOBS_INDEX``: each operator Job's state under its controller's uid (passes read it, not a LIST)."""
    for owner in meta.get("ownerReferences") or []:
        if owner.get("controller") and owner.get("uid"):
            return {str(owner["uid"]): job_state(body)}
    return None


def register(registry: kopf.OperatorRegistry, parents: Mapping[str, ParentPass]) -> None:
    """Watch the operator's Jobs and Deployments and reconcile their owners through ``parents`` (kind → pass)."""

    async def on_job_event(meta: kopf.Meta, namespace: str | None, memo: Any, type: str | None, **kwargs: Any) -> None:
        owner = controller_owner(meta)
        if owner is None or namespace is None:
            return
        runtime = runtime_of(memo, kwargs)
        if type == "DELETED":
            runtime.jobs.forget(namespace, [str(meta.get("name"))])
        elif runtime.jobs.already_seen(namespace, str(meta.get("name")), meta.get("resourceVersion")):
            metrics.CHILD_EVENTS.labels(outcome="skipped").inc()
            return  # a pass already saw this version (e.g. the ADDED event of a Job it created)
        metrics.CHILD_EVENTS.labels(outcome="reconciled").inc()
        kind, name = owner
        reconcile = parents.get(kind)
        if reconcile is not None:
            await reconcile(runtime, namespace, name)

    kopf.on.event("batch", "v1", "jobs", registry=registry, id="owner", labels=MANAGED)(on_job_event)
    kopf.index("batch", "v1", "jobs", registry=registry, id=JOBS_INDEX, labels=MANAGED)(jobs_by_owner)

    async def on_deployment_event(meta: kopf.Meta, namespace: str | None, memo: Any, **kwargs: Any) -> None:
        owner = controller_owner(meta)
        if owner is None or namespace is None:
            return
        reconcile = parents.get(owner[0])
        if reconcile is not None:
            await reconcile(runtime_of(memo, kwargs), namespace, owner[1])

    kopf.on.event("apps", "v1", "deployments", registry=registry, id="owner", labels=MANAGED)(on_deployment_event)
