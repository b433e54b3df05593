"""The base classes every v1alpha1 type derives from.

``ApiModel`` fixes the wire conventions once: camelCase aliases, tolerant reads (unknown fields are
ignored, as a client of a newer server would see them), and population by Python name or alias.
``CustomResource`` adds ``apiVersion``, ``kind`` and ``metadata`` and the :class:`~modelplane.apis.meta.
KindInfo` the CRD generator reads.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from modelplane.apis.meta import KindInfo


class ApiModel(BaseModel):
    """A part of a custom resource: camelCase on the wire, unknown fields ignored on read."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        validate_default=False,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-compatible dict a client sends: aliases, no unset optional fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ObjectMeta(ApiModel):
    """The subset of Kubernetes ``ObjectMeta`` that ModelPlane reads; the rest is kept as is."""

    model_config = ConfigDict(extra="allow")

    name: str = Field("", description="Name of the resource, unique in its namespace.")
    namespace: str | None = Field(None, description="Namespace of the resource.")
    uid: str | None = Field(None, description="Unique id set by the API server.")
    generation: int | None = Field(None, description="Sequence number of spec changes, set by the server.")
    resource_version: str | None = Field(None, description="Opaque version for optimistic concurrency.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels of the resource.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Annotations of the resource.")


class CustomResource(ApiModel):
    """A whole object of one of ModelPlane's kinds: ``apiVersion``, ``kind``, ``metadata``, spec, status."""

    kind_info: ClassVar[KindInfo]
    """Names, version and printer columns of the kind, read by the CRD generator."""
    root_validations: ClassVar[tuple[dict[str, str], ...]] = ()
    """CEL rules on the whole object (they may read ``self.metadata.name`` and ``self.spec``)."""

    api_version: str = Field(description="Group and version of the schema, e.g. modelplane.io/v1alpha1.")
    kind: str = Field(description="The kind of the resource.")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")

    @classmethod
    def from_wire(cls, body: Any) -> Self:
        """Parse an object as the API server (or a YAML file) gives it."""
        return cls.model_validate(dict(body))
