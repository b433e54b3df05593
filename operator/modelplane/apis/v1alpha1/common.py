"""Field types shared by several kinds: references, resources, patterns and CEL helpers.

Kept small and declarative; each type's schema (bounds, patterns) becomes part of every CRD that uses it.
"""

from __future__ import annotations

from typing import Annotated, cast

from pydantic import ConfigDict, Field, JsonValue

from modelplane.apis.v1alpha1.base import ApiModel

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SHA256_HEX_PATTERN = r"^[a-f0-9]{64}$"
DIGEST_PATTERN = r"^sha256:[a-f0-9]{64}$"
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
ENV_NAME_PATTERN = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"

ResourceName = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)]
"""The name of another object in the same namespace."""
LabelName = Annotated[str, Field(min_length=1, max_length=63, pattern=DNS_LABEL_PATTERN)]
"""A DNS-1123 label: model names and aliases, which also become label values and child-name parts."""
Digest = Annotated[str, Field(max_length=71, pattern=DIGEST_PATTERN)]
"""A content digest, ``sha256:<64 hex>``."""
Quantity = Annotated[str, Field(max_length=64, pattern=QUANTITY_PATTERN)]
"""A Kubernetes resource quantity such as ``500m``, ``2``, ``4Gi``."""


def cel_rules(*rules: dict[str, str]) -> ConfigDict:
    """Model configuration attaching CEL ``x-kubernetes-validations`` rules to a type's schema.

    The API server evaluates them with the node as ``self``; the local validator does too.
    """
    return ConfigDict(json_schema_extra={"x-kubernetes-validations": cast("list[JsonValue]", list(rules))})


def exactly_one(*fields: str, message: str | None = None) -> dict[str, str]:
    """A CEL rule: exactly one of these optional fields is set."""
    counted = " + ".join(f"(has(self.{f}) ? 1 : 0)" for f in fields)
    return {
        "rule": f"{counted} == 1",
        "message": message or f"exactly one of {', '.join(fields)} must be set",
    }


def at_most_one(*fields: str, message: str | None = None) -> dict[str, str]:
    """A CEL rule: at most one of these optional fields is set."""
    counted = " + ".join(f"(has(self.{f}) ? 1 : 0)" for f in fields)
    return {"rule": f"{counted} <= 1", "message": message or f"at most one of {', '.join(fields)} may be set"}


def min_le_max(low: str, high: str, message: str | None = None) -> dict[str, str]:
    """A CEL rule: ``low <= high`` when both are set."""
    return {
        "rule": f"!has(self.{low}) || !has(self.{high}) || self.{low} <= self.{high}",
        "message": message or f"{low} must be less than or equal to {high}",
    }


class LocalObjectReference(ApiModel):
    """A reference to an object of a known kind in the same namespace."""

    name: ResourceName = Field(description="Name of the referenced object.")


class SecretKeySelector(ApiModel):
    """One key of a Secret in the same namespace."""

    name: ResourceName = Field(description="Name of the Secret.")
    key: str = Field(description="Key in the Secret's data.", min_length=1, max_length=253)


class EnvVar(ApiModel):
    """An environment variable for a user container; a value or a key of a Secret."""

    name: str = Field(description="Name of the variable.", min_length=1, max_length=253, pattern=ENV_NAME_PATTERN)
    value: str | None = Field(None, description="Literal value of the variable.", max_length=32768)
    secret_key_ref: SecretKeySelector | None = Field(None, description="Take the value from a Secret key.")


class Accelerator(ApiModel):
    """Accelerators for one pod, mapped by an admin-defined profile to node selectors, tolerations and limits."""

    type: LabelName = Field(
        description=(
            "Name of an accelerator profile from the operator's configuration, e.g. nvidia-a100, "
            "nvidia-l4, tpu-v5e. The profile decides the node selector, tolerations and the extended "
            "resource (nvidia.com/gpu, google.com/tpu) requested."
        ),
    )
    count: int = Field(1, ge=1, le=64, description="Number of accelerator devices per pod.")


class ResourceSpec(ApiModel):
    """Compute resources for each pod; requests equal limits unless the limits are set apart."""

    cpu: Quantity | None = Field(None, description="CPU request per pod, e.g. 500m or 2.")
    memory: Quantity | None = Field(None, description="Memory request per pod, e.g. 512Mi or 4Gi.")
    cpu_limit: Quantity | None = Field(None, description="CPU limit per pod; no CPU limit when unset.")
    memory_limit: Quantity | None = Field(None, description="Memory limit per pod; defaults to the request.")
    accelerator: Accelerator | None = Field(None, description="Accelerators per pod; CPU-only when unset.")
