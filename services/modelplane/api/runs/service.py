"""Use cases of runs: create, update, log a batch, search. Each owns its transaction and audit record.

Idempotency is what makes clients safe to retry: a run created again with the same client-chosen id
returns the run, a metric point stored again is a no-op, a param logged again with the same value is a
no-op (with a different value it is a 409: params are immutable).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC
from typing import Any, Protocol, TypeVar

from pydantic import TypeAdapter
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from modelplane.api.audit.service import record
from modelplane.api.auth.models import Role
from modelplane.api.auth.principal import Principal
from modelplane.api.db.base import utcnow
from modelplane.api.errors import Conflict, InvalidRequest, NotFound
from modelplane.api.pagination import Page, decode_int_token, encode_token
from modelplane.api.runs import query
from modelplane.api.runs import repository as repo
from modelplane.api.runs.filters import parse_filter, parse_order
from modelplane.api.runs.keys import MetricKeyIds
from modelplane.api.runs.models import TERMINAL_STATUSES, Run
from modelplane.api.runs.schemas import (
    LogBatch,
    LogBatchResult,
    MetricHistoryPoint,
    RunCreate,
    RunInfo,
    RunOut,
    RunSearch,
    RunUpdate,
)
from modelplane.api.settings import Settings

LINEAGE_FIELDS = ("dataset_digest", "code_ref", "image_digest", "packages", "seed", "hardware")


_PAGE_OUT = TypeAdapter(Page[RunOut])
_PAGE_INFO = TypeAdapter(Page[RunInfo])


def _info(run: Run, parent_run_id: str | None) -> dict[str, Any]:
    """The ``info`` fields of a run loaded as an ORM object (as a read of its row would give them)."""
    return {
        "run_id": run.run_id,
        "namespace": run.namespace,
        "experiment": run.experiment,
        "name": run.name,
        "status": run.status,
        "start_time": run.start_time.astimezone(UTC),
        "end_time": run.end_time.astimezone(UTC) if run.end_time else None,
        "parent_run_id": parent_run_id,
        "dataset_digest": run.dataset_digest,
        "code_ref": run.code_ref,
        "image_digest": run.image_digest,
        "packages": run.packages,
        "seed": run.seed,
        "hardware": run.hardware,
        "artifact_uri": run.artifact_uri,
        "created_by": run.created_by,
    }


def _full(
    info: dict[str, Any], params: dict[str, str], tags: dict[str, str], metrics: dict[str, Any]
) -> dict[str, Any]:
    """A run's ``full`` view as plain data (validated once, with the whole page)."""
    info["params"] = params
    info["tags"] = tags
    info["metrics"] = {k: {"value": v, "step": s, "timestamp": t} for k, (v, s, t) in metrics.items()}
    return info


