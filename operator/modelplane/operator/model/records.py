"""The model registry's records as the operator reads them: a registered model and one of its versions. Pure types.

Only the fields the operator mirrors into a ModelVersion's status, parsed tolerantly (unknown fields ignored),
so the operator never imports the control plane's schemas (the import-linter independence contract). Fetched by
:mod:`modelplane.operator.controlplane`; read by :mod:`modelplane.operator.model.status`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RegisteredModel(_Tolerant):
    """A model of the registry: its name, newest version and where its aliases point."""

    name: str
    latest_version: int | None = None
    aliases: dict[str, int] = Field(default_factory=dict)

    def aliases_of(self, version: int) -> list[str]:
        """The aliases pointing at ``version``, sorted."""
        return sorted(alias for alias, target in self.aliases.items() if target == version)


class ModelVersionRecord(_Tolerant):
    """One registered version: artifact, signature, metrics and lineage as the control plane holds them."""

    model: str
    version: int
    artifact_uri: str
    sha256: str
    size_bytes: int
    signature: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    run_id: str | None = None
    dataset_digest: str | None = None
    source: str | None = None
    training_run: str | None = None
    optimized_artifact: dict[str, Any] | None = None
    single_inference_microseconds: int | None = None
    aliases: list[str] = Field(default_factory=list)
