"""kopf handlers of InferenceServices: thin; each runs one reconcile pass (``handling.run_pass``).

Create, update and resume share one function (a reference that does not resolve yet raises
``kopf.TemporaryError`` and kopf retries it). The Deployments' events reach ``reconcile_from_child``
through ``modelplane.operator.children``, so a rollout's progress shows in status at once; a kopf index of
the services by the ModelVersions (and models, for aliases) they name lets a ModelVersion that turns Ready
or takes an alias roll its services forward at once. A timer re-checks services that are not Ready. A
service whose traffic was recorded in the control plane has a deletion handler that ends it there.
"""

from __future__ import annotations

from typing import Any

import kopf

from modelplane.apis.v1alpha1 import InferenceService, ModelVersion
from modelplane.kube.resources import INFERENCE_SERVICES
from modelplane.operator.controlplane import ControlPlaneError, ControlPlaneUnavailable
from modelplane.operator.handling import register_reconcile, register_resync, run_pass
from modelplane.operator.inference import reasons
from modelplane.operator.inference.reconcile import ANNOTATION_RECORDED_TRAFFIC, reconcile_inference_service
from modelplane.operator.runtime import Runtime, runtime_of
from modelplane.operator.selectors import selector_of

SELECTOR = selector_of(InferenceService)
MODEL_VERSION_SELECTOR = selector_of(ModelVersion)
INDEX = "inference_services_by_model"
END_TRAFFIC_RETRIES = 20


def not_ready(status: kopf.Status, meta: kopf.Meta, **_: Any) -> bool:
    """Whether the service is not Ready for its current generation (it then has a timer)."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == reasons.READY:
            return not (
                condition.get("status") == "True" and condition.get("observedGeneration") == meta.get("generation")
            )
    return True


async def _pass(runtime: Runtime, namespace: str | None, name: str, *, raise_for_retry: bool = False) -> None:
    await run_pass(
        runtime, INFERENCE_SERVICES, namespace or "", name, reconcile_inference_service, raise_for_retry=raise_for_retry
    )


async def on_inference_service(name: str, namespace: str | None, memo: Any, **kwargs: Any) -> None:
    """Create/update/resume: reconcile; a blocked pass is retried by kopf."""
    await _pass(runtime_of(memo, kwargs), namespace, name, raise_for_retry=True)


async def on_inference_service_timer(name: str, namespace: str | None, memo: Any, **kwargs: Any) -> None:
    """The periodic re-check of a service that is not Ready."""
    await _pass(runtime_of(memo, kwargs), namespace, name)


def inference_services_by_model(
    namespace: str | None, name: str, spec: kopf.Spec, **_: Any
) -> dict[tuple[str, str | None, str], str] | None:
    """kopf index: services by ``("version", namespace, ModelVersion)`` and ``("model", namespace, model name)``."""
    keys: dict[tuple[str, str | None, str], str] = {}
    for target in spec.get("traffic") or []:
        if target.get("modelVersion"):
            keys[("version", namespace, str(target["modelVersion"]))] = name
    ref = (spec.get("modelVersionRef") or {}).get("name")
    if ref:
        keys[("version", namespace, str(ref))] = name
    model = (spec.get("modelRef") or {}).get("name")
    if model:
        keys[("model", namespace, str(model))] = name
    return keys or None


async def on_model_version_change(
    name: str, namespace: str | None, spec: kopf.Spec, memo: Any, type: str | None, **kwargs: Any
) -> None:
    """A ModelVersion changed (Ready, an alias moved, deleted): reconcile the services that name it or its model."""
    index: kopf.Index[tuple[str, str | None, str], str] = kwargs[INDEX]  # kopf passes indices by their id
    services = set(index.get(("version", namespace, name), []))
    model = spec.get("modelName")
    if model:
        services |= set(index.get(("model", namespace, str(model)), []))
    runtime = runtime_of(memo, kwargs)
    for service in sorted(services):
        await _pass(runtime, namespace, service)


async def on_inference_service_delete(name: str, namespace: str | None, memo: Any, **kwargs: Any) -> None:
    """The service is gone: its deployments end in the control plane (children go by garbage collection)."""
    runtime = runtime_of(memo, kwargs)
    try:
        await runtime.control_plane.end_traffic(namespace or "", name)
    except ControlPlaneUnavailable as exc:
        raise kopf.TemporaryError(str(exc), delay=runtime.config.retry_delay_seconds) from exc
    except ControlPlaneError as exc:
        raise kopf.PermanentError(f"The control plane refused to end the traffic: {exc}") from exc


async def reconcile_from_child(runtime: Runtime, namespace: str, name: str) -> None:
    """A pass triggered by a Deployment's event."""
    await _pass(runtime, namespace, name)


def register(registry: kopf.OperatorRegistry, *, resync_seconds: float) -> None:
    """Register the InferenceService handlers into ``registry``."""
    register_reconcile(registry, SELECTOR, on_inference_service)
    register_resync(registry, SELECTOR, on_inference_service_timer, interval=resync_seconds, when=not_ready)
    # The deletion handler (and with it kopf's finalizer) only once traffic was recorded: nothing else is external.
    kopf.on.delete(
        *SELECTOR,
        registry=registry,
        id="end-traffic",
        annotations={ANNOTATION_RECORDED_TRAFFIC: kopf.PRESENT},
        retries=END_TRAFFIC_RETRIES,
    )(on_inference_service_delete)
    kopf.index(*SELECTOR, registry=registry, id=INDEX)(inference_services_by_model)
    kopf.on.event(*MODEL_VERSION_SELECTOR, registry=registry, id="inference-services")(on_model_version_change)
