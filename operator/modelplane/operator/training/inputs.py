"""What a TrainingRun trains on: the Dataset version it resolved, and whether the Dataset is usable. Pure.

A run pins its Dataset version when its first Job is created (the version travels in every Job's
``modelplane.io/dataset`` annotation and ``MODELPLANE_DATASET``), so a Dataset refreshed in the middle
of a sweep does not change what later trials train on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelplane.apis.meta import GROUP
from modelplane.apis.v1alpha1 import Dataset
from modelplane.apis.v1alpha1.conditions import ConditionStatus, find_condition
from modelplane.apis.v1alpha1.training_run import DatasetRef
from modelplane.operator.podspec import compact_json, json_object
from modelplane.operator.records import DatasetVersion
from modelplane.operator.training import reasons

ANNOTATION_DATASET = f"{GROUP}/dataset"


@dataclass(frozen=True)
class DatasetInfo:
    """The Dataset version a run trains on (``MODELPLANE_DATASET``)."""

    name: str
    digest: str
    version: str | None = None
    artifacts: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        document: dict[str, Any] = {"name": self.name, "digest": self.digest, "artifacts": dict(self.artifacts)}
        if self.version is not None:
            document["version"] = self.version
        return compact_json(document)

    @classmethod
    def from_json(cls, text: str) -> DatasetInfo | None:
        document = json_object(text)
        if document is None or not isinstance(document.get("digest"), str):
            return None
        artifacts = document.get("artifacts") if isinstance(document.get("artifacts"), Mapping) else {}
        return cls(
            name=str(document.get("name", "")),
            digest=str(document["digest"]),
            version=str(document["version"]) if document.get("version") is not None else None,
            artifacts={str(k): str(v) for k, v in (artifacts or {}).items() if v},
        )

    @classmethod
    def from_version(cls, name: str, version: DatasetVersion) -> DatasetInfo:
        artifacts = {k: v for k, v in version.artifacts.items() if v}
        if version.profile_uri:
            artifacts.setdefault("profile", version.profile_uri)
        return cls(name=name, digest=version.digest, version=str(version.version), artifacts=artifacts)


@dataclass(frozen=True)
class DatasetCheck:
    """Whether the referenced Dataset can be trained on now."""

    reason: str
    message: str
    info: DatasetInfo | None = None
    needs_lookup: bool = False
    """The pinned digest is not the Dataset's current version: ask the control plane for it."""

    @property
    def ready(self) -> bool:
        return self.info is not None


def check_dataset(body: Mapping[str, Any] | None, ref: DatasetRef) -> DatasetCheck:
    """Judge the referenced Dataset as stored (None: it does not exist)."""
    if body is None:
        return DatasetCheck(reasons.DATASET_NOT_FOUND, f"Dataset {ref.name} does not exist.")
    dataset = Dataset.from_wire(body)
    status = dataset.status
    ready = find_condition(status.conditions, "Ready") if status else None
    is_ready = (
        status is not None
        and ready is not None
        and ready.status is ConditionStatus.TRUE
        and status.digest is not None
        and ready.observed_generation == dataset.metadata.generation
    )
    if not is_ready or status is None or status.digest is None:
        why = f" ({ready.reason}: {ready.message})" if ready is not None and ready.message else ""
        if ref.digest is not None:
            return DatasetCheck(reasons.DATASET_NOT_READY, f"Dataset {ref.name} is not Ready{why}.", needs_lookup=True)
        return DatasetCheck(reasons.DATASET_NOT_READY, f"Dataset {ref.name} is not Ready{why}.")
    if ref.digest is not None and ref.digest != status.digest:
        return DatasetCheck(
            reasons.DIGEST_MISMATCH,
            f"Dataset {ref.name} is at {status.digest}, not the pinned {ref.digest}.",
            needs_lookup=True,
        )
    artifacts = status.artifacts.to_wire() if status.artifacts is not None else {}
    info = DatasetInfo(name=ref.name, digest=status.digest, version=status.version, artifacts=artifacts)
    return DatasetCheck(reasons.DATASET_IS_READY, f"Training on Dataset {ref.name} version {status.version}.", info)
