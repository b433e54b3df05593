"""API version v1alpha1 of group modelplane.io: the five kinds and their shared parts.

Import kinds from here (``from modelplane.apis.v1alpha1 import Dataset``); ``KINDS`` lists them in
lifecycle order for the CRD generator, the validators and the local runtime.
"""

from modelplane.apis.v1alpha1.base import ApiModel, CustomResource, ObjectMeta
from modelplane.apis.v1alpha1.conditions import Condition, ConditionStatus
from modelplane.apis.v1alpha1.dataset import Dataset, DatasetSpec, DatasetStatus
from modelplane.apis.v1alpha1.inference_service import (
    InferenceService,
    InferenceServiceSpec,
    InferenceServiceStatus,
)
from modelplane.apis.v1alpha1.model_version import ModelVersion, ModelVersionSpec, ModelVersionStatus
from modelplane.apis.v1alpha1.rollout import Rollout, RolloutSpec, RolloutStatus
from modelplane.apis.v1alpha1.training_run import TrainingRun, TrainingRunSpec, TrainingRunStatus

VERSION = "v1alpha1"

KINDS: tuple[type[CustomResource], ...] = (Dataset, TrainingRun, ModelVersion, InferenceService, Rollout)
"""Every kind of this version, in lifecycle order."""

__all__ = [
    "KINDS",
    "VERSION",
    "ApiModel",
    "Condition",
    "ConditionStatus",
    "CustomResource",
    "Dataset",
    "DatasetSpec",
    "DatasetStatus",
    "InferenceService",
    "InferenceServiceSpec",
    "InferenceServiceStatus",
    "ModelVersion",
    "ModelVersionSpec",
    "ModelVersionStatus",
    "ObjectMeta",
    "Rollout",
    "RolloutSpec",
    "RolloutStatus",
    "TrainingRun",
    "TrainingRunSpec",
    "TrainingRunStatus",
]
