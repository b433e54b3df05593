"""Records of the control plane as the operator reads them: dataset versions and runs. Pure types.

Only the fields the operator reports, parsed tolerantly (unknown fields ignored), so the operator never
imports the control plane's own schemas (the import-linter independence contract). Read by the pure status
functions; fetched by :mod:`modelplane.operator.controlplane`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CONTENT_ADDRESS = re.compile(r"sha256/[0-9a-f]{2}/(?P<hex>[0-9a-f]{64})$")
ARTIFACT_SHA256_TAG = "artifact_sha256"


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore")


class DatasetVersion(_Tolerant):
    """A dataset version as the control plane records it."""

    version: int
    digest: str
    rows: int | None = None
    columns: int | None = None
    artifacts: dict[str, str] = Field(default_factory=dict)
    profile_uri: str | None = None
    data_schema: dict[str, Any] = Field(default_factory=dict, alias="schema")
    source: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None


class LatestMetric(_Tolerant):
    value: float


class Run(_Tolerant):
    """A run as the control plane records it (the fields the operator reports)."""

    run_id: str
    status: str
    experiment: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    dataset_digest: str | None = None
    code_ref: str | None = None
    image_digest: str | None = None
    packages: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None
    hardware: dict[str, Any] = Field(default_factory=dict)
    artifact_uri: str | None = None
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, LatestMetric] = Field(default_factory=dict)

    @property
    def metric_values(self) -> dict[str, float]:
        return {key: metric.value for key, metric in self.metrics.items()}

    @property
    def artifact_sha256(self) -> str | None:
        """The model artifact's sha256 (hex): from a content-addressed URI, else the ``artifact_sha256`` tag."""
        if self.artifact_uri:
            match = CONTENT_ADDRESS.search(self.artifact_uri)
            if match:
                return match["hex"]
        tag = self.tags.get(ARTIFACT_SHA256_TAG)
        return tag if tag and re.fullmatch(r"[0-9a-f]{64}", tag) else None
