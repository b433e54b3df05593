"""kopf handlers of TrainingRuns: thin; each runs one reconcile pass (``handling.run_pass``).

Create, update and resume share one function (a blocked pass — Dataset not Ready, control plane
unreachable — raises ``kopf.TemporaryError`` and kopf retries it). There is no kopf timer: a pass over
an unfinished run asks to be re-checked ``resync_seconds`` after it (spread per run, so a thousand runs
created together are not re-checked together; see ``handling``), and a finished run has nothing pending,
carries no finalizer, and is not even read again when kopf resumes it, so the operator's memory and work
stay flat in the number of finished runs. Trial Jobs' events reach ``reconcile_from_child`` through
``modelplane.operator.children``; kopf indices give the passes the Datasets (``datasets_by_name``) and
the runs still waiting for their Dataset, so a Dataset that turns Ready starts them at once.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from typing import Any

import kopf

from modelplane.apis.v1alpha1 import Dataset, TrainingRun
from modelplane.kube.resources import TRAINING_RUNS
from modelplane.operator.handling import register_reconcile, run_pass
from modelplane.operator.runtime import DATASETS_INDEX, Runtime, runtime_of
from modelplane.operator.selectors import selector_of
from modelplane.operator.training import reasons
from modelplane.operator.training.reconcile import reconcile_training_run

SELECTOR = selector_of(TrainingRun)
DATASET_SELECTOR = selector_of(Dataset)
WAITING_INDEX = "waiting_runs_by_dataset"


def finished(body: Mapping[str, Any]) -> bool:
    """Whether a TrainingRun as stored is over for its current generation (raw body, nothing parsed)."""
    status, meta = body.get("status") or {}, body.get("metadata") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == reasons.SUCCEEDED and condition.get("observedGeneration") == meta.get("generation"):
            return condition.get("status") == "True" or (
                condition.get("status") == "False" and condition.get("reason") in reasons.TERMINAL_FAILURES
            )
    return False


async def on_training_run(name: str, namespace: str | None, body: kopf.Body, memo: Any, **kwargs: Any) -> None:
    """Create/update/resume: reconcile; a blocked pass is retried by kopf. A finished run is not read again."""
    await run_pass(
        runtime_of(memo, kwargs),
        TRAINING_RUNS,
        namespace or "",
        name,
        reconcile_training_run,
        raise_for_retry=True,
        known=body,
        done=finished,
    )


async def waiting_runs_by_dataset(
    namespace: str | None, name: str, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[tuple[str | None, str], str] | None:
    """kopf index: the TrainingRuns not yet started on their Dataset, by ``(namespace, dataset name)``."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == reasons.DATASET_READY and condition.get("status") == "True":
            return None
    dataset = (spec.get("datasetRef") or {}).get("name")
    return {(namespace, str(dataset)): name} if dataset else None


async def datasets_by_name(
    namespace: str | None, name: str, body: kopf.Body, **_: Any
) -> dict[tuple[str | None, str], dict[str, Any]] | None:
    """kopf index ``DATASETS_INDEX``: each Dataset as stored, by ``(namespace, name)`` (runs read it, not a GET)."""
    meta = body.get("metadata") or {}
    return {
        (namespace, name): {
            "apiVersion": body.get("apiVersion"),
            "kind": body.get("kind"),
            "metadata": {k: meta.get(k) for k in ("name", "namespace", "uid", "generation")},
            "spec": copy.deepcopy(dict(body.get("spec") or {})),
            "status": copy.deepcopy(dict(body.get("status") or {})),
        }
    }


async def on_dataset_change(name: str, namespace: str | None, status: kopf.Status, memo: Any, **kwargs: Any) -> None:
    """A Ready Dataset starts the runs waiting for it now, not at their next retry."""
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    if not ready:
        return
    runtime = runtime_of(memo, kwargs)
    waiting: kopf.Index[tuple[str | None, str], str] = kwargs[WAITING_INDEX]  # kopf passes indices by their id
    runs = sorted(waiting.get((namespace, name), []))
    await asyncio.gather(  # concurrently: the runtime's pass slots bound how many run at once
        *(
            run_pass(runtime, TRAINING_RUNS, namespace or "", run, reconcile_training_run, raise_for_retry=False)
            for run in runs
        )
    )


async def reconcile_from_child(runtime: Runtime, namespace: str, name: str) -> None:
    """A pass triggered by a trial Job's event."""
    await run_pass(runtime, TRAINING_RUNS, namespace, name, reconcile_training_run, raise_for_retry=False)


def register(registry: kopf.OperatorRegistry, *, resync_seconds: float) -> None:
    """Register the TrainingRun handlers into ``registry`` (``resync_seconds`` is read by the passes)."""
    del resync_seconds
    register_reconcile(registry, SELECTOR, on_training_run)
    kopf.index(*SELECTOR, registry=registry, id=WAITING_INDEX)(waiting_runs_by_dataset)
    kopf.index(*DATASET_SELECTOR, registry=registry, id=DATASETS_INDEX)(datasets_by_name)
    kopf.on.event(*DATASET_SELECTOR, registry=registry, id="start-waiting-runs")(on_dataset_change)
