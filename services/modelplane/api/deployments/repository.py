"""Statements over deployments and rollout events. They read and write through the session, never commit.

``lock_service`` makes the writers of one service's traffic take turns: a transaction-scoped advisory
lock on PostgreSQL, the database write lock on SQLite (taken by a write that changes nothing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Select, and_, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from modelplane.api.db.upsert import is_postgres
from modelplane.api.deployments.models import Deployment, RolloutEvent
from modelplane.api.registry.models import ModelVersionRow, RegisteredModel


async def lock_service(session: AsyncSession, namespace: str, service: str) -> None:
    """Hold the lock of a service's traffic until the transaction ends."""
    if is_postgres(session):
        digest = hashlib.sha256(f"modelplane/deployments/{namespace}/{service}".encode()).digest()
        await session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest[:8], "big", signed=True))))
    else:
        await session.execute(update(Deployment).where(false()).values(ended_at=None))


async def version_ids(
    session: AsyncSession, namespace: str, targets: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """Ids of model versions of the namespace, by (model name, version number); unknown ones are absent."""
    wanted = list(set(targets))
    if not wanted:
        return {}
    query = (
        select(RegisteredModel.name, ModelVersionRow.version, ModelVersionRow.id)
        .join(RegisteredModel, RegisteredModel.id == ModelVersionRow.model_id)
        .where(
            RegisteredModel.namespace == namespace,
            or_(*(and_(RegisteredModel.name == m, ModelVersionRow.version == v) for m, v in wanted)),
        )
    )
    return {(name, version): id_ for name, version, id_ in (await session.execute(query))}


def _with_versions(query: Select[Deployment]) -> Select[Deployment, str, int]:
    return (
        query.add_columns(RegisteredModel.name, ModelVersionRow.version)
        .join(ModelVersionRow, ModelVersionRow.id == Deployment.version_id)
        .join(RegisteredModel, RegisteredModel.id == ModelVersionRow.model_id)
    )


async def open_deployments(session: AsyncSession, namespace: str, service: str) -> list[tuple[Deployment, str, int]]:
    """The deployments of a service that have not ended, with model name and version number."""
    query = select(Deployment).where(
        Deployment.namespace == namespace, Deployment.service == service, Deployment.ended_at.is_(None)
    )
    rows = await session.execute(_with_versions(query).order_by(Deployment.id))
    return [(row, model, version) for row, model, version in rows]


async def end_deployments(session: AsyncSession, ids: Sequence[int], at: datetime) -> None:
    if ids:
        await session.execute(update(Deployment).where(Deployment.id.in_(ids)).values(ended_at=at))


async def list_deployments(
    session: AsyncSession, namespace: str, service: str, active_only: bool, before_id: int | None, limit: int
) -> list[tuple[Deployment, str, int]]:
    """A service's deployments, newest first, below a keyset position."""
    query = select(Deployment).where(Deployment.namespace == namespace, Deployment.service == service)
    if active_only:
        query = query.where(Deployment.ended_at.is_(None))
    if before_id is not None:
        query = query.where(Deployment.id < before_id)
    rows = await session.execute(_with_versions(query).order_by(Deployment.id.desc()).limit(limit))
    return [(row, model, version) for row, model, version in rows]


async def list_events(
    session: AsyncSession, namespace: str, rollout: str, before_id: int | None, limit: int
) -> list[tuple[RolloutEvent, str | None, int | None]]:
    """A rollout's events, newest first, below a keyset position, with model name and version number."""
    query = (
        select(RolloutEvent, RegisteredModel.name, ModelVersionRow.version)
        .outerjoin(ModelVersionRow, ModelVersionRow.id == RolloutEvent.version_id)
        .outerjoin(RegisteredModel, RegisteredModel.id == ModelVersionRow.model_id)
        .where(RolloutEvent.namespace == namespace, RolloutEvent.rollout == rollout)
    )
    if before_id is not None:
        query = query.where(RolloutEvent.id < before_id)
    rows = await session.execute(query.order_by(RolloutEvent.id.desc()).limit(limit))
    return [(event, model, version) for event, model, version in rows]
