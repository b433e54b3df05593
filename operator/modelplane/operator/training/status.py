"""A TrainingRun's status from what one pass observed: pure, recomputed in full on every pass.

``DatasetReady`` says whether the referenced Dataset version can be trained on; ``Running`` whether trial
Jobs are running; ``Succeeded`` is Unknown while the run is in progress and final once every trial
finished (with the reason from the Job: ``JobFailed``, ``DeadlineExceeded``, ...); ``Ready`` mirrors it for
kstatus-aware tools. Metrics, artifact, run id and lineage are those of the (best) trial, read from the
control plane; a sweep's ``trials`` summarises progress and the best trial by the objective.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelplane.apis.v1alpha1 import TrainingRun, TrainingRunStatus
from modelplane.apis.v1alpha1.conditions import Condition, ConditionStatus, set_condition
from modelplane.apis.v1alpha1.training_run import Direction, Lineage, TrialSummary
from modelplane.operator.jobstate import JobState, PodOutcome, failure_text
from modelplane.operator.records import Run
from modelplane.operator.training import reasons
from modelplane.operator.training.inputs import DatasetCheck

TRUE, FALSE, UNKNOWN = ConditionStatus.TRUE, ConditionStatus.FALSE, ConditionStatus.UNKNOWN
_IMAGE_DIGEST = re.compile(r"(sha256:[0-9a-f]{64})")


@dataclass(frozen=True)
class TrialObservation:
    """One trial as observed: its Job, and for a finished trial the objective read from its run."""

    index: int
    params: dict[str, Any]
    run_id: str
    job: JobState | None = None
    objective: float | None = None
    pods: PodOutcome = field(default_factory=PodOutcome)


@dataclass(frozen=True)
class TrainingObservation:
    """What a pass saw."""

    invalid: tuple[str, str] | None = None
    dataset: DatasetCheck | None = None
    trials: tuple[TrialObservation, ...] = ()
    best_run: Run | None = None
    best_pods: PodOutcome = field(default_factory=PodOutcome)
    run_missing: bool = False
    model_version: str | None = None
    control_plane_error: str | None = None
    parent_run_id: str | None = None
    accelerator: str | None = None


def select_best(trials: tuple[TrialObservation, ...] | list[TrialObservation], direction: Direction) -> int | None:
    """Index of the best succeeded trial by objective (ties: the lowest index)."""
    scored = [t for t in trials if t.job is not None and t.job.complete and t.objective is not None]
    if not scored:
        return None
    sign = -1.0 if direction is Direction.MAXIMIZE else 1.0
    best = min(scored, key=lambda t: (sign * (t.objective or 0.0), t.index))
    return best.index


def is_terminal(run: TrainingRun) -> bool:
    """Whether the run is over for its current generation (Succeeded final and observed at this generation)."""
    return run.status is not None and is_final(run.status, run.metadata.generation)


def is_final(status: TrainingRunStatus, generation: int | None) -> bool:
    """Whether ``status`` says the run is over for ``generation``."""
    for condition in status.conditions:
        if condition.type == reasons.SUCCEEDED and condition.observed_generation == generation:
            return condition.status is TRUE or (
                condition.status is FALSE and condition.reason in reasons.TERMINAL_FAILURES
            )
    return False


def _lineage(run: TrainingRun, observed: TrainingObservation, trial: TrialObservation | None) -> Lineage:
    best = observed.best_run
    assert best is not None
    image = best.image_digest
    if image is None and observed.best_pods.image_id:
        match = _IMAGE_DIGEST.search(observed.best_pods.image_id)
        image = match.group(1) if match else None
    dataset = observed.dataset.info.digest if observed.dataset is not None and observed.dataset.info else None
    node = best.hardware.get("node") if isinstance(best.hardware.get("node"), str) else None
    return Lineage(
        dataset_digest=best.dataset_digest or dataset,
        image_digest=image,
        packages={str(k): str(v) for k, v in best.packages.items()},
        code_ref=best.code_ref or run.metadata.annotations.get("modelplane.io/code-ref"),
        parameters=dict(trial.params) if trial is not None else dict(run.spec.hyperparameters),
        seed=best.seed if best.seed is not None else run.spec.seed,
        node=node or observed.best_pods.node_name,
        accelerator=observed.accelerator,
    )


def _failure(trial: TrialObservation) -> tuple[str, str]:
    job = trial.job
    assert job is not None
    reported = trial.pods.result.get("reason")
    if job.failure_reason == "DeadlineExceeded":
        reason = reasons.DEADLINE_EXCEEDED
    elif reported in reasons.JOB_RESULT_REASONS:
        reason = str(reported)
    else:
        reason = reasons.JOB_FAILED
    return reason, f"Job {job.name} failed: {failure_text(job, trial.pods)}."


class _Conditions:
    """The conditions being recomputed for one generation."""

    def __init__(self, run: TrainingRun, now: datetime) -> None:
        self.generation = run.metadata.generation
        self.now = now
        self.items: list[Condition] = list(run.status.conditions) if run.status else []

    def put(self, type_: str, value: ConditionStatus, reason: str, message: str) -> None:
        self.items = set_condition(
            self.items, type_, value, reason, message=message, observed_generation=self.generation, now=self.now
        )

    def outcome(self, value: ConditionStatus, reason: str, message: str) -> None:
        """``Succeeded`` and ``Ready`` (True only when Succeeded is) together."""
        self.put(reasons.SUCCEEDED, value, reason, message)
        self.put(reasons.READY, TRUE if value is TRUE else FALSE, reason, message)


@dataclass(frozen=True)
class _Tally:
    """The trials by state."""

    trials: tuple[TrialObservation, ...]

    @property
    def jobs(self) -> list[JobState]:
        return [t.job for t in self.trials if t.job is not None]

    @property
    def running(self) -> list[JobState]:
        return [j for j in self.jobs if j.running]

    @property
    def succeeded(self) -> list[TrialObservation]:
        return [t for t in self.trials if t.job is not None and t.job.complete]

    @property
    def failed(self) -> list[TrialObservation]:
        return [t for t in self.trials if t.job is not None and t.job.failed_terminally]

    @property
    def pending(self) -> list[TrialObservation]:
        return [t for t in self.trials if t.job is None]

    @property
    def finished(self) -> bool:
        return bool(self.trials) and not self.running and not self.pending


def _running_condition(conditions: _Conditions, tally: _Tally) -> None:
    running, total = tally.running, len(tally.trials)
    if running and all(j.suspended for j in running):
        message = f"{len(running)} Job(s) suspended, waiting for admission."
        conditions.put(reasons.RUNNING, FALSE, reasons.JOBS_SUSPENDED, message)
    elif running and any(j.active > 0 or j.start_time is not None for j in running):
        what = f"Job {running[0].name} is running." if total == 1 else f"{len(running)} of {total} trials running."
        conditions.put(reasons.RUNNING, TRUE, reasons.JOBS_RUNNING, what)
    elif running:
        conditions.put(reasons.RUNNING, TRUE, reasons.JOBS_CREATED, f"{len(running)} Job(s) created.")
    elif tally.pending:
        conditions.put(reasons.RUNNING, FALSE, reasons.NOT_STARTED, "No Job is running yet.")
    else:
        conditions.put(reasons.RUNNING, FALSE, reasons.FINISHED, f"All {total} Job(s) finished.")


def _single_outcome(conditions: _Conditions, observed: TrainingObservation, only: TrialObservation) -> None:
    if only.job is not None and only.job.failed_terminally:
        conditions.outcome(FALSE, *_failure(only))
    elif observed.best_run is not None:
        conditions.outcome(TRUE, reasons.JOB_SUCCEEDED, f"Job {only.job.name if only.job else ''} succeeded.")
    elif observed.control_plane_error is not None:
        conditions.outcome(UNKNOWN, reasons.CONTROL_PLANE_UNAVAILABLE, observed.control_plane_error)
    else:
        conditions.outcome(FALSE, reasons.RUN_NOT_RECORDED, f"The Job succeeded but run {only.run_id} is not recorded.")


def _sweep_outcome(
    conditions: _Conditions, observed: TrainingObservation, tally: _Tally, best: TrialObservation | None, metric: str
) -> None:
    total = len(tally.trials)
    if not tally.succeeded:
        first = tally.failed[0] if tally.failed else None
        detail = f" First failure: {_failure(first)[1]}" if first is not None else ""
        conditions.outcome(FALSE, reasons.ALL_TRIALS_FAILED, f"All {total} trials failed.{detail}")
    elif observed.best_run is None and observed.control_plane_error is not None:
        conditions.outcome(UNKNOWN, reasons.CONTROL_PLANE_UNAVAILABLE, observed.control_plane_error)
    elif best is None:
        message = f"No succeeded trial logged the objective metric {metric!r}."
        conditions.outcome(FALSE, reasons.OBJECTIVE_NOT_LOGGED, message)
    elif observed.best_run is None:
        conditions.outcome(FALSE, reasons.RUN_NOT_RECORDED, f"Run {best.run_id} of the best trial is not recorded.")
    else:
        message = (
            f"{len(tally.succeeded)} of {total} trials succeeded; best trial {best.index} with "
            f"{metric}={best.objective:g}."
        )
        conditions.outcome(TRUE, reasons.SWEEP_SUCCEEDED, message)


def _best(run: TrainingRun, tally: _Tally) -> TrialObservation | None:
    sweep = run.spec.sweep
    if sweep is None:
        only = tally.trials[0] if tally.trials else None
        return only if only is not None and only.job is not None and only.job.complete else None
    index = select_best(tally.trials, sweep.objective.direction)
    return tally.trials[index] if index is not None else None


def _blocked(run: TrainingRun, observed: TrainingObservation, conditions: _Conditions) -> bool:
    """Conditions of a run that cannot start (invalid spec, Dataset not usable); True when that is the case."""
    if observed.invalid is not None:
        conditions.put(reasons.RUNNING, FALSE, reasons.NOT_STARTED, "The spec is invalid.")
        conditions.outcome(FALSE, *observed.invalid)
        return True
    dataset = observed.dataset
    if dataset is None:
        return False
    if dataset.ready:
        conditions.put(reasons.DATASET_READY, TRUE, dataset.reason, dataset.message)
        return False
    conditions.put(reasons.DATASET_READY, FALSE, dataset.reason, dataset.message)
    if any(t.job is not None for t in observed.trials):
        return False
    conditions.put(reasons.RUNNING, FALSE, reasons.NOT_STARTED, f"Waiting for Dataset {run.spec.dataset_ref.name}.")
    conditions.outcome(UNKNOWN, dataset.reason, dataset.message)
    return True


def _results(
    run: TrainingRun, observed: TrainingObservation, status: TrainingRunStatus, best: TrialObservation
) -> None:
    best_run = observed.best_run
    assert best_run is not None
    status.metrics = best_run.metric_values
    status.artifact_uri = best_run.artifact_uri
    digest = best_run.artifact_sha256
    status.artifact_digest = f"sha256:{digest}" if digest else None
    status.lineage = _lineage(run, observed, best)
    status.model_version = observed.model_version


def compute_training_run_status(run: TrainingRun, observed: TrainingObservation, now: datetime) -> TrainingRunStatus:
    """The status to write after a pass."""
    previous = run.status or TrainingRunStatus()
    conditions = _Conditions(run, now)
    status = TrainingRunStatus(observed_generation=run.metadata.generation)
    if _blocked(run, observed, conditions):
        status.conditions = conditions.items
        return status

    tally = _Tally(observed.trials)
    starts = [t for t in (j.start_time or j.creation_time for j in tally.jobs) if t is not None]
    status.start_time = min(starts) if starts else previous.start_time
    _running_condition(conditions, tally)
    best = _best(run, tally)
    sweep = run.spec.sweep
    if sweep is not None:
        status.run_id = observed.parent_run_id
        status.trials = TrialSummary(
            total=len(tally.trials),
            succeeded=len(tally.succeeded),
            failed=len(tally.failed),
            running=len(tally.running),
            best_trial=best.index if best is not None else None,
            best_value=best.objective if best is not None else None,
            best_parameters=dict(best.params) if best is not None else {},
        )
    elif tally.trials:
        status.run_id = tally.trials[0].run_id

    if not tally.finished:
        done = len(tally.succeeded) + len(tally.failed)
        total = len(tally.trials)
        progress = f"{done} of {total} trials finished." if sweep is not None else "The training Job has not finished."
        conditions.outcome(UNKNOWN, reasons.IN_PROGRESS, progress)
        status.conditions = conditions.items
        return status

    status.completion_time = max((j.completion_time for j in tally.jobs if j.completion_time), default=None)
    if sweep is None:
        _single_outcome(conditions, observed, tally.trials[0])
    else:
        _sweep_outcome(conditions, observed, tally, best, sweep.objective.metric)
    if observed.best_run is not None and best is not None:
        _results(run, observed, status, best)
    status.conditions = conditions.items
    return status
