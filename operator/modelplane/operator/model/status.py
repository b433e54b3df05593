"""A ModelVersion's status from what one pass observed: pure, recomputed in full on every pass.

``Validated`` says the artifact was fetched, matched its sha256, loads in ONNX Runtime and matches its
signature; ``Evaluated`` that it passed its gates (the message has every measured value against its bound);
``Ready`` that it is registered in the control plane and may be served — True only when both are;
``AliasesAssigned`` whether it holds the aliases its spec claims (``AliasConflict`` names the holder: the
version stays Ready); ``Deleting`` why a requested deletion waits. The registry's record is the source of
truth for what status mirrors (version number, artifacts, signature, metrics, latency, lineage, aliases); the
validation job's result fills what the record lacks, and the gates (``results``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelplane.apis.meta import GROUP
from modelplane.apis.v1alpha1 import ModelVersion, ModelVersionStatus
from modelplane.apis.v1alpha1.conditions import Condition, ConditionStatus, find_condition, set_condition
from modelplane.operator.jobstate import JobState, PodOutcome, failure_text
from modelplane.operator.model import reasons
from modelplane.operator.model.aliases import Claimant, conflict_message
from modelplane.operator.model.records import ModelVersionRecord
from modelplane.operator.model.results import (
    evaluation_message,
    from_record,
    from_result,
    from_source,
    gates_of,
    metrics_text,
)
from modelplane.operator.model.sources import ModelSource

TRUE, FALSE, UNKNOWN = ConditionStatus.TRUE, ConditionStatus.FALSE, ConditionStatus.UNKNOWN
ANNOTATION_RECORDED_VERSION = f"{GROUP}/recorded-version"
"""On a completed validation Job: the registry version its result named, once status holds it."""


@dataclass(frozen=True)
class Blocker:
    """Why no validation Job can run now: waiting for an input, or (``final``) never for this spec."""

    reason: str
    message: str
    final: bool = False


@dataclass(frozen=True)
class ValidationObservation:
    """What a pass saw of the validation: a blocker, or the current Job, its pods and the registry's record."""

    job_name: str
    blocker: Blocker | None = None
    source: ModelSource | None = None
    job: JobState | None = None
    pods: PodOutcome = field(default_factory=PodOutcome)
    record: ModelVersionRecord | None = None
    control_plane_error: str | None = None


@dataclass(frozen=True)
class AliasObservation:
    """The aliases as the registry holds them after the pass moved what it had to (None: not read)."""

    held: tuple[str, ...] | None = None
    conflicts: tuple[tuple[str, Claimant], ...] = ()
    control_plane_error: str | None = None


class _Conditions:
    """The conditions being recomputed for one generation."""

    def __init__(self, model: ModelVersion, status: ModelVersionStatus, now: datetime) -> None:
        self.generation = model.metadata.generation
        self.now = now
        self.items: list[Condition] = list(status.conditions)

    def put(self, type_: str, value: ConditionStatus, reason: str, message: str) -> None:
        self.items = set_condition(
            self.items, type_, value, reason, message=message, observed_generation=self.generation, now=self.now
        )

    def all_three(self, value: ConditionStatus, reason: str, message: str) -> None:
        """Validated and Evaluated at ``value``, Ready False: the validation has not given a result yet."""
        self.put(reasons.VALIDATED, value, reason, message)
        self.put(reasons.EVALUATED, value, reason, message)
        self.put(reasons.READY, FALSE, reason, message)


def result_recorded(status: ModelVersionStatus | None, job: JobState | None) -> bool:
    """Whether status already holds the result of the completed ``job`` (no need to read it again).

    The pass that reads a Job's registered version marks the Job with it (``modelplane.io/recorded-version``).
    """
    return (
        status is not None
        and job is not None
        and job.complete
        and status.registered_version is not None
        and job.annotations.get(ANNOTATION_RECORDED_VERSION) == str(status.registered_version)
    )


def is_live(status: ModelVersionStatus) -> bool:
    """Ready and registered: a version that may hold aliases and be served."""
    ready = find_condition(status.conditions, reasons.READY)
    return ready is not None and ready.status is TRUE and status.registered_version is not None


def _valid_message(status: ModelVersionStatus) -> str:
    artifact = status.artifact
    what = f"Artifact {artifact.sha256[:12]} ({artifact.size_bytes} bytes)" if artifact else "The artifact"
    signature = status.signature
    shape = f" ({len(signature.inputs)} inputs, {len(signature.outputs)} outputs)" if signature else ""
    latency = status.single_inference_microseconds
    timed = f"; one inference takes {latency} microseconds" if latency is not None else ""
    return f"{what} matches its sha256, loads in ONNX Runtime and matches its signature{shape}{timed}."


