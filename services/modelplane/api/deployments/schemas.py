"""Request and response bodies of the deployments API (snake_case JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, Field, StringConstraints, model_validator

from modelplane.api.datasets.schemas import Text
from modelplane.api.registry.schemas import ModelName
from modelplane.api.schemas import RequestBody
from modelplane.apis.v1alpha1.common import DNS_SUBDOMAIN_PATTERN

ResourceName = Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)]
VersionNumber = Annotated[int, Field(ge=1, le=2**31 - 1)]
Percent = Annotated[int, Field(ge=0, le=100)]
MAX_TARGETS = 64


class TrafficTarget(RequestBody):
    model: ModelName = Field(description="Registered model name.")
    version: VersionNumber = Field(description="Version number of the model.")
    percent: Percent = Field(description="Share of the service's requests, in percent.")


class TrafficSplit(RequestBody):
    traffic: list[TrafficTarget] = Field(
        max_length=MAX_TARGETS, description="The versions serving now; percents sum to 100."
    )


class DeploymentOut(BaseModel):
    """A model version served by a service with a traffic share over a period (open while ended_at is null)."""

    id: int
    namespace: str
    service: str
    model: str
    version: int
    percent: int
    started_at: datetime
    ended_at: datetime | None
    active: bool
    created_by: str


class TrafficOut(BaseModel):
    """The split in force after the request, and whether the request changed it."""

    namespace: str
    service: str
    traffic: list[DeploymentOut]
    changed: bool


class RolloutEventCreate(RequestBody):
    service: ResourceName = Field(description="InferenceService the rollout drives.")
    model: ModelName | None = Field(None, description="Model of the version concerned, with version.")
    version: VersionNumber | None = Field(None, description="Version concerned, with model.")
    event: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Z][A-Za-z0-9]*$", description="CamelCase word: WeightChanged, ..."
    )
    weight: Percent | None = Field(None, description="Candidate weight after the event, in percent.")
    message: Text = Field("", description="What happened, for humans.")

    @model_validator(mode="after")
    def _model_with_version(self) -> Self:
        if (self.model is None) != (self.version is None):
            raise ValueError("model and version go together: give both or neither")
        return self


class RolloutEventOut(BaseModel):
    id: int
    namespace: str
    rollout: str
    service: str
    model: str | None
    version: int | None
    event: str
    weight: int | None
    message: str
    at: datetime
    created_by: str
