"""InferenceService: ONNX Runtime servers for Ready ModelVersions behind one Open Inference Protocol v2 URL.

The operator resolves the model reference to a Ready ModelVersion and builds the Deployment(s), Service,
HPA, PodDisruptionBudget and ConfigMap; ``spec.traffic`` (written by a Rollout) splits real requests
between versions through the router.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from modelplane.apis.meta import AGE_COLUMN, KindInfo, PrinterColumn, ready_column, reason_column
from modelplane.apis.v1alpha1.base import ApiModel, CustomResource
from modelplane.apis.v1alpha1.common import (
    LabelName,
    LocalObjectReference,
    ResourceName,
    ResourceSpec,
    cel_rules,
    exactly_one,
)
from modelplane.apis.v1alpha1.conditions import Conditions
from modelplane.apis.v1alpha1.training_run import DatasetRef

VERSION = "v1alpha1"


class ScalingMetric(StrEnum):
    """What the autoscaler tracks."""

    CPU = "Cpu"
    CONCURRENCY = "Concurrency"


class GraphOptimizationLevel(StrEnum):
    """ONNX Runtime graph optimization level."""

    DISABLED = "Disabled"
    BASIC = "Basic"
    EXTENDED = "Extended"
    ALL = "All"


class LoggerMode(StrEnum):
    """What the payload logger records."""

    NONE = "None"
    REQUEST = "Request"
    RESPONSE = "Response"
    ALL = "All"


class DriftMethod(StrEnum):
    """The drift statistic; Auto picks one per feature from its type and the sample size."""

    AUTO = "Auto"
    PSI = "Psi"
    KOLMOGOROV_SMIRNOV = "KolmogorovSmirnov"
    CHI_SQUARE = "ChiSquare"
    JENSEN_SHANNON = "JensenShannon"
    WASSERSTEIN = "Wasserstein"


class ModelAliasRef(ApiModel):
    """The version of a registered model that currently holds an alias."""

    name: LabelName = Field(description="Registered model name.")
    alias: LabelName = Field("champion", description="Alias to follow; a moved alias rolls the service forward.")


class Replicas(ApiModel):
    """Bounds of the replica count."""

    model_config = cel_rules(
        {
            "rule": "self.min <= self.max",
            "message": "replicas.min must be less than or equal to replicas.max",
        }
    )

    min: int = Field(1, ge=0, le=1000, description="Fewest replicas (0 scales to zero when idle).")
    max: int = Field(1, ge=1, le=1000, description="Most replicas.")


class Autoscaling(ApiModel):
    """Horizontal autoscaling between replicas.min and replicas.max."""

    model_config = cel_rules(
        {
            "rule": "self.metric != 'Cpu' || self.target <= 100",
            "message": "a Cpu target is a utilization percentage (1..100)",
            "fieldPath": ".target",
        }
    )

    metric: ScalingMetric = Field(ScalingMetric.CPU, description="Cpu utilization or in-flight requests per replica.")
    target: int = Field(70, ge=1, le=10000, description="Target value: percent for Cpu, requests for Concurrency.")


class Batching(ApiModel):
    """Dynamic batching of concurrent requests to the same model."""

    max_batch_size: int = Field(32, ge=1, le=4096, description="Most rows merged into one inference.")
    max_latency_ms: int = Field(5, ge=0, le=1000, description="Longest a request waits for others to join its batch.")


class RuntimeSpec(ApiModel):
    """ONNX Runtime session options."""

    intra_op_threads: int | None = Field(
        None, ge=1, le=256, description="Threads inside one operator; cores when unset."
    )
    inter_op_threads: int | None = Field(None, ge=1, le=256, description="Threads across operators.")
    graph_optimization_level: GraphOptimizationLevel = Field(
        GraphOptimizationLevel.ALL, description="Graph optimizations."
    )
    use_optimized_artifact: bool = Field(False, description="Serve the ModelVersion's optimized artifact when present.")


class LoggerSpec(ApiModel):
    """Sampled, asynchronous payload logging; the input of drift monitoring."""

    mode: LoggerMode = Field(LoggerMode.NONE, description="None, Request, Response or All.")
    sample_rate: float = Field(0.1, ge=0, le=1, description="Fraction of requests logged.")
    include_errors: bool = Field(True, description="Also log requests that failed.")


class MonitoringSpec(ApiModel):
    """Drift of the logged inputs against a Dataset version's profile."""

    reference_dataset_ref: DatasetRef | None = Field(
        None, description="Reference Dataset; the training Dataset of the served version when unset."
    )
    method: DriftMethod = Field(DriftMethod.AUTO, description="Drift statistic.")
    threshold: float = Field(0.2, gt=0, le=100, description="Drift score above which a feature has drifted.")
    window_seconds: int = Field(3600, ge=60, le=2_592_000, description="Window of logged requests compared.")
    retrain_training_run: ResourceName | None = Field(
        None, description="TrainingRun to copy and start when drift crosses the threshold."
    )