def _ready_message(model: ModelVersion, status: ModelVersionStatus) -> str:
    return f"Version {status.registered_version} of model {model.spec.model_name} is registered and may be served."


# --- the validation conditions ----------------------------------------------------------------------------


def _blocked(conditions: _Conditions, blocker: Blocker) -> None:
    if blocker.final:
        conditions.put(reasons.VALIDATED, FALSE, blocker.reason, blocker.message)
        conditions.put(reasons.EVALUATED, UNKNOWN, reasons.NOT_EVALUATED, f"Not evaluated: {blocker.message}")
        conditions.put(reasons.READY, FALSE, blocker.reason, blocker.message)
    else:
        conditions.all_three(UNKNOWN, blocker.reason, blocker.message)


def _running(conditions: _Conditions, job: JobState | None, name: str) -> None:
    if job is not None and job.suspended:
        conditions.all_three(UNKNOWN, reasons.JOB_SUSPENDED, f"Job {name} is suspended.")
    elif job is None or (job.active == 0 and job.start_time is None):
        conditions.all_three(UNKNOWN, reasons.JOB_CREATED, f"Job {name} was created to validate the artifact.")
    else:
        conditions.all_three(UNKNOWN, reasons.VALIDATING, f"Job {name} is validating the artifact.")


def _evaluated(
    model: ModelVersion, conditions: _Conditions, status: ModelVersionStatus, result: Mapping[str, Any]
) -> None:
    if model.spec.evaluation is None:
        conditions.put(reasons.EVALUATED, TRUE, reasons.NO_GATES, "No evaluation is requested.")
        return
    message = evaluation_message(result, passed=True, fallback="")
    if not gates_of(result):
        measured = metrics_text(status.metrics)
        message = f"Measured {measured}." if measured else "Evaluated; no gates are set."
    conditions.put(reasons.EVALUATED, TRUE, reasons.GATES_PASSED, message)


def _keep_prior(previous: ModelVersionStatus, conditions: _Conditions) -> None:
    """Carry the conditions of a result already recorded over to this generation."""
    for type_ in (reasons.VALIDATED, reasons.EVALUATED, reasons.READY):
        prior = find_condition(previous.conditions, type_)
        if prior is not None:
            conditions.put(type_, prior.status, prior.reason, prior.message)


def _completed(
    model: ModelVersion, observed: ValidationObservation, status: ModelVersionStatus, conditions: _Conditions
) -> None:
    job = observed.job
    assert job is not None
    result = observed.pods.result
    if observed.record is None and result_recorded(model.status, job) and model.status is not None:
        _keep_prior(model.status, conditions)
        return
    from_result(status, result)
    record = observed.record
    if record is not None:
        from_record(status, record)
        conditions.put(reasons.VALIDATED, TRUE, reasons.ARTIFACT_VALID, _valid_message(status))
        _evaluated(model, conditions, status, result)
        conditions.put(reasons.READY, TRUE, reasons.REGISTERED, _ready_message(model, status))
        return
    if result.get("succeeded") is True:
        conditions.put(reasons.VALIDATED, TRUE, reasons.ARTIFACT_VALID, _valid_message(status))
        _evaluated(model, conditions, status, result)
    else:
        conditions.put(reasons.VALIDATED, UNKNOWN, reasons.VERSION_NOT_RECORDED, f"Job {job.name} completed.")
        conditions.put(reasons.EVALUATED, UNKNOWN, reasons.VERSION_NOT_RECORDED, f"Job {job.name} completed.")
    if observed.control_plane_error is not None:
        message = f"Job {job.name} completed; its registered version cannot be read: {observed.control_plane_error}"
        conditions.put(reasons.READY, FALSE, reasons.CONTROL_PLANE_UNAVAILABLE, message)
    else:
        message = f"Job {job.name} completed but the control plane holds no version of model {model.spec.model_name}"
        sha256 = status.artifact.sha256 if status.artifact else observed.source.sha256 if observed.source else None
        conditions.put(
            reasons.READY, FALSE, reasons.VERSION_NOT_RECORDED, message + (f" with sha256 {sha256}." if sha256 else ".")
        )


def failure_reason(job: JobState, pods: PodOutcome) -> str:
    """The reason of a failed validation Job: the job's own (docs/jobs.md), else the Job's."""
    reported = pods.result.get("reason")
    if reported in reasons.JOB_RESULT_REASONS:
        return str(reported)
    if job.failure_reason == "DeadlineExceeded":
        return reasons.DEADLINE_EXCEEDED
    return reasons.JOB_FAILED


