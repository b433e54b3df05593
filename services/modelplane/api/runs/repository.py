"""Statements over the runs tables. Repositories read and write through the session; they never commit.

Reads on the search path (a run's row, a page's params, tags and latest metrics) select plain rows of the
Core tables, no ORM instances; a page's details come in one ``UNION ALL`` keyed by ``= ANY(:ids)`` on
Postgres (one array parameter: the same statement text for every page). The search's own statement is
built in :mod:`modelplane.api.runs.query`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Double,
    Row,
    String,
    and_,
    any_,
    bindparam,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from modelplane.api.db.upsert import dialect_of, insert_for, is_postgres
from modelplane.api.runs.models import LatestMetric, Metric, MetricKey, Run, RunParam, RunTag
from modelplane.api.runs.schemas import MetricPoint


async def get_run(session: AsyncSession, run_id: str) -> Run | None:
    return await session.scalar(select(Run).where(Run.run_id == run_id))


async def get_run_for_update(session: AsyncSession, run_id: str) -> Run | None:
    return await session.scalar(select(Run).where(Run.run_id == run_id).with_for_update())


class RunRef(NamedTuple):
    """A run's internal id and namespace: what a write that only appends to the run needs."""

    id: int
    namespace: str


async def run_ref(session: AsyncSession, run_id: str) -> RunRef | None:
    connection = await session.connection()
    row = (await connection.execute(select(_RUNS.c.id, _RUNS.c.namespace).where(_RUNS.c.run_id == run_id))).first()
    return RunRef(row.id, row.namespace) if row is not None else None


async def run_ids(session: AsyncSession, internal_ids: Iterable[int]) -> dict[int, str]:
    ids = list(set(internal_ids))
    if not ids:
        return {}
    rows = await session.execute(select(Run.id, Run.run_id).where(Run.id.in_(ids)))
    return {row.id: row.run_id for row in rows}


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


async def metric_key_ids(
    session: AsyncSession, keys: Iterable[str], committed: Mapping[str, int], create: bool = True
) -> tuple[dict[str, int], dict[str, int]]:
    """Ids of metric keys, creating the missing ones unless ``create`` is false (sorted, so concurrent batches
    never deadlock); and, of those, the ids read back as already committed.

    ``committed`` holds ids known to be committed (a key is never deleted): those are not read again. Ids of
    keys created by this transaction are not committed yet, so they are not in the second mapping.
    """
    wanted = sorted(set(keys))
    found = {k: committed[k] for k in wanted if k in committed}
    unknown = [k for k in wanted if k not in found]
    if not unknown:
        return found, {}
    rows = await session.execute(select(_KEYS.c.key, _KEYS.c.id).where(_KEYS.c.key.in_(unknown)))
    read = {row.key: row.id for row in rows}
    found.update(read)
    missing = [k for k in unknown if k not in read]
    if missing and create:
        statement = insert_for(session, _KEYS).on_conflict_do_nothing(index_elements=["key"])
        await session.execute(statement, [{"key": k} for k in missing])
        rows = await session.execute(select(_KEYS.c.key, _KEYS.c.id).where(_KEYS.c.key.in_(missing)))
        found.update({row.key: row.id for row in rows})
    return found, read


async def insert_metrics(
    session: AsyncSession, run: int, points: Sequence[MetricPoint], key_ids: dict[str, int]
) -> None:
    """Append points; a point already stored (same key, step and timestamp) is left as it is."""
    if not points:
        return
    rows = sorted({(key_ids[p.key], p.step, p.timestamp): p.value for p in points}.items())
    if is_postgres(session):
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
    await session.execute(
        _latest_upsert(session),
        [
            {"run_id": run, "key_id": k, "step": s, "timestamp": t, "value": v}
            for k, (s, t, v) in sorted(newest.items())
        ],
    )


_LATEST_UPSERTS: dict[str, Any] = {}


def _latest_upsert(session: AsyncSession) -> Any:
    """The upsert of ``latest_metrics`` that only moves forward, built once per dialect (statements are
    immutable; building its ``excluded`` columns anew cost a twentieth of a one-metric request)."""
    dialect = dialect_of(session)
    statement = _LATEST_UPSERTS.get(dialect)
    if statement is None:
        latest = insert_for(session, _LATEST)
        excluded = latest.excluded
        statement = latest.on_conflict_do_update(
            index_elements=["run_id", "key_id"],
            set_={"step": excluded.step, "timestamp": excluded.timestamp, "value": excluded.value},
            where=or_(
                excluded.step > _LATEST.c.step,
                and_(excluded.step == _LATEST.c.step, excluded.timestamp >= _LATEST.c.timestamp),
            ),
        )
        _LATEST_UPSERTS[dialect] = statement
    return statement


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


