"""One reconcile pass over a ModelVersion: the only impure part of the ModelVersion controller (with
``finalizer`` for its deletion).

Hold the finalizer; observe the validation Jobs (a Job of an earlier spec is deleted); when the current key
has no Job yet, resolve the inputs — the source's artifact (a TrainingRun's status, a trial's run, or the
spec) and the evaluation Dataset — and create the Job, or report what is missing; once the Job finished,
read its result from the pod's termination message and the registered version from the control plane;
then move the aliases this version holds by the rule of ``aliases`` and read them back; apply the status
(only when it changed). Level-triggered: called from the ModelVersion's own handlers, its timer, its Job's
events and the events of its source, its Dataset and its siblings, always with the same result for the
same world.
"""

from __future__ import annotations

import logging
from typing import Any

from modelplane.apis.v1alpha1 import ModelVersion, ModelVersionStatus
from modelplane.apis.v1alpha1.training_run import DatasetRef
from modelplane.kube.resources import DATASETS, JOBS, MODEL_VERSIONS, TRAINING_RUNS
from modelplane.operator.controlplane import ControlPlaneError
from modelplane.operator.jobstate import JobState, PodOutcome, job_state, parse_time
from modelplane.operator.model import builders, reasons, sources, updates
from modelplane.operator.model.aliases import Claimant, plan_aliases, siblings_of
from modelplane.operator.model.finalizer import finalize_model_version
from modelplane.operator.model.records import ModelVersionRecord
from modelplane.operator.model.status import (
    ANNOTATION_RECORDED_VERSION,
    AliasObservation,
    Blocker,
    ValidationObservation,
    apply_aliases,
    compute_model_version_status,
    is_live,
    result_recorded,
)
from modelplane.operator.outcome import Event, Outcome, transition_events
from modelplane.operator.passes import PassState, deletion_requested, job_pods, write_status
from modelplane.operator.runtime import Runtime
from modelplane.operator.training import reasons as training_reasons
from modelplane.operator.training.inputs import DatasetInfo, check_dataset

logger = logging.getLogger(__name__)


class _Pass(PassState):
    def __init__(self, runtime: Runtime, model: ModelVersion, body: dict[str, Any]) -> None:
        super().__init__(runtime, model)
        self.model = model
        self.body = body
        self.events: list[Event] = []


async def reconcile_model_version(runtime: Runtime, body: dict[str, Any]) -> Outcome:
    """Reconcile one ModelVersion (the caller holds its lock)."""
    model = ModelVersion.from_wire(body)
    if deletion_requested(body):
        return await finalize_model_version(runtime, model, body)
    state = _Pass(runtime, model, await updates.ensure_finalizer(runtime, body))
    key = builders.validation_key(model)
    job_name = builders.validation_job_name(model, key)
    current = await _observe_jobs(state, job_name)
    if current is not None and state.uid not in current.owner_uids:
        # A Job of a deleted ModelVersion of the same name (garbage collection has not caught up): replace it.
        await runtime.kube.delete(JOBS, state.namespace, job_name)
        return Outcome(retry_after=1.0, retry_message=f"Replacing Job {job_name} left by an earlier ModelVersion.")

    blocker: Blocker | None = None
    source: sources.ModelSource | None = None
    if current is None:
        source, evaluation, blocker = await _resolve_inputs(state)
        if blocker is None and source is not None:
            current = await _create_job(state, key, source, evaluation)
    else:
        source = sources.ModelSource.from_json(current.annotations.get(sources.ANNOTATION_MODEL_SOURCE, ""))

    pods = PodOutcome()
    record: ModelVersionRecord | None = None
    if current is not None and current.finished and not result_recorded(model.status, current):
        pods = await job_pods(
            runtime, state.namespace, current.name, want_success=current.complete, forbidden="results are limited"
        )
        if current.complete:
            record = await _registered(state, pods, source)
    observed = ValidationObservation(
        job_name=job_name,
        blocker=blocker,
        source=source,
        job=current,
        pods=pods,
        record=record,
        control_plane_error=state.control_plane_error,
    )
    status = compute_model_version_status(model, observed, runtime.clock())
    status = apply_aliases(model, status, await _sync_aliases(state, status), runtime.clock())
    written = await write_status(runtime, model, status)
    if current is not None and record is not None:
        await updates.annotate_job(
            runtime, state.namespace, current.name, {ANNOTATION_RECORDED_VERSION: str(record.version)}
        )
    return _outcome(state, status, blocker, written)


