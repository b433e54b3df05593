"""A Dataset's status from what one pass observed: pure, recomputed in full on every pass.

``Ready`` says a valid version exists for the current spec (kstatus tools and TrainingRuns read it);
``Ingesting`` says what the current ingest Job is doing. A refresh that is still running, or that failed
for a reason other than validation, leaves a version that is valid for this generation Ready; a
validation failure of the source's current content makes the Dataset not Ready and names the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from modelplane.apis.meta import GROUP
from modelplane.apis.v1alpha1 import Dataset, DatasetStatus
from modelplane.apis.v1alpha1.conditions import Condition, ConditionStatus, find_condition, set_condition
from modelplane.apis.v1alpha1.dataset import DatasetArtifacts, ValidationPolicy, ValidationSummary
from modelplane.operator.dataset import reasons
from modelplane.operator.jobstate import JobState, PodOutcome, failure_text
from modelplane.operator.records import DatasetVersion

TRUE, FALSE = ConditionStatus.TRUE, ConditionStatus.FALSE
ANNOTATION_RECORDED_DIGEST = f"{GROUP}/recorded-digest"
"""On a completed ingest Job: the digest of the version it produced, once status holds it."""
MAX_RULES_IN_MESSAGE = 20


@dataclass(frozen=True)
class DatasetObservation:
    """What a pass saw: the current ingest Job, its pods' outcome and the version the control plane holds."""

    job_name: str
    job: JobState | None = None
    pods: PodOutcome = field(default_factory=PodOutcome)
    version: DatasetVersion | None = None
    control_plane_error: str | None = None


def version_recorded(status: DatasetStatus | None, job: JobState | None) -> bool:
    """Whether ``status`` already holds the version the completed ``job`` produced (no need to ask again).

    The pass that reads a Job's version marks the Job with it (``modelplane.io/recorded-digest``).
    """
    return (
        status is not None
        and job is not None
        and job.complete
        and status.digest is not None
        and job.annotations.get(ANNOTATION_RECORDED_DIGEST) == status.digest
    )


def _validation(pods: PodOutcome) -> ValidationSummary | None:
    """The validation summary of the job's result (``validation.failedRules``, ``validation.violations``)."""
    section = pods.result.get("validation")
    source = section if isinstance(section, dict) else pods.result
    rules = source.get("failedRules")
    violations = source.get("violations")
    if not isinstance(rules, list) and not isinstance(violations, int):
        return None
    return ValidationSummary(
        violations=violations if isinstance(violations, int) and violations >= 0 else 0,
        failed_rules=[str(r) for r in rules][:1000] if isinstance(rules, list) else [],
    )


def _rules_text(summary: ValidationSummary | None) -> str:
    if summary is None or not summary.failed_rules:
        return ""
    shown = summary.failed_rules[:MAX_RULES_IN_MESSAGE]
    more = len(summary.failed_rules) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _artifacts(version: DatasetVersion) -> DatasetArtifacts:
    known = {k: version.artifacts.get(k) for k in ("manifest", "train", "validation", "test", "report")}
    return DatasetArtifacts(profile=version.profile_uri or version.artifacts.get("profile"), **known)


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


class _Pass:
    """The conditions being recomputed for one generation, and what the previous status held."""

    def __init__(self, dataset: Dataset, now: datetime) -> None:
        self.dataset = dataset
        self.previous = dataset.status or DatasetStatus()
        self.generation = dataset.metadata.generation
        self.now = now
        self.conditions: list[Condition] = list(self.previous.conditions)
        self.prior_ready = find_condition(self.previous.conditions, reasons.READY)
        self.version_valid = (
            self.prior_ready is not None
            and self.prior_ready.status is TRUE
            and self.prior_ready.observed_generation == self.generation
            and self.previous.digest is not None
        )
        """A version exists that is valid for the current generation (a refresh does not change that)."""

    def put(self, type_: str, value: ConditionStatus, reason: str, message: str) -> None:
        self.conditions = set_condition(
            self.conditions, type_, value, reason, message=message, observed_generation=self.generation, now=self.now
        )

    def not_ready(self, reason: str, message: str, *, unless_valid: bool = True) -> None:
        """Ready=False, unless a version valid for this generation exists and ``unless_valid``."""
        if unless_valid and self.version_valid and self.prior_ready is not None:
            self.put(reasons.READY, TRUE, self.prior_ready.reason, self.prior_ready.message)
        else:
            self.put(reasons.READY, FALSE, reason, message)


