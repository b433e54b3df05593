"""How every kopf handler runs a reconcile pass: lock, fresh read, reconcile, Events, retry semantics.

Handlers stay thin: they name the kind and the reconcile function and call :func:`run_pass`. The pass
holds the parent's lock, reads the parent as stored now (a child's event or a timer may have raced a
status write), reconciles, posts the Events of the condition transitions, and maps the outcome to kopf:
a blocked pass raises ``kopf.TemporaryError(delay=...)`` from the parent's own handlers (kopf retries
it), an invalid spec raises ``kopf.PermanentError``. Kubernetes errors map the same way: the API server
unavailable, a conflict or a missing permission are temporary, a rejected object is permanent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

import kopf

from modelplane.kube import errors as kube_errors
from modelplane.kube.resources import ResourceType
from modelplane.operator import metrics
from modelplane.operator.outcome import Outcome
from modelplane.operator.runtime import Runtime

Reconcile = Callable[[Runtime, dict[str, Any]], Awaitable[Outcome]]
logger = logging.getLogger(__name__)


async def run_pass(
    runtime: Runtime,
    resource: ResourceType,
    namespace: str,
    name: str,
    reconcile: Reconcile,
    *,
    raise_for_retry: bool,
) -> Outcome | None:
    """Reconcile one object by name; None when it no longer exists."""
    kind = resource.kind
    async with runtime.locks.hold(kind, namespace, name):
        with metrics.timed(kind):
            try:
                body = await runtime.kube.get(resource, namespace, name)
                if body is None:
                    return None
                outcome = await reconcile(runtime, body)
            except kube_errors.InvalidError as exc:
                metrics.RECONCILE_ERRORS.labels(kind=kind, error="Invalid").inc()
                if not raise_for_retry:
                    logger.error(
                        "Reconciling %s %s/%s: the API server rejected an object: %s",
                        kind,
                        namespace,
                        name,
                        exc.message,
                    )
                    return None
                raise kopf.PermanentError(f"The API server rejected an object: {exc.message}") from exc
            except kube_errors.KubeError as exc:
                metrics.RECONCILE_ERRORS.labels(kind=kind, error=type(exc).__name__).inc()
                if not raise_for_retry:
                    logger.warning("Reconciling %s %s/%s failed: %s", kind, namespace, name, exc.message)
                    return None
                raise kopf.TemporaryError(exc.message, delay=runtime.config.retry_delay_seconds) from exc
    for child in outcome.children_created:
        metrics.CHILDREN_CREATED.labels(kind=kind).inc()
        logger.debug("Created %s for %s %s/%s.", child, kind, namespace, name)
    for event in outcome.events:
        kopf.event(cast("kopf.Body", body), type=event.type, reason=event.reason, message=event.message)
    if outcome.permanent is not None:
        metrics.RECONCILE_ERRORS.labels(kind=kind, error="Permanent").inc()
        if raise_for_retry:
            raise kopf.PermanentError(outcome.permanent)
    elif outcome.retry_after is not None:
        metrics.RECONCILE_ERRORS.labels(kind=kind, error="Retry").inc()
        if raise_for_retry:
            raise kopf.TemporaryError(outcome.retry_message, delay=outcome.retry_after)

        async def again() -> None:
            await run_pass(runtime, resource, namespace, name, reconcile, raise_for_retry=False)

        if runtime.requeues.schedule((kind, namespace, name), outcome.retry_after, again):
            logger.info(
                "Retrying %s %s/%s in %gs: %s", kind, namespace, name, outcome.retry_after, outcome.retry_message
            )
    return outcome