def _outcome(state: _Pass, status: ModelVersionStatus, blocker: Blocker | None, written: bool) -> Outcome:
    previous = state.model.status.conditions if state.model.status else []
    events = (*transition_events(previous, status.conditions, reasons.EVENTS), *state.events)
    common: dict[str, Any] = {"events": events, "status_written": written, "children_created": tuple(state.created)}
    if blocker is not None and blocker.final:
        return Outcome(permanent=blocker.message, **common)
    delay = state.runtime.config.retry_delay_seconds
    if state.control_plane_error is not None:
        return Outcome(retry_after=delay, retry_message=state.control_plane_error, **common)
    if blocker is not None and blocker.reason != reasons.SOURCE_FAILED:
        return Outcome(retry_after=delay, retry_message=blocker.message, **common)
    return Outcome(**common)


async def _observe_jobs(state: _Pass, job_name: str) -> JobState | None:
    """The Job of the current validation key; this version's Jobs of an earlier key are deleted."""
    listed = await state.runtime.kube.list(
        JOBS, state.namespace, label_selector=builders.model_version_selector(state.model)
    )
    current: JobState | None = None
    for raw in listed:
        job = job_state(raw)
        if job.name == job_name:
            current = job
        elif state.uid in job.owner_uids and not job.deleting:
            await state.runtime.kube.delete(JOBS, state.namespace, job.name)
            logger.info("Deleted validation Job %s/%s of an earlier spec.", state.namespace, job.name)
    return current


async def _resolve_inputs(
    state: _Pass,
) -> tuple[sources.ModelSource | None, DatasetInfo | None, Blocker | None]:
    """The artifact to validate and the evaluation Dataset, or what blocks the validation."""
    model = state.model
    ref = model.spec.source.training_run_ref
    if ref is not None:
        check = sources.check_training_run(await state.runtime.kube.get(TRAINING_RUNS, state.namespace, ref.name), ref)
        if check.trial_run_id is not None:
            try:
                found = await state.runtime.control_plane.get_run(check.trial_run_id)
            except ControlPlaneError as exc:
                message = f"Cannot read run {check.trial_run_id}: {state.note_control_plane(exc)}"
                return None, None, Blocker(reasons.CONTROL_PLANE_UNAVAILABLE, message)
            check = sources.trial_source(check, found)
    else:
        check = sources.SourceCheck(reasons.SOURCE_NOT_READY, "", sources.external_source(model))
    if check.source is None:
        return None, None, Blocker(check.reason, check.message)
    dataset_ref = sources.evaluation_ref(model, check)
    if isinstance(dataset_ref, str):
        return check.source, None, Blocker(reasons.INVALID_SPEC, f"Invalid spec: {dataset_ref}.", final=True)
    if dataset_ref is None:
        return check.source, None, None
    dataset, blocker = await _resolve_dataset(state, dataset_ref)
    return check.source, dataset, blocker


async def _resolve_dataset(state: _Pass, ref: DatasetRef) -> tuple[DatasetInfo | None, Blocker | None]:
    """The evaluation Dataset version: the Dataset's current one, or a pinned one the control plane holds."""
    check = check_dataset(await state.runtime.kube.get(DATASETS, state.namespace, ref.name), ref)
    if check.ready:
        return check.info, None
    if check.needs_lookup and ref.digest is not None:
        try:
            version = await state.runtime.control_plane.dataset_version(state.namespace, ref.name, ref.digest)
        except ControlPlaneError as exc:
            message = f"Cannot look up version {ref.digest} of Dataset {ref.name}: {state.note_control_plane(exc)}"
            return None, Blocker(reasons.CONTROL_PLANE_UNAVAILABLE, message)
        if version is not None:
            return DatasetInfo.from_version(ref.name, version), None
        if check.reason == training_reasons.DIGEST_MISMATCH:
            message = f"Dataset {ref.name} has no version {ref.digest} to evaluate on."
            return None, Blocker(reasons.DATASET_VERSION_NOT_FOUND, message, final=True)
    reason = (
        reasons.DATASET_NOT_FOUND if check.reason == training_reasons.DATASET_NOT_FOUND else reasons.DATASET_NOT_READY
    )
    return None, Blocker(reason, f"Evaluation waits: {check.message}")


