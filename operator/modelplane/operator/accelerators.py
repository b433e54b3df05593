"""Accelerator profiles: what ``resources.accelerator.type`` means on this cluster.

An administrator names the accelerator pools of the cluster once, in the operator's configuration; a
TrainingRun asks for a profile by name and a count. A profile decides the node selector (with a TPU
topology per chip count, as GKE's TPU node pools want), the tolerations and the extended resource that
is requested (``nvidia.com/gpu``, ``google.com/tpu``). The defaults cover GKE's NVIDIA GPU and Cloud TPU
node pools and a generic ``nvidia-gpu`` for any cluster running NVIDIA's device plugin.

Pure: :func:`resolve_accelerator` turns a spec into a :class:`Placement` or raises
:class:`UnknownAcceleratorError` / :class:`UnsupportedCountError` with a message naming what is known.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from modelplane.apis.v1alpha1.common import Accelerator

NVIDIA_GPU = "nvidia.com/gpu"
GOOGLE_TPU = "google.com/tpu"
GKE_ACCELERATOR = "cloud.google.com/gke-accelerator"
GKE_TPU_ACCELERATOR = "cloud.google.com/gke-tpu-accelerator"
GKE_TPU_TOPOLOGY = "cloud.google.com/gke-tpu-topology"


class Toleration(BaseModel):
    """A pod toleration, as in the Kubernetes API (camelCase keys in files)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    key: str | None = None
    operator: str = "Exists"
    value: str | None = None
    effect: str | None = None
    toleration_seconds: int | None = None

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class AcceleratorProfile(BaseModel):
    """One accelerator pool of the cluster."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    resource_name: str = Field(description="Extended resource requested per device, e.g. nvidia.com/gpu.")
    node_selector: dict[str, str] = Field(default_factory=dict, description="Labels of the pool's nodes.")
    tolerations: tuple[Toleration, ...] = Field(default=(), description="Taints of the pool's nodes to tolerate.")
    topologies: dict[int, str] = Field(
        default_factory=dict,
        description=(
            "Devices per pod → value of the topology label (cloud.google.com/gke-tpu-topology); when set, only "
            "these counts are allowed."
        ),
    )
    topology_label: str = Field(GKE_TPU_TOPOLOGY, description="Node label holding the topology.")
    description: str = Field("", description="For humans: what the pool is.")


def _gpu(product: str, description: str) -> AcceleratorProfile:
    return AcceleratorProfile(
        resource_name=NVIDIA_GPU,
        node_selector={GKE_ACCELERATOR: product},
        tolerations=(Toleration(key=NVIDIA_GPU, operator="Exists", effect="NoSchedule"),),
        description=description,
    )


def _tpu(accelerator: str, topologies: dict[int, str], description: str) -> AcceleratorProfile:
    return AcceleratorProfile(
        resource_name=GOOGLE_TPU,
        node_selector={GKE_TPU_ACCELERATOR: accelerator},
        tolerations=(Toleration(key=GOOGLE_TPU, operator="Exists", effect="NoSchedule"),),
        topologies=topologies,
        description=description,
    )


DEFAULT_PROFILES: dict[str, AcceleratorProfile] = {
    "nvidia-gpu": AcceleratorProfile(
        resource_name=NVIDIA_GPU,
        tolerations=(Toleration(key=NVIDIA_GPU, operator="Exists", effect="NoSchedule"),),
        description="Any NVIDIA GPU node (NVIDIA device plugin), no model pinned.",
    ),
    "nvidia-t4": _gpu("nvidia-tesla-t4", "NVIDIA T4 (GKE)."),
    "nvidia-l4": _gpu("nvidia-l4", "NVIDIA L4 (GKE)."),
    "nvidia-a100": _gpu("nvidia-tesla-a100", "NVIDIA A100 40 GB (GKE)."),
    "nvidia-a100-80gb": _gpu("nvidia-a100-80gb", "NVIDIA A100 80 GB (GKE)."),
    "nvidia-h100": _gpu("nvidia-h100-80gb", "NVIDIA H100 80 GB (GKE)."),
    "tpu-v4": _tpu("tpu-v4-podslice", {4: "2x2x1"}, "Cloud TPU v4, single host (GKE)."),
    "tpu-v5e": _tpu("tpu-v5-lite-podslice", {1: "1x1", 4: "2x2", 8: "2x4"}, "Cloud TPU v5e, single host (GKE)."),
    "tpu-v5p": _tpu("tpu-v5p-slice", {4: "2x2x1"}, "Cloud TPU v5p, single host (GKE)."),
    "tpu-v6e": _tpu("tpu-v6e-slice", {1: "1x1", 4: "2x2", 8: "2x4"}, "Cloud TPU v6e (Trillium), single host (GKE)."),
}
"""The profiles shipped with the operator (documented in docs/operator.md)."""


class UnknownAcceleratorError(ValueError):
    """The spec names a profile the operator's configuration does not have."""


class UnsupportedCountError(ValueError):
    """The profile has topologies and none is for the requested count."""


@dataclass(frozen=True)
class Placement:
    """What a pod gets from its accelerator request."""

    profile: str | None = None
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, Any], ...] = ()
    limits: dict[str, str] = field(default_factory=dict)


def resolve_accelerator(accelerator: Accelerator | None, profiles: Mapping[str, AcceleratorProfile]) -> Placement:
    """The node selector, tolerations and extended-resource limits of an accelerator request (CPU-only: empty)."""
    if accelerator is None:
        return Placement()
    profile = profiles.get(accelerator.type)
    if profile is None:
        known = ", ".join(sorted(profiles)) or "none"
        raise UnknownAcceleratorError(
            f"accelerator type {accelerator.type!r} is not a profile of this operator; known profiles: {known}"
        )
    selector = dict(profile.node_selector)
    if profile.topologies:
        topology = profile.topologies.get(accelerator.count)
        if topology is None:
            allowed = ", ".join(str(c) for c in sorted(profile.topologies))
            raise UnsupportedCountError(
                f"accelerator {accelerator.type!r} supports {allowed} devices per pod, not {accelerator.count}"
            )
        selector[profile.topology_label] = topology
    return Placement(
        profile=accelerator.type,
        node_selector=selector,
        tolerations=tuple(t.to_wire() for t in profile.tolerations),
        limits={profile.resource_name: str(accelerator.count)},
    )


def parse_profiles(document: Any) -> dict[str, AcceleratorProfile]:
    """Profiles from a YAML/JSON document: ``{name: {resourceName, nodeSelector, tolerations, topologies}}``."""
    if not isinstance(document, Mapping):
        raise ValueError("an accelerator profiles document is a mapping from profile name to profile")
    return {str(name): AcceleratorProfile.model_validate(body or {}) for name, body in document.items()}
