"""Use cases of dataset versions: register, read, list. Each owns its transaction and audit record.

Versions are immutable and content-addressed. Registering a digest the dataset already has returns that
version (an ingest job may retry); if the body then disagrees on something that describes the content
(schema, counts, split artifacts, parents) it is a 409, never a silent overwrite. A new digest gets the
next version number: the unique constraint on (namespace, name, version) decides between concurrent
registrations, and the loser retries with a fresh number.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from modelplane.api.audit.service import record
from modelplane.api.auth.models import Role
from modelplane.api.auth.principal import Principal
from modelplane.api.datasets import repository as repo
from modelplane.api.datasets.models import DatasetVersion
from modelplane.api.datasets.schemas import DatasetSummary, DatasetVersionCreate, DatasetVersionOut, non_finite
from modelplane.api.errors import Conflict, InvalidRequest, NotFound, Unavailable
from modelplane.api.pagination import Page, PageParams, decode_id_token, decode_name_token, encode_token

MAX_ATTEMPTS = 8
MAX_VERSION = 2**31 - 1
# Fields of a re-registration that must equal the stored version (they describe the content or its
# lineage). ``source`` and ``profile_uri`` may differ: the same bytes ingested again from elsewhere.
CONTENT_FIELDS = ("data_schema", "rows", "columns", "artifacts", "parents")


def version_out(row: DatasetVersion) -> DatasetVersionOut:
    return DatasetVersionOut(
        namespace=row.namespace,
        name=row.name,
        version=row.version,
        digest=row.digest,
        data_schema=row.data_schema,
        rows=row.rows,
        columns=row.columns,
        source=row.source,
        artifacts=row.artifacts,
        profile_uri=row.profile_uri,
        parents=sorted({parent.digest for parent in row.parents}),
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _differences(row: DatasetVersion, body: DatasetVersionCreate) -> list[str]:
    stored: dict[str, Any] = {
        "data_schema": row.data_schema,
        "rows": row.rows,
        "columns": row.columns,
        "artifacts": row.artifacts,
        "parents": {parent.digest for parent in row.parents},
    }
    sent: dict[str, Any] = {
        "data_schema": body.data_schema,
        "rows": body.rows,
        "columns": body.columns,
        "artifacts": body.artifacts,
        "parents": set(body.parents),
    }
    names = {"data_schema": "schema"}
    return [names.get(f, f) for f in CONTENT_FIELDS if f in body.model_fields_set and stored[f] != sent[f]]


async def create_version(
    session: AsyncSession, principal: Principal, namespace: str, name: str, body: DatasetVersionCreate
) -> tuple[DatasetVersionOut, bool]:
    """The version with the body's digest, and whether it was created now (False: it existed)."""
    principal.require(namespace, Role.EDITOR)
    for field, value in (("schema", body.data_schema), ("source", body.source)):
        if non_finite(value):
            raise InvalidRequest(f"{field} may not hold NaN or Infinity: JSON numbers are finite")
    if body.digest in body.parents:
        raise InvalidRequest(f"dataset version {body.digest} cannot be its own parent")
    for _attempt in range(MAX_ATTEMPTS):
        existing = await repo.get_by_digest(session, namespace, name, body.digest)
        if existing is not None:
            differing = _differences(existing, body)
            if differing:
                raise Conflict(
                    f"dataset {name!r} already has digest {body.digest} as version {existing.version} with a "
                    f"different {', '.join(differing)}; versions are immutable",
                    fields=differing,
                )
            return version_out(existing), False
        parents = await repo.with_digests(session, namespace, body.parents)
        missing = sorted(set(body.parents) - {parent.digest for parent in parents})
        if missing:
            raise NotFound(f"parent dataset versions not found in namespace {namespace!r}: {', '.join(missing)}")
        version = await repo.max_version(session, namespace, name) + 1
        row = DatasetVersion(
            namespace=namespace,
            name=name,
            version=version,
            digest=body.digest,
            data_schema=body.data_schema,
            rows=body.rows,
            columns=body.columns,
            source=body.source,
            artifacts=body.artifacts,
            profile_uri=body.profile_uri,
            created_by=principal.name,
            parents=parents,
        )
        session.add(row)
        try:
            await session.flush()
        except IntegrityError:
            # Another registration took this version number (or this digest) first: look again.
            await session.rollback()
            continue
        after = {"digest": row.digest, "version": version, "parents": sorted(set(body.parents))}
        record(
            session, principal, "dataset_version.create", namespace, "dataset_version", f"{name}:{version}", after=after
        )
        await session.commit()
        return version_out(row), True
    raise Unavailable(f"dataset {name!r} is being registered concurrently by many clients; retry")


async def get_version(
    session: AsyncSession, principal: Principal, namespace: str, name: str, ref: str
) -> DatasetVersionOut:
    """A version by number (``3``) or by digest (``sha256:...``)."""
    principal.require(namespace, Role.VIEWER)
    row: DatasetVersion | None
    if ref.startswith("sha256:"):
        row = await repo.get_by_digest(session, namespace, name, ref)
    else:
        number = int(ref)
        row = await repo.get_by_version(session, namespace, name, number) if 0 < number <= MAX_VERSION else None
    if row is None:
        raise NotFound(f"dataset {name!r} has no version {ref} in namespace {namespace!r}")
    return version_out(row)


async def list_versions(
    session: AsyncSession, principal: Principal, namespace: str, name: str, page: PageParams
) -> Page[DatasetVersionOut]:
    """Versions of a dataset, newest first."""
    principal.require(namespace, Role.VIEWER)
    before = decode_id_token(page.page_token) if page.page_token else None
    rows = await repo.list_versions(session, namespace, name, before, page.page_size + 1)
    if not rows and before is None:
        raise NotFound(f"dataset {name!r} not found in namespace {namespace!r}")
    items = [version_out(row) for row in rows[: page.page_size]]
    token = encode_token([items[-1].version]) if len(rows) > page.page_size else None
    return Page[DatasetVersionOut](items=items, next_page_token=token)


async def list_datasets(
    session: AsyncSession, principal: Principal, namespace: str, page: PageParams
) -> Page[DatasetSummary]:
    """The datasets of a namespace by name, each with its latest version."""
    principal.require(namespace, Role.VIEWER)
    after = decode_name_token(page.page_token) if page.page_token else None
    rows = await repo.list_latest(session, namespace, after, page.page_size + 1)
    items = [DatasetSummary(name=row.name, versions=count, latest=version_out(row)) for row, count in rows]
    token = encode_token([items[page.page_size - 1].name]) if len(items) > page.page_size else None
    return Page[DatasetSummary](items=items[: page.page_size], next_page_token=token)
