"""kopf handlers of TrainingRuns: thin; each runs one reconcile pass (``handling.run_pass``).

Create, update and resume share one function (a blocked pass — Dataset not Ready, control plane
unreachable — raises ``kopf.TemporaryError`` and kopf retries it). A timer re-checks runs that have not
finished; finished runs have no timer, so the operator's memory stays flat in the number of finished
runs. Trial Jobs' events reach ``reconcile_from_child`` through ``modelplane.operator.children``; a kopf
index of the runs still waiting for their Dataset lets a Dataset that turns Ready start them at once.
"""

from __future__ import annotations

from typing import Any

import kopf

from modelplane.apis.v1alpha1 import Dataset, TrainingRun
from modelplane.kube.resources import TRAINING_RUNS
from modelplane.operator.handling import run_pass
from modelplane.operator.runtime import Runtime, runtime_of
from modelplane.operator.selectors import selector_of
from modelplane.operator.training import reasons
from modelplane.operator.training.reconcile import reconcile_training_run

SELECTOR = selector_of(TrainingRun)
DATASET_SELECTOR = selector_of(Dataset)
WAITING_INDEX = "waiting_runs_by_dataset"


def unfinished(status: kopf.Status, meta: kopf.Meta, **_: Any) -> bool:
    """Whether the run is not over for its current generation (it then has a timer)."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == reasons.SUCCEEDED and condition.get("observedGeneration") == meta.get("generation"):
            final = condition.get("status") == "True" or (
                condition.get("status") == "False" and condition.get("reason") in reasons.TERMINAL_FAILURES
            )
            return not final
    return True


async def on_training_run(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    """Create/update/resume: reconcile; a blocked pass is retried by kopf."""
    await run_pass(runtime_of(memo), TRAINING_RUNS, namespace or "", name, reconcile_training_run, raise_for_retry=True)


async def on_training_run_timer(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    """The periodic re-check of an unfinished run."""
    await run_pass(
        runtime_of(memo), TRAINING_RUNS, namespace or "", name, reconcile_training_run, raise_for_retry=False
    )


def waiting_runs_by_dataset(
    namespace: str | None, name: str, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[tuple[str | None, str], str] | None:
    """kopf index: the TrainingRuns not yet started on their Dataset, by ``(namespace, dataset name)``."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == reasons.DATASET_READY and condition.get("status") == "True":
            return None
    dataset = (spec.get("datasetRef") or {}).get("name")
    return {(namespace, str(dataset)): name} if dataset else None


async def on_dataset_change(name: str, namespace: str | None, status: kopf.Status, memo: Any, **kwargs: Any) -> None:
    """A Ready Dataset starts the runs waiting for it now, not at their next retry."""
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    if not ready:
        return
    runtime = runtime_of(memo)
    waiting: kopf.Index[tuple[str | None, str], str] = kwargs[WAITING_INDEX]  # kopf passes indices by their id
    for run in sorted(waiting.get((namespace, name), [])):
        await run_pass(runtime, TRAINING_RUNS, namespace or "", run, reconcile_training_run, raise_for_retry=False)


async def reconcile_from_child(runtime: Runtime, namespace: str, name: str) -> None:
    """A pass triggered by a trial Job's event."""
    await run_pass(runtime, TRAINING_RUNS, namespace, name, reconcile_training_run, raise_for_retry=False)


def register(registry: kopf.OperatorRegistry, *, resync_seconds: float) -> None:
    """Register the TrainingRun handlers into ``registry``."""
    kopf.on.resume(*SELECTOR, registry=registry, id="reconcile")(on_training_run)
    kopf.on.create(*SELECTOR, registry=registry, id="reconcile")(on_training_run)
    kopf.on.update(*SELECTOR, registry=registry, id="reconcile")(on_training_run)
    kopf.timer(
        *SELECTOR,
        registry=registry,
        id="resync",
        interval=resync_seconds,
        initial_delay=resync_seconds,
        when=unfinished,
    )(on_training_run_timer)
    kopf.index(*SELECTOR, registry=registry, id=WAITING_INDEX)(waiting_runs_by_dataset)
    kopf.on.event(*DATASET_SELECTOR, registry=registry, id="start-waiting-runs")(on_dataset_change)
