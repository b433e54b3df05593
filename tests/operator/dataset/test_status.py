from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from modelplane.apis.v1alpha1 import Dataset, DatasetStatus
from modelplane.apis.v1alpha1.conditions import find_condition
from modelplane.operator.dataset import reasons
from modelplane.operator.dataset.status import DatasetObservation, compute_dataset_status, version_recorded
from modelplane.operator.jobstate import JobState, PodOutcome
from modelplane.operator.outcome import transition_events
from modelplane.operator.records import DatasetVersion

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
JOB = "iris-ingest-abcd1234"
DIGEST = "sha256:" + "1f" * 32
VERSION = DatasetVersion(
    version=3,
    digest=DIGEST,
    rows=150,
    columns=5,
    artifacts={"train": "s3://b/train", "validation": "s3://b/val", "test": "s3://b/test", "manifest": "s3://b/m"},
    profile_uri="s3://b/profile",
)


def dataset(status: DatasetStatus | None = None, generation: int = 2, validation: str = "Fail") -> Dataset:
    body: dict[str, Any] = {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "iris", "namespace": "ml", "uid": "u1", "generation": generation},
        "spec": {"source": {"inline": {"rows": [{"a": 1}]}}, "validation": validation},
    }
    if status is not None:
        body["status"] = status.to_wire()
    return Dataset.from_wire(body)


def job(**state: Any) -> JobState:
    return JobState(name=JOB, owner_uids=("u1",), **state)


def cond(status: DatasetStatus, type_: str) -> tuple[str, str, str]:
    found = find_condition(status.conditions, type_)
    assert found is not None
    return found.status.value, found.reason, found.message


def ready_status(now: datetime = T0) -> DatasetStatus:
    observed = DatasetObservation(JOB, job(complete=True, succeeded=1, completion_time=now), version=VERSION)
    return compute_dataset_status(dataset(), observed, now)


def test_a_new_dataset_waits_for_its_ingest_job():
    status = compute_dataset_status(dataset(), DatasetObservation(JOB, None), T0)
    assert cond(status, "Ingesting") == ("True", "JobCreated", f"Job {JOB} was created to ingest the source.")
    assert cond(status, "Ready")[:2] == ("False", "Ingesting")
    assert status.observed_generation == 2
    assert all(c.observed_generation == 2 for c in status.conditions)
    running = compute_dataset_status(dataset(), DatasetObservation(JOB, job(active=1, start_time=T0)), T0)
    assert cond(running, "Ingesting")[1] == "JobRunning"
    suspended = compute_dataset_status(dataset(), DatasetObservation(JOB, job(suspended=True)), T0)
    assert cond(suspended, "Ingesting")[1] == "JobSuspended"


def test_a_completed_job_makes_the_recorded_version_ready():
    status = ready_status()
    assert cond(status, "Ready") == ("True", "VersionReady", "Version 3 (1f1f1f1f1f1f) has 150 rows and 5 columns.")
    assert cond(status, "Ingesting")[1] == "JobSucceeded"
    assert (status.digest, status.version, status.rows, status.columns) == (DIGEST, "3", 150, 5)
    assert status.artifacts is not None
    assert status.artifacts.profile == "s3://b/profile"
    assert status.artifacts.train == "s3://b/train"
    assert status.last_refresh_time == T0
    events = transition_events([], status.conditions, reasons.EVENTS)
    assert [(e.type, e.reason) for e in events] == [("Normal", "JobSucceeded"), ("Normal", "VersionReady")]


def test_warnings_of_a_warn_policy_are_reported_with_the_version():
    pods = PodOutcome(result={"validation": {"passed": False, "violations": 4, "failedRules": ["age.minimum"]}})
    observed = DatasetObservation(JOB, job(complete=True, completion_time=T0), pods=pods, version=VERSION)
    status = compute_dataset_status(dataset(validation="Warn"), observed, T0)
    assert cond(status, "Ready")[0] == "True"
    assert "Validation warnings: age.minimum." in cond(status, "Ready")[2]
    assert status.validation is not None
    assert (status.validation.violations, status.validation.failed_rules) == (4, ["age.minimum"])


