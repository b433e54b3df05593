"""Statements over the dataset tables. They read and write through the session and never commit.

Every query of versions loads their parents explicitly (``selectinload``): the relationship is
self-referential, and SQLAlchemy eager-loads those only when told how deep.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from modelplane.api.datasets.models import DatasetVersion

_WITH_PARENTS = selectinload(DatasetVersion.parents)


async def get_by_digest(session: AsyncSession, namespace: str, name: str, digest: str) -> DatasetVersion | None:
    query = select(DatasetVersion).where(
        DatasetVersion.namespace == namespace, DatasetVersion.name == name, DatasetVersion.digest == digest
    )
    query = query.options(_WITH_PARENTS)
    return await session.scalar(query)


async def get_by_version(session: AsyncSession, namespace: str, name: str, version: int) -> DatasetVersion | None:
    query = select(DatasetVersion).where(
        DatasetVersion.namespace == namespace, DatasetVersion.name == name, DatasetVersion.version == version
    )
    query = query.options(_WITH_PARENTS)
    return await session.scalar(query)


async def with_digests(session: AsyncSession, namespace: str, digests: Iterable[str]) -> list[DatasetVersion]:
    """Every version of any dataset of the namespace whose digest is one of ``digests``."""
    wanted = sorted(set(digests))
    if not wanted:
        return []
    query = select(DatasetVersion).where(DatasetVersion.namespace == namespace, DatasetVersion.digest.in_(wanted))
    return list(await session.scalars(query.order_by(DatasetVersion.id)))


async def max_version(session: AsyncSession, namespace: str, name: str) -> int:
    query = select(func.max(DatasetVersion.version)).where(
        DatasetVersion.namespace == namespace, DatasetVersion.name == name
    )
    return (await session.scalar(query)) or 0


async def list_versions(
    session: AsyncSession, namespace: str, name: str, before_version: int | None, limit: int
) -> list[DatasetVersion]:
    """Versions of a dataset, newest first, below a keyset position."""
    query = select(DatasetVersion).where(DatasetVersion.namespace == namespace, DatasetVersion.name == name)
    if before_version is not None:
        query = query.where(DatasetVersion.version < before_version)
    query = query.options(_WITH_PARENTS).order_by(DatasetVersion.version.desc()).limit(limit)
    return list(await session.scalars(query))


async def list_latest(
    session: AsyncSession, namespace: str, after_name: str | None, limit: int
) -> list[tuple[DatasetVersion, int]]:
    """The latest version of each dataset of the namespace and its version count, by name."""
    per_name = select(
        DatasetVersion.name.label("name"),
        func.max(DatasetVersion.version).label("latest"),
        func.count().label("versions"),
    ).where(DatasetVersion.namespace == namespace)
    if after_name is not None:
        per_name = per_name.where(DatasetVersion.name > after_name)
    latest = per_name.group_by(DatasetVersion.name).order_by(DatasetVersion.name).limit(limit).subquery()
    query = (
        select(DatasetVersion, latest.c.versions)
        .join(latest, (DatasetVersion.name == latest.c.name) & (DatasetVersion.version == latest.c.latest))
        .where(DatasetVersion.namespace == namespace)
        .options(_WITH_PARENTS)
        .order_by(DatasetVersion.name)
    )
    return [(version, int(count)) for version, count in (await session.execute(query))]