def _version_message(version: DatasetVersion, warned: str) -> str:
    rows = version.rows if version.rows is not None else "?"
    columns = version.columns if version.columns is not None else "?"
    suffix = f" Validation warnings: {warned}." if warned else ""
    return f"Version {version.version} ({_short(version.digest)}) has {rows} rows and {columns} columns.{suffix}"


def _running(state: _Pass, job: JobState | None, name: str) -> None:
    if job is not None and job.suspended:
        state.put(reasons.INGESTING, TRUE, reasons.JOB_SUSPENDED, f"Job {name} is suspended.")
    elif job is None or (job.active == 0 and job.start_time is None):
        state.put(reasons.INGESTING, TRUE, reasons.JOB_CREATED, f"Job {name} was created to ingest the source.")
    else:
        state.put(reasons.INGESTING, TRUE, reasons.JOB_RUNNING, f"Job {name} is ingesting the source.")
    state.not_ready(reasons.WAITING_FOR_INGEST, f"Waiting for Job {name} to ingest the source.")


def _completed(state: _Pass, status: DatasetStatus, observed: DatasetObservation, job: JobState) -> None:
    name, version = observed.job_name, observed.version
    if version is not None:
        status.digest = version.digest
        status.version = str(version.version)
        status.rows = version.rows
        status.columns = version.columns
        status.artifacts = _artifacts(version)
        status.validation = _validation(observed.pods) or ValidationSummary()
        status.last_refresh_time = job.completion_time or state.now.replace(microsecond=0)
        state.put(reasons.INGESTING, FALSE, reasons.JOB_SUCCEEDED, f"Job {name} ingested version {version.version}.")
        state.put(reasons.READY, TRUE, reasons.VERSION_READY, _version_message(version, _rules_text(status.validation)))
        return
    if version_recorded(state.previous, job):
        ingested = f"Job {name} ingested version {state.previous.version}."
        state.put(reasons.INGESTING, FALSE, reasons.JOB_SUCCEEDED, ingested)
        prior = state.prior_ready
        if prior is not None and prior.status is TRUE:
            state.put(reasons.READY, TRUE, prior.reason, prior.message)
        return
    state.put(reasons.INGESTING, FALSE, reasons.JOB_SUCCEEDED, f"Job {name} completed.")
    if observed.control_plane_error is not None:
        message = f"Job {name} completed; its version cannot be read: {observed.control_plane_error}"
        state.not_ready(reasons.CONTROL_PLANE_UNAVAILABLE, message)
    else:
        dataset = state.dataset.metadata.name
        message = f"Job {name} completed but the control plane holds no version of dataset {dataset}."
        state.not_ready(reasons.VERSION_NOT_RECORDED, message, unless_valid=False)


def _failed(state: _Pass, status: DatasetStatus, observed: DatasetObservation, job: JobState) -> None:
    name = observed.job_name
    summary = _validation(observed.pods)
    validation_failed = observed.pods.result.get("reason") == reasons.VALIDATION_FAILED or bool(
        summary and summary.failed_rules and state.dataset.spec.validation is ValidationPolicy.FAIL
    )
    if validation_failed:
        status.validation = summary or ValidationSummary()
        rules = _rules_text(summary) or failure_text(job, observed.pods)
        state.put(reasons.INGESTING, FALSE, reasons.VALIDATION_FAILED, f"Job {name} failed validation.")
        state.not_ready(reasons.VALIDATION_FAILED, f"Validation failed: {rules}.", unless_valid=False)
        return
    message = f"Job {name} failed: {failure_text(job, observed.pods)}."
    state.put(reasons.INGESTING, FALSE, reasons.JOB_FAILED, message)
    state.not_ready(reasons.JOB_FAILED, message)


def compute_dataset_status(dataset: Dataset, observed: DatasetObservation, now: datetime) -> DatasetStatus:
    """The status to write after a pass."""
    state = _Pass(dataset, now)
    status = state.previous.model_copy(deep=True)
    status.observed_generation = state.generation
    job = observed.job
    if job is None or job.running:
        _running(state, job, observed.job_name)
    elif job.complete:
        _completed(state, status, observed, job)
    else:
        _failed(state, status, observed, job)
    status.conditions = state.conditions
    return status
