"""ModelVersion: one immutable, validated ONNX model in the registry.

Created by a TrainingRun (``output.modelName``) or by hand for a model trained elsewhere. The validation
job checks the artifact's digest, loads it in ONNX Runtime, checks its signature and runs the evaluation
gates; only a Ready ModelVersion can be served by an InferenceService or a Rollout.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from modelplane.apis.meta import AGE_COLUMN, KindInfo, PrinterColumn, ready_column, reason_column
from modelplane.apis.v1alpha1.base import ApiModel, CustomResource
from modelplane.apis.v1alpha1.common import (
    SHA256_HEX_PATTERN,
    LabelName,
    ResourceName,
    SecretKeySelector,
    cel_rules,
    exactly_one,
)
from modelplane.apis.v1alpha1.conditions import Conditions
from modelplane.apis.v1alpha1.training_run import DatasetRef

VERSION = "v1alpha1"


class ModelFormat(StrEnum):
    """Serialization of the model artifact."""

    ONNX = "Onnx"


class TensorDatatype(StrEnum):
    """Tensor element types, named as in the Open Inference Protocol v2."""

    BOOL = "BOOL"
    UINT8 = "UINT8"
    UINT16 = "UINT16"
    UINT32 = "UINT32"
    UINT64 = "UINT64"
    INT8 = "INT8"
    INT16 = "INT16"
    INT32 = "INT32"
    INT64 = "INT64"
    FP16 = "FP16"
    FP32 = "FP32"
    FP64 = "FP64"
    BYTES = "BYTES"


class EvaluationSplit(StrEnum):
    """Which split of the evaluation Dataset is scored."""

    TRAIN = "Train"
    VALIDATION = "Validation"
    TEST = "Test"


class GateMetric(StrEnum):
    """Standard metrics the evaluation computes (names as logged in the control plane)."""

    ACCURACY = "accuracy"
    F1 = "f1"
    PRECISION = "precision"
    RECALL = "recall"
    ROC_AUC = "roc_auc"
    LOG_LOSS = "log_loss"
    RMSE = "rmse"
    MAE = "mae"
    R2 = "r2"


class Quantization(StrEnum):
    """Derived, optimized artifacts."""

    NONE = "None"
    DYNAMIC = "Dynamic"


class RetentionPolicy(StrEnum):
    """What deleting the ModelVersion does to its artifact."""

    RETAIN = "Retain"
    DELETE = "Delete"


class TrainingRunSource(ApiModel):
    """The model produced by a TrainingRun in the same namespace."""

    name: ResourceName = Field(description="Name of the TrainingRun.")
    trial: int | None = Field(None, ge=0, description="Trial of a sweep; the best trial when unset.")


class ExternalSource(ApiModel):
    """A model trained elsewhere: an artifact URI and the digest it must have."""

    uri: str = Field(
        description="s3://bucket/key or https:// URL of the .onnx file.",
        max_length=2048,
        pattern=r"^(s3|https?)://",
    )
    sha256: str = Field(
        description="Expected sha256 (hex) of the artifact; a mismatch is a permanent failure.",
        pattern=SHA256_HEX_PATTERN,
    )
    endpoint: str | None = Field(
        None,
        description="S3 endpoint URL for s3:// URIs outside the platform store.",
        max_length=2048,
        pattern=r"^https?://",
    )
    access_key_id_ref: SecretKeySelector | None = Field(None, description="Secret key holding the S3 access key id.")
    secret_access_key_ref: SecretKeySelector | None = Field(None, description="Secret key holding the S3 secret key.")


class ModelSource(ApiModel):
    """Where the artifact comes from; exactly one source is set."""

    model_config = cel_rules(exactly_one("trainingRunRef", "external"))

    training_run_ref: TrainingRunSource | None = Field(None, description="The output of a TrainingRun.")
    external: ExternalSource | None = Field(None, description="An artifact from outside ModelPlane.")


class TensorSpec(ApiModel):
    """Name, element type and shape of one input or output tensor."""

    name: str = Field(description="Tensor name in the ONNX graph.", min_length=1, max_length=256)
    datatype: TensorDatatype = Field(description="Element type (Open Inference Protocol v2 names).")
    shape: list[int] = Field(description="Dimensions; -1 marks a dynamic dimension such as the batch.", max_length=16)


class Signature(ApiModel):
    """The model's interface; when declared, the inferred signature must match it."""

    inputs: list[TensorSpec] = Field(
        default_factory=list,
        description="Input tensors.",
        max_length=256,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    outputs: list[TensorSpec] = Field(
        default_factory=list,
        description="Output tensors.",
        max_length=256,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )


class Threshold(ApiModel):
    """A gate on one metric: the measured value must be within [min, max]."""

    model_config = cel_rules(
        {"rule": "has(self.min) || has(self.max)", "message": "a threshold needs min or max"},
        {
            "rule": "!has(self.min) || !has(self.max) || self.min <= self.max",
            "message": "min must be less than or equal to max",
        },
    )

    metric: GateMetric = Field(description="The metric, e.g. accuracy or rmse.")
    min: float | None = Field(None, description="Smallest acceptable value (for higher-is-better metrics).")
    max: float | None = Field(None, description="Largest acceptable value (for lower-is-better metrics).")


class EvaluationSpec(ApiModel):
    """Evaluation gates: metrics measured on a Dataset split that the version must pass to be Ready."""

    dataset_ref: DatasetRef | None = Field(
        None, description="Dataset to evaluate on; the training Dataset of the source run when unset."
    )
    split: EvaluationSplit = Field(EvaluationSplit.TEST, description="Which split to score.")
    thresholds: list[Threshold] = Field(
        default_factory=list,
        description="Gates; a failed gate leaves the version not Ready with the measured values in the message.",
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["metric"]},
    )
    must_beat_alias: LabelName | None = Field(
        None,
        description="Also require beating the version that holds this alias (e.g. champion) on every gate metric.",
    )


