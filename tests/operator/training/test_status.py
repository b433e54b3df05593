from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from modelplane.apis.v1alpha1 import TrainingRun, TrainingRunStatus
from modelplane.apis.v1alpha1.conditions import find_condition
from modelplane.apis.v1alpha1.training_run import DatasetRef, Direction
from modelplane.operator.jobstate import JobState, PodOutcome
from modelplane.operator.records import Run
from modelplane.operator.training import reasons
from modelplane.operator.training.inputs import DatasetCheck, DatasetInfo, check_dataset
from modelplane.operator.training.status import (
    TrainingObservation,
    TrialObservation,
    compute_training_run_status,
    is_terminal,
    select_best,
)

T0 = datetime(2026, 4, 1, 8, 0, 0, tzinfo=UTC)
DIGEST = "sha256:" + "3c" * 32
INFO = DatasetInfo("iris", DIGEST, "2", {"train": "s3://b/train"})
READY = DatasetCheck(reasons.DATASET_IS_READY, "Training on Dataset iris version 2.", INFO)
ARTIFACT = "7a" * 32


def training_run(status: TrainingRunStatus | None = None, sweep: bool = False) -> TrainingRun:
    spec: dict[str, Any] = {
        "datasetRef": {"name": "iris"},
        "trainer": {"builtin": {"estimator": "SVC"}},
        "hyperparameters": {"C": 1.0},
        "seed": 3,
    }
    if sweep:
        spec["sweep"] = {
            "parameters": [{"name": "C", "values": [0.1, 1.0, 10.0]}],
            "objective": {"metric": "rmse", "direction": "Minimize"},
        }
    body: dict[str, Any] = {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": "svc", "namespace": "ml", "uid": "u", "generation": 1},
        "spec": spec,
    }
    if status is not None:
        body["status"] = status.to_wire()
    return TrainingRun.from_wire(body)


def run_record(run_id: str, **fields: Any) -> Run:
    return Run.model_validate(
        {
            "run_id": run_id,
            "status": "Succeeded",
            "dataset_digest": DIGEST,
            "packages": {"scikit-learn": "1.9.1"},
            "hardware": {"node": "n1"},
            "seed": 3,
            "artifact_uri": f"s3://mp/ml/sha256/7a/{ARTIFACT}",
            "metrics": {"rmse": {"value": 0.4, "step": 0, "timestamp": 1}},
            **fields,
        }
    )


def job(name: str = "svc-abc-0", **state: Any) -> JobState:
    return JobState(name=name, owner_uids=("u",), **state)


def cond(status: TrainingRunStatus, type_: str) -> tuple[str, str, str]:
    found = find_condition(status.conditions, type_)
    assert found is not None, type_
    return found.status.value, found.reason, found.message


def single(job_state: JobState | None, **observed: Any) -> TrainingObservation:
    trial = TrialObservation(0, {"C": 1.0}, "r" * 32, job_state)
    return TrainingObservation(dataset=READY, trials=(trial,), **observed)


def test_waiting_for_the_dataset_is_a_condition_not_a_failure():
    missing = check_dataset(None, DatasetRef(name="iris"))
    status = compute_training_run_status(
        training_run(), TrainingObservation(dataset=missing, trials=(TrialObservation(0, {}, "r" * 32),)), T0
    )
    assert cond(status, "DatasetReady") == ("False", "DatasetNotFound", "Dataset iris does not exist.")
    assert cond(status, "Succeeded")[:2] == ("Unknown", "DatasetNotFound")
    assert cond(status, "Ready")[:2] == ("False", "DatasetNotFound")
    assert cond(status, "Running")[:2] == ("False", "NotStarted")
    assert not is_terminal(training_run(status))


def test_a_dataset_is_usable_when_ready_for_its_generation_and_at_the_pinned_digest():
    body = {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "iris", "generation": 2},
        "spec": {"source": {"inline": {"rows": [{"a": 1}]}}},
        "status": {
            "digest": DIGEST,
            "version": "2",
            "artifacts": {"train": "s3://b/train"},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "VersionReady",
                    "lastTransitionTime": "2026-04-01T00:00:00Z",
                    "observedGeneration": 2,
                }
            ],
        },
    }
    assert check_dataset(body, DatasetRef(name="iris")).info == INFO
    pinned = check_dataset(body, DatasetRef(name="iris", digest="sha256:" + "00" * 32))
    assert (pinned.reason, pinned.needs_lookup, pinned.ready) == ("DigestMismatch", True, False)
    stale = {**body, "metadata": {"name": "iris", "generation": 3}}
    assert check_dataset(stale, DatasetRef(name="iris")).reason == "DatasetNotReady"


def test_a_running_job_and_then_its_success_fill_in_the_run():
    running = compute_training_run_status(training_run(), single(job(active=1, start_time=T0)), T0)
    assert cond(running, "Running")[:2] == ("True", "JobRunning")
    assert cond(running, "Succeeded")[:2] == ("Unknown", "Running")
    assert cond(running, "DatasetReady")[0] == "True"
    assert running.run_id == "r" * 32
    assert running.start_time == T0

    end = T0 + timedelta(minutes=3)
    done_job = job(complete=True, start_time=T0, completion_time=end)
    best = run_record("r" * 32)
    status = compute_training_run_status(
        training_run(running),
        single(done_job, best_run=best, model_version="svc-7a7a7a7a", accelerator="nvidia-l4"),
        end,
    )
    assert cond(status, "Succeeded")[:2] == ("True", "JobSucceeded")
    assert cond(status, "Ready")[0] == "True"
    assert cond(status, "Running")[:2] == ("False", "Finished")
    assert status.metrics == {"rmse": 0.4}
    assert status.artifact_digest == f"sha256:{ARTIFACT}"
    assert status.completion_time == end
    assert status.model_version == "svc-7a7a7a7a"
    assert status.lineage is not None
    assert status.lineage.model_dump(exclude_none=True) == {
        "dataset_digest": DIGEST,
        "packages": {"scikit-learn": "1.9.1"},
        "parameters": {"C": 1.0},
        "seed": 3,
        "node": "n1",
        "accelerator": "nvidia-l4",
    }
    assert is_terminal(training_run(status))


