"""Statements over the runs tables. Repositories read and write through the session; they never commit.

The search compiles :mod:`modelplane.api.runs.filters` clauses into ``EXISTS`` sub-queries on
``latest_metrics``, ``run_params`` and ``run_tags`` (each served by a primary-key index), and pages with a
keyset over ``(nulls last, order value, id)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, false, func, literal, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from modelplane.api.db.upsert import insert_for
from modelplane.api.runs.filters import Clause, Order
from modelplane.api.runs.models import LatestMetric, Metric, MetricKey, Run, RunParam, RunTag
from modelplane.api.runs.schemas import MetricPoint

_OPS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": lambda c, v: c == v,
    "!=": lambda c, v: c != v,
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
    "LIKE": lambda c, v: c.like(v),
    "ILIKE": lambda c, v: func.lower(c).like(func.lower(v)),
    "IN": lambda c, v: c.in_(v),
}


async def get_run(session: AsyncSession, run_id: str) -> Run | None:
    return await session.scalar(select(Run).where(Run.run_id == run_id))


async def get_run_for_update(session: AsyncSession, run_id: str) -> Run | None:
    return await session.scalar(select(Run).where(Run.run_id == run_id).with_for_update())


async def run_ids(session: AsyncSession, internal_ids: Iterable[int]) -> dict[int, str]:
    ids = list(set(internal_ids))
    if not ids:
        return {}
    rows = await session.execute(select(Run.id, Run.run_id).where(Run.id.in_(ids)))
    return {row.id: row.run_id for row in rows}


async def params_of(session: AsyncSession, ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """Params of several runs (plain rows, no ORM instances: this is on the search hot path)."""
    out: dict[int, dict[str, str]] = {i: {} for i in ids}
    rows = await session.execute(select(RunParam.run_id, RunParam.key, RunParam.value).where(RunParam.run_id.in_(ids)))
    for run_id, key, value in rows:
        out[run_id][key] = value
    return out


async def tags_of(session: AsyncSession, ids: Sequence[int]) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {i: {} for i in ids}
    rows = await session.execute(select(RunTag.run_id, RunTag.key, RunTag.value).where(RunTag.run_id.in_(ids)))
    for run_id, key, value in rows:
        out[run_id][key] = value
    return out


async def latest_metrics_of(session: AsyncSession, ids: Sequence[int]) -> dict[int, dict[str, tuple[float, int, int]]]:
    """``{run: {key: (value, step, timestamp)}}`` of the latest points of several runs."""
    out: dict[int, dict[str, tuple[float, int, int]]] = {i: {} for i in ids}
    query = (
        select(LatestMetric.run_id, MetricKey.key, LatestMetric.value, LatestMetric.step, LatestMetric.timestamp)
        .join(MetricKey, MetricKey.id == LatestMetric.key_id)
        .where(LatestMetric.run_id.in_(ids))
    )
    for run_id, key, value, step, timestamp in await session.execute(query):
        out[run_id][key] = (value, step, timestamp)
    return out


async def existing_params(session: AsyncSession, run: int, keys: Iterable[str]) -> dict[str, str]:
    rows = await session.execute(
        select(RunParam.key, RunParam.value).where(RunParam.run_id == run, RunParam.key.in_(list(keys)))
    )
    return {row.key: row.value for row in rows}


# Bulk writes go through the Core tables with executemany: one cached compiled statement whatever the batch
# size (a multi-VALUES statement would be compiled anew for every batch length).
_PARAMS = RunParam.__table__
_TAGS = RunTag.__table__
_KEYS = MetricKey.__table__
_METRICS = Metric.__table__
_LATEST = LatestMetric.__table__
_UNNEST_METRICS = text(
    "INSERT INTO metrics (run_id, key_id, step, timestamp, value) "
    "SELECT * FROM unnest(CAST(:run_ids AS bigint[]), CAST(:key_ids AS integer[]), CAST(:steps AS bigint[]), "
    "CAST(:timestamps AS bigint[]), CAST(:metric_values AS double precision[])) "
    "ON CONFLICT (run_id, key_id, step, timestamp) DO NOTHING"
)


async def insert_params(session: AsyncSession, run: int, params: dict[str, str]) -> None:
    if params:
        statement = insert_for(session, _PARAMS).on_conflict_do_nothing(index_elements=["run_id", "key"])
        await session.execute(statement, [{"run_id": run, "key": k, "value": v} for k, v in params.items()])


async def upsert_tags(session: AsyncSession, run: int, tags: dict[str, str]) -> None:
    if tags:
        statement = insert_for(session, _TAGS)
        statement = statement.on_conflict_do_update(
            index_elements=["run_id", "key"], set_={"value": statement.excluded.value}
        )
        await session.execute(statement, [{"run_id": run, "key": k, "value": v} for k, v in tags.items()])


async def metric_key_ids(session: AsyncSession, keys: Iterable[str]) -> dict[str, int]:
    """Ids of metric keys, creating the missing ones (sorted, so concurrent batches never deadlock)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = await session.execute(select(MetricKey.key, MetricKey.id).where(MetricKey.key.in_(wanted)))
    found = {row.key: row.id for row in rows}
    missing = [k for k in wanted if k not in found]
    if missing:
        statement = insert_for(session, _KEYS).on_conflict_do_nothing(index_elements=["key"])
        await session.execute(statement, [{"key": k} for k in missing])
        rows = await session.execute(select(MetricKey.key, MetricKey.id).where(MetricKey.key.in_(missing)))
        found.update({row.key: row.id for row in rows})
    return found


