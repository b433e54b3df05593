"""Every ORM model, imported once so ``Base.metadata`` is complete (Alembic, tests, create_all)."""

from __future__ import annotations

from modelplane.api.audit.models import AuditEntry
from modelplane.api.auth.models import ApiToken, RoleBinding
from modelplane.api.datasets.models import DatasetVersion, dataset_version_parents
from modelplane.api.db.base import Base
from modelplane.api.deployments.models import Deployment, RolloutEvent
from modelplane.api.registry.models import ModelAlias, ModelVersionRow, ModelVersionTag, RegisteredModel
from modelplane.api.runs.models import LatestMetric, Metric, MetricKey, Run, RunParam, RunTag

metadata = Base.metadata

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Base",
    "DatasetVersion",
    "Deployment",
    "LatestMetric",
    "Metric",
    "MetricKey",
    "ModelAlias",
    "ModelVersionRow",
    "ModelVersionTag",
    "RegisteredModel",
    "RoleBinding",
    "RolloutEvent",
    "Run",
    "RunParam",
    "RunTag",
    "dataset_version_parents",
    "metadata",
]
