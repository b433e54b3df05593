"""What a ModelVersion validates: the artifact of its source and the Dataset it is evaluated on. Pure.

A ``trainingRunRef`` source is read from the TrainingRun's status once the run succeeded (its artifact URI and
digest, run id and the Dataset digest it trained on); a trial other than the sweep's best is read from that
trial's run in the control plane (its run id is derived as the TrainingRun derives it). An ``external`` source
is the spec itself. The evaluation Dataset is ``evaluation.datasetRef``, else the TrainingRun's Dataset at the
version it trained on. What a pass resolved is pinned on the validation Job (``modelplane.io/model-source``,
``modelplane.io/evaluation-dataset``), so the Job's inputs never change under it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelplane.apis.meta import GROUP
from modelplane.apis.v1alpha1 import ModelVersion, TrainingRun
from modelplane.apis.v1alpha1.conditions import ConditionStatus, find_condition
from modelplane.apis.v1alpha1.model_version import TrainingRunSource
from modelplane.apis.v1alpha1.training_run import DatasetRef
from modelplane.operator.model import reasons
from modelplane.operator.naming import run_id
from modelplane.operator.podspec import compact_json, json_object
from modelplane.operator.records import Run
from modelplane.operator.training import reasons as training_reasons
from modelplane.operator.training.builders import spec_key as training_spec_key

ANNOTATION_MODEL_SOURCE = f"{GROUP}/model-source"
ANNOTATION_EVALUATION_DATASET = f"{GROUP}/evaluation-dataset"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ModelSource:
    """The artifact to validate and its lineage (``MODELPLANE_MODEL_SOURCE``)."""

    uri: str
    sha256: str
    run_id: str | None = None
    training_run: str | None = None
    dataset_digest: str | None = None

    def to_json(self) -> str:
        return compact_json(
            {
                "uri": self.uri,
                "sha256": self.sha256,
                "runId": self.run_id,
                "trainingRun": self.training_run,
                "datasetDigest": self.dataset_digest,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ModelSource | None:
        document = json_object(text)
        if document is None:
            return None
        uri, sha256 = document.get("uri"), document.get("sha256")
        if not isinstance(uri, str) or not isinstance(sha256, str) or not _SHA256.match(sha256):
            return None
        return cls(
            uri=uri,
            sha256=sha256,
            run_id=_text(document.get("runId")),
            training_run=_text(document.get("trainingRun")),
            dataset_digest=_text(document.get("datasetDigest")),
        )


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None


@dataclass(frozen=True)
class SourceCheck:
    """Whether the source can be validated now: its artifact, or why not (``reason``/``message``)."""

    reason: str
    message: str
    source: ModelSource | None = None
    run: TrainingRun | None = None
    """The source TrainingRun, when it exists (its Dataset is the default evaluation Dataset)."""
    trial_run_id: str | None = None
    """The run of a trial that is not the best one: read the artifact from it in the control plane."""

    @property
    def ready(self) -> bool:
        return self.source is not None


def external_source(model: ModelVersion) -> ModelSource | None:
    """The artifact of an ``external`` source, from the spec."""
    external = model.spec.source.external
    if external is None:
        return None
    return ModelSource(uri=external.uri, sha256=external.sha256.lower())


def _succeeded(run: TrainingRun) -> tuple[bool, str]:
    """Whether the run succeeded at its current generation; else a sentence about where it stands."""
    status = run.status
    condition = find_condition(status.conditions, training_reasons.SUCCEEDED) if status else None
    if condition is None or condition.observed_generation != run.metadata.generation:
        return False, "has not started"
    if condition.status is ConditionStatus.TRUE:
        return True, ""
    return False, f"has not succeeded ({condition.reason}: {condition.message})".replace(": )", ")")


def run_failed(run: TrainingRun) -> bool:
    """Whether the run failed for good at its current generation (only a new generation can change that)."""
    status = run.status
    condition = find_condition(status.conditions, training_reasons.SUCCEEDED) if status else None
    return (
        condition is not None
        and condition.observed_generation == run.metadata.generation
        and condition.status is ConditionStatus.FALSE
        and condition.reason in training_reasons.TERMINAL_FAILURES
    )


def trial_run_id(run: TrainingRun, trial: int | None) -> str | None:
    """The run id of ``trial`` when it is not what the run's status describes (the best trial), else None."""
    if trial is None:
        return None
    best = run.status.trials.best_trial if run.status is not None and run.status.trials is not None else None
    if (run.spec.sweep is None and trial == 0) or trial == best:
        return None
    return run_id(run.metadata.uid or "", training_spec_key(run), trial)


