"""One reconcile pass over a TrainingRun: the only impure part of the TrainingRun controller.

Validate the spec (trials, accelerator profile), observe the run's Jobs, resolve the Dataset version
(pinned by the first Job), create the next trials' Jobs up to the sweep's parallelism, read finished
trials' runs from the control plane (the objective value is cached on the trial's Job as an annotation,
so a long sweep does not re-read every run on every pass), pick the best trial, create the ModelVersion
on success, and apply the status when it changed. An unfinished run asks to be checked again after
``resync_seconds``. A run whose ``Succeeded`` is final for its generation is left alone: deleting its
Jobs afterwards changes nothing. Jobs come from kopf's index of the Job watch and the Dataset from its
index of the Dataset watch, so a pass that creates a Job makes two requests: the Job and the status.
"""

from __future__ import annotations

import logging
from typing import Any

from modelplane.apis.meta import GROUP
from modelplane.apis.v1alpha1 import TrainingRun
from modelplane.apis.v1alpha1.sweep import SweepError, expand_trials
from modelplane.kube.resources import DATASETS, JOBS, SERVICES
from modelplane.operator.accelerators import (
    Placement,
    UnknownAcceleratorError,
    UnsupportedCountError,
    resolve_accelerator,
)
from modelplane.operator.controlplane import ControlPlaneError
from modelplane.operator.jobstate import JobState, PodOutcome, job_state
from modelplane.operator.outcome import Outcome, transition_events
from modelplane.operator.passes import PassState, deletion_requested, job_pods, write_status
from modelplane.operator.records import Run
from modelplane.operator.runtime import DATASETS_INDEX, Runtime, resync_delay
from modelplane.operator.training import builders, reasons
from modelplane.operator.training.inputs import ANNOTATION_DATASET, DatasetCheck, DatasetInfo, check_dataset
from modelplane.operator.training.status import (
    TrainingObservation,
    TrialObservation,
    compute_training_run_status,
    is_final,
    is_terminal,
    select_best,
)

ANNOTATION_OBJECTIVE = f"{GROUP}/objective"
"""On a finished trial's Job: the objective value read from its run (``none`` when not logged)."""
ANNOTATION_RUN_CLOSED = f"{GROUP}/run-closed"
"""On a failed trial's Job: its run was set Failed in the control plane (the job leaves it Running when it
died of a failure a retry might have fixed)."""
logger = logging.getLogger(__name__)


class _Pass(PassState):
    def __init__(self, runtime: Runtime, run: TrainingRun) -> None:
        super().__init__(runtime, run)
        self.run = run


