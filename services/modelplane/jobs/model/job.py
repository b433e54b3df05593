"""``run_model_validation``: one ModelVersion from artifact to registered, Ready-able version.

Steps: resolve the source (the operator's ``MODELPLANE_MODEL_SOURCE``, else from the resource) → fetch it
and verify its sha256 (:class:`DigestMismatch`) → ONNX checker and ONNX Runtime session
(:class:`InvalidModel`) → infer the signature and compare it with ``spec.signature``
(:class:`SignatureMismatch`) → one inference on sample rows (the evaluation split's first rows, else
zeros shaped by the signature) and the single-call latency → with ``spec.evaluation``: metrics on the
split, threshold gates and ``mustBeatAlias`` (a failure returns a ``GateFailed`` result with every measured
value) → optional dynamic quantization → publish an external artifact into the platform store → register
the version with its lineage (idempotent by sha256).

Failures before the gates raise a :class:`~modelplane.jobs.errors.JobError` (the CLI turns it into the
result and exit code); a gate failure is a result (``succeeded: false``, exit code 3) so that the metrics
and gates reach the condition message. The job never moves aliases: the operator does, once the version
is Ready.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelplane.apis.v1alpha1.model_version import ModelFormat, ModelVersion, Signature
from modelplane.apis.v1alpha1.training_run import Task
from modelplane.jobs.context import DatasetInput, JobContext, ModelSourceInput
from modelplane.jobs.errors import GATE_FAILED, InvalidSpec
from modelplane.jobs.model import check, data, gates, optimize, registration, scoring, signature, source
from modelplane.jobs.model.gates import Baseline, Gate
from modelplane.jobs.model.optimize import Optimized
from modelplane.sdk.client import ModelPlaneError

logger = logging.getLogger(__name__)


@dataclass
class ModelValidationResult:
    """What the validation found; :meth:`to_result` is the JSON the operator reads."""

    name: str
    uid: str | None
    observed_generation: int | None
    source: ModelSourceInput
    succeeded: bool = False
    reason: str | None = None
    message: str | None = None
    registered_version: int | None = None
    artifact: dict[str, Any] | None = None
    optimized: Optimized | None = None
    signature: Signature | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    gates: list[Gate] = field(default_factory=list)
    baseline: Baseline | None = None
    single_inference_microseconds: int | None = None
    evaluation: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_result(self) -> dict[str, Any]:
        return {
            "kind": "ModelVersion",
            "name": self.name,
            "uid": self.uid,
            "observedGeneration": self.observed_generation,
            "succeeded": self.succeeded,
            "reason": self.reason,
            "message": self.message,
            "registeredVersion": self.registered_version,
            "artifact": self.artifact,
            "optimizedArtifact": self.optimized.to_wire() if self.optimized is not None else None,
            "signature": signature.to_wire(self.signature) if self.signature is not None else None,
            "metrics": self.metrics,
            "gates": [g.to_wire() for g in self.gates],
            "baseline": self.baseline.to_wire() if self.baseline is not None else None,
            "singleInferenceMicroseconds": self.single_inference_microseconds,
            "evaluation": self.evaluation,
            "runId": self.source.run_id,
            "trainingRun": self.source.training_run,
            "datasetDigest": self.source.dataset_digest,
        }


def run_model_validation(
    model_version: ModelVersion,
    ctx: JobContext,
    source_input: ModelSourceInput | None = None,
    evaluation: DatasetInput | None = None,
) -> ModelValidationResult:
    """Validate, evaluate, optimize and register one ModelVersion; see the module docstring."""
    if model_version.spec.format != ModelFormat.ONNX:
        raise InvalidSpec(f"format {model_version.spec.format.value} cannot be validated; only Onnx can")
    resolved = source_input or source.resolve_source(model_version, ctx)
    result = ModelValidationResult(
        name=model_version.metadata.name,
        uid=model_version.metadata.uid,
        observed_generation=model_version.metadata.generation,
        source=resolved,
    )
    with tempfile.TemporaryDirectory(prefix="modelplane-validate-", dir=ctx.workdir) as tmp:
        _validate(model_version, ctx, resolved, evaluation, Path(tmp), result)
    return result


def _validate(
    model_version: ModelVersion,
    ctx: JobContext,
    resolved: ModelSourceInput,
    evaluation: DatasetInput | None,
    workdir: Path,
    result: ModelValidationResult,
) -> None:
    spec = model_version.spec
    fetched = source.fetch_artifact(model_version, resolved, ctx, workdir / "artifact")
    result.artifact = {"uri": resolved.uri, "sha256": fetched.sha256, "sizeBytes": fetched.size}
    model = check.check_onnx(fetched.path)
    session = check.open_session(fetched.path)
    inferred = signature.infer_signature(session)
    result.signature = inferred
    signature.check_signature(spec.signature, inferred)
    metadata = dict(session.get_modelmeta().custom_metadata_map)

    split = data.load_evaluation(model_version, ctx, resolved, evaluation, workdir)
    features = data.feature_order(split, metadata) if split is not None else []
    if split is not None:
        result.evaluation = split.describe()
        sample = data.model_inputs(split, inferred, features, rows=data.SAMPLE_ROWS)
        one_row = data.model_inputs(split, inferred, features, rows=1)
    else:
        sample = one_row = signature.synthesize_inputs(inferred)
    check.run(session, sample)
    result.single_inference_microseconds = check.single_call_microseconds(session, one_row)

    task = scoring.infer_task(inferred, metadata)
    measure = _measurer(model, inferred, split, features, task)
    if split is not None:
        result.metrics = _score(session, model, inferred, split, features, task)
    if spec.evaluation is not None:
        result.gates = gates.threshold_gates(spec.evaluation.thresholds, result.metrics)
        if spec.evaluation.must_beat_alias:
            result.baseline = _baseline(ctx, spec.model_name, spec.evaluation.must_beat_alias)
            gate_metrics = [t.metric.value for t in spec.evaluation.thresholds]
            result.gates += gates.baseline_gates(result.baseline, result.metrics, gate_metrics)
        if not all(g.passed for g in result.gates):
            result.reason = GATE_FAILED
            result.message = gates.gate_message(result.gates, result.baseline)
            logger.info("Gates failed for ModelVersion %s: %s.", result.name, result.message)
            return
        if result.baseline is not None:
            result.notes.append(gates.baseline_note(result.baseline))

    def publish(artifact: source.FetchedArtifact) -> str:
        return source.publish(artifact, ctx)

    outcome = optimize.optimize(
        spec.optimize,
        fetched.path,
        original_metric=result.metrics.get(scoring.PRIMARY_METRIC[task]),
        measure=measure,
        sample=one_row,
        publish=publish,
    )
    result.optimized = outcome.artifact
    if outcome.note:
        result.notes.append(outcome.note)

    artifact_uri = publish(fetched) if source.is_external(model_version) else resolved.uri
    result.artifact = {"uri": artifact_uri, "sha256": fetched.sha256, "sizeBytes": fetched.size}
    fields = registration.registration_fields(
        model_version,
        resolved,
        size_bytes=fetched.size,
        signature=inferred,
        metrics=result.metrics,
        optimized=result.optimized,
        single_inference_microseconds=result.single_inference_microseconds,
    )
    result.registered_version = registration.register(ctx, spec.model_name, artifact_uri, fetched.sha256, fields)
    result.succeeded = True
    summary = f"registered as {spec.model_name} version {result.registered_version}"
    if result.gates:
        summary += "; " + gates.gate_message(result.gates)
    result.message = "; ".join([summary, *result.notes])
    logger.info("Validated ModelVersion %s: %s.", result.name, result.message)


def _score(
    session: Any, model: Any, inferred: Signature, split: data.EvaluationData, features: list[str], task: Task
) -> dict[str, float]:
    inputs = data.model_inputs(split, inferred, features)
    predictions = scoring.predict(session, model, inferred, inputs, task)
    return scoring.score(predictions, data.target_values(split))


def _measurer(
    model: Any, inferred: Signature, split: data.EvaluationData | None, features: list[str], task: Task
) -> optimize.PrimaryMetric:
    """Scores another session of the same signature (the quantized model) on the split: its primary metric."""

    def measure(session: Any) -> float | None:
        if split is None:
            return None
        return _score(session, model, inferred, split, features, task).get(scoring.PRIMARY_METRIC[task])

    return measure


def _baseline(ctx: JobContext, model: str, alias: str) -> Baseline:
    try:
        holder = ctx.client.get_alias(model, alias)
    except ModelPlaneError as error:
        if error.status == 404:
            return Baseline(alias, None, {})
        raise
    return Baseline(alias, int(holder["version"]), dict(holder.get("metrics") or {}))
