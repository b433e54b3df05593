"""Use cases of the model registry. Each owns its transaction, authorization and audit record.

Model versions are immutable and identified by the artifact's sha256: registering the same sha256 again
returns the version (the validation job may retry), with a 409 if the body then disagrees on the
artifact or its lineage. Version numbers and alias moves of one model are decided one writer at a time
(:func:`~modelplane.api.registry.repository.lock_model`); the unique constraints stay the last word and
a loser retries. An alias is moved by a single upsert, so it always has exactly one target.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from modelplane.api.audit.service import record
from modelplane.api.auth.models import Role
from modelplane.api.auth.principal import Principal
from modelplane.api.datasets.schemas import non_finite
from modelplane.api.db.base import utcnow
from modelplane.api.errors import Conflict, InvalidRequest, NotFound, Unavailable
from modelplane.api.pagination import Page, PageParams, decode_id_token, decode_name_token, encode_token
from modelplane.api.registry import repository as repo
from modelplane.api.registry.models import ModelVersionRow, RegisteredModel
from modelplane.api.registry.schemas import (
    AliasOut,
    AliasSet,
    ModelCreate,
    ModelOut,
    ModelVersionCreate,
    ModelVersionOut,
    TagOut,
    TagSet,
)
from modelplane.api.runs import repository as runs_repo

MAX_ATTEMPTS = 8
MAX_VERSION = 2**31 - 1
# Fields of a re-registration that must equal the stored version when the client sends them.
IDENTITY_FIELDS = ("size_bytes", "format", "signature", "run_id", "dataset_digest")

ALIAS_READ_ATTEMPTS = 10
"""Reads of an alias that raced a move before the answer is a 503 (moves are rare next to reads)."""


async def _model(session: AsyncSession, namespace: str, name: str) -> RegisteredModel:
    model = await repo.get_model(session, namespace, name)
    if model is None:
        raise NotFound(f"model {name!r} not found in namespace {namespace!r}")
    return model


async def _version(session: AsyncSession, model: RegisteredModel, version: int) -> ModelVersionRow:
    row = await repo.get_version(session, model.id, version) if 0 < version <= MAX_VERSION else None
    if row is None:
        raise NotFound(f"model {model.name!r} has no version {version} in namespace {model.namespace!r}")
    return row


async def _versions_out(
    session: AsyncSession, model: RegisteredModel, rows: list[ModelVersionRow]
) -> list[ModelVersionOut]:
    ids = [row.id for row in rows]
    run_ids = await runs_repo.run_ids(session, [row.run_id for row in rows if row.run_id is not None])
    tags, aliases = await repo.tags_of(session, ids), await repo.aliases_of_versions(session, ids)
    return [
        ModelVersionOut(
            namespace=model.namespace,
            model=model.name,
            version=row.version,
            artifact_uri=row.artifact_uri,
            sha256=row.sha256,
            size_bytes=row.size_bytes,
            format=row.format,
            signature=row.signature,
            metrics=row.metrics,
            run_id=run_ids.get(row.run_id) if row.run_id is not None else None,
            dataset_digest=row.dataset_digest,
            source=row.source,
            training_run=row.training_run,
            optimized_artifact=row.optimized_artifact,
            single_inference_microseconds=row.single_inference_microseconds,
            tags=tags[row.id],
            aliases=aliases[row.id],
            created_at=row.created_at,
            created_by=row.created_by,
        )
        for row in rows
    ]


async def _version_out(session: AsyncSession, model: RegisteredModel, row: ModelVersionRow) -> ModelVersionOut:
    [out] = await _versions_out(session, model, [row])
    return out


async def _model_out(session: AsyncSession, model: RegisteredModel) -> ModelOut:
    aliases = await repo.aliases_of_models(session, [model.id])
    latest = await repo.max_version(session, model.id)
    return ModelOut(
        namespace=model.namespace,
        name=model.name,
        description=model.description,
        latest_version=latest or None,
        aliases=aliases[model.id],
        created_at=model.created_at,
        updated_at=model.updated_at,
    )


async def create_model(
    session: AsyncSession, principal: Principal, namespace: str, body: ModelCreate
) -> tuple[ModelOut, bool]:
    """The model, and whether it was created now (False: a model of that name existed)."""
    principal.require(namespace, Role.EDITOR)
    created = await repo.insert_model(session, namespace, body.name, body.description)
    if created is not None:
        record(
            session, principal, "model.create", namespace, "model", body.name, after={"description": body.description}
        )
        await session.commit()
    return await _model_out(session, await _model(session, namespace, body.name)), created is not None


async def get_model(session: AsyncSession, principal: Principal, namespace: str, name: str) -> ModelOut:
    principal.require(namespace, Role.VIEWER)
    return await _model_out(session, await _model(session, namespace, name))


async def list_models(session: AsyncSession, principal: Principal, namespace: str, page: PageParams) -> Page[ModelOut]:
    """Models of the namespace by name, with their latest version and aliases."""
    principal.require(namespace, Role.VIEWER)
    after = decode_name_token(page.page_token) if page.page_token else None
    rows = await repo.list_models(session, namespace, after, page.page_size + 1)
    shown = rows[: page.page_size]
    aliases = await repo.aliases_of_models(session, [model.id for model, _ in shown])
    items = [
        ModelOut(
            namespace=model.namespace,
            name=model.name,
            description=model.description,
            latest_version=latest,
            aliases=aliases[model.id],
            created_at=model.created_at,
            updated_at=model.updated_at,
        )
        for model, latest in shown
    ]
    token = encode_token([items[-1].name]) if len(rows) > page.page_size else None
    return Page[ModelOut](items=items, next_page_token=token)


def _differences(row: ModelVersionRow, body: ModelVersionCreate, run_pk: int | None) -> list[str]:
    stored: dict[str, Any] = {
        "size_bytes": row.size_bytes,
        "format": row.format,
        "signature": row.signature,
        "run_id": row.run_id,
        "dataset_digest": row.dataset_digest,
    }
    sent: dict[str, Any] = {
        "size_bytes": body.size_bytes,
        "format": body.format.value,
        "signature": body.signature,
        "run_id": run_pk,
        "dataset_digest": body.dataset_digest,
    }
    return [f for f in IDENTITY_FIELDS if f in body.model_fields_set and stored[f] != sent[f]]


def _optimized(body: ModelVersionCreate) -> dict[str, Any] | None:
    return None if body.optimized_artifact is None else body.optimized_artifact.model_dump(mode="json")


async def _existing_version(
    session: AsyncSession, model: RegisteredModel, body: ModelVersionCreate, run_pk: int | None
) -> ModelVersionOut | None:
    row = await repo.get_version_by_sha(session, model.id, body.sha256)
    if row is None:
        return None
    differing = _differences(row, body, run_pk)
    if differing:
        raise Conflict(
            f"model {model.name!r} already has sha256 {body.sha256} as version {row.version} with a different "
            f"{', '.join(differing)}; versions are immutable",
            fields=differing,
        )
    return await _version_out(session, model, row)


async def create_version(
    session: AsyncSession, principal: Principal, namespace: str, name: str, body: ModelVersionCreate
) -> tuple[ModelVersionOut, bool]:
    """Register a version (creating the model if needed); False when this sha256 was registered before."""
    principal.require(namespace, Role.EDITOR)
    for field, value in (("metrics", body.metrics), ("signature", body.signature)):
        if non_finite(value):
            raise InvalidRequest(f"{field} may not hold NaN or Infinity: JSON numbers are finite")
    run_pk = None
    if body.run_id is not None:
        run = await runs_repo.get_run(session, body.run_id)
        if run is None or run.namespace != namespace:
            raise NotFound(f"run {body.run_id} not found in namespace {namespace!r}")
        run_pk = run.id
    for _attempt in range(MAX_ATTEMPTS):
        model_created = False
        model = await repo.get_model(session, namespace, name)
        if model is None:
            model_created = await repo.insert_model(session, namespace, name, "") is not None
            model = await _model(session, namespace, name)
        elif (existing := await _existing_version(session, model, body, run_pk)) is not None:
            return existing, False
        await repo.lock_model(session, model.id)
        if (existing := await _existing_version(session, model, body, run_pk)) is not None:
            await session.rollback()
            return existing, False
        row = ModelVersionRow(
            model_id=model.id,
            version=await repo.max_version(session, model.id) + 1,
            artifact_uri=body.artifact_uri,
            sha256=body.sha256,
            size_bytes=body.size_bytes,
            format=body.format.value,
            signature=body.signature,
            metrics=body.metrics,
            run_id=run_pk,
            dataset_digest=body.dataset_digest,
            source=body.source,
            training_run=body.training_run,
            optimized_artifact=_optimized(body),
            single_inference_microseconds=body.single_inference_microseconds,
            created_by=principal.name,
        )
        session.add(row)
        try:
            await session.flush()
        except IntegrityError:
            await session.rollback()
            continue
        if model_created:
            record(session, principal, "model.create", namespace, "model", name, after={"description": ""})
        after = {"sha256": row.sha256, "artifact_uri": row.artifact_uri, "run_id": body.run_id}
        record(
            session, principal, "model_version.create", namespace, "model_version", f"{name}:{row.version}", after=after
        )
        await session.commit()
        return await _version_out(session, model, row), True
    raise Unavailable(f"model {name!r} is being registered concurrently by many clients; retry")


async def get_version(
    session: AsyncSession, principal: Principal, namespace: str, name: str, version: int
) -> ModelVersionOut:
    principal.require(namespace, Role.VIEWER)
    model = await _model(session, namespace, name)
    return await _version_out(session, model, await _version(session, model, version))


async def list_versions(
    session: AsyncSession, principal: Principal, namespace: str, name: str, page: PageParams
) -> Page[ModelVersionOut]:
    """Versions of a model, newest first."""
    principal.require(namespace, Role.VIEWER)
    model = await _model(session, namespace, name)
    before = decode_id_token(page.page_token) if page.page_token else None
    rows = await repo.list_versions(session, model.id, before, page.page_size + 1)
    items = await _versions_out(session, model, rows[: page.page_size])
    token = encode_token([items[-1].version]) if len(rows) > page.page_size else None
    return Page[ModelVersionOut](items=items, next_page_token=token)


def _check_alias(alias: str) -> None:
    if alias.isdigit():
        raise InvalidRequest(f"alias {alias!r} is a number and would read as a version; choose a name")


async def set_alias(
    session: AsyncSession, principal: Principal, namespace: str, name: str, alias: str, body: AliasSet
) -> AliasOut:
    """Point ``alias`` at a version, in one upsert; moves of one model's aliases take turns."""
    principal.require(namespace, Role.EDITOR)
    _check_alias(alias)
    model = await _model(session, namespace, name)
    await repo.lock_model(session, model.id)
    target = await _version(session, model, body.version)
    current = await repo.get_alias(session, model.id, alias)
    before = {"version": current[1].version} if current is not None else None
    at = utcnow()
    await repo.upsert_alias(session, model.id, alias, target.id, at)
    record(
        session,
        principal,
        "model_alias.set",
        namespace,
        "model_alias",
        f"{name}@{alias}",
        before=before,
        after={"version": target.version},
    )
    await session.commit()
    return AliasOut(model=name, alias=alias, version=target.version, updated_at=at)


