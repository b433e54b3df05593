"""kopf handlers of Datasets: thin; each runs one reconcile pass (``handling.run_pass``).

Create, update (spec, labels) and resume share one function; Datasets with a ``modelplane.io/refresh``
annotation are also reconciled on their events, which is how a new value of it is noticed. A timer
re-checks Datasets that refresh on an interval or have no valid version yet; the ingest Jobs' events reach
``reconcile_from_child`` through ``modelplane.operator.children``.
"""

from __future__ import annotations

from typing import Any

import kopf

from modelplane.apis.v1alpha1 import Dataset
from modelplane.kube.resources import DATASETS
from modelplane.operator import podspec
from modelplane.operator.dataset import reasons
from modelplane.operator.dataset.reconcile import reconcile_dataset
from modelplane.operator.handling import run_pass
from modelplane.operator.runtime import Runtime, runtime_of
from modelplane.operator.selectors import selector_of

SELECTOR = selector_of(Dataset)


def needs_timer(spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta, **_: Any) -> bool:
    """A timer only where time matters: a refresh interval, or no Ready version of the current generation yet."""
    if spec.get("refreshIntervalSeconds"):
        return True
    for condition in status.get("conditions") or []:
        if condition.get("type") == reasons.READY:
            return not (
                condition.get("status") == "True" and condition.get("observedGeneration") == meta.get("generation")
            )
    return True


async def on_dataset(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    """Create/update/resume: reconcile; a blocked pass is retried by kopf."""
    await run_pass(runtime_of(memo), DATASETS, namespace or "", name, reconcile_dataset, raise_for_retry=True)


async def on_dataset_timer(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    """The periodic re-check: refresh rounds, and Jobs whose events were missed."""
    await run_pass(runtime_of(memo), DATASETS, namespace or "", name, reconcile_dataset, raise_for_retry=False)


async def on_dataset_event(name: str, namespace: str | None, memo: Any, type: str | None, **_: Any) -> None:
    """Any change of a Dataset with a ``modelplane.io/refresh`` annotation (the pass notices a new value)."""
    if type != "DELETED":
        await run_pass(runtime_of(memo), DATASETS, namespace or "", name, reconcile_dataset, raise_for_retry=False)


async def reconcile_from_child(runtime: Runtime, namespace: str, name: str) -> None:
    """A pass triggered by an ingest Job's event."""
    await run_pass(runtime, DATASETS, namespace, name, reconcile_dataset, raise_for_retry=False)


def register(registry: kopf.OperatorRegistry, *, resync_seconds: float) -> None:
    """Register the Dataset handlers into ``registry``."""
    kopf.on.resume(*SELECTOR, registry=registry, id="reconcile")(on_dataset)
    kopf.on.create(*SELECTOR, registry=registry, id="reconcile")(on_dataset)
    kopf.on.update(*SELECTOR, registry=registry, id="reconcile")(on_dataset)
    # kopf leaves every annotation under its storage prefix (modelplane.io/) out of its diffs, so an update
    # handler never sees the refresh annotation change: Datasets carrying it are reconciled on every event
    # (a pass that changes nothing writes nothing, so this converges).
    kopf.on.event(
        *SELECTOR, registry=registry, id="refresh-annotation", annotations={podspec.ANNOTATION_REFRESH: kopf.PRESENT}
    )(on_dataset_event)
    kopf.timer(
        *SELECTOR,
        registry=registry,
        id="resync",
        interval=resync_seconds,
        initial_delay=resync_seconds,
        when=needs_timer,
    )(on_dataset_timer)