async def reconcile_training_run(runtime: Runtime, body: dict[str, Any]) -> Outcome:
    """Reconcile one TrainingRun (the caller holds its lock)."""
    run = TrainingRun.from_wire(body)
    if deletion_requested(body) or is_terminal(run):
        _forget(runtime, run)
        return Outcome()
    state = _Pass(runtime, run)
    try:
        values = expand_trials(run.spec)
        placement = resolve_accelerator(run.spec.resources.accelerator, runtime.config.accelerator_profiles)
    except UnknownAcceleratorError as exc:
        return await _finish(
            state, TrainingObservation(invalid=(reasons.UNKNOWN_ACCELERATOR, str(exc))), permanent=str(exc)
        )
    except (UnsupportedCountError, SweepError) as exc:
        return await _finish(state, TrainingObservation(invalid=(reasons.INVALID_SPEC, str(exc))), permanent=str(exc))
    trials = builders.make_trials(run, values)
    jobs = await _observe_jobs(state)

    check = await _resolve_dataset(state, jobs)
    if not check.ready:
        observed = TrainingObservation(
            dataset=check, trials=tuple(TrialObservation(t.index, t.params, t.run_id) for t in trials)
        )
        if check.reason == reasons.DIGEST_MISMATCH and state.control_plane_error is None:
            return await _finish(state, observed, permanent=check.message)
        return await _finish(state, observed, retry=state.control_plane_error or check.message)
    assert check.info is not None

    parent = builders.parent_run_id(run)
    if parent is not None and not jobs and not await _ensure_parent_run(state, parent, check.info):
        observed = TrainingObservation(
            dataset=check, trials=tuple(TrialObservation(t.index, t.params, t.run_id) for t in trials)
        )
        return await _finish(state, observed, retry=state.control_plane_error or "")

    await _create_trials(state, trials, jobs, check.info, placement)
    await _sync_suspend(state, jobs)
    await _close_failed_runs(state, trials, jobs)
    objectives, runs = await _objectives(state, trials, jobs)

    observations = [
        TrialObservation(t.index, t.params, t.run_id, jobs.get(t.index), objectives.get(t.index)) for t in trials
    ]
    finished = all(o.job is not None and o.job.finished for o in observations)
    best_index: int | None = None
    if run.spec.sweep is not None:
        best_index = select_best(observations, run.spec.sweep.objective.direction)
    elif observations[0].job is not None and observations[0].job.complete:
        best_index = 0
    best_run: Run | None = None
    best_pods = PodOutcome()
    model_version: str | None = None
    if finished:
        observations = await _failure_details(state, observations)
        if best_index is not None:
            best_run, best_pods = await _best(state, trials[best_index].run_id, jobs[best_index], runs.get(best_index))
            if best_run is not None and run.spec.output.model_name:
                model_version = await _ensure_model_version(state, best_index, best_run, check.info)
        if parent is not None:
            await _finish_parent(state, parent, best_run, best_index)
    observed = TrainingObservation(
        dataset=check,
        trials=tuple(observations),
        best_run=best_run,
        best_pods=best_pods,
        model_version=model_version,
        control_plane_error=state.control_plane_error,
        parent_run_id=parent,
        accelerator=placement.profile,
    )
    return await _finish(state, observed, retry=state.control_plane_error)


async def _observe_jobs(state: _Pass) -> dict[int, JobState]:
    """The trial Jobs of the current spec by trial index; Jobs of an earlier spec are deleted.

    Read from kopf's index of the Job watch (a LIST only when the pass runs outside kopf).
    """
    run, runtime = state.run, state.runtime
    observed = runtime.jobs.jobs_of(state.uid)
    if observed is None:
        listed = await runtime.kube.list(JOBS, state.namespace, label_selector=builders.run_selector(run))
        observed = [job_state(raw) for raw in listed]
    key = builders.spec_key(run)
    jobs: dict[int, JobState] = {}
    for job in observed:
        if state.uid not in job.owner_uids:
            continue
        runtime.jobs.saw(state.namespace, job)
        trial = job.labels.get(builders.LABEL_TRIAL, "")
        if job.labels.get(builders.LABEL_SPEC_KEY) != key:
            if not job.deleting:
                await runtime.kube.delete(JOBS, state.namespace, job.name)
                await runtime.kube.delete(SERVICES, state.namespace, job.name)  # of a distributed trial
                logger.info("Deleted Job %s/%s of an earlier spec.", state.namespace, job.name)
            continue
        if trial.isdigit() and job.name == builders.trial_job_name(run, int(trial)):
            jobs[int(trial)] = job
    return jobs


async def _resolve_dataset(state: _Pass, jobs: dict[int, JobState]) -> DatasetCheck:
    ref = state.run.spec.dataset_ref
    for job in jobs.values():
        pinned = DatasetInfo.from_json(job.annotations.get(ANNOTATION_DATASET, ""))
        if pinned is not None:
            message = (
                f"Training on Dataset {ref.name} version {pinned.version or pinned.digest} (pinned by the first Job)."
            )
            return DatasetCheck(reasons.DATASET_IS_READY, message, pinned)
    check = check_dataset(await _dataset(state, ref.name), ref)
    if check.needs_lookup and ref.digest is not None:
        try:
            version = await state.runtime.control_plane.dataset_version(state.namespace, ref.name, ref.digest)
        except ControlPlaneError as exc:
            state.note_control_plane(exc)
            return DatasetCheck(reasons.CONTROL_PLANE_UNAVAILABLE, f"Cannot look up the pinned version: {exc}")
        if version is not None:
            info = DatasetInfo.from_version(ref.name, version)
            return DatasetCheck(
                reasons.DATASET_IS_READY,
                f"Training on the pinned version {version.version} of Dataset {ref.name}.",
                info,
            )
    return check


