"""Request and response bodies of the model registry API (snake_case JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from modelplane.api.datasets.schemas import Digest, Text, Uri
from modelplane.api.schemas import RequestBody
from modelplane.apis.v1alpha1.common import DNS_LABEL_PATTERN, DNS_SUBDOMAIN_PATTERN, SHA256_HEX_PATTERN
from modelplane.apis.v1alpha1.model_version import ModelFormat, Quantization

ModelName = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=DNS_LABEL_PATTERN)]
RunId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
TagValue = Annotated[str, StringConstraints(max_length=8000)]
MetricName = Annotated[str, StringConstraints(min_length=1, max_length=250, pattern=r"^[\w\-./ :]+$")]
ResourceName = Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)]
Microseconds = Annotated[int, Field(ge=0, le=2**63 - 1)]


class ModelCreate(RequestBody):
    name: ModelName = Field(description="Model name (a DNS label, as ModelVersion.spec.modelName).")
    description: Text = Field("", description="What the model does.")


class ModelOut(BaseModel):
    namespace: str
    name: str
    description: str
    latest_version: int | None = Field(description="Highest version number; none before the first version.")
    aliases: dict[str, int] = Field(description="Alias → version number.")
    created_at: datetime
    updated_at: datetime


class OptimizedArtifact(RequestBody):
    """A derived artifact of a version (a dynamically quantized copy, say), measured against the original."""

    uri: Uri = Field(description="Where the derived artifact is.")
    sha256: str = Field(pattern=SHA256_HEX_PATTERN, description="sha256 (hex) of the derived artifact.")
    size_bytes: int = Field(ge=0, le=2**63 - 1, description="Its size in bytes.")
    quantization: Quantization = Field(description="How it was derived (Dynamic).")
    accuracy_delta: float | None = Field(
        None, allow_inf_nan=False, description="Its primary metric minus the original's on the evaluation split."
    )
    single_inference_microseconds: Microseconds | None = Field(None, description="Latency of one inference.")


class ModelVersionCreate(RequestBody):
    """A version as the validation job (or a user) registers it; its sha256 identifies it."""

    artifact_uri: Uri = Field(description="Where the artifact is (s3://..., file://...).")
    sha256: str = Field(pattern=SHA256_HEX_PATTERN, description="sha256 (hex) of the artifact.")
    size_bytes: int = Field(ge=0, le=2**63 - 1, description="Artifact size in bytes.")
    format: ModelFormat = Field(ModelFormat.ONNX, description="Serialization of the artifact.")
    signature: dict[str, Any] = Field(default_factory=dict, description="Inputs and outputs (names, types, shapes).")
    metrics: dict[MetricName, float] = Field(
        default_factory=dict, max_length=1000, description="Evaluation scores (finite numbers)."
    )
    run_id: RunId | None = Field(None, description="The run that trained it (same namespace).")
    dataset_digest: Digest | None = Field(None, description="The dataset version it was trained on.")
    source: str | None = Field(
        None, min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="ModelVersion resource name."
    )
    training_run: ResourceName | None = Field(None, description="TrainingRun that produced the model.")
    optimized_artifact: OptimizedArtifact | None = Field(None, description="The derived artifact kept, if any.")
    single_inference_microseconds: Microseconds | None = Field(
        None, description="Latency of one inference on sample rows, measured by the validation job."
    )


class ModelVersionOut(BaseModel):
    """An immutable model version with its mutable tags and the aliases pointing at it."""

    namespace: str
    model: str
    version: int
    artifact_uri: str
    sha256: str
    size_bytes: int
    format: str
    signature: dict[str, Any]
    metrics: dict[str, float]
    run_id: str | None
    dataset_digest: str | None
    source: str | None
    training_run: str | None
    optimized_artifact: dict[str, Any] | None
    single_inference_microseconds: int | None
    tags: dict[str, str]
    aliases: list[str]
    created_at: datetime
    created_by: str


class AliasSet(RequestBody):
    version: int = Field(ge=1, le=2**31 - 1, description="Version the alias should point at.")


class AliasOut(BaseModel):
    model: str
    alias: str
    version: int
    updated_at: datetime


class TagSet(RequestBody):
    value: TagValue = Field(description="Tag value.")


class TagOut(BaseModel):
    model: str
    version: int
    key: str
    value: str