async def insert_metrics(
    session: AsyncSession, run: int, points: Sequence[MetricPoint], key_ids: dict[str, int]
) -> None:
    """Append points; a point already stored (same key, step and timestamp) is left as it is."""
    if not points:
        return
    rows = sorted({(key_ids[p.key], p.step, p.timestamp): p.value for p in points}.items())
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # One statement over arrays: psycopg's executemany would send a thousand one-row INSERTs.
        await session.execute(
            _UNNEST_METRICS,
            {
                "run_ids": [run] * len(rows),
                "key_ids": [k for (k, _, _), _ in rows],
                "steps": [s for (_, s, _), _ in rows],
                "timestamps": [t for (_, _, t), _ in rows],
                "metric_values": [v for _, v in rows],
            },
        )
    else:
        statement = insert_for(session, _METRICS).on_conflict_do_nothing(
            index_elements=["run_id", "key_id", "step", "timestamp"]
        )
        await session.execute(
            statement, [{"run_id": run, "key_id": k, "step": s, "timestamp": t, "value": v} for (k, s, t), v in rows]
        )
    newest: dict[int, tuple[int, int, float]] = {}
    for (key_id, step, timestamp), value in rows:
        if key_id not in newest or (step, timestamp) >= newest[key_id][:2]:
            newest[key_id] = (step, timestamp, value)
    latest = insert_for(session, _LATEST)
    excluded = latest.excluded
    upsert = latest.on_conflict_do_update(
        index_elements=["run_id", "key_id"],
        set_={"step": excluded.step, "timestamp": excluded.timestamp, "value": excluded.value},
        where=or_(
            excluded.step > _LATEST.c.step,
            and_(excluded.step == _LATEST.c.step, excluded.timestamp >= _LATEST.c.timestamp),
        ),
    )
    await session.execute(
        upsert,
        [
            {"run_id": run, "key_id": k, "step": s, "timestamp": t, "value": v}
            for k, (s, t, v) in sorted(newest.items())
        ],
    )


async def metric_history(
    session: AsyncSession, run: int, key: str, after: tuple[int, int] | None, limit: int
) -> list[Metric]:
    query = (
        select(Metric)
        .join(MetricKey, MetricKey.id == Metric.key_id)
        .where(Metric.run_id == run, MetricKey.key == key)
        .order_by(Metric.step, Metric.timestamp)
        .limit(limit)
    )
    if after is not None:
        query = query.where(or_(Metric.step > after[0], and_(Metric.step == after[0], Metric.timestamp > after[1])))
    return list(await session.scalars(query))


