"""Statements the lineage walk runs: one step up or down from a set of nodes, always within a namespace.

Each query takes the keys of a whole frontier and a row limit, so a walk costs a few queries per level
however wide the graph, and never reads more than the caller can show. Every step is served by an index:
``runs.dataset_digest``, ``runs.parent_id``, ``model_versions.run_id``, ``model_versions.dataset_digest``,
``deployments.version_id`` and both columns of ``dataset_version_parents``.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from modelplane.api.datasets.models import DatasetVersion, dataset_version_parents
from modelplane.api.deployments.models import Deployment
from modelplane.api.registry.models import ModelVersionRow, RegisteredModel
from modelplane.api.runs.models import Run

ModelVersionRef = tuple[ModelVersionRow, str]
"""A model version and its model's name."""
DeploymentRef = tuple[Deployment, str, int]
"""A deployment with the model name and version number it serves."""


async def datasets(session: AsyncSession, namespace: str, digests: Collection[str]) -> list[DatasetVersion]:
    """Registered versions (of any dataset name) with these digests."""
    if not digests:
        return []
    query = select(DatasetVersion).where(DatasetVersion.namespace == namespace, DatasetVersion.digest.in_(digests))
    return list(await session.scalars(query.order_by(DatasetVersion.id)))


async def digest_is_used(session: AsyncSession, namespace: str, digest: str) -> bool:
    """Whether a run or a model version of the namespace names this dataset digest."""
    run = select(Run.id).where(Run.namespace == namespace, Run.dataset_digest == digest).limit(1)
    version = _model_versions().where(RegisteredModel.namespace == namespace, ModelVersionRow.dataset_digest == digest)
    return (await session.scalar(run)) is not None or (await session.execute(version.limit(1))).first() is not None


async def dataset_links(
    session: AsyncSession, namespace: str, digests: Collection[str], *, parents: bool, limit: int
) -> list[tuple[str, str]]:
    """(parent digest, child digest) pairs whose child (``parents``) or parent is one of ``digests``."""
    if not digests:
        return []
    parent, child = aliased(DatasetVersion), aliased(DatasetVersion)
    near = child if parents else parent
    query = (
        select(parent.digest, child.digest)
        .select_from(dataset_version_parents)
        .join(parent, parent.id == dataset_version_parents.c.parent_id)
        .join(child, child.id == dataset_version_parents.c.child_id)
        .where(near.namespace == namespace, near.digest.in_(digests))
        .distinct()
        .limit(limit)
    )
    return [(up, down) for up, down in (await session.execute(query))]


async def runs(session: AsyncSession, namespace: str, ids: Collection[int]) -> list[Run]:
    if not ids:
        return []
    return list(await session.scalars(select(Run).where(Run.namespace == namespace, Run.id.in_(ids))))


async def run_by_run_id(session: AsyncSession, namespace: str, run_id: str) -> Run | None:
    return await session.scalar(select(Run).where(Run.namespace == namespace, Run.run_id == run_id))


async def runs_on_datasets(session: AsyncSession, namespace: str, digests: Collection[str], limit: int) -> list[Run]:
    if not digests:
        return []
    query = select(Run).where(Run.namespace == namespace, Run.dataset_digest.in_(digests))
    return list(await session.scalars(query.order_by(Run.id).limit(limit)))


async def child_runs(session: AsyncSession, namespace: str, parent_ids: Collection[int], limit: int) -> list[Run]:
    if not parent_ids:
        return []
    query = select(Run).where(Run.namespace == namespace, Run.parent_id.in_(parent_ids))
    return list(await session.scalars(query.order_by(Run.id).limit(limit)))


def _model_versions() -> Select[ModelVersionRow, str]:
    return select(ModelVersionRow, RegisteredModel.name).join(
        RegisteredModel, RegisteredModel.id == ModelVersionRow.model_id
    )


async def _refs(session: AsyncSession, query: Select[ModelVersionRow, str]) -> list[ModelVersionRef]:
    return [(row, name) for row, name in (await session.execute(query.order_by(ModelVersionRow.id)))]


async def model_versions(session: AsyncSession, namespace: str, ids: Collection[int]) -> list[ModelVersionRef]:
    if not ids:
        return []
    return await _refs(
        session, _model_versions().where(RegisteredModel.namespace == namespace, ModelVersionRow.id.in_(ids))
    )


async def model_version_by_number(
    session: AsyncSession, namespace: str, model: str, version: int
) -> ModelVersionRef | None:
    query = _model_versions().where(
        RegisteredModel.namespace == namespace, RegisteredModel.name == model, ModelVersionRow.version == version
    )
    found = await _refs(session, query)
    return found[0] if found else None


async def model_versions_of_runs(
    session: AsyncSession, namespace: str, run_ids: Collection[int], limit: int
) -> list[ModelVersionRef]:
    if not run_ids:
        return []
    query = _model_versions().where(RegisteredModel.namespace == namespace, ModelVersionRow.run_id.in_(run_ids))
    return await _refs(session, query.limit(limit))


async def model_versions_on_datasets(
    session: AsyncSession, namespace: str, digests: Collection[str], limit: int
) -> list[ModelVersionRef]:
    if not digests:
        return []
    query = _model_versions().where(RegisteredModel.namespace == namespace, ModelVersionRow.dataset_digest.in_(digests))
    return await _refs(session, query.limit(limit))


def _deployments() -> Select[Deployment, str, int]:
    return (
        select(Deployment, RegisteredModel.name, ModelVersionRow.version)
        .join(ModelVersionRow, ModelVersionRow.id == Deployment.version_id)
        .join(RegisteredModel, RegisteredModel.id == ModelVersionRow.model_id)
    )


async def _deployment_refs(session: AsyncSession, query: Select[Deployment, str, int]) -> list[DeploymentRef]:
    rows = await session.execute(query.order_by(Deployment.id))
    return [(row, model, version) for row, model, version in rows]


async def deployments(session: AsyncSession, namespace: str, ids: Collection[int]) -> list[DeploymentRef]:
    if not ids:
        return []
    return await _deployment_refs(
        session, _deployments().where(Deployment.namespace == namespace, Deployment.id.in_(ids))
    )


async def deployments_of_versions(
    session: AsyncSession, namespace: str, version_ids: Collection[int], limit: int
) -> list[DeploymentRef]:
    if not version_ids:
        return []
    query = _deployments().where(Deployment.namespace == namespace, Deployment.version_id.in_(version_ids))
    return await _deployment_refs(session, query.limit(limit))
