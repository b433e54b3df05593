"""kopf handlers of ModelVersions: thin; each runs one reconcile pass (``handling.run_pass``).

Create, update and resume share one function (a pass waiting for its source or evaluation Dataset raises
``kopf.TemporaryError`` and kopf retries it). A timer re-checks versions whose validation is not over and
versions with aliases (an alias moved in the registry by someone else is noticed). Validation Jobs' events
reach ``reconcile_from_child`` through ``modelplane.operator.children``. Three kopf indices wake versions up
at once instead of at their next retry: versions waiting for a TrainingRun or a Dataset (the source's or
Dataset's event), versions sharing an alias (a sibling's event: the alias may have moved), and versions
whose deletion waits (an InferenceService's event: it may have let go). kopf calls no change handler on an
object being deleted, so this kind's own events drive its deletion passes.
"""

from __future__ import annotations

from typing import Any

import kopf

from modelplane.apis.v1alpha1 import Dataset, InferenceService, ModelVersion, TrainingRun
from modelplane.kube.resources import MODEL_VERSIONS
from modelplane.operator.handling import register_reconcile, register_resync, run_pass
from modelplane.operator.model import updates
from modelplane.operator.model.reconcile import reconcile_model_version
from modelplane.operator.model.status import settled
from modelplane.operator.passes import deletion_requested
from modelplane.operator.runtime import Runtime, runtime_of
from modelplane.operator.selectors import selector_of
from modelplane.operator.training import reasons as training_reasons

SELECTOR = selector_of(ModelVersion)
TRAINING_RUN_SELECTOR = selector_of(TrainingRun)
DATASET_SELECTOR = selector_of(Dataset)
INFERENCE_SERVICE_SELECTOR = selector_of(InferenceService)
WAITING_INDEX = "model_versions_waiting"
ALIASES_INDEX = "model_versions_by_model"
DELETING_INDEX = "model_versions_deleting"


def needs_timer(spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta, **_: Any) -> bool:
    """A timer while the validation is not over for this generation, and while aliases are claimed or held."""
    if spec.get("aliases") or status.get("aliases"):
        return True
    return not settled(status.get("conditions") or [], meta.get("generation"))


async def _pass(runtime: Runtime, namespace: str | None, name: str, *, raise_for_retry: bool = False) -> None:
    await run_pass(
        runtime, MODEL_VERSIONS, namespace or "", name, reconcile_model_version, raise_for_retry=raise_for_retry
    )


