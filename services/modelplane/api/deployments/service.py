"""Use cases of deployments and rollout events. Each owns its transaction, authorization and audit record.

The router (or the operator) reports a service's whole traffic split; the service turns it into history:
deployments of the service that are not in the new split, or whose share changed, end now; the new
entries open now; the unchanged ones stay open. Reports of one service take turns
(:func:`~modelplane.api.deployments.repository.lock_service`), so the open rows always are one split.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from modelplane.api.audit.service import record
from modelplane.api.auth.models import Role
from modelplane.api.auth.principal import Principal
from modelplane.api.db.base import utcnow
from modelplane.api.deployments import repository as repo
from modelplane.api.deployments.models import Deployment, RolloutEvent
from modelplane.api.deployments.schemas import (
    DeploymentOut,
    RolloutEventCreate,
    RolloutEventOut,
    TrafficOut,
    TrafficSplit,
)
from modelplane.api.errors import InvalidRequest, NotFound
from modelplane.api.pagination import Page, PageParams, decode_id_token, encode_token


def _deployment_out(row: Deployment, model: str, version: int) -> DeploymentOut:
    return DeploymentOut(
        id=row.id,
        namespace=row.namespace,
        service=row.service,
        model=model,
        version=version,
        percent=row.traffic_percent,
        started_at=row.started_at,
        ended_at=row.ended_at,
        active=row.ended_at is None,
        created_by=row.created_by,
    )


def _split(rows: list[tuple[Deployment, str, int]]) -> list[dict[str, Any]]:
    return [{"model": model, "version": version, "percent": row.traffic_percent} for row, model, version in rows]


async def _current(session: AsyncSession, namespace: str, service: str, changed: bool) -> TrafficOut:
    rows = await repo.open_deployments(session, namespace, service)
    traffic = [_deployment_out(*row) for row in rows]
    return TrafficOut(namespace=namespace, service=service, traffic=traffic, changed=changed)


async def set_traffic(
    session: AsyncSession, principal: Principal, namespace: str, service: str, body: TrafficSplit
) -> TrafficOut:
    """Record the service's split as it is now; reporting the same split again changes nothing."""
    principal.require(namespace, Role.EDITOR)
    total = sum(target.percent for target in body.traffic)
    if total != 100:
        hint = " (to record that the service serves nothing, DELETE its traffic)" if not body.traffic else ""
        raise InvalidRequest(f"traffic percents must sum to 100; they sum to {total}{hint}")
    keys = [(target.model, target.version) for target in body.traffic]
    repeated = sorted(f"{m}:{v}" for (m, v), n in Counter(keys).items() if n > 1)
    if repeated:
        raise InvalidRequest(f"each model version may appear once in the traffic; repeated: {', '.join(repeated)}")
    ids = await repo.version_ids(session, namespace, keys)
    missing = [f"{m}:{v}" for m, v in keys if (m, v) not in ids]
    if missing:
        raise NotFound(f"model versions not found in namespace {namespace!r}: {', '.join(missing)}")
    wanted = {ids[target.model, target.version]: target.percent for target in body.traffic}
    await repo.lock_service(session, namespace, service)
    current = await repo.open_deployments(session, namespace, service)
    kept = {row.version_id for row, _, _ in current if wanted.get(row.version_id) == row.traffic_percent}
    ending = [row.id for row, _, _ in current if row.version_id not in kept]
    opening = [(version_id, percent) for version_id, percent in wanted.items() if version_id not in kept]
    if not ending and not opening:
        await session.rollback()
        return await _current(session, namespace, service, changed=False)
    now = utcnow()
    await repo.end_deployments(session, ending, now)
    for version_id, percent in opening:
        session.add(
            Deployment(
                namespace=namespace,
                service=service,
                version_id=version_id,
                traffic_percent=percent,
                started_at=now,
                created_by=principal.name,
            )
        )
    after = [t.model_dump(mode="json") for t in body.traffic]
    record(
        session,
        principal,
        "deployment.traffic",
        namespace,
        "service",
        service,
        before={"traffic": _split(current)},
        after={"traffic": after},
    )
    await session.commit()
    return await _current(session, namespace, service, changed=True)


async def end_traffic(session: AsyncSession, principal: Principal, namespace: str, service: str) -> None:
    """The service serves nothing any more (deleted): its open deployments end now."""
    principal.require(namespace, Role.EDITOR)
    await repo.lock_service(session, namespace, service)
    current = await repo.open_deployments(session, namespace, service)
    if not current:
        await session.rollback()
        return
    await repo.end_deployments(session, [row.id for row, _, _ in current], utcnow())
    record(session, principal, "deployment.end", namespace, "service", service, before={"traffic": _split(current)})
    await session.commit()


async def list_deployments(
    session: AsyncSession, principal: Principal, namespace: str, service: str, active_only: bool, page: PageParams
) -> Page[DeploymentOut]:
    """A service's deployment history, newest first."""
    principal.require(namespace, Role.VIEWER)
    before = decode_id_token(page.page_token) if page.page_token else None
    rows = await repo.list_deployments(session, namespace, service, active_only, before, page.page_size + 1)
    items = [_deployment_out(*row) for row in rows[: page.page_size]]
    token = encode_token([items[-1].id]) if len(rows) > page.page_size else None
    return Page[DeploymentOut](items=items, next_page_token=token)


def _event_out(event: RolloutEvent, model: str | None, version: int | None) -> RolloutEventOut:
    return RolloutEventOut(
        id=event.id,
        namespace=event.namespace,
        rollout=event.rollout,
        service=event.service,
        model=model,
        version=version,
        event=event.event,
        weight=event.weight,
        message=event.message,
        at=event.at,
        created_by=event.created_by,
    )


async def create_event(
    session: AsyncSession, principal: Principal, namespace: str, rollout: str, body: RolloutEventCreate
) -> RolloutEventOut:
    """Append an event to a rollout's history."""
    principal.require(namespace, Role.EDITOR)
    version_id = None
    if body.model is not None and body.version is not None:
        ids = await repo.version_ids(session, namespace, [(body.model, body.version)])
        version_id = ids.get((body.model, body.version))
        if version_id is None:
            raise NotFound(f"model {body.model!r} has no version {body.version} in namespace {namespace!r}")
    event = RolloutEvent(
        namespace=namespace,
        rollout=rollout,
        service=body.service,
        version_id=version_id,
        event=body.event,
        weight=body.weight,
        message=body.message,
        at=utcnow(),
        created_by=principal.name,
    )
    session.add(event)
    await session.flush()
    after = {"event": body.event, "service": body.service, "weight": body.weight, "version": body.version}
    record(session, principal, "rollout_event.create", namespace, "rollout", rollout, after=after)
    await session.commit()
    return _event_out(event, body.model, body.version)


async def list_events(
    session: AsyncSession, principal: Principal, namespace: str, rollout: str, page: PageParams
) -> Page[RolloutEventOut]:
    """A rollout's events, newest first."""
    principal.require(namespace, Role.VIEWER)
    before = decode_id_token(page.page_token) if page.page_token else None
    rows = await repo.list_events(session, namespace, rollout, before, page.page_size + 1)
    items = [_event_out(*row) for row in rows[: page.page_size]]
    token = encode_token([items[-1].id]) if len(rows) > page.page_size else None
    return Page[RolloutEventOut](items=items, next_page_token=token)