def _clause_condition(clause: Clause, key_ids: dict[str, int]) -> ColumnElement[bool]:
    compare = _OPS[clause.op]
    if clause.entity == "metrics":
        # A range scan of ix_latest_metrics_key_id_value, not a probe per run of the namespace.
        matching = select(LatestMetric.run_id).where(
            LatestMetric.key_id == key_ids[clause.key], compare(LatestMetric.value, clause.value)
        )
        return Run.id.in_(matching)
    if clause.entity in ("params", "tags"):
        table = RunParam if clause.entity == "params" else RunTag
        return exists(
            select(literal(1)).where(
                table.run_id == Run.id, table.key == clause.key, compare(table.value, clause.value)
            )
        )
    column = getattr(Run, clause.key)
    if clause.key == "run_id" or clause.key not in ("start_time", "end_time"):
        return compare(column, clause.value)
    try:
        moment = datetime.fromisoformat(str(clause.value))
    except ValueError:
        return false()
    return compare(column, moment)


def _order_expression(order: Order | None, key_ids: dict[str, int]) -> Any:
    if order is None:
        return None
    if order.entity == "metrics":
        key_id = key_ids.get(order.key, -1)  # an unknown key orders nothing: every value is null
        return (
            select(LatestMetric.value)
            .where(LatestMetric.run_id == Run.id, LatestMetric.key_id == key_id)
            .scalar_subquery()
        )
    if order.entity in ("params", "tags"):
        table = RunParam if order.entity == "params" else RunTag
        return select(table.value).where(table.run_id == Run.id, table.key == order.key).scalar_subquery()
    return getattr(Run, order.key)


async def search_runs(
    session: AsyncSession,
    namespace: str,
    experiment: str | None,
    clauses: Sequence[Clause],
    order: Order | None,
    after: list[Any] | None,
    limit: int,
) -> list[tuple[Run, Any]]:
    """One page of matching runs with their order value, after the keyset position ``after``."""
    metric_keys = {c.key for c in clauses if c.entity == "metrics"}
    if order is not None and order.entity == "metrics":
        metric_keys.add(order.key)
    key_ids: dict[str, int] = {}
    if metric_keys:
        rows = await session.execute(select(MetricKey.key, MetricKey.id).where(MetricKey.key.in_(metric_keys)))
        key_ids = {row.key: row.id for row in rows}
    if any(c.entity == "metrics" and c.key not in key_ids for c in clauses):
        return []  # a metric no run ever logged: nothing can match
    conditions: list[ColumnElement[bool]] = [Run.namespace == namespace]
    if experiment is not None:
        conditions.append(Run.experiment == experiment)
    conditions.extend(_clause_condition(c, key_ids) for c in clauses)
    value = _order_expression(order, key_ids)
    if value is None:
        query = select(Run, literal(None)).where(*conditions).order_by(Run.id.desc())
        if after is not None:
            query = query.where(Run.id < int(after[2]))
        return [(run, None) for run, _ in (await session.execute(query.limit(limit)))]
    assert order is not None
    is_null = case((value.is_(None), 1), else_=0)
    ordered = value.desc() if order.descending else value.asc()
    query = select(Run, value).where(*conditions).order_by(is_null.asc(), ordered, Run.id.desc())
    if after is not None:
        last_null, last_value, last_id = int(after[0]), after[1], int(after[2])
        if last_null:
            query = query.where(is_null == 1, Run.id < last_id)
        else:
            if order.entity == "attributes" and order.key in ("start_time", "end_time") and last_value is not None:
                last_value = datetime.fromisoformat(last_value)
            beyond = value < last_value if order.descending else value > last_value
            query = query.where(
                or_(is_null == 1, and_(is_null == 0, beyond), and_(is_null == 0, value == last_value, Run.id < last_id))
            )
    return [(run, v) for run, v in (await session.execute(query.limit(limit)))]