async def _dataset(state: _Pass, name: str) -> dict[str, Any] | None:
    """The Dataset as kopf's index of the Dataset watch holds it (a GET only when run outside kopf)."""
    indices = state.runtime.indices
    if indices.get(DATASETS_INDEX) is None:
        return await state.runtime.kube.get(DATASETS, state.namespace, name)
    found: dict[str, Any] | None = indices.one(DATASETS_INDEX, (state.namespace, name))
    return found


async def _ensure_parent_run(state: _Pass, parent: str, dataset: DatasetInfo) -> bool:
    run = state.run
    body = {
        "run_id": parent,
        "experiment": run.metadata.name,
        "name": f"{run.metadata.name}-sweep",
        "dataset_digest": dataset.digest,
        "seed": run.spec.seed,
        "tags": [{"key": "modelplane.sweep", "value": "parent"}],
    }
    try:
        await state.runtime.control_plane.ensure_run(state.namespace, body)
    except ControlPlaneError as exc:
        state.note_control_plane(exc)
        return False
    return True


async def _create_trials(
    state: _Pass, trials: list[builders.Trial], jobs: dict[int, JobState], dataset: DatasetInfo, placement: Placement
) -> None:
    """Create the lowest-numbered missing trials while fewer than ``parallelism`` run."""
    run = state.run
    limit = run.spec.sweep.parallelism if run.spec.sweep is not None else 1
    active = sum(1 for job in jobs.values() if job.running)
    for trial in trials:
        if active >= limit:
            break
        if trial.index in jobs:
            continue
        if run.spec.num_nodes > 1:
            await state.runtime.kube.apply(builders.build_headless_service(run, trial))
        manifest = builders.build_training_job(
            run, state.runtime.config, trial=trial, dataset=dataset, placement=placement
        )
        stored = await state.runtime.kube.apply(manifest)
        jobs[trial.index] = job_state(stored or manifest)
        state.runtime.jobs.saw(state.namespace, jobs[trial.index])
        state.created.append(manifest["metadata"]["name"])
        active += 1
        logger.info(
            "Created Job %s for trial %d of TrainingRun %s/%s.",
            manifest["metadata"]["name"],
            trial.index,
            state.namespace,
            run.metadata.name,
        )


async def _sync_suspend(state: _Pass, jobs: dict[int, JobState]) -> None:
    """Without a Kueue queue, running Jobs follow ``spec.suspend`` (with one, Kueue owns it)."""
    run = state.run
    if run.spec.queue_name is not None:
        return
    for job in jobs.values():
        if job.running and job.suspend_requested != run.spec.suspend:
            await _patch_job(state, job.name, {"spec": {"suspend": run.spec.suspend}})


async def _close_failed_runs(state: _Pass, trials: list[builders.Trial], jobs: dict[int, JobState]) -> None:
    for index, job in jobs.items():
        if not job.failed_terminally or ANNOTATION_RUN_CLOSED in job.annotations or index >= len(trials):
            continue
        try:
            await state.runtime.control_plane.fail_run(trials[index].run_id)
        except ControlPlaneError as exc:
            state.note_control_plane(exc)
            continue
        await _patch_job(state, job.name, {"metadata": {"annotations": {ANNOTATION_RUN_CLOSED: "true"}}})


async def _patch_job(state: _Pass, name: str, patch: dict[str, Any]) -> None:
    """Merge-patch one of the run's Jobs. Its event runs another pass: the version it writes may also hold a
    change of the Job controller that this pass did not see (kopf may hand over only the latest event)."""
    await state.runtime.kube.merge_patch(JOBS, state.namespace, name, patch)