def _among(session: AsyncSession, column: ColumnElement[int], ids: Sequence[int]) -> ColumnElement[bool]:
    """``column = ANY(:ids)`` on Postgres (one array parameter: the same statement text, parsed once, for any
    page); ``IN (...)`` elsewhere."""
    if is_postgres(session):
        return column == any_(bindparam("ids", list(ids), type_=postgresql.ARRAY(BigInteger)))
    return column.in_(list(ids))


# --- Reading runs: plain rows of the Core tables (no ORM instances: this is the search's hot path) ---------

_RUNS = Run.__table__
_PARENT = _RUNS.alias("parent")
RUN_INFO = (
    _RUNS.c.run_id,
    _RUNS.c.namespace,
    _RUNS.c.experiment,
    _RUNS.c.name,
    _RUNS.c.status,
    _RUNS.c.start_time,
    _RUNS.c.end_time,
    _PARENT.c.run_id.label("parent_run_id"),
    _RUNS.c.dataset_digest,
    _RUNS.c.code_ref,
    _RUNS.c.image_digest,
    _RUNS.c.packages,
    _RUNS.c.seed,
    _RUNS.c.hardware,
    _RUNS.c.artifact_uri,
    _RUNS.c.created_by,
)
"""The columns of a run's ``info`` view, labelled as its fields (the parent's run id by a self-join)."""
INFO_FIELDS = tuple(c.key for c in RUN_INFO)


def info_of(row: Row[Any]) -> dict[str, Any]:
    """The ``info`` fields of a row read by :func:`run_row` or :func:`search_runs`."""
    return dict(zip(INFO_FIELDS, row[1 : 1 + len(INFO_FIELDS)], strict=True))


def select_runs(*extra: Any) -> Any:
    """``SELECT id, <info fields>, *extra FROM runs`` with the parent's run id joined in."""
    return select(_RUNS.c.id, *RUN_INFO, *extra).select_from(
        _RUNS.outerjoin(_PARENT, _PARENT.c.id == _RUNS.c.parent_id)
    )


async def run_row(session: AsyncSession, run_id: str) -> Row[Any] | None:
    """A run's ``id`` and ``info`` fields by its public id."""
    connection = await session.connection()
    return (await connection.execute(select_runs().where(_RUNS.c.run_id == run_id))).first()


Details = tuple[dict[int, dict[str, str]], dict[int, dict[str, str]], dict[int, dict[str, tuple[float, int, int]]]]


async def details_of(session: AsyncSession, ids: Sequence[int]) -> Details:
    """Params, tags and latest metrics (``{key: (value, step, timestamp)}``) of several runs, in one statement."""
    params: dict[int, dict[str, str]] = {i: {} for i in ids}
    tags: dict[int, dict[str, str]] = {i: {} for i in ids}
    metrics: dict[int, dict[str, tuple[float, int, int]]] = {i: {} for i in ids}
    if not ids:
        return params, tags, metrics
    no_number, no_int, no_text = null().cast(Double), null().cast(BigInteger), null().cast(String)
    parts = [
        select(
            literal_column(str(kind)).label("kind"), t.c.run_id, t.c.key, t.c.value, no_number, no_int, no_int
        ).where(_among(session, t.c.run_id, ids))
        for kind, t in ((0, _PARAMS), (1, _TAGS))
    ]
    parts.append(
        select(
            literal_column("2"),
            _LATEST.c.run_id,
            _KEYS.c.key,
            no_text,
            _LATEST.c.value,
            _LATEST.c.step,
            _LATEST.c.timestamp,
        )
        .join_from(_LATEST, _KEYS, _KEYS.c.id == _LATEST.c.key_id)
        .where(_among(session, _LATEST.c.run_id, ids))
    )
    connection = await session.connection()
    for kind, run, key, text_value, number, step, timestamp in await connection.execute(union_all(*parts)):
        if kind == 2:
            metrics[run][key] = (number, step, timestamp)
        else:
            (params if kind == 0 else tags)[run][key] = text_value
    return params, tags, metrics