def _failed(
    model: ModelVersion, observed: ValidationObservation, status: ModelVersionStatus, conditions: _Conditions
) -> None:
    job = observed.job
    assert job is not None
    result = observed.pods.result
    from_result(status, result)
    reason = failure_reason(job, observed.pods)
    message = f"Job {job.name} failed: {failure_text(job, observed.pods)}."
    if reason == reasons.GATE_FAILED:
        gates = evaluation_message(result, passed=False, fallback=str(result.get("message") or ""))
        conditions.put(reasons.VALIDATED, TRUE, reasons.ARTIFACT_VALID, _valid_message(status))
        conditions.put(reasons.EVALUATED, FALSE, reasons.GATE_FAILED, gates)
        conditions.put(reasons.READY, FALSE, reasons.GATE_FAILED, gates)
        return
    conditions.put(reasons.VALIDATED, FALSE, reason, message)
    conditions.put(reasons.EVALUATED, UNKNOWN, reasons.NOT_EVALUATED, "Not evaluated: the validation failed.")
    conditions.put(reasons.READY, FALSE, reason, message)


def compute_model_version_status(
    model: ModelVersion, observed: ValidationObservation, now: datetime
) -> ModelVersionStatus:
    """The status to write after a pass, before the aliases (``apply_aliases``)."""
    previous = model.status or ModelVersionStatus()
    status = previous.model_copy(deep=True)
    status.observed_generation = model.metadata.generation
    conditions = _Conditions(model, status, now)
    from_source(status, observed.source)
    job = observed.job
    if observed.blocker is not None:
        _blocked(conditions, observed.blocker)
    elif job is None or job.running:
        _running(conditions, job, observed.job_name)
    elif job.complete:
        _completed(model, observed, status, conditions)
    else:
        _failed(model, observed, status, conditions)
    status.conditions = conditions.items
    return status


# --- aliases and deletion ---------------------------------------------------------------------------------


def apply_aliases(
    model: ModelVersion, status: ModelVersionStatus, observed: AliasObservation, now: datetime
) -> ModelVersionStatus:
    """``status`` with the registry's aliases of this version and the ``AliasesAssigned`` condition."""
    result = status.model_copy(deep=True)
    if observed.held is not None:
        result.aliases = list(observed.held)
    conditions = _Conditions(model, result, now)
    claims = sorted(set(model.spec.aliases))
    held = ", ".join(result.aliases)
    if not is_live(result):
        if claims:
            waiting = f"Aliases {', '.join(claims)} are assigned once the version is Ready."
            conditions.put(reasons.ALIASES, UNKNOWN, reasons.ALIASES_PENDING, waiting)
        else:
            conditions.put(reasons.ALIASES, TRUE, reasons.NO_ALIASES, "No aliases are claimed.")
    elif observed.control_plane_error is not None:
        message = f"The registry's aliases cannot be read or moved: {observed.control_plane_error}"
        conditions.put(reasons.ALIASES, UNKNOWN, reasons.CONTROL_PLANE_UNAVAILABLE, message)
    elif observed.conflicts:
        conditions.put(reasons.ALIASES, FALSE, reasons.ALIAS_CONFLICT, conflict_message(observed.conflicts))
    elif claims:
        conditions.put(reasons.ALIASES, TRUE, reasons.ALIASES_HELD, f"Holds {held}.")
    else:
        extra = f" Holds {held}, set in the registry." if held else ""
        conditions.put(reasons.ALIASES, TRUE, reasons.NO_ALIASES, f"No aliases are claimed.{extra}")
    result.conditions = conditions.items
    return result


def deletion_status(
    model: ModelVersion, status: ModelVersionStatus, reason: str, message: str, now: datetime
) -> ModelVersionStatus:
    """``status`` with ``Deleting`` True: why the deletion of this version waits."""
    result = status.model_copy(deep=True)
    conditions = _Conditions(model, result, now)
    conditions.put(reasons.DELETING, TRUE, reason, message)
    result.conditions = conditions.items
    return result


def settled(conditions: Sequence[Mapping[str, Any]], generation: int | None) -> bool:
    """Whether validation is over for ``generation`` (Ready, or failed for good): read from a raw status."""
    for condition in conditions:
        if condition.get("type") == reasons.READY and condition.get("observedGeneration") == generation:
            return condition.get("status") == "True" or condition.get("reason") in reasons.FINAL_FAILURES
    return False