class TrafficTarget(ApiModel):
    """A share of the requests for one ModelVersion."""

    model_version: ResourceName = Field(description="ModelVersion name.")
    weight: int = Field(ge=0, le=100, description="Percent of requests.")


class InferenceServiceSpec(ApiModel):
    """Desired state of an InferenceService."""

    model_config = cel_rules(
        exactly_one("modelVersionRef", "modelRef"),
        {
            "rule": "!has(self.traffic) || size(self.traffic) == 0 || self.traffic.map(t, t.weight).sum() == 100",
            "message": "traffic weights must sum to 100",
            "fieldPath": ".traffic",
        },
    )

    model_version_ref: LocalObjectReference | None = Field(None, description="The ModelVersion to serve.")
    model_ref: ModelAliasRef | None = Field(None, description="Serve whichever version holds an alias of a model.")
    replicas: Replicas = Field(
        default_factory=Replicas, description="Replica bounds.", json_schema_extra={"default": {}}
    )
    autoscaling: Autoscaling | None = Field(
        None, description="Horizontal autoscaling; fixed at replicas.min when unset."
    )
    resources: ResourceSpec = Field(
        default_factory=ResourceSpec, description="Compute per replica.", json_schema_extra={"default": {}}
    )
    batching: Batching | None = Field(None, description="Dynamic batching; off when unset.")
    runtime: RuntimeSpec = Field(
        default_factory=RuntimeSpec, description="ONNX Runtime options.", json_schema_extra={"default": {}}
    )
    logger: LoggerSpec = Field(
        default_factory=LoggerSpec, description="Payload logging.", json_schema_extra={"default": {}}
    )
    monitoring: MonitoringSpec | None = Field(None, description="Drift monitoring and automated retraining.")
    traffic: list[TrafficTarget] = Field(
        default_factory=list,
        description=(
            "Request split between versions, written by a Rollout; all traffic to the resolved version when empty."
        ),
        max_length=10,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["modelVersion"]},
    )


class ServedVersion(ApiModel):
    """A version being served and its share."""

    model_version: str = Field(description="ModelVersion name.", max_length=253)
    weight: int = Field(ge=0, le=100, description="Percent of requests.")
    ready_replicas: int = Field(0, ge=0, description="Ready replicas serving it.")


class InferenceServiceStatus(ApiModel):
    """Observed state of an InferenceService."""

    observed_generation: int | None = Field(None, ge=0, description="The generation this status was computed from.")
    conditions: Conditions = Field(default_factory=list, description="Current conditions: ModelResolved, Ready.")
    url: str | None = Field(None, description="Base URL of the Open Inference Protocol v2 endpoint.", max_length=2048)
    ready_replicas: int = Field(0, ge=0, description="Ready replicas over all versions.")
    traffic: list[ServedVersion] = Field(
        default_factory=list, description="Versions served and their shares.", max_length=10
    )


class InferenceService(CustomResource):
    """An ONNX Runtime model server speaking Open Inference Protocol v2, autoscaled and monitored."""

    kind_info: ClassVar[KindInfo] = KindInfo(
        kind="InferenceService",
        plural="inferenceservices",
        singular="inferenceservice",
        short_names=("mpisvc",),
        version=VERSION,
        printer_columns=(
            ready_column(),
            PrinterColumn("URL", ".status.url", description="Inference endpoint."),
            PrinterColumn("Versions", ".status.traffic[*].modelVersion", description="ModelVersions served."),
            PrinterColumn("Replicas", ".status.readyReplicas", "integer", "Ready replicas."),
            reason_column(),
            AGE_COLUMN,
        ),
    )

    spec: InferenceServiceSpec = Field(description="Desired state of the InferenceService.")
    status: InferenceServiceStatus | None = Field(None, description="Observed state of the InferenceService.")