async def _create_job(state: _Pass, key: str, source: sources.ModelSource, evaluation: DatasetInfo | None) -> JobState:
    manifest = builders.build_validation_job(
        state.model, state.runtime.config, key=key, source=source, evaluation=evaluation
    )
    stored = await state.runtime.kube.apply(manifest)
    name = str(manifest["metadata"]["name"])
    state.created.append(name)
    logger.info("Created validation Job %s for ModelVersion %s/%s.", name, state.namespace, state.model.metadata.name)
    return job_state(stored or manifest)


async def _registered(state: _Pass, pods: PodOutcome, source: sources.ModelSource | None) -> ModelVersionRecord | None:
    """The version the completed Job registered: by the number in its result, else by the artifact's sha256."""
    control_plane = state.runtime.control_plane
    model_name = state.model.spec.model_name
    number = pods.result.get("registeredVersion")
    artifact = pods.result.get("artifact")
    sha256 = artifact.get("sha256") if isinstance(artifact, dict) else None
    sha256 = sha256 if isinstance(sha256, str) else (source.sha256 if source is not None else None)
    try:
        if isinstance(number, int) and not isinstance(number, bool) and number > 0:
            record = await control_plane.get_model_version(state.namespace, model_name, number)
            if record is not None:
                return record
        if sha256 is not None:
            return await control_plane.find_model_version(state.namespace, model_name, sha256)
    except ControlPlaneError as exc:
        state.note_control_plane(exc)
    return None


async def _sync_aliases(state: _Pass, status: ModelVersionStatus) -> AliasObservation:
    """Move the aliases this version holds by the rule, remove those it dropped, and read them back."""
    model, runtime = state.model, state.runtime
    version = status.registered_version
    managed_before = updates.managed_aliases(state.body)
    if version is None:
        return AliasObservation()
    control_plane = runtime.control_plane
    try:
        registered = await control_plane.get_model(state.namespace, model.spec.model_name)
        current = dict(registered.aliases) if registered is not None else {}
        if not is_live(status):
            return AliasObservation(held=tuple(a for a, v in sorted(current.items()) if v == version))
        me = Claimant(
            name=model.metadata.name,
            created=parse_time(state.body.get("metadata", {}).get("creationTimestamp")),
            version=version,
            claims=tuple(model.spec.aliases),
            live=True,
        )
        others: list[Claimant] = []
        if model.spec.aliases or managed_before:
            listed = await runtime.kube.list(MODEL_VERSIONS, state.namespace)
            others = siblings_of(listed, model.spec.model_name, model.metadata.name)
        plan = plan_aliases(me, others, current, managed_before)
        for alias in plan.put:
            await control_plane.set_model_alias(state.namespace, model.spec.model_name, alias, version)
            was = f" from version {current[alias]}" if alias in current else ""
            state.events.append(
                Event("Normal", reasons.ALIAS_MOVED, f"Alias {alias} now points at version {version}{was}.")
            )
        for alias in plan.remove:
            await control_plane.delete_model_alias(state.namespace, model.spec.model_name, alias)
            state.events.append(Event("Normal", reasons.ALIAS_REMOVED, f"Alias {alias} was removed from the registry."))
        if plan.put or plan.remove:
            registered = await control_plane.get_model(state.namespace, model.spec.model_name)
        state.body = await updates.set_managed_aliases(runtime, state.body, plan.managed)
    except ControlPlaneError as exc:
        return AliasObservation(control_plane_error=state.note_control_plane(exc))
    held = tuple(registered.aliases_of(version)) if registered is not None else ()
    return AliasObservation(held=held, conflicts=plan.conflicts)
