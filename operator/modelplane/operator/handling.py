"""How every kopf handler runs a reconcile pass: lock, slot, fresh read, reconcile, Events, what comes next.

Handlers stay thin: they name the kind and the reconcile function and call :func:`run_pass`; every kind
registers them the same way (:func:`register_reconcile`: create, update and resume on one function;
:func:`register_resync`: a kopf timer, for the kinds that have one). The pass
holds the parent's lock and one of the runtime's pass slots, reads the parent as stored now (a child's
event or a requeue may have raced a status write), reconciles, posts the Events of the condition
transitions, and maps the outcome to kopf: a blocked pass raises ``kopf.TemporaryError(delay=...)`` from
the parent's own handlers (kopf retries it), an invalid spec raises ``kopf.PermanentError``. Kubernetes
errors map the same way: the API server unavailable, a conflict or a missing permission are temporary,
a rejected object is permanent (and a Warning Event says why: kopf's own log lines are not posted).

What comes next is the latest pass's call (``runtime.requeues``, one pending per object): a retry of a
blocked pass kopf does not retry itself (a child's event, a requeue), the periodic re-check the
reconciler asked for (``Outcome.resync_after``: an unfinished run, a Dataset still without a valid
version or with a refresh interval), or nothing: a finished object has no pending pass and costs nothing.

A handler passes the body kopf gave it (``known``). When it says the object is done (``done(body)``: a
finished TrainingRun) the pass is skipped without a read: "finished for generation *n*" stays true until
the spec changes, and a spec change arrives as an update event with the new body. Otherwise the pass
reconciles that body instead of reading it again when the body is at least as new as the operator's own
last status write (``runtime.written``; always the case for a new object's create handler).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import kopf

from modelplane.kube import errors as kube_errors
from modelplane.kube.resources import ResourceType
from modelplane.operator import metrics, settings
from modelplane.operator.outcome import Outcome
from modelplane.operator.runtime import Runtime
from modelplane.operator.selectors import Selector

Reconcile = Callable[[Runtime, dict[str, Any]], Awaitable[Outcome]]
Done = Callable[[Mapping[str, Any]], bool]
Handler = Callable[..., Awaitable[None]]
When = Callable[..., bool]
REJECTED = "ReconcileRejected"
"""Reason of the Warning Event when the API server rejected (or forbade) what a pass wrote."""
logger = logging.getLogger(__name__)


async def run_pass(
    runtime: Runtime,
    resource: ResourceType,
    namespace: str,
    name: str,
    reconcile: Reconcile,
    *,
    raise_for_retry: bool,
    known: Mapping[str, Any] | None = None,
    done: Done | None = None,
) -> Outcome | None:
    """Reconcile one object by name; None when it no longer exists or ``known`` says it is ``done``."""
    kind = resource.kind
    if known is not None and done is not None and done(known):
        return None
    async with runtime.locks.hold(kind, namespace, name), runtime.slots:
        with metrics.timed(kind):
            fresh = dict(known) if known is not None and runtime.written.current(kind, namespace, name, known) else None
            result = await _reconcile(
                runtime, resource, namespace, name, reconcile, raise_for_retry=raise_for_retry, known=fresh
            )
    key = (kind, namespace, name)
    if result is None:  # gone
        runtime.requeues.cancel(key)
        return None
    body, outcome, counted = result
    for child in outcome.children_created:
        metrics.CHILDREN_CREATED.labels(kind=kind).inc()
        logger.debug("Created %s for %s %s/%s.", child, kind, namespace, name)
    if body is not None:
        for event in outcome.events:
            kopf.event(cast("kopf.Body", body), type=event.type, reason=event.reason, message=event.message)

    async def again() -> None:
        await run_pass(runtime, resource, namespace, name, reconcile, raise_for_retry=False)

    _next(runtime, key, outcome, again, counted=counted, raise_for_retry=raise_for_retry)
    return outcome


def _next(
    runtime: Runtime,
    key: tuple[str, str, str],
    outcome: Outcome,
    again: Callable[[], Awaitable[None]],
    *,
    counted: bool,
    raise_for_retry: bool,
) -> None:
    """Schedule (or cancel) the object's next pass from this pass's outcome; raise kopf's errors."""
    kind = key[0]
    if outcome.permanent is not None:
        if not counted:
            metrics.RECONCILE_ERRORS.labels(kind=kind, error="Permanent").inc()
        runtime.requeues.cancel(key)
        if raise_for_retry:
            raise kopf.PermanentError(outcome.permanent)
    elif outcome.retry_after is not None:
        if not counted:
            metrics.RECONCILE_ERRORS.labels(kind=kind, error="Retry").inc()
        if raise_for_retry:
            runtime.requeues.cancel(key)  # kopf retries its own handler
            raise kopf.TemporaryError(outcome.retry_message, delay=outcome.retry_after)
        runtime.requeues.schedule(key, outcome.retry_after, again)
        logger.info("Retrying %s %s/%s in %gs: %s", *key, outcome.retry_after, outcome.retry_message)
    elif outcome.resync_after is not None:
        runtime.requeues.schedule(key, outcome.resync_after, again)
    else:
        runtime.requeues.cancel(key)


