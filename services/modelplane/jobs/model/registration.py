"""The registry record of a validated model version, and registering it in the control plane.

Where it sits: the last step of the job, once every check and gate passed. The record carries the
lineage (run, TrainingRun, dataset version), the metrics, the signature, the latency and both digests
(the artifact's and the optimized artifact's). Registration is idempotent by the artifact's sha256: a
retried job gets the same version number back. The registry keeps versions immutable, so a second
ModelVersion with the same artifact but another run or dataset lineage is refused (409): that is an
:class:`InvalidSpec`, not something a retry fixes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelplane.apis.v1alpha1.model_version import ModelVersion, Signature
from modelplane.jobs.context import JobContext, ModelSourceInput
from modelplane.jobs.errors import InvalidSpec
from modelplane.jobs.model.optimize import Optimized
from modelplane.jobs.model.signature import to_wire
from modelplane.sdk.client import ModelPlaneError

PERMANENT_STATUS = frozenset({400, 404, 409, 422})


def registration_fields(
    model_version: ModelVersion,
    source: ModelSourceInput,
    *,
    size_bytes: int,
    signature: Signature,
    metrics: Mapping[str, float],
    optimized: Optimized | None,
    single_inference_microseconds: int | None,
) -> dict[str, Any]:
    """The fields of the registration besides the artifact URI and sha256 (the registry API's snake_case)."""
    fields: dict[str, Any] = {
        "size_bytes": size_bytes,
        "format": model_version.spec.format.value,
        "signature": to_wire(signature),
        "metrics": dict(metrics),
        "run_id": source.run_id,
        "dataset_digest": source.dataset_digest,
        "source": model_version.metadata.name or None,
        "training_run": source.training_run,
        "single_inference_microseconds": single_inference_microseconds,
    }
    if optimized is not None:
        fields["optimized_artifact"] = {
            "uri": optimized.uri,
            "sha256": optimized.sha256,
            "size_bytes": optimized.size_bytes,
            "quantization": optimized.quantization.value,
            "accuracy_delta": optimized.accuracy_delta,
            "single_inference_microseconds": optimized.single_inference_microseconds,
        }
    return fields


def register(ctx: JobContext, model: str, artifact_uri: str, sha256: str, fields: Mapping[str, Any]) -> int:
    """Register the version (or find it registered by its sha256); its version number."""
    extra = dict(fields)
    size_bytes = int(extra.pop("size_bytes"))
    try:
        stored = ctx.client.register_model_version(
            model, artifact_uri=artifact_uri, sha256=sha256, size_bytes=size_bytes, **extra
        )
    except ModelPlaneError as error:
        if error.status in PERMANENT_STATUS:
            raise InvalidSpec(f"the registry refused model {model!r} sha256 {sha256}: {error.message}") from error
        raise
    return int(stored["version"])