def check_training_run(body: Mapping[str, Any] | None, ref: TrainingRunSource) -> SourceCheck:
    """Judge the referenced TrainingRun as stored (None: it does not exist)."""
    if body is None:
        return SourceCheck(reasons.SOURCE_NOT_FOUND, f"TrainingRun {ref.name} does not exist.")
    run = TrainingRun.from_wire(body)
    done, where = _succeeded(run)
    if not done:
        reason = reasons.SOURCE_FAILED if run_failed(run) else reasons.SOURCE_NOT_READY
        return SourceCheck(reason, f"TrainingRun {ref.name} {where}.", run=run)
    other = trial_run_id(run, ref.trial)
    if other is not None:
        return SourceCheck(
            reasons.SOURCE_NOT_READY,
            f"Reading trial {ref.trial} of TrainingRun {ref.name}.",
            run=run,
            trial_run_id=other,
        )
    status = run.status
    assert status is not None
    digest = (status.artifact_digest or "").removeprefix("sha256:")
    if not status.artifact_uri or not _SHA256.match(digest):
        message = f"TrainingRun {ref.name} succeeded but its status names no artifact URI and sha256 digest."
        return SourceCheck(reasons.SOURCE_NOT_READY, message, run=run)
    lineage = status.lineage
    source = ModelSource(
        uri=status.artifact_uri,
        sha256=digest,
        run_id=status.run_id,
        training_run=run.metadata.name,
        dataset_digest=lineage.dataset_digest if lineage is not None else None,
    )
    return SourceCheck(reasons.SOURCE_NOT_READY, f"TrainingRun {ref.name} succeeded.", source, run)


def trial_source(check: SourceCheck, record: Run | None) -> SourceCheck:
    """The source of a non-best trial from its run in the control plane (None: the run was never recorded)."""
    run = check.run
    assert run is not None
    assert check.trial_run_id is not None
    name = run.metadata.name
    if record is None:
        return SourceCheck(
            reasons.SOURCE_NOT_FOUND, f"TrainingRun {name} recorded no run {check.trial_run_id}.", run=run
        )
    digest = record.artifact_sha256
    if record.status != "Succeeded" or not record.artifact_uri or digest is None:
        message = (
            f"Run {record.run_id} of TrainingRun {name} did not succeed with an artifact (status {record.status})."
        )
        return SourceCheck(reasons.SOURCE_FAILED, message, run=run)
    dataset = record.dataset_digest or (
        run.status.lineage.dataset_digest if run.status and run.status.lineage else None
    )
    source = ModelSource(record.artifact_uri, digest, record.run_id, name, dataset)
    return SourceCheck(reasons.SOURCE_NOT_READY, f"Run {record.run_id} of TrainingRun {name} succeeded.", source, run)


def evaluation_ref(model: ModelVersion, check: SourceCheck) -> DatasetRef | str | None:
    """The evaluation Dataset (None without ``evaluation``), or why there is none (a message: InvalidSpec)."""
    evaluation = model.spec.evaluation
    if evaluation is None:
        return None
    if evaluation.dataset_ref is not None:
        return evaluation.dataset_ref
    run = check.run
    if run is None:
        return "evaluation.datasetRef is required for an external source (there is no training Dataset to default to)"
    digest = check.source.dataset_digest if check.source is not None else None
    return DatasetRef(name=run.spec.dataset_ref.name, digest=digest or run.spec.dataset_ref.digest)