class OptimizeSpec(ApiModel):
    """Derived artifacts recorded beside the original, each with its digest and measured deltas."""

    quantization: Quantization = Field(
        Quantization.NONE, description="None, or Dynamic (ONNX Runtime dynamic quantization)."
    )
    max_accuracy_drop: float | None = Field(
        None, ge=0, le=1, description="Discard the optimized artifact when accuracy falls by more than this."
    )


class ModelVersionSpec(ApiModel):
    """Desired state of a ModelVersion."""

    model_name: LabelName = Field(description="The registered model this is a version of.")
    source: ModelSource = Field(description="Where the artifact comes from.")
    format: ModelFormat = Field(ModelFormat.ONNX, description="Artifact format; ONNX is the serving format.")
    signature: Signature | None = Field(None, description="Declared signature; inferred from the model when unset.")
    evaluation: EvaluationSpec | None = Field(None, description="Evaluation gates.")
    optimize: OptimizeSpec = Field(
        default_factory=OptimizeSpec,
        description="Derived, optimized artifacts.",
        json_schema_extra={"default": {}},
    )
    aliases: list[LabelName] = Field(
        default_factory=list,
        description="Aliases (champion, staging, ...) unique per model: setting one here moves it to this version.",
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    retention_policy: RetentionPolicy = Field(
        RetentionPolicy.RETAIN, description="Retain or Delete the artifact when the ModelVersion is deleted."
    )


class ArtifactInfo(ApiModel):
    """One stored artifact."""

    uri: str = Field(description="Where the artifact is.", max_length=2048)
    sha256: str = Field(description="sha256 (hex) of the artifact.", pattern=SHA256_HEX_PATTERN)
    size_bytes: int = Field(ge=0, description="Size in bytes.")


class OptimizedArtifact(ArtifactInfo):
    """A derived artifact and how it compares with the original."""

    quantization: Quantization = Field(description="How it was derived.")
    accuracy_delta: float | None = Field(None, description="Its metric minus the original's on the evaluation split.")
    single_inference_microseconds: int | None = Field(None, ge=0, description="Latency of one inference.")


class ModelVersionStatus(ApiModel):
    """Observed state of a ModelVersion."""

    observed_generation: int | None = Field(None, ge=0, description="The generation this status was computed from.")
    conditions: Conditions = Field(default_factory=list, description="Current conditions: Validated, Evaluated, Ready.")
    registered_version: int | None = Field(None, ge=1, description="Version number of the model in the registry.")
    artifact: ArtifactInfo | None = Field(None, description="The verified artifact.")
    optimized_artifact: OptimizedArtifact | None = Field(None, description="The derived artifact, if any.")
    signature: Signature | None = Field(None, description="The signature inferred from the model.")
    metrics: dict[str, float] = Field(default_factory=dict, description="Measured evaluation metrics.")
    single_inference_microseconds: int | None = Field(
        None, ge=0, description="Latency of one inference on sample rows."
    )
    aliases: list[str] = Field(
        default_factory=list, description="Aliases this version holds in the registry.", max_length=16
    )
    training_run: str | None = Field(None, description="TrainingRun that produced the model.", max_length=253)
    run_id: str | None = Field(None, description="Run id in the control plane.", max_length=64)
    dataset_digest: str | None = Field(None, description="Digest of the Dataset version trained on.", max_length=71)


class ModelVersion(CustomResource):
    """A validated ONNX model version: verified artifact, signature, evaluation gates, aliases and lineage."""

    kind_info: ClassVar[KindInfo] = KindInfo(
        kind="ModelVersion",
        plural="modelversions",
        singular="modelversion",
        short_names=("mpmv",),
        version=VERSION,
        printer_columns=(
            ready_column(),
            PrinterColumn("Model", ".spec.modelName", description="Registered model name."),
            PrinterColumn("Version", ".status.registeredVersion", "integer", "Version number in the registry."),
            PrinterColumn("Aliases", ".status.aliases", description="Aliases held by this version."),
            PrinterColumn("Digest", ".status.artifact.sha256", description="sha256 of the artifact.", priority=1),
            reason_column(),
            AGE_COLUMN,
        ),
    )

    spec: ModelVersionSpec = Field(description="Desired state of the ModelVersion.")
    status: ModelVersionStatus | None = Field(None, description="Observed state of the ModelVersion.")