def test_failures_take_their_reason_from_the_job_and_the_job_result():
    deadline = job(
        failed_terminally=True,
        failure_reason="DeadlineExceeded",
        failure_message="Job was active longer than specified deadline",
    )
    status = compute_training_run_status(training_run(), single(deadline), T0)
    assert cond(status, "Succeeded")[:2] == ("False", "DeadlineExceeded")
    assert "deadline" in cond(status, "Succeeded")[2]
    assert is_terminal(training_run(status))

    pods = PodOutcome(
        result={"succeeded": False, "reason": "InvalidSpec", "message": "unknown hyperparameter 'CC'"}, exit_code=2
    )
    invalid = TrialObservation(
        0, {}, "r" * 32, job(failed_terminally=True, failure_reason="PodFailurePolicy"), pods=pods
    )
    status = compute_training_run_status(training_run(), TrainingObservation(dataset=READY, trials=(invalid,)), T0)
    assert cond(status, "Succeeded")[:2] == ("False", "InvalidSpec")
    assert "unknown hyperparameter 'CC'" in cond(status, "Succeeded")[2]
    assert "exit code 2" in cond(status, "Succeeded")[2]


def test_a_completed_job_without_its_run_is_reported_or_retried():
    done = job(complete=True, completion_time=T0)
    missing = compute_training_run_status(training_run(), single(done), T0)
    assert cond(missing, "Succeeded")[:2] == ("False", "RunNotRecorded")
    down = compute_training_run_status(
        training_run(), single(done, control_plane_error="control plane unreachable"), T0
    )
    assert cond(down, "Succeeded")[:2] == ("Unknown", "ControlPlaneUnavailable")
    assert not is_terminal(training_run(down))


def test_invalid_specs_are_final():
    status = compute_training_run_status(
        training_run(), TrainingObservation(invalid=(reasons.UNKNOWN_ACCELERATOR, "accelerator type 'x' ...")), T0
    )
    assert cond(status, "Succeeded")[:2] == ("False", "UnknownAccelerator")
    assert is_terminal(training_run(status))


def sweep_trials(*states: tuple[JobState | None, float | None]) -> tuple[TrialObservation, ...]:
    values = (0.1, 1.0, 10.0)
    return tuple(
        TrialObservation(i, {"C": values[i]}, f"{i}" * 32, state, objective)
        for i, (state, objective) in enumerate(states)
    )


def test_a_sweep_reports_progress_then_the_best_trial_by_its_objective():
    trials = sweep_trials((job("t0", complete=True), 0.5), (job("t1", active=1, start_time=T0), None), (None, None))
    status = compute_training_run_status(
        training_run(sweep=True), TrainingObservation(dataset=READY, trials=trials, parent_run_id="p" * 32), T0
    )
    assert cond(status, "Succeeded") == ("Unknown", "Running", "1 of 3 trials finished.")
    assert cond(status, "Running") == ("True", "JobRunning", "1 of 3 trials running.")
    assert status.trials is not None
    assert (status.trials.total, status.trials.succeeded, status.trials.running, status.trials.best_trial) == (
        3,
        1,
        1,
        0,
    )
    assert status.run_id == "p" * 32

    finished = sweep_trials(
        (job("t0", complete=True), 0.5),
        (job("t1", complete=True), 0.3),
        (job("t2", failed_terminally=True, failure_reason="BackoffLimitExceeded"), None),
    )
    assert select_best(finished, Direction.MINIMIZE) == 1
    assert select_best(finished, Direction.MAXIMIZE) == 0
    done = compute_training_run_status(
        training_run(status, sweep=True),
        TrainingObservation(dataset=READY, trials=finished, best_run=run_record("1" * 32), parent_run_id="p" * 32),
        T0,
    )
    assert cond(done, "Succeeded") == ("True", "SweepSucceeded", "2 of 3 trials succeeded; best trial 1 with rmse=0.3.")
    assert done.trials is not None
    assert done.trials.model_dump() == {
        "total": 3,
        "succeeded": 2,
        "failed": 1,
        "running": 0,
        "best_trial": 1,
        "best_value": 0.3,
        "best_parameters": {"C": 1.0},
    }
    assert done.lineage is not None
    assert done.lineage.parameters == {"C": 1.0}


def test_a_sweep_fails_when_every_trial_failed_or_none_logged_the_objective():
    failed = job("t", failed_terminally=True, failure_reason="BackoffLimitExceeded", failure_message="backoff limit")
    all_failed = sweep_trials((failed, None), (failed, None), (failed, None))
    status = compute_training_run_status(
        training_run(sweep=True), TrainingObservation(dataset=READY, trials=all_failed), T0
    )
    assert cond(status, "Succeeded")[:2] == ("False", "AllTrialsFailed")
    no_objective = sweep_trials((job("a", complete=True), None), (failed, None), (failed, None))
    status = compute_training_run_status(
        training_run(sweep=True), TrainingObservation(dataset=READY, trials=no_objective), T0
    )
    assert cond(status, "Succeeded") == (
        "False",
        "ObjectiveNotLogged",
        "No succeeded trial logged the objective metric 'rmse'.",
    )
