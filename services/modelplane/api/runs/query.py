"""The run search's statement: filter clauses, the ordering join and the keyset page (builds and runs one
``SELECT``; never commits).

Where it sits: the runs service parses the filter (:mod:`modelplane.api.runs.filters`), resolves the metric
key ids, calls :func:`search_runs` for a page of rows, then reads the page's details through the
repository. A metric clause is a range scan of ``latest_metrics (key_id, value)``; a param or tag clause an
``EXISTS`` that the partial ``(key, value)`` index answers for ``=`` and ``IN`` on short values (the
primary key ``(run_id, key)`` otherwise); the ordering value comes from one outer join (evaluated once per
row); pages are a keyset over ``(nulls last, order value, id)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, case, exists, false, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from modelplane.api.runs import repository as repo
from modelplane.api.runs.filters import Clause, Order
from modelplane.api.runs.models import INDEXED_VALUE_LENGTH, LatestMetric, Run, RunParam, RunTag

_RUNS = Run.__table__
_PARAMS = RunParam.__table__
_TAGS = RunTag.__table__
_LATEST = LatestMetric.__table__

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


def clause_condition(clause: Clause, key_ids: dict[str, int]) -> ColumnElement[bool]:
    """The SQL condition of one filter clause on ``runs`` (``key_ids``: ids of the metric keys it names)."""
    compare = _OPS[clause.op]
    if clause.entity == "metrics":
        # A range scan of ix_latest_metrics_key_id_value, not a probe per run of the namespace.
        matching = select(_LATEST.c.run_id).where(
            _LATEST.c.key_id == key_ids[clause.key], compare(_LATEST.c.value, clause.value)
        )
        return _RUNS.c.id.in_(matching)
    if clause.entity in ("params", "tags"):
        table = _PARAMS if clause.entity == "params" else _TAGS
        conditions = [table.c.run_id == _RUNS.c.id, table.c.key == clause.key, compare(table.c.value, clause.value)]
        values = clause.value if isinstance(clause.value, tuple) else (clause.value,)
        if clause.op in ("=", "IN") and all(len(str(v)) <= INDEXED_VALUE_LENGTH for v in values):
            # The partial index's own predicate (true of every match): lets the planner read ix_*_key_value.
            conditions.append(func.length(table.c.value) <= literal_column(str(INDEXED_VALUE_LENGTH)))
        return exists(select(literal_column("1")).where(*conditions))
    column = _RUNS.c[clause.key]
    if clause.key == "run_id" or clause.key not in ("start_time", "end_time"):
        return compare(column, clause.value)
    try:
        moment = datetime.fromisoformat(str(clause.value))
    except ValueError:
        return false()
    return compare(column, moment)


def _order_join(order: Order | None, key_ids: dict[str, int]) -> tuple[Any, Any]:
    """The ordering value and the outer join that brings it (one row at most per run: a primary key)."""
    if order is None:
        return None, None
    if order.entity == "metrics":
        key_id = key_ids.get(order.key, -1)  # an unknown key orders nothing: every value is null
        joined = _LATEST.alias("order_value")
        return joined.c.value, (joined, and_(joined.c.run_id == _RUNS.c.id, joined.c.key_id == key_id))
    if order.entity in ("params", "tags"):
        joined = (_PARAMS if order.entity == "params" else _TAGS).alias("order_value")
        return joined.c.value, (joined, and_(joined.c.run_id == _RUNS.c.id, joined.c.key == order.key))
    return _RUNS.c[order.key], None


async def search_runs(
    session: AsyncSession,
    namespace: str,
    experiment: str | None,
    clauses: Sequence[Clause],
    order: Order | None,
    after: list[Any] | None,
    limit: int,
    key_ids: dict[str, int],
) -> list[Row[Any]]:
    """One page of matching runs after the keyset position ``after``: rows of ``id``, the ``info`` fields and
    ``order_value``. ``key_ids`` holds the ids of the metric keys that the clauses and the order name."""
    if any(c.entity == "metrics" and c.key not in key_ids for c in clauses):
        return []  # a metric no run ever logged: nothing can match
    conditions: list[ColumnElement[bool]] = [_RUNS.c.namespace == namespace]
    if experiment is not None:
        conditions.append(_RUNS.c.experiment == experiment)
    conditions.extend(clause_condition(c, key_ids) for c in clauses)
    value, join = _order_join(order, key_ids)
    connection = await session.connection()
    if value is None:
        query = repo.select_runs(literal_column("NULL").label("order_value")).where(*conditions)
        if after is not None:
            query = query.where(_RUNS.c.id < int(after[2]))
        return list(await connection.execute(query.order_by(_RUNS.c.id.desc()).limit(limit)))
    assert order is not None
    query = repo.select_runs(value.label("order_value")).where(*conditions)
    if join is not None:
        query = query.outerjoin(*join)
    is_null = case((value.is_(None), 1), else_=0)
    ordered = value.desc() if order.descending else value.asc()
    query = query.order_by(is_null.asc(), ordered, _RUNS.c.id.desc())
    if after is not None:
        last_null, last_value, last_id = int(after[0]), after[1], int(after[2])
        if last_null:
            query = query.where(is_null == 1, _RUNS.c.id < last_id)
        else:
            if order.entity == "attributes" and order.key in ("start_time", "end_time") and last_value is not None:
                last_value = datetime.fromisoformat(last_value)
            beyond = value < last_value if order.descending else value > last_value
            query = query.where(
                or_(
                    is_null == 1,
                    and_(is_null == 0, beyond),
                    and_(is_null == 0, value == last_value, _RUNS.c.id < last_id),
                )
            )
    return list(await connection.execute(query.limit(limit)))
