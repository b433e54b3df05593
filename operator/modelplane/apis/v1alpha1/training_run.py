"""TrainingRun: a training job, or a sweep of them, on a Dataset version.

The operator turns a TrainingRun into Jobs on the node pool its resources ask for; the training code
(built-in scikit-learn trainer or a user image) logs metrics to the control plane and writes an ONNX
artifact; ``output.modelName`` registers that artifact as a ModelVersion.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import ConfigDict, Field

from modelplane.apis.meta import AGE_COLUMN, KindInfo, PrinterColumn, ready_column, reason_column
from modelplane.apis.v1alpha1.base import ApiModel, CustomResource
from modelplane.apis.v1alpha1.common import (
    Digest,
    EnvVar,
    LabelName,
    ResourceName,
    ResourceSpec,
    cel_rules,
    exactly_one,
)
from modelplane.apis.v1alpha1.conditions import Conditions

VERSION = "v1alpha1"
ESTIMATOR_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"


class Task(StrEnum):
    """What a built-in trainer learns."""

    CLASSIFICATION = "Classification"
    REGRESSION = "Regression"


class SweepAlgorithm(StrEnum):
    """How a sweep chooses its trials."""

    GRID = "Grid"
    RANDOM = "Random"


class Direction(StrEnum):
    """Whether the objective metric is better higher or lower."""

    MAXIMIZE = "Maximize"
    MINIMIZE = "Minimize"


class Scale(StrEnum):
    """How a numeric range is sampled."""

    LINEAR = "Linear"
    LOG = "Log"


class DatasetRef(ApiModel):
    """A Dataset in the same namespace, optionally pinned to one content digest."""

    name: ResourceName = Field(description="Name of the Dataset.")
    digest: Digest | None = Field(
        None, description="Use exactly this version (sha256:...); the Dataset's current version when unset."
    )


class BuiltinTrainer(ApiModel):
    """A scikit-learn estimator fitted on the train split and exported to ONNX."""

    estimator: str = Field(
        description=(
            "Estimator class: a scikit-learn name (RandomForestClassifier, LogisticRegression, Ridge, ...) "
            "or a full import path (sklearn.ensemble.GradientBoostingClassifier)."
        ),
        min_length=1,
        max_length=256,
        pattern=ESTIMATOR_PATTERN,
    )
    task: Task = Field(Task.CLASSIFICATION, description="Classification or Regression.")


class CustomTrainer(ApiModel):
    """A user image that trains and logs through the SDK; the operator injects run id, splits and credentials."""

    image: str = Field(description="Container image, preferably pinned by digest.", min_length=1, max_length=1024)
    command: list[str] = Field(default_factory=list, description="Entrypoint override.", max_length=64)
    args: list[str] = Field(default_factory=list, description="Arguments to the entrypoint.", max_length=256)
    env: list[EnvVar] = Field(
        default_factory=list,
        description="Extra environment variables.",
        max_length=128,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )


class Trainer(ApiModel):
    """The training code; exactly one of builtin and custom."""

    model_config = cel_rules(exactly_one("builtin", "custom"))

    builtin: BuiltinTrainer | None = Field(None, description="A built-in scikit-learn trainer.")
    custom: CustomTrainer | None = Field(None, description="A user-provided training image.")


class ParameterRange(ApiModel):
    """A numeric interval to sample from."""

    model_config = cel_rules(
        {"rule": "self.min < self.max", "message": "min must be less than max"},
        {"rule": "self.scale != 'Log' || self.min > 0.0", "message": "a Log range needs min > 0"},
    )

    min: float = Field(description="Lower bound (inclusive).")
    max: float = Field(description="Upper bound (inclusive).")
    scale: Scale = Field(Scale.LINEAR, description="Linear or Log sampling.")
    integer: bool = Field(False, description="Round samples to integers.")
    steps: int | None = Field(None, ge=2, le=100, description="Grid points across the range for a Grid sweep.")


class SweepParameter(ApiModel):
    """One searched hyperparameter, with exactly one of values and range; the trial's value overrides
    spec.hyperparameters."""

    # Exactly one of values/range, said as a property count: `values` holds values of any type, which the
    # API server's CEL cannot see, so no rule may name it.
    model_config = ConfigDict(json_schema_extra={"minProperties": 2, "maxProperties": 2})

    name: str = Field(description="Hyperparameter name.", min_length=1, max_length=128)
    values: list[Any] | None = Field(None, description="Candidate values (any type).", min_length=1, max_length=100)
    range: ParameterRange | None = Field(None, description="A numeric range.")


class Objective(ApiModel):
    """The metric that ranks trials."""

    metric: str = Field(
        description="Metric name logged by the trainer, e.g. accuracy or rmse.", min_length=1, max_length=128
    )
    direction: Direction = Field(Direction.MAXIMIZE, description="Maximize or Minimize.")


class SweepSpec(ApiModel):
    """A hyperparameter search: one child run per trial."""

    model_config = cel_rules(
        {
            "rule": "self.algorithm != 'Random' || has(self.maxTrials)",
            "message": "a Random sweep needs maxTrials",
            "fieldPath": ".maxTrials",
        },
        {
            "rule": "self.algorithm != 'Grid' || self.parameters.all(p, !has(p.range) || has(p.range.steps))",
            "message": "a Grid parameter needs values or a range with steps",
        },
    )

    algorithm: SweepAlgorithm = Field(SweepAlgorithm.GRID, description="Grid or Random search.")
    parameters: list[SweepParameter] = Field(
        description="The searched hyperparameters.",
        min_length=1,
        max_length=32,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    objective: Objective = Field(description="The metric that picks the best trial.")
    max_trials: int | None = Field(None, ge=1, le=1000, description="Most trials to run (required for Random).")
    parallelism: int = Field(1, ge=1, le=100, description="Trials running at once.")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="Seed of a Random search; spec.seed when unset.")


class OutputSpec(ApiModel):
    """What happens with the trained model."""

    model_name: LabelName | None = Field(
        None, description="Register the (best) model as a ModelVersion of this model name on success."
    )


class TrainingRunSpec(ApiModel):
    """Desired state of a TrainingRun."""

    model_config = cel_rules(
        {
            "rule": "!has(self.trainer.builtin) || self.numNodes == 1",
            "message": "built-in trainers run on one node: numNodes must be 1",
            "fieldPath": ".numNodes",
        }
    )

    dataset_ref: DatasetRef = Field(description="The Dataset to train on.")
    trainer: Trainer = Field(description="The training code.")
    hyperparameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Hyperparameters: estimator arguments for built-in trainers, MP_HYPERPARAMETERS for custom ones.",
    )
    sweep: SweepSpec | None = Field(
        None, description="Search hyperparameters with one trial per combination or sample."
    )
    resources: ResourceSpec = Field(
        default_factory=ResourceSpec, description="Compute per pod.", json_schema_extra={"default": {}}
    )
    num_nodes: int = Field(
        1,
        ge=1,
        le=64,
        description="Pods of a distributed run (an indexed Job with a headless Service and rank/world-size env).",
    )
    seed: int = Field(42, ge=0, le=2**31 - 1, description="Random seed; a built-in run is reproducible from it.")
    active_deadline_seconds: int | None = Field(
        None, ge=1, le=2_592_000, description="Fail a training Job still running after this long."
    )
    max_retries: int = Field(0, ge=0, le=10, description="Pod failures tolerated per Job (backoffLimit).")
    suspend: bool = Field(False, description="Create Jobs suspended; a queue such as Kueue admits them.")
    queue_name: LabelName | None = Field(
        None, description="Kueue LocalQueue (kueue.x-k8s.io/queue-name label) admitting the Jobs."
    )
    output: OutputSpec = Field(
        default_factory=OutputSpec,
        description="What to do with the model.",
        json_schema_extra={"default": {}},
    )


class Lineage(ApiModel):
    """Everything needed to reproduce the run."""

    dataset_digest: Digest | None = Field(None, description="Digest of the Dataset version trained on.")
    image_digest: str | None = Field(None, description="Digest of the training image.", max_length=256)
    packages: dict[str, str] = Field(default_factory=dict, description="Python packages and their versions.")
    code_ref: str | None = Field(None, description="Source revision of the training code.", max_length=1024)
    parameters: dict[str, Any] = Field(default_factory=dict, description="Effective hyperparameters.")
    seed: int | None = Field(None, description="Effective seed.")
    node: str | None = Field(None, description="Node that ran the (first) pod.", max_length=253)
    accelerator: str | None = Field(None, description="Accelerator profile used.", max_length=63)


class TrialSummary(ApiModel):
    """Progress of a sweep and its best trial."""

    total: int = Field(0, ge=0, description="Trials planned.")
    succeeded: int = Field(0, ge=0, description="Trials finished successfully.")
    failed: int = Field(0, ge=0, description="Trials failed.")
    running: int = Field(0, ge=0, description="Trials running.")
    best_trial: int | None = Field(None, ge=0, description="Index of the best trial so far.")
    best_value: float | None = Field(None, description="Objective value of the best trial.")
    best_parameters: dict[str, Any] = Field(default_factory=dict, description="Hyperparameters of the best trial.")


class TrainingRunStatus(ApiModel):
    """Observed state of a TrainingRun."""

    observed_generation: int | None = Field(None, ge=0, description="The generation this status was computed from.")
    conditions: Conditions = Field(
        default_factory=list, description="Current conditions: DatasetReady, Running, Succeeded, Ready."
    )
    run_id: str | None = Field(None, description="Run id in the control plane.", max_length=64)
    start_time: datetime | None = Field(None, description="When the first pod started.")
    completion_time: datetime | None = Field(None, description="When the run finished.")
    metrics: dict[str, float] = Field(default_factory=dict, description="Final metrics of the (best) model.")
    artifact_uri: str | None = Field(None, description="URI of the ONNX artifact of the (best) model.")
    artifact_digest: Digest | None = Field(None, description="Digest of that artifact.")
    trials: TrialSummary | None = Field(None, description="Sweep progress, for sweeps.")
    lineage: Lineage | None = Field(None, description="Lineage of the (best) model.")
    model_version: str | None = Field(None, description="The ModelVersion registered from this run.", max_length=253)


class TrainingRun(CustomResource):
    """A training job or hyperparameter sweep on a Dataset version, on CPU, GPU or TPU node pools."""

    kind_info: ClassVar[KindInfo] = KindInfo(
        kind="TrainingRun",
        plural="trainingruns",
        singular="trainingrun",
        short_names=("mptr",),
        version=VERSION,
        printer_columns=(
            ready_column(),
            ready_column("Succeeded"),
            PrinterColumn("Dataset", ".spec.datasetRef.name", description="Dataset trained on."),
            PrinterColumn("Estimator", ".spec.trainer.builtin.estimator", description="Built-in estimator."),
            PrinterColumn("Run", ".status.runId", description="Run id in the control plane.", priority=1),
            reason_column(),
            AGE_COLUMN,
        ),
    )

    spec: TrainingRunSpec = Field(description="Desired state of the TrainingRun.")
    status: TrainingRunStatus | None = Field(None, description="Observed state of the TrainingRun.")
