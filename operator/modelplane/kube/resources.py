"""The resource types ModelPlane reads and writes, and their API paths.

No discovery: the operator touches a fixed, small set of kinds (its own five, Jobs, Services, Pods), so
each is declared once with its plural and scope. ``resource_of`` finds the type of an object by its
``apiVersion`` and ``kind``, which is what server-side apply needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from modelplane.apis.v1alpha1 import KINDS


@dataclass(frozen=True)
class ResourceType:
    """One kind of object as the API serves it."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """``/api[s]/<group/version>[/namespaces/<ns>]/<plural>[/<name>[/<subresource>]]``."""
        base = f"/apis/{self.api_version}" if "/" in self.api_version else f"/api/{self.api_version}"
        if self.namespaced and namespace is not None:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
            if subresource is not None:
                base += f"/{subresource}"
        return base


JOBS = ResourceType("batch/v1", "Job", "jobs")
SERVICES = ResourceType("v1", "Service", "services")
PODS = ResourceType("v1", "Pod", "pods")
EVENTS = ResourceType("v1", "Event", "events")
DEPLOYMENTS = ResourceType("apps/v1", "Deployment", "deployments")
HPAS = ResourceType("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers")
PDBS = ResourceType("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets")

MODELPLANE: dict[str, ResourceType] = {
    kind.kind_info.kind: ResourceType(kind.kind_info.api_version, kind.kind_info.kind, kind.kind_info.plural)
    for kind in KINDS
}
"""ModelPlane's own kinds by kind name."""

DATASETS = MODELPLANE["Dataset"]
TRAINING_RUNS = MODELPLANE["TrainingRun"]
MODEL_VERSIONS = MODELPLANE["ModelVersion"]
INFERENCE_SERVICES = MODELPLANE["InferenceService"]

KNOWN: dict[tuple[str, str], ResourceType] = {
    (r.api_version, r.kind): r for r in (JOBS, SERVICES, PODS, EVENTS, DEPLOYMENTS, HPAS, PDBS, *MODELPLANE.values())
}


class UnknownResourceError(LookupError):
    """An object of a kind this package does not declare."""


def resource_of(obj: Mapping[str, Any]) -> ResourceType:
    """The resource type of an object, by its ``apiVersion`` and ``kind``."""
    key = (str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    try:
        return KNOWN[key]
    except KeyError:
        raise UnknownResourceError(f"no resource type is declared for {key[0]} {key[1]}") from None
