"""kopf handlers of Datasets: thin; each runs one reconcile pass (``handling.run_pass``).

Create, update (spec, labels, annotations: a new ``modelplane.io/refresh`` value is an update, since kopf's
own bookkeeping lives under ``kopf.modelplane.io/``) and resume share one function. The pass itself asks
to be re-checked when time matters (the next refresh round, or no valid version yet; see
``reconcile``); the ingest Jobs' events reach ``reconcile_from_child`` through
``modelplane.operator.children``.
"""

from __future__ import annotations

from typing import Any

import kopf

from modelplane.apis.v1alpha1 import Dataset
from modelplane.kube.resources import DATASETS
from modelplane.operator.dataset.reconcile import reconcile_dataset
from modelplane.operator.handling import register_reconcile, run_pass
from modelplane.operator.runtime import Runtime, runtime_of
from modelplane.operator.selectors import selector_of

SELECTOR = selector_of(Dataset)


async def on_dataset(name: str, namespace: str | None, body: kopf.Body, memo: Any, **kwargs: Any) -> None:
    """Create/update/resume: reconcile (kopf's body, when current); a blocked pass is retried by kopf."""
    runtime = runtime_of(memo, kwargs)
    await run_pass(runtime, DATASETS, namespace or "", name, reconcile_dataset, raise_for_retry=True, known=body)


async def reconcile_from_child(runtime: Runtime, namespace: str, name: str) -> None:
    """A pass triggered by an ingest Job's event."""
    await run_pass(runtime, DATASETS, namespace, name, reconcile_dataset, raise_for_retry=False)


def register(registry: kopf.OperatorRegistry, *, resync_seconds: float) -> None:
    """Register the Dataset handlers into ``registry`` (``resync_seconds`` is read by the passes)."""
    del resync_seconds
    register_reconcile(registry, SELECTOR, on_dataset)
