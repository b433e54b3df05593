"""Statements over the registry tables. They read and write through the session and never commit.

``lock_model`` is how writers of one model take turns: it touches the model row (``updated_at``), which
holds that row's lock on PostgreSQL and the database's write lock on SQLite until the transaction ends,
so version numbers and alias moves of one model are decided one writer at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from modelplane.api.db.base import utcnow
from modelplane.api.db.upsert import insert_for
from modelplane.api.registry.models import ModelAlias, ModelVersionRow, ModelVersionTag, RegisteredModel


async def get_model(session: AsyncSession, namespace: str, name: str) -> RegisteredModel | None:
    query = select(RegisteredModel).where(RegisteredModel.namespace == namespace, RegisteredModel.name == name)
    return await session.scalar(query)


async def insert_model(session: AsyncSession, namespace: str, name: str, description: str) -> int | None:
    """Create the model unless it exists; its id when created now, None when it existed."""
    now = utcnow()
    statement = (
        insert_for(session, RegisteredModel)
        .values(namespace=namespace, name=name, description=description, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["namespace", "name"])
        .returning(RegisteredModel.id)
    )
    created: int | None = await session.scalar(statement)
    return created


async def lock_model(session: AsyncSession, model_id: int) -> None:
    """Hold the model's write lock until the transaction ends (and note the change time)."""
    await session.execute(update(RegisteredModel).where(RegisteredModel.id == model_id).values(updated_at=utcnow()))


async def list_models(
    session: AsyncSession, namespace: str, after_name: str | None, limit: int
) -> list[tuple[RegisteredModel, int | None]]:
    """Models of the namespace by name, with their highest version number."""
    latest = (
        select(func.max(ModelVersionRow.version))
        .where(ModelVersionRow.model_id == RegisteredModel.id)
        .correlate(RegisteredModel)
        .scalar_subquery()
    )
    query = select(RegisteredModel, latest).where(RegisteredModel.namespace == namespace)
    if after_name is not None:
        query = query.where(RegisteredModel.name > after_name)
    rows = await session.execute(query.order_by(RegisteredModel.name).limit(limit))
    return [(model, version) for model, version in rows]


async def max_version(session: AsyncSession, model_id: int) -> int:
    query = select(func.max(ModelVersionRow.version)).where(ModelVersionRow.model_id == model_id)
    return (await session.scalar(query)) or 0


async def get_version(session: AsyncSession, model_id: int, version: int) -> ModelVersionRow | None:
    query = select(ModelVersionRow).where(ModelVersionRow.model_id == model_id, ModelVersionRow.version == version)
    return await session.scalar(query)


async def get_version_by_sha(session: AsyncSession, model_id: int, sha256: str) -> ModelVersionRow | None:
    query = select(ModelVersionRow).where(ModelVersionRow.model_id == model_id, ModelVersionRow.sha256 == sha256)
    return await session.scalar(query)


async def list_versions(
    session: AsyncSession, model_id: int, before_version: int | None, limit: int
) -> list[ModelVersionRow]:
    """Versions of a model, newest first, below a keyset position."""
    query = select(ModelVersionRow).where(ModelVersionRow.model_id == model_id)
    if before_version is not None:
        query = query.where(ModelVersionRow.version < before_version)
    return list(await session.scalars(query.order_by(ModelVersionRow.version.desc()).limit(limit)))


async def aliases_of_models(session: AsyncSession, model_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    ids = list(set(model_ids))
    out: dict[int, dict[str, int]] = {i: {} for i in ids}
    if ids:
        query = (
            select(ModelAlias.model_id, ModelAlias.alias, ModelVersionRow.version)
            .join(ModelVersionRow, ModelVersionRow.id == ModelAlias.version_id)
            .where(ModelAlias.model_id.in_(ids))
            .order_by(ModelAlias.alias)
        )
        for model_id, alias, version in await session.execute(query):
            out[model_id][alias] = version
    return out


async def aliases_of_versions(session: AsyncSession, version_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in version_ids}
    if version_ids:
        query = select(ModelAlias.version_id, ModelAlias.alias).where(ModelAlias.version_id.in_(version_ids))
        for version_id, alias in await session.execute(query.order_by(ModelAlias.alias)):
            out[version_id].append(alias)
    return out


async def tags_of(session: AsyncSession, version_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {i: {} for i in version_ids}
    if version_ids:
        query = select(ModelVersionTag).where(ModelVersionTag.version_id.in_(version_ids))
        for tag in await session.scalars(query.order_by(ModelVersionTag.key)):
            out[tag.version_id][tag.key] = tag.value
    return out


async def get_alias(session: AsyncSession, model_id: int, alias: str) -> tuple[ModelAlias, ModelVersionRow] | None:
    query = (
        select(ModelAlias, ModelVersionRow)
        .join(ModelVersionRow, ModelVersionRow.id == ModelAlias.version_id)
        .where(ModelAlias.model_id == model_id, ModelAlias.alias == alias)
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def upsert_alias(session: AsyncSession, model_id: int, alias: str, version_id: int, at: datetime) -> None:
    """Point the alias at the version: one statement, whether it existed or not."""
    statement = insert_for(session, ModelAlias).values(
        model_id=model_id, alias=alias, version_id=version_id, updated_at=at
    )
    statement = statement.on_conflict_do_update(
        index_elements=["model_id", "alias"],
        set_={"version_id": statement.excluded.version_id, "updated_at": statement.excluded.updated_at},
    )
    await session.execute(statement)


async def delete_alias(session: AsyncSession, model_id: int, alias: str) -> None:
    await session.execute(delete(ModelAlias).where(ModelAlias.model_id == model_id, ModelAlias.alias == alias))


async def tag_value(session: AsyncSession, version_id: int, key: str) -> str | None:
    query = select(ModelVersionTag.value).where(ModelVersionTag.version_id == version_id, ModelVersionTag.key == key)
    value: str | None = await session.scalar(query)
    return value


async def upsert_tag(session: AsyncSession, version_id: int, key: str, value: str) -> None:
    statement = insert_for(session, ModelVersionTag).values(version_id=version_id, key=key, value=value)
    statement = statement.on_conflict_do_update(
        index_elements=["version_id", "key"], set_={"value": statement.excluded.value}
    )
    await session.execute(statement)


async def delete_tag(session: AsyncSession, version_id: int, key: str) -> None:
    await session.execute(
        delete(ModelVersionTag).where(ModelVersionTag.version_id == version_id, ModelVersionTag.key == key)
    )