async def delete_alias(session: AsyncSession, principal: Principal, namespace: str, name: str, alias: str) -> None:
    principal.require(namespace, Role.EDITOR)
    model = await _model(session, namespace, name)
    await repo.lock_model(session, model.id)
    current = await repo.get_alias(session, model.id, alias)
    if current is None:
        raise NotFound(f"model {name!r} has no alias {alias!r}")
    await repo.delete_alias(session, model.id, alias)
    record(
        session,
        principal,
        "model_alias.delete",
        namespace,
        "model_alias",
        f"{name}@{alias}",
        before={"version": current[1].version},
    )
    await session.commit()


async def get_alias(
    session: AsyncSession, principal: Principal, namespace: str, name: str, alias: str
) -> ModelVersionOut:
    """The version an alias points at.

    The alias and the version's details are two reads, and without a snapshot (Postgres READ COMMITTED,
    SQLite's autocommit reads) a move can land between them: the answer would name a version that no
    longer carries the alias. Such an answer is read again (optimistic read), so it always names the
    holder the alias had at some instant.
    """
    principal.require(namespace, Role.VIEWER)
    model = await _model(session, namespace, name)
    for _ in range(ALIAS_READ_ATTEMPTS):
        current = await repo.get_alias(session, model.id, alias)
        if current is None:
            raise NotFound(f"model {name!r} has no alias {alias!r}")
        out = await _version_out(session, model, current[1])
        if alias in out.aliases:
            return out
    raise Unavailable(f"alias {alias!r} of model {name!r} is moving faster than it can be read; retry")


