"""Request and response bodies of the runs API (snake_case JSON, like MLflow's REST API)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from modelplane.api.runs.models import KEY_LENGTH, PARAM_VALUE_LENGTH, TAG_VALUE_LENGTH, RunStatus
from modelplane.api.schemas import RequestBody

Key = Annotated[str, StringConstraints(min_length=1, max_length=KEY_LENGTH, pattern=r"^[\w\-./ :]+$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=253)]
RunId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]


class Strict(RequestBody):
    """Bodies reject unknown fields (a typo is an error, not a silently ignored value) and unstorable text."""


class Param(Strict):
    key: Key = Field(description="Parameter name.")
    value: Annotated[str, StringConstraints(max_length=PARAM_VALUE_LENGTH)] = Field(description="Value, as text.")


class Tag(Strict):
    key: Key = Field(description="Tag name.")
    value: Annotated[str, StringConstraints(max_length=TAG_VALUE_LENGTH)] = Field(description="Value, as text.")


class MetricPoint(BaseModel):
    """One metric point. Not a ``RequestBody``: its only text is the key, whose pattern already excludes
    unstorable characters, and a batch holds a thousand of them (per-field validators cost there)."""

    model_config = ConfigDict(extra="forbid")

    key: Key = Field(description="Metric name.")
    value: float = Field(description="Finite value.", allow_inf_nan=False)
    step: int = Field(0, ge=0, le=2**62, description="Step (epoch, iteration).")
    timestamp: int = Field(ge=0, le=2**62, description="Client time in milliseconds since the epoch.")


class Lineage(Strict):
    """Where a run's model came from; any field may be filled in later by a PATCH."""

    dataset_digest: str | None = Field(None, pattern=r"^sha256:[a-f0-9]{64}$", description="Dataset version.")
    code_ref: str | None = Field(None, max_length=1024, description="Source revision.")
    image_digest: str | None = Field(None, max_length=256, description="Training image digest.")
    packages: dict[str, str] | None = Field(None, description="Package versions.")
    seed: int | None = Field(None, ge=-(2**63), le=2**63 - 1, description="Random seed.")
    hardware: dict[str, Any] | None = Field(None, description="Node, accelerator type and count.")


class RunCreate(Lineage):
    experiment: Name = Field(description="Group of runs, e.g. the TrainingRun name.")
    name: Name | None = Field(None, description="Run name; the run id when unset.")
    run_id: RunId | None = Field(None, description="Client-chosen id (32 hex): creating it again returns the run.")
    parent_run_id: RunId | None = Field(None, description="Parent run of a sweep trial.")
    status: Literal[RunStatus.SCHEDULED, RunStatus.RUNNING] = Field(RunStatus.RUNNING, description="Initial status.")
    start_time: datetime | None = Field(None, description="Start time; now when unset.")
    params: list[Param] = Field(default_factory=list, max_length=100, description="Initial parameters.")
    tags: list[Tag] = Field(default_factory=list, max_length=100, description="Initial tags.")


class RunUpdate(Lineage):
    status: RunStatus | None = Field(None, description="New status; terminal statuses are final.")
    end_time: datetime | None = Field(None, description="End time; now when a terminal status is set without it.")
    artifact_uri: str | None = Field(None, max_length=2048, description="URI of the run's model artifact.")


class LogBatch(Strict):
    metrics: list[MetricPoint] = Field(default_factory=list, description="Metric points (at most 1000).")
    params: list[Param] = Field(default_factory=list, description="Parameters (at most 100); immutable.")
    tags: list[Tag] = Field(default_factory=list, description="Tags (at most 100).")


class LatestMetricOut(BaseModel):
    value: float
    step: int
    timestamp: int


class RunInfo(BaseModel):
    """A run without its params, tags and metrics (the ``info`` projection)."""

    run_id: str
    namespace: str
    experiment: str
    name: str
    status: RunStatus
    start_time: datetime
    end_time: datetime | None
    parent_run_id: str | None
    dataset_digest: str | None
    code_ref: str | None
    image_digest: str | None
    packages: dict[str, Any]
    seed: int | None
    hardware: dict[str, Any]
    artifact_uri: str | None
    created_by: str


class RunOut(RunInfo):
    """A run with its params, tags and latest metrics."""

    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, LatestMetricOut] = Field(default_factory=dict)


class RunSearch(Strict):
    filter: str = Field("", max_length=4096, description="e.g. metrics.accuracy > 0.9 and params.depth = '8'")
    experiment: Name | None = Field(None, description="Only runs of this experiment.")
    order_by: str | None = Field(
        None, max_length=512, description="e.g. metrics.accuracy DESC; newest first by default."
    )
    view: Literal["info", "full"] = Field(
        "full", description="info: run fields only; full: with params, tags, metrics."
    )
    page_size: int = Field(100, ge=1, le=1000, description="Runs per page.")
    page_token: str | None = Field(None, max_length=2048, description="Token of the previous page.")


class MetricHistoryPoint(BaseModel):
    value: float
    step: int
    timestamp: int


class LogBatchResult(BaseModel):
    metrics: int = Field(description="Metric points accepted (including ones already stored).")
    params: int = Field(description="Parameters accepted.")
    tags: int = Field(description="Tags accepted.")