async def on_model_version(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    """Create/update/resume: reconcile; a blocked pass is retried by kopf."""
    await _pass(runtime_of(memo), namespace, name, raise_for_retry=True)


async def on_model_version_timer(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
    """The periodic re-check."""
    await _pass(runtime_of(memo), namespace, name)


async def reconcile_from_child(runtime: Runtime, namespace: str, name: str) -> None:
    """A pass triggered by a validation Job's event."""
    await _pass(runtime, namespace, name)


# --- indices and the events that consult them --------------------------------------------------------------


def waiting_model_versions(
    namespace: str | None, name: str, spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta, **_: Any
) -> dict[tuple[str | None, str, str], str] | None:
    """kopf index: versions whose validation is not over, by what they wait for: ``(ns, "TrainingRun", run)``
    and ``(ns, "Dataset", dataset)`` (``"*"``: the source run's Dataset, known once the run is read).

    Keyed by the spec, not by a waiting reason in status: a version is indexed from its first event, so a run
    that succeeds right after the version's first pass still finds it."""
    if meta.get("deletionTimestamp") or settled(status.get("conditions") or [], meta.get("generation")):
        return None
    keys: dict[tuple[str | None, str, str], str] = {}
    run = ((spec.get("source") or {}).get("trainingRunRef") or {}).get("name")
    if run:
        keys[(namespace, "TrainingRun", str(run))] = name
    evaluation = spec.get("evaluation")
    if evaluation is not None:
        dataset = (evaluation.get("datasetRef") or {}).get("name")
        keys[(namespace, "Dataset", str(dataset) if dataset else "*")] = name
    return keys or None


def model_versions_by_model(
    namespace: str | None, name: str, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[tuple[str | None, str], tuple[str, tuple[str, ...]]] | None:
    """kopf index: ``(ns, model) -> (name, aliases claimed or held)`` of the versions with aliases."""
    aliases = {str(a) for a in [*(spec.get("aliases") or []), *(status.get("aliases") or [])]}
    model = spec.get("modelName")
    return {(namespace, str(model)): (name, tuple(sorted(aliases)))} if aliases and model else None


def deleting_model_versions(
    namespace: str | None, name: str, body: kopf.Body, **_: Any
) -> dict[str | None, str] | None:
    """kopf index: the versions of a namespace whose deletion waits for the operator's finalizer."""
    waiting = deletion_requested(body) and updates.FINALIZER in updates.finalizers_of(body)
    return {namespace: name} if waiting else None


async def on_model_version_event(
    name: str, namespace: str | None, body: kopf.Body, type: str | None, memo: Any, **kwargs: Any
) -> None:
    """A deletion pass for a version being deleted; a pass for each sibling sharing one of its aliases."""
    runtime = runtime_of(memo)
    if type != "DELETED" and deletion_requested(body):
        await _pass(runtime, namespace, name)
    spec, status = body.get("spec") or {}, body.get("status") or {}
    mine = {str(a) for a in [*(spec.get("aliases") or []), *(status.get("aliases") or [])]}
    if not mine:
        return
    index: kopf.Index[tuple[str | None, str], tuple[str, tuple[str, ...]]] = kwargs[ALIASES_INDEX]
    for sibling, aliases in sorted(index.get((namespace, str(spec.get("modelName"))), [])):
        if sibling != name and mine.intersection(aliases):
            await _pass(runtime, namespace, sibling)


async def on_training_run_event(
    name: str, namespace: str | None, status: kopf.Status, memo: Any, **kwargs: Any
) -> None:
    """A TrainingRun that finished starts the validation of the versions waiting for it."""
    finished = any(
        c.get("type") == training_reasons.SUCCEEDED and c.get("status") != "Unknown"
        for c in status.get("conditions") or []
    )
    if not finished:
        return
    waiting: kopf.Index[tuple[str | None, str, str], str] = kwargs[WAITING_INDEX]
    for model_version in sorted(waiting.get((namespace, "TrainingRun", name), [])):
        await _pass(runtime_of(memo), namespace, model_version)


async def on_dataset_event(name: str, namespace: str | None, status: kopf.Status, memo: Any, **kwargs: Any) -> None:
    """A Dataset that turned Ready starts the validation of the versions waiting to be evaluated on it."""
    if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []):
        return
    waiting: kopf.Index[tuple[str | None, str, str], str] = kwargs[WAITING_INDEX]
    named = {*waiting.get((namespace, "Dataset", name), []), *waiting.get((namespace, "Dataset", "*"), [])}
    for model_version in sorted(named):
        await _pass(runtime_of(memo), namespace, model_version)


async def on_inference_service_event(namespace: str | None, memo: Any, **kwargs: Any) -> None:
    """An InferenceService changed or went away: re-check the versions whose deletion waits in its namespace."""
    deleting: kopf.Index[str | None, str] = kwargs[DELETING_INDEX]
    for model_version in sorted(deleting.get(namespace, [])):
        await _pass(runtime_of(memo), namespace, model_version)


def register(registry: kopf.OperatorRegistry, *, resync_seconds: float) -> None:
    """Register the ModelVersion handlers into ``registry``."""
    register_reconcile(registry, SELECTOR, on_model_version)
    register_resync(registry, SELECTOR, on_model_version_timer, interval=resync_seconds, when=needs_timer)
    kopf.index(*SELECTOR, registry=registry, id=WAITING_INDEX)(waiting_model_versions)
    kopf.index(*SELECTOR, registry=registry, id=ALIASES_INDEX)(model_versions_by_model)
    kopf.index(*SELECTOR, registry=registry, id=DELETING_INDEX)(deleting_model_versions)
    kopf.on.event(*SELECTOR, registry=registry, id="deletion-and-siblings")(on_model_version_event)
    kopf.on.event(*TRAINING_RUN_SELECTOR, registry=registry, id="start-waiting-model-versions")(on_training_run_event)
    kopf.on.event(*DATASET_SELECTOR, registry=registry, id="evaluate-waiting-model-versions")(on_dataset_event)
    kopf.on.event(*INFERENCE_SERVICE_SELECTOR, registry=registry, id="release-model-versions")(
        on_inference_service_event
    )