async def set_tag(
    session: AsyncSession, principal: Principal, namespace: str, name: str, version: int, key: str, body: TagSet
) -> TagOut:
    principal.require(namespace, Role.EDITOR)
    model = await _model(session, namespace, name)
    row = await _version(session, model, version)
    before = await repo.tag_value(session, row.id, key)
    await repo.upsert_tag(session, row.id, key, body.value)
    record(
        session,
        principal,
        "model_version_tag.set",
        namespace,
        "model_version_tag",
        f"{name}:{version}/{key}",
        before=None if before is None else {"value": before},
        after={"value": body.value},
    )
    await session.commit()
    return TagOut(model=name, version=version, key=key, value=body.value)


async def delete_tag(
    session: AsyncSession, principal: Principal, namespace: str, name: str, version: int, key: str
) -> None:
    principal.require(namespace, Role.EDITOR)
    model = await _model(session, namespace, name)
    row = await _version(session, model, version)
    before = await repo.tag_value(session, row.id, key)
    if before is None:
        raise NotFound(f"version {version} of model {name!r} has no tag {key!r}")
    await repo.delete_tag(session, row.id, key)
    record(
        session,
        principal,
        "model_version_tag.delete",
        namespace,
        "model_version_tag",
        f"{name}:{version}/{key}",
        before={"value": before},
    )
    await session.commit()