async def _reconcile(
    runtime: Runtime,
    resource: ResourceType,
    namespace: str,
    name: str,
    reconcile: Reconcile,
    *,
    raise_for_retry: bool,
    known: dict[str, Any] | None,
) -> tuple[dict[str, Any] | None, Outcome, bool] | None:
    """Read the object (unless ``known`` is current) and reconcile it, mapping Kubernetes errors to kopf's.

    None: the object is gone (its status version is forgotten). Else the body, the outcome and whether an
    error was counted already: a Kubernetes error of a pass that kopf does not retry becomes an outcome,
    a retry (a permanent failure for a rejected object).
    """
    kind = resource.kind
    body: dict[str, Any] | None = known
    try:
        if body is None:
            body = await runtime.kube.get(resource, namespace, name)
        if body is None:
            runtime.written.forget(kind, namespace, name)
            return None
        legacy = settings.legacy_annotations(body)
        if legacy:
            patch = {"metadata": {"annotations": dict.fromkeys(legacy)}}
            body = await runtime.kube.merge_patch(resource, namespace, name, patch)
        return body, await reconcile(runtime, body), False
    except kube_errors.InvalidError as exc:
        metrics.RECONCILE_ERRORS.labels(kind=kind, error="Invalid").inc()
        _post_rejection(body, exc)
        if raise_for_retry:
            raise kopf.PermanentError(f"The API server rejected an object: {exc.message}") from exc
        logger.error("Reconciling %s %s/%s: the API server rejected an object: %s", kind, namespace, name, exc.message)
        return body, Outcome(permanent=exc.message), True
    except kube_errors.KubeError as exc:
        metrics.RECONCILE_ERRORS.labels(kind=kind, error=type(exc).__name__).inc()
        if isinstance(exc, kube_errors.ForbiddenError):
            _post_rejection(body, exc)
        if raise_for_retry:
            raise kopf.TemporaryError(exc.message, delay=runtime.config.retry_delay_seconds) from exc
        logger.warning("Reconciling %s %s/%s failed: %s", kind, namespace, name, exc.message)
        return body, Outcome(retry_after=runtime.config.retry_delay_seconds, retry_message=exc.message), True


def _post_rejection(body: dict[str, Any] | None, exc: kube_errors.KubeError) -> None:
    """A Warning Event on the parent: what the API server refused (kopf's own error lines are not posted)."""
    if body is not None:
        kopf.event(cast("kopf.Body", body), type="Warning", reason=REJECTED, message=exc.message[:1024])


def register_reconcile(registry: kopf.OperatorRegistry, selector: Selector, handler: Handler) -> None:
    """Create, update and resume stacked on one handler of the kind (one id, ``reconcile``)."""
    for on in (kopf.on.resume, kopf.on.create, kopf.on.update):
        on(*selector, registry=registry, id="reconcile")(handler)


def register_resync(
    registry: kopf.OperatorRegistry, selector: Selector, handler: Handler, *, interval: float, when: When
) -> None:
    """A kopf timer (id ``resync``) every ``interval`` seconds, first after one, on the objects ``when`` picks."""
    kopf.timer(*selector, registry=registry, id="resync", interval=interval, initial_delay=interval, when=when)(handler)
