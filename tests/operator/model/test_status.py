"""A ModelVersion's status from what a pass observed: every reason of Validated, Evaluated, Ready,
AliasesAssigned and Deleting, observedGeneration, and the Events of the transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelplane.apis.v1alpha1 import ModelVersion, ModelVersionStatus
from modelplane.apis.v1alpha1.conditions import find_condition
from modelplane.operator.jobstate import JobState, PodOutcome
from modelplane.operator.model import reasons
from modelplane.operator.model.aliases import Claimant
from modelplane.operator.model.records import ModelVersionRecord
from modelplane.operator.model.results import evaluation_message, gate_text
from modelplane.operator.model.sources import ModelSource
from modelplane.operator.model.status import (
    ANNOTATION_RECORDED_VERSION,
    AliasObservation,
    Blocker,
    ValidationObservation,
    apply_aliases,
    compute_model_version_status,
    deletion_status,
    is_live,
    result_recorded,
    settled,
)
from modelplane.operator.outcome import transition_events

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
JOB = "iris-v1-validate-abc123"
SHA = "c3" * 32
SOURCE = ModelSource(f"s3://mp/ml/sha256/c3/{SHA}", SHA, "7" * 32, "iris-rf", "sha256:" + "d1" * 32)
SIGNATURE = {
    "inputs": [{"name": "float_input", "datatype": "FP32", "shape": [-1, 4]}],
    "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1]}],
}
RESULT: dict[str, Any] = {
    "kind": "ModelVersion",
    "succeeded": True,
    "reason": "Validated",
    "message": "ok",
    "registeredVersion": 4,
    "artifact": {"uri": SOURCE.uri, "sha256": SHA, "sizeBytes": 2048},
    "optimizedArtifact": {
        "uri": "s3://mp/q",
        "sha256": "e5" * 32,
        "sizeBytes": 900,
        "quantization": "Dynamic",
        "accuracyDelta": -0.01,
        "singleInferenceMicroseconds": 40,
    },
    "signature": SIGNATURE,
    "metrics": {"accuracy": 0.95, "f1": 0.94},
    "gates": [{"metric": "accuracy", "value": 0.95, "min": 0.9, "max": None, "passed": True}],
    "baseline": None,
    "singleInferenceMicroseconds": 85,
    "runId": "7" * 32,
    "trainingRun": "iris-rf",
    "datasetDigest": "sha256:" + "d1" * 32,
}
RECORD = ModelVersionRecord(
    model="iris",
    version=4,
    artifact_uri=SOURCE.uri,
    sha256=SHA,
    size_bytes=2048,
    signature=SIGNATURE,
    metrics={"accuracy": 0.95, "f1": 0.94},
    run_id="7" * 32,
    dataset_digest="sha256:" + "d1" * 32,
    aliases=["staging"],
)


def model(status: ModelVersionStatus | None = None, generation: int = 2, **spec: Any) -> ModelVersion:
    body: dict[str, Any] = {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "ModelVersion",
        "metadata": {"name": "iris-v1", "namespace": "ml", "uid": "u1", "generation": generation},
        "spec": {"modelName": "iris", "source": {"trainingRunRef": {"name": "iris-rf"}}, **spec},
    }
    if status is not None:
        body["status"] = status.to_wire()
    return ModelVersion.from_wire(body)


def job(**state: Any) -> JobState:
    return JobState(name=JOB, owner_uids=("u1",), **state)


def cond(status: ModelVersionStatus, type_: str) -> tuple[str, str, str]:
    found = find_condition(status.conditions, type_)
    assert found is not None, type_
    return found.status.value, found.reason, found.message


def compute(observed: ValidationObservation, mv: ModelVersion | None = None) -> ModelVersionStatus:
    return compute_model_version_status(mv or model(), observed, T0)


def failed_with(result: dict[str, Any], *, failure_reason: str = "PodFailurePolicy", exit_code: int = 2):
    pods = PodOutcome(result=result, exit_code=exit_code, reason="Error")
    failing = job(failed_terminally=True, failure_reason=failure_reason, failure_message="Job failed")
    return compute(ValidationObservation(JOB, source=SOURCE, job=failing, pods=pods))


def ready_status(mv: ModelVersion | None = None) -> ModelVersionStatus:
    done = job(complete=True, succeeded=1, completion_time=T0)
    return compute(
        ValidationObservation(JOB, source=SOURCE, job=done, pods=PodOutcome(result=RESULT), record=RECORD), mv
    )


@pytest.mark.parametrize(
    "reason",
    [
        reasons.SOURCE_NOT_FOUND,
        reasons.SOURCE_NOT_READY,
        reasons.SOURCE_FAILED,
        reasons.DATASET_NOT_FOUND,
        reasons.DATASET_NOT_READY,
        reasons.CONTROL_PLANE_UNAVAILABLE,
    ],
)
def test_a_version_waiting_for_an_input_is_unknown_and_not_ready(reason: str):
    status = compute(ValidationObservation(JOB, blocker=Blocker(reason, "Waiting for it.")))
    assert cond(status, "Validated") == ("Unknown", reason, "Waiting for it.")
    assert cond(status, "Evaluated") == ("Unknown", reason, "Waiting for it.")
    assert cond(status, "Ready") == ("False", reason, "Waiting for it.")
    assert status.observed_generation == 2
    assert all(c.observed_generation == 2 for c in status.conditions)
    assert not settled([c.to_wire() for c in status.conditions], 2)


@pytest.mark.parametrize("reason", [reasons.INVALID_SPEC, reasons.DATASET_VERSION_NOT_FOUND])
def test_a_final_blocker_fails_validation_for_this_generation(reason: str):
    status = compute(ValidationObservation(JOB, blocker=Blocker(reason, "No way.", final=True)))
    assert cond(status, "Validated") == ("False", reason, "No way.")
    assert cond(status, "Evaluated") == ("Unknown", reasons.NOT_EVALUATED, "Not evaluated: No way.")
    assert cond(status, "Ready") == ("False", reason, "No way.")
    assert settled([c.to_wire() for c in status.conditions], 2)
    assert not settled([c.to_wire() for c in status.conditions], 3)  # a new generation tries again


def test_the_job_is_created_then_validating_then_suspended():
    created = compute(ValidationObservation(JOB, source=SOURCE, job=None))
    assert cond(created, "Validated") == (
        "Unknown",
        reasons.JOB_CREATED,
        f"Job {JOB} was created to validate the artifact.",
    )
    assert cond(created, "Ready")[:2] == ("False", reasons.JOB_CREATED)
    assert (created.training_run, created.run_id, created.dataset_digest) == (
        "iris-rf",
        "7" * 32,
        SOURCE.dataset_digest,
    )
    running = compute(ValidationObservation(JOB, job=job(active=1, start_time=T0)))
    assert cond(running, "Validated") == ("Unknown", reasons.VALIDATING, f"Job {JOB} is validating the artifact.")
    suspended = compute(ValidationObservation(JOB, job=job(suspended=True)))
    assert cond(suspended, "Ready")[:2] == ("False", reasons.JOB_SUSPENDED)


def test_a_registered_version_is_ready_with_what_the_registry_holds_and_what_the_job_measured():
    status = ready_status(model(evaluation={"thresholds": [{"metric": "accuracy", "min": 0.9}]}))
    assert cond(status, "Validated")[:2] == ("True", reasons.ARTIFACT_VALID)
    assert "Artifact c3c3c3c3c3c3 (2048 bytes)" in cond(status, "Validated")[2]
    assert "(1 inputs, 1 outputs); one inference takes 85 microseconds" in cond(status, "Validated")[2]
    assert cond(status, "Evaluated") == ("True", reasons.GATES_PASSED, "Gates passed: accuracy 0.95 >= min 0.9.")
    assert cond(status, "Ready") == (
        "True",
        reasons.REGISTERED,
        "Version 4 of model iris is registered and may be served.",
    )
    assert status.registered_version == 4
    assert status.artifact is not None
    assert (status.artifact.uri, status.artifact.sha256, status.artifact.size_bytes) == (SOURCE.uri, SHA, 2048)
    assert status.optimized_artifact is not None
    assert (status.optimized_artifact.size_bytes, status.optimized_artifact.accuracy_delta) == (900, -0.01)
    assert status.signature is not None
    assert [t.name for t in status.signature.inputs] == ["float_input"]
    assert status.metrics == {"accuracy": 0.95, "f1": 0.94}
    assert status.single_inference_microseconds == 85
    assert status.aliases == ["staging"]
    assert is_live(status)
    assert settled([c.to_wire() for c in status.conditions], 2)


def test_without_evaluation_there_are_no_gates():
    status = ready_status()
    assert cond(status, "Evaluated") == ("True", reasons.NO_GATES, "No evaluation is requested.")


def test_evaluation_without_thresholds_reports_the_measured_metrics():
    result = {**RESULT, "gates": []}
    done = job(complete=True)
    status = compute(
        ValidationObservation(JOB, job=done, pods=PodOutcome(result=result), record=RECORD), model(evaluation={})
    )
    assert cond(status, "Evaluated") == ("True", reasons.GATES_PASSED, "Measured accuracy 0.95, f1 0.94.")


def test_a_recorded_result_is_kept_without_reading_anything_again():
    first = ready_status()
    recorded = job(complete=True, annotations={ANNOTATION_RECORDED_VERSION: "4"})
    assert result_recorded(first, recorded)
    again = compute(ValidationObservation(JOB, job=recorded), model(first, generation=3, aliases=["champion"]))
    assert cond(again, "Ready")[:2] == ("True", reasons.REGISTERED)
    assert find_condition(again.conditions, "Ready").observed_generation == 3  # type: ignore[union-attr]
    assert again.registered_version == 4
    assert again.single_inference_microseconds == 85


def test_a_completed_job_without_a_registered_version_is_version_not_recorded():
    status = compute(ValidationObservation(JOB, source=SOURCE, job=job(complete=True), pods=PodOutcome(result={})))
    assert cond(status, "Validated")[:2] == ("Unknown", reasons.VERSION_NOT_RECORDED)
    assert cond(status, "Ready") == (
        "False",
        reasons.VERSION_NOT_RECORDED,
        f"Job {JOB} completed but the control plane holds no version of model iris with sha256 {SHA}.",
    )
    assert settled([c.to_wire() for c in status.conditions], 2)


def test_an_unreachable_control_plane_after_the_job_is_not_ready_and_not_final():
    observed = ValidationObservation(
        JOB, job=job(complete=True), pods=PodOutcome(result=RESULT), control_plane_error="connection refused"
    )
    status = compute(observed)
    assert cond(status, "Validated")[:2] == ("True", reasons.ARTIFACT_VALID)
    assert cond(status, "Ready")[:2] == ("False", reasons.CONTROL_PLANE_UNAVAILABLE)
    assert "connection refused" in cond(status, "Ready")[2]
    assert not settled([c.to_wire() for c in status.conditions], 2)


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        (reasons.DIGEST_MISMATCH, f"sha256 mismatch: expected {SHA}, got {'ff' * 32}"),
        (reasons.INVALID_MODEL, "not an ONNX model: protobuf parsing failed"),
        (reasons.SIGNATURE_MISMATCH, "input float_input: shape [-1, 4] declared, [-1, 5] found"),
        (reasons.INVALID_SPEC, "signature declares no inputs"),
    ],
)
def test_an_invalid_artifact_fails_validation_with_the_jobs_reason_and_message(reason: str, message: str):
    status = failed_with({"succeeded": False, "reason": reason, "message": message})
    assert cond(status, "Validated")[:2] == ("False", reason)
    assert message in cond(status, "Validated")[2]
    assert cond(status, "Evaluated") == ("Unknown", reasons.NOT_EVALUATED, "Not evaluated: the validation failed.")
    assert cond(status, "Ready")[:2] == ("False", reason)
    assert settled([c.to_wire() for c in status.conditions], 2)


@pytest.mark.parametrize(
    ("reason", "job_reason"),
    [
        (reasons.SOURCE_UNAVAILABLE, "BackoffLimitExceeded"),
        (reasons.CONTROL_PLANE_ERROR, "BackoffLimitExceeded"),
        (reasons.JOB_ERROR, "BackoffLimitExceeded"),
    ],
)
def test_transient_failures_that_spent_their_retries_keep_the_jobs_reason(reason: str, job_reason: str):
    status = failed_with({"succeeded": False, "reason": reason, "message": "boom"}, failure_reason=job_reason)
    assert cond(status, "Ready")[:2] == ("False", reason)
    assert "boom" in cond(status, "Ready")[2]


def test_a_job_without_a_result_fails_with_the_jobs_own_reason():
    deadline = failed_with({}, failure_reason="DeadlineExceeded", exit_code=137)
    assert cond(deadline, "Ready")[:2] == ("False", reasons.DEADLINE_EXCEEDED)
    crashed = failed_with({}, failure_reason="BackoffLimitExceeded", exit_code=1)
    assert cond(crashed, "Validated")[:2] == ("False", reasons.JOB_FAILED)
    assert "exit code 1" in cond(crashed, "Validated")[2]


def test_a_failed_gate_is_validated_but_not_evaluated_with_every_measured_value():
    result = {
        **RESULT,
        "succeeded": False,
        "reason": "GateFailed",
        "registeredVersion": None,
        "metrics": {"accuracy": 0.81, "f1": 0.93, "log_loss": 0.4},
        "gates": [
            {"metric": "accuracy", "value": 0.81, "min": 0.9, "max": None, "passed": False},
            {"metric": "f1", "value": 0.93, "min": 0.85, "max": None, "passed": True},
            {"metric": "log_loss", "value": 0.4, "min": None, "max": 0.3, "passed": False},
        ],
        "baseline": {"alias": "champion", "version": 2, "metrics": {"accuracy": 0.92}},
    }
    status = failed_with(result, exit_code=3)
    message = (
        "Gates failed: accuracy 0.81 < min 0.9; log_loss 0.4 > max 0.3. Passed: f1 0.93 >= min 0.85. "
        "Compared with champion (version 2)."
    )
    assert cond(status, "Validated")[:2] == ("True", reasons.ARTIFACT_VALID)
    assert cond(status, "Evaluated") == ("False", reasons.GATE_FAILED, message)
    assert cond(status, "Ready") == ("False", reasons.GATE_FAILED, message)
    assert status.metrics == {"accuracy": 0.81, "f1": 0.93, "log_loss": 0.4}
    assert status.registered_version is None
    assert settled([c.to_wire() for c in status.conditions], 2)


def test_gate_texts():
    assert gate_text({"metric": "rmse", "value": 1.5, "min": None, "max": 2, "passed": True}) == "rmse 1.5 <= max 2"
    assert gate_text({"metric": "r2", "value": 0.5, "min": 0.6, "max": 0.9}) == "r2 0.5 < min 0.6 and <= max 0.9"
    assert gate_text({"metric": "f1", "value": None}) == "f1 not measured"
    assert evaluation_message({"gates": []}, passed=False, fallback="accuracy 0.81 < min 0.90") == (
        "accuracy 0.81 < min 0.90"
    )
    no_holder = {"gates": [], "baseline": {"alias": "champion", "version": None}}
    assert "no version holds it" in evaluation_message(no_holder, passed=True, fallback="ok")


def test_aliases_wait_for_ready_then_are_held_or_in_conflict():
    pending = apply_aliases(model(aliases=["champion"]), compute(ValidationObservation(JOB)), AliasObservation(), T0)
    assert cond(pending, "AliasesAssigned") == (
        "Unknown",
        reasons.ALIASES_PENDING,
        "Aliases champion are assigned once the version is Ready.",
    )
    mv = model(aliases=["champion", "staging"])
    ready = ready_status(mv)
    held = apply_aliases(mv, ready, AliasObservation(held=("champion", "staging")), T0)
    assert cond(held, "AliasesAssigned") == ("True", reasons.ALIASES_HELD, "Holds champion, staging.")
    assert held.aliases == ["champion", "staging"]
    holder = Claimant("iris-v2", T0 + timedelta(hours=1), 5, ("champion",), True)
    lost = apply_aliases(mv, ready, AliasObservation(held=("staging",), conflicts=(("champion", holder),)), T0)
    assert cond(lost, "AliasesAssigned") == (
        "False",
        reasons.ALIAS_CONFLICT,
        "Alias champion is held by ModelVersion iris-v2 (version 5): of the Ready versions claiming an alias, "
        "the newest (creationTimestamp, then name) holds it.",
    )
    assert cond(lost, "Ready")[0] == "True"  # a loser stays Ready
    assert lost.aliases == ["staging"]
    down = apply_aliases(mv, ready, AliasObservation(control_plane_error="timeout"), T0)
    assert cond(down, "AliasesAssigned")[:2] == ("Unknown", reasons.CONTROL_PLANE_UNAVAILABLE)
    none = apply_aliases(model(), ready_status(), AliasObservation(held=("beta",)), T0)
    assert cond(none, "AliasesAssigned") == (
        "True",
        reasons.NO_ALIASES,
        "No aliases are claimed. Holds beta, set in the registry.",
    )


def test_deleting_says_why_the_deletion_waits():
    status = deletion_status(model(), ready_status(), reasons.IN_USE, "Deletion waits: InferenceService a uses it.", T0)
    assert cond(status, "Deleting") == ("True", reasons.IN_USE, "Deletion waits: InferenceService a uses it.")
    assert cond(status, "Ready")[0] == "True"  # still served
    failed = deletion_status(model(), status, reasons.ARTIFACT_DELETION_FAILED, "405", T0)
    assert cond(failed, "Deleting")[:2] == ("True", reasons.ARTIFACT_DELETION_FAILED)


def test_transition_times_move_only_on_flips_and_events_follow_transitions():
    waiting = compute(ValidationObservation(JOB, blocker=Blocker(reasons.SOURCE_NOT_READY, "wait")))
    later = compute_model_version_status(
        model(waiting), ValidationObservation(JOB, blocker=Blocker(reasons.SOURCE_NOT_READY, "wait")), T0 + timedelta(1)
    )
    assert find_condition(later.conditions, "Ready").last_transition_time == T0  # type: ignore[union-attr]
    failed = failed_with({"succeeded": False, "reason": "DigestMismatch", "message": "bad digest"})
    events = transition_events(waiting.conditions, failed.conditions, reasons.EVENTS)
    by_reason = {(e.type, e.reason) for e in events}
    assert ("Warning", reasons.DIGEST_MISMATCH) in by_reason
    ready = ready_status()
    assert ("Normal", reasons.REGISTERED) in {
        (e.type, e.reason) for e in transition_events(waiting.conditions, ready.conditions, reasons.EVENTS)
    }


def test_what_the_registry_holds_wins_over_the_jobs_result():
    optimized = {
        "uri": "s3://mp/opt",
        "sha256": "f0" * 32,
        "size_bytes": 800,
        "quantization": "Dynamic",
        "accuracy_delta": 0.0,
        "single_inference_microseconds": 30,
    }
    record = RECORD.model_copy(
        update={
            "metrics": {"accuracy": 0.97},
            "training_run": "iris-rf",
            "optimized_artifact": optimized,
            "single_inference_microseconds": 77,
        }
    )
    done = job(complete=True)
    status = compute(ValidationObservation(JOB, job=done, pods=PodOutcome(result=RESULT), record=record))
    assert status.metrics == {"accuracy": 0.97}
    assert status.single_inference_microseconds == 77
    assert status.optimized_artifact is not None
    assert (status.optimized_artifact.sha256, status.optimized_artifact.size_bytes) == ("f0" * 32, 800)
    assert status.training_run == "iris-rf"
    odd = RECORD.model_copy(update={"optimized_artifact": {"uri": "x"}, "single_inference_microseconds": None})
    kept = compute(ValidationObservation(JOB, job=done, pods=PodOutcome(result=RESULT), record=odd))
    assert kept.optimized_artifact is not None  # a record field that does not fit leaves the result's
    assert kept.optimized_artifact.sha256 == "e5" * 32
    assert kept.single_inference_microseconds == 85