def _parse_objective(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


async def _objectives(
    state: _Pass, trials: list[builders.Trial], jobs: dict[int, JobState]
) -> tuple[dict[int, float], dict[int, Run]]:
    """The objective of every succeeded trial of a sweep (cached on its Job), and the runs read on the way."""
    sweep = state.run.spec.sweep
    objectives: dict[int, float] = {}
    runs: dict[int, Run] = {}
    if sweep is None:
        return objectives, runs
    for index, job in sorted(jobs.items()):
        if not job.complete:
            continue
        cached = job.annotations.get(ANNOTATION_OBJECTIVE)
        if cached is None:
            try:
                found = await state.runtime.control_plane.get_run(trials[index].run_id)
            except ControlPlaneError as exc:
                state.note_control_plane(exc)
                continue
            value = found.metric_values.get(sweep.objective.metric) if found is not None else None
            cached = repr(value) if value is not None else "none"
            await _patch_job(state, job.name, {"metadata": {"annotations": {ANNOTATION_OBJECTIVE: cached}}})
            if found is not None:
                runs[index] = found
        value = _parse_objective(cached)
        if value is not None:
            objectives[index] = value
    return objectives, runs


async def _failure_details(state: _Pass, observations: list[TrialObservation]) -> list[TrialObservation]:
    """Attach the pods' outcome to the first failed trial (its message explains the failure)."""
    for i, observation in enumerate(observations):
        if observation.job is not None and observation.job.failed_terminally:
            pods = await job_pods(state.runtime, state.namespace, observation.job.name, want_success=False)
            observations[i] = TrialObservation(
                observation.index, observation.params, observation.run_id, observation.job, observation.objective, pods
            )
            break
    return observations


async def _best(state: _Pass, run_id: str, job: JobState, known: Run | None) -> tuple[Run | None, PodOutcome]:
    best = known
    if best is None:
        try:
            best = await state.runtime.control_plane.get_run(run_id)
        except ControlPlaneError as exc:
            state.note_control_plane(exc)
    return best, await job_pods(state.runtime, state.namespace, job.name, want_success=True)


async def _ensure_model_version(state: _Pass, best_index: int, best: Run, dataset: DatasetInfo) -> str:
    manifest = builders.build_model_version(
        state.run,
        best_trial=best_index,
        best_run_id=best.run_id,
        artifact_uri=best.artifact_uri,
        artifact_sha256=best.artifact_sha256,
        dataset_digest=best.dataset_digest or dataset.digest,
    )
    await state.runtime.kube.apply(manifest)
    name = str(manifest["metadata"]["name"])
    state.created.append(name)
    return name


async def _finish_parent(state: _Pass, parent: str, best: Run | None, best_index: int | None) -> None:
    """Close the sweep's parent run with the best trial's metrics (best effort: it is a summary)."""
    metrics = best.metric_values if best is not None else {}
    tags = {"modelplane.best_trial": str(best_index)} if best_index is not None else {}
    try:
        await state.runtime.control_plane.finish_run(
            parent, "Succeeded" if best is not None else "Failed", metrics=metrics, tags=tags
        )
    except ControlPlaneError as exc:
        logger.warning("Could not finish the parent run %s of TrainingRun %s: %s", parent, state.run.metadata.name, exc)


async def _finish(
    state: _Pass, observed: TrainingObservation, *, permanent: str | None = None, retry: str | None = None
) -> Outcome:
    run, runtime = state.run, state.runtime
    status = compute_training_run_status(run, observed, runtime.clock())
    written = await write_status(runtime, run, status, note_version=True)
    final = is_final(status, run.metadata.generation)
    if final:
        _forget(runtime, run)
    events = transition_events(run.status.conditions if run.status else [], status.conditions, reasons.EVENTS)
    resync_after = None if final else resync_delay(runtime.config.resync_seconds, run.metadata.uid)
    return state.outcome(events, written=written, permanent=permanent, retry=retry, resync_after=resync_after)


def _forget(runtime: Runtime, run: TrainingRun) -> None:
    """A finished run needs no version memory: its Jobs' events and its handlers find it finished."""
    namespace = run.metadata.namespace or ""
    jobs = runtime.jobs.jobs_of(run.metadata.uid or "") or []
    runtime.jobs.forget(namespace, [job.name for job in jobs])
    runtime.written.forget(run.kind, namespace, run.metadata.name)