def test_a_recorded_version_is_not_read_again_and_transition_times_hold():
    first = ready_status()
    completed = job(complete=True, completion_time=T0, annotations={"modelplane.io/recorded-digest": DIGEST})
    assert version_recorded(first, completed)
    assert not version_recorded(first, job(complete=True, completion_time=T0))
    later = T0 + timedelta(minutes=5)
    again = compute_dataset_status(dataset(first), DatasetObservation(JOB, completed), later)
    assert again == first
    assert transition_events(first.conditions, again.conditions, reasons.EVENTS) == ()


def test_a_refresh_keeps_the_current_version_ready_until_it_completes():
    current = ready_status()
    refreshing = compute_dataset_status(dataset(current), DatasetObservation("iris-ingest-new", job(active=1)), T0)
    assert cond(refreshing, "Ready")[:2] == ("True", "VersionReady")
    assert cond(refreshing, "Ingesting")[0] == "True"
    failed = job(
        failed_terminally=True,
        failure_reason="BackoffLimitExceeded",
        failure_message="Job has reached the specified backoff limit",
    )
    after_failure = compute_dataset_status(dataset(current), DatasetObservation("iris-ingest-new", failed), T0)
    assert cond(after_failure, "Ready")[0] == "True"
    assert cond(after_failure, "Ingesting")[:2] == ("False", "JobFailed")
    # A new generation has no valid version yet: the same failure makes it not Ready.
    newer = compute_dataset_status(dataset(current, generation=3), DatasetObservation("iris-ingest-new", failed), T0)
    assert cond(newer, "Ready")[:2] == ("False", "JobFailed")
    assert "backoff limit" in cond(newer, "Ready")[2]


def test_validation_failures_list_the_rules_and_are_not_ready():
    pods = PodOutcome(
        result={
            "succeeded": False,
            "reason": "ValidationFailed",
            "message": "validation failed: petal_width.maximum",
            "validation": {
                "passed": False,
                "violations": 23,
                "failedRules": ["petal_width.maximum", "species.allowedValues"],
            },
        },
        exit_code=3,
    )
    failed = job(failed_terminally=True, failure_reason="PodFailurePolicy", failure_message="Container ingest failed")
    status = compute_dataset_status(dataset(ready_status()), DatasetObservation(JOB, failed, pods=pods), T0)
    assert cond(status, "Ready") == (
        "False",
        "ValidationFailed",
        "Validation failed: petal_width.maximum, species.allowedValues.",
    )
    assert status.validation is not None
    assert status.validation.violations == 23
    events = transition_events(ready_status().conditions, status.conditions, reasons.EVENTS)
    assert ("Warning", "ValidationFailed") in [(e.type, e.reason) for e in events]


def test_control_plane_outages_and_missing_versions_are_conditions():
    completed = job(complete=True, completion_time=T0)
    down = compute_dataset_status(
        dataset(), DatasetObservation(JOB, completed, control_plane_error="control plane unreachable"), T0
    )
    assert cond(down, "Ready")[:2] == ("False", "ControlPlaneUnavailable")
    assert "unreachable" in cond(down, "Ready")[2]
    kept = compute_dataset_status(
        dataset(ready_status()), DatasetObservation("iris-ingest-2", completed, control_plane_error="down"), T0
    )
    assert cond(kept, "Ready")[0] == "True"
    missing = compute_dataset_status(dataset(), DatasetObservation(JOB, completed), T0)
    assert cond(missing, "Ready")[:2] == ("False", "VersionNotRecorded")


def test_transition_time_moves_only_when_the_status_flips():
    waiting = compute_dataset_status(dataset(), DatasetObservation(JOB, None), T0)
    later = T0 + timedelta(minutes=1)
    running = compute_dataset_status(dataset(waiting), DatasetObservation(JOB, job(active=1, start_time=T0)), later)
    before, after = find_condition(waiting.conditions, "Ingesting"), find_condition(running.conditions, "Ingesting")
    assert before is not None
    assert after is not None
    assert after.last_transition_time == before.last_transition_time == T0
    done = compute_dataset_status(
        dataset(running), DatasetObservation(JOB, job(complete=True, completion_time=later), version=VERSION), later
    )
    finished = find_condition(done.conditions, "Ingesting")
    assert finished is not None
    assert finished.last_transition_time == later