async def _full_views(session: AsyncSession, rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    """The ``full`` views of runs read as rows of ``id`` and the ``info`` fields: one more statement."""
    params, tags, metrics = await repo.details_of(session, [row.id for row in rows])
    return [_full(repo.info_of(row), params[row.id], tags[row.id], metrics[row.id]) for row in rows]


class _InNamespace(Protocol):
    @property
    def namespace(self) -> str: ...


Found = TypeVar("Found", bound=_InNamespace)


def _visible(found: Found | None, principal: Principal, run_id: str, role: Role) -> Found:
    """``found`` (a run read in any shape), if it exists (404) and the caller holds ``role`` in its namespace
    (401/403)."""
    if found is None:
        raise NotFound(f"run {run_id} not found")
    principal.require(found.namespace, role)
    return found


async def _read_run(session: AsyncSession, principal: Principal, run_id: str) -> RunOut:
    """A run's ``full`` view, if the caller may read it: two statements."""
    row = _visible(await repo.run_row(session, run_id), principal, run_id, Role.VIEWER)
    [view] = await _full_views(session, [row])
    return RunOut.model_validate(view)


async def _visible_run(session: AsyncSession, principal: Principal, run_id: str, role: Role) -> Run:
    """The run as an ORM object (for writes that change it), if the caller holds ``role``."""
    return _visible(await repo.get_run(session, run_id), principal, run_id, role)


async def _run_ref(session: AsyncSession, principal: Principal, run_id: str, role: Role) -> repo.RunRef:
    """The run as a plain ``(id, namespace)`` row (for writes that only append to it), if the caller holds ``role``."""
    return _visible(await repo.run_ref(session, run_id), principal, run_id, role)


async def get_run(session: AsyncSession, principal: Principal, run_id: str) -> RunOut:
    return await _read_run(session, principal, run_id)


async def create_run(
    session: AsyncSession, principal: Principal, namespace: str, body: RunCreate
) -> tuple[RunOut, bool]:
    """The run, and whether it was created now (False: it existed with this client id)."""
    principal.require(namespace, Role.EDITOR)
    if body.run_id is not None:
        existing = await repo.get_run(session, body.run_id)
        if existing is not None:
            if existing.namespace != namespace:
                raise Conflict(f"run id {body.run_id} is taken in another namespace")
            return await _read_run(session, principal, body.run_id), False
    parent_id = None
    if body.parent_run_id is not None:
        parent = await repo.get_run(session, body.parent_run_id)
        if parent is None or parent.namespace != namespace:
            raise NotFound(f"parent run {body.parent_run_id} not found in namespace {namespace!r}")
        parent_id = parent.id
    run_id = body.run_id or uuid.uuid4().hex
    run = Run(
        run_id=run_id,
        namespace=namespace,
        experiment=body.experiment,
        name=body.name or run_id,
        status=body.status,
        start_time=body.start_time or utcnow(),
        parent_id=parent_id,
        dataset_digest=body.dataset_digest,
        code_ref=body.code_ref,
        image_digest=body.image_digest,
        packages=body.packages or {},
        seed=body.seed,
        hardware=body.hardware or {},
        created_by=principal.name,
    )
    session.add(run)
    try:
        await session.flush()
    except IntegrityError as error:
        await session.rollback()
        if body.run_id is not None:
            return await create_run(session, principal, namespace, body)
        raise Conflict("run could not be created") from error
    params = {p.key: p.value for p in body.params}
    tags = {t.key: t.value for t in body.tags}
    await repo.insert_params(session, run.id, params)
    await repo.upsert_tags(session, run.id, tags)
    record(
        session,
        principal,
        "run.create",
        namespace,
        "run",
        run_id,
        after={"experiment": run.experiment, "name": run.name},
    )
    await session.commit()
    # What this transaction wrote is the whole run: no need to read it back.
    return RunOut.model_validate(_full(_info(run, body.parent_run_id), params, tags, {})), True


async def update_run(session: AsyncSession, principal: Principal, run_id: str, body: RunUpdate) -> RunOut:
    run = await _visible_run(session, principal, run_id, Role.EDITOR)
    before = {"status": run.status.value, "end_time": run.end_time.isoformat() if run.end_time else None}
    if body.status is not None and body.status != run.status:
        if run.status in TERMINAL_STATUSES:
            raise Conflict(f"run {run_id} is {run.status.value}; a finished run's status cannot change")
        run.status = body.status
        if body.status in TERMINAL_STATUSES:
            run.end_time = body.end_time or utcnow()
    elif body.end_time is not None:
        run.end_time = body.end_time
    if body.artifact_uri is not None:
        run.artifact_uri = body.artifact_uri
    for name in LINEAGE_FIELDS:
        value = getattr(body, name)
        if value is not None:
            setattr(run, name, value)
    record(
        session,
        principal,
        "run.update",
        run.namespace,
        "run",
        run_id,
        before=before,
        after=body.model_dump(mode="json", exclude_none=True),
    )
    await session.commit()
    return await get_run(session, principal, run_id)


async def log_batch(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    key_ids: MetricKeyIds,
    run_id: str,
    body: LogBatch,
) -> LogBatchResult:
    """Store a batch of metrics, params and tags in one transaction; safe to retry."""
    limits = (
        ("metrics", len(body.metrics), settings.max_metrics_per_batch),
        ("params", len(body.params), settings.max_params_per_batch),
        ("tags", len(body.tags), settings.max_tags_per_batch),
    )
    for what, count, limit in limits:
        if count > limit:
            raise InvalidRequest(f"a batch may hold at most {limit} {what}; got {count}: split it into smaller batches")
    run = await _run_ref(session, principal, run_id, Role.EDITOR)
    params: dict[str, str] = {}
    for param in body.params:
        if params.setdefault(param.key, param.value) != param.value:
            raise InvalidRequest(f"param {param.key!r} appears twice in the batch with different values")
    if params:
        stored = await repo.existing_params(session, run.id, params)
        changed = sorted(k for k, v in stored.items() if v != params[k])
        if changed:
            raise Conflict(f"params are immutable: {', '.join(changed)} already logged with other values", keys=changed)
        await repo.insert_params(session, run.id, {k: v for k, v in params.items() if k not in stored})
    await repo.upsert_tags(session, run.id, {t.key: t.value for t in body.tags})
    if body.metrics:
        ids = await key_ids.resolve(session, (m.key for m in body.metrics))
        await repo.insert_metrics(session, run.id, body.metrics, ids)
    if body.params or body.tags:
        record(
            session,
            principal,
            "run.log",
            run.namespace,
            "run",
            run_id,
            after={"params": sorted(params), "tags": sorted({t.key for t in body.tags})},
        )
    await session.commit()
    return LogBatchResult(metrics=len(body.metrics), params=len(body.params), tags=len(body.tags))


async def metric_history(
    session: AsyncSession, principal: Principal, run_id: str, key: str, page_size: int, page_token: str | None
) -> Page[MetricHistoryPoint]:
    run = await _run_ref(session, principal, run_id, Role.VIEWER)
    after = None
    if page_token:
        step, timestamp = decode_int_token(page_token, 2)
        after = (int(step), int(timestamp))
    points = await repo.metric_history(session, run.id, key, after, page_size + 1)
    items = [MetricHistoryPoint(value=p.value, step=p.step, timestamp=p.timestamp) for p in points[:page_size]]
    token = encode_token([items[-1].step, items[-1].timestamp]) if len(points) > page_size else None
    return Page[MetricHistoryPoint](items=items, next_page_token=token)


async def search(
    session: AsyncSession, principal: Principal, key_ids: MetricKeyIds, namespace: str, body: RunSearch
) -> Page[RunOut] | Page[RunInfo]:
    principal.require(namespace, Role.VIEWER)
    clauses = parse_filter(body.filter)
    order = parse_order(body.order_by)
    after = decode_int_token(body.page_token, 3, positions=(0, 2)) if body.page_token else None
    metric_keys = {c.key for c in clauses if c.entity == "metrics"}
    if order is not None and order.entity == "metrics":
        metric_keys.add(order.key)
    ids = await key_ids.resolve(session, metric_keys, create=False) if metric_keys else {}
    rows = await query.search_runs(session, namespace, body.experiment, clauses, order, after, body.page_size + 1, ids)
    page = rows[: body.page_size]
    token = None
    if len(rows) > body.page_size:
        last_value = page[-1].order_value
        if hasattr(last_value, "isoformat"):
            last_value = last_value.isoformat()
        token = encode_token([1 if last_value is None and order is not None else 0, last_value, page[-1].id])
    if body.view == "full":
        return _PAGE_OUT.validate_python({"items": await _full_views(session, page), "next_page_token": token})
    items = [repo.info_of(row) for row in page]
    return _PAGE_INFO.validate_python({"items": items, "next_page_token": token})
