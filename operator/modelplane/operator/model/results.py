"""The validation job's result and the registry's record, read into a ModelVersion's status, and the sentences
that quote them (gates with their measured values). Pure; used by :mod:`modelplane.operator.model.status`.

The result is the job's termination message (docs/jobs.md, "Model validation"), parsed field by field and
tolerantly: a field that does not fit the status schema is left out rather than failing the pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from modelplane.apis.v1alpha1 import ModelVersionStatus
from modelplane.apis.v1alpha1.model_version import ArtifactInfo, OptimizedArtifact, Signature
from modelplane.operator.model.records import ModelVersionRecord
from modelplane.operator.model.sources import ModelSource

MAX_METRICS_IN_MESSAGE = 8
M = TypeVar("M", bound=BaseModel)


def _parsed(kind: type[M], value: Any) -> M | None:
    if not isinstance(value, Mapping):
        return None
    try:
        return kind.model_validate(dict(value))
    except ValidationError:
        return None


def _metrics(value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        return {}
    return {
        str(k): float(v)
        for k, v in value.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }


def _text(value: Any, limit: int) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def _count(value: Any, least: int) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= least else None


def from_result(status: ModelVersionStatus, result: Mapping[str, Any]) -> None:
    status.artifact = _parsed(ArtifactInfo, result.get("artifact")) or status.artifact
    status.optimized_artifact = _parsed(OptimizedArtifact, result.get("optimizedArtifact"))
    status.signature = _parsed(Signature, result.get("signature")) or status.signature
    status.metrics = _metrics(result.get("metrics")) or status.metrics
    status.single_inference_microseconds = _count(result.get("singleInferenceMicroseconds"), 0)
    status.registered_version = _count(result.get("registeredVersion"), 1) or status.registered_version
    status.run_id = _text(result.get("runId"), 64) or status.run_id
    status.training_run = _text(result.get("trainingRun"), 253) or status.training_run
    status.dataset_digest = _text(result.get("datasetDigest"), 71) or status.dataset_digest


def from_record(status: ModelVersionStatus, record: ModelVersionRecord) -> None:
    status.registered_version = record.version
    status.artifact = (
        _parsed(ArtifactInfo, {"uri": record.artifact_uri, "sha256": record.sha256, "sizeBytes": record.size_bytes})
        or status.artifact
    )
    status.signature = _parsed(Signature, record.signature) or status.signature
    status.metrics = _metrics(record.metrics) or status.metrics
    status.run_id = _text(record.run_id, 64) or status.run_id
    status.dataset_digest = _text(record.dataset_digest, 71) or status.dataset_digest
    status.training_run = _text(record.training_run, 253) or status.training_run
    status.optimized_artifact = _parsed(OptimizedArtifact, record.optimized_artifact) or status.optimized_artifact
    latency = _count(record.single_inference_microseconds, 0)
    status.single_inference_microseconds = latency if latency is not None else status.single_inference_microseconds
    status.aliases = sorted(record.aliases)


def from_source(status: ModelVersionStatus, source: ModelSource | None) -> None:
    if source is None:
        return
    status.training_run = _text(source.training_run, 253) or status.training_run
    status.run_id = _text(source.run_id, 64) or status.run_id
    status.dataset_digest = _text(source.dataset_digest, 71) or status.dataset_digest


def _number(value: float) -> str:
    return f"{value:.4g}"


def gate_text(gate: Mapping[str, Any]) -> str:
    """One gate as ``accuracy 0.81 < min 0.9`` (failed) or ``accuracy 0.95 >= min 0.9`` (passed)."""
    metric = str(gate.get("metric", "?"))
    value, low, high = gate.get("value"), gate.get("min"), gate.get("max")
    if not isinstance(value, int | float):
        return f"{metric} not measured"
    bounds: list[str] = []
    if isinstance(low, int | float):
        bounds.append(f"{'>=' if value >= low else '<'} min {_number(low)}")
    if isinstance(high, int | float):
        bounds.append(f"{'<=' if value <= high else '>'} max {_number(high)}")
    return f"{metric} {_number(value)} {' and '.join(bounds)}".rstrip()


def gates_of(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    gates = result.get("gates")
    return [g for g in gates if isinstance(g, Mapping)] if isinstance(gates, list) else []


def _baseline_text(result: Mapping[str, Any]) -> str:
    baseline = result.get("baseline")
    if not isinstance(baseline, Mapping) or not baseline.get("alias"):
        return ""
    version = baseline.get("version")
    held = f" (version {version})" if version is not None else " (no version holds it: nothing to beat)"
    return f" Compared with {baseline['alias']}{held}."


def evaluation_message(result: Mapping[str, Any], *, passed: bool, fallback: str) -> str:
    """The Evaluated message: every gate with its measured value, failed ones first."""
    gates = gates_of(result)
    failed = [gate_text(g) for g in gates if not g.get("passed")]
    held = [gate_text(g) for g in gates if g.get("passed")]
    baseline = _baseline_text(result)
    if not gates:
        return (fallback or "The evaluation gates failed.") + baseline
    if passed or not failed:
        return f"Gates passed: {'; '.join(held)}.{baseline}"
    tail = f" Passed: {'; '.join(held)}." if held else ""
    return f"Gates failed: {'; '.join(failed)}.{tail}{baseline}"


def metrics_text(metrics: Mapping[str, float]) -> str:
    shown = sorted(metrics.items())[:MAX_METRICS_IN_MESSAGE]
    return ", ".join(f"{k} {_number(v)}" for k, v in shown)
