"""Migration 0003: the partial ``(key, value)`` indexes of params and tags, up and down, and what they are for.

The indexes hold values up to ``INDEXED_VALUE_LENGTH`` characters only (a btree entry is limited to ~2.7 kB
on Postgres), so a long value must still be storable, and a filter with a short value must be able to use
the index (the query carries the index's predicate).
"""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import create_engine, inspect, text

from modelplane.api.db.migrate import downgrade, sync_url, upgrade
from modelplane.api.runs.models import PARAM_VALUE_LENGTH, TAG_VALUE_LENGTH

pytestmark = pytest.mark.db
INDEXES = {"run_params": "ix_run_params_key_value", "run_tags": "ix_run_tags_key_value"}


def index_names(url: str, table: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return {ix["name"] for ix in inspect(engine).get_indexes(table)}
    finally:
        engine.dispose()


def test_0003_adds_and_drops_the_value_indexes(empty_database):
    upgrade(empty_database, "0002")
    for table, index in INDEXES.items():
        assert index not in index_names(empty_database, table)
    upgrade(empty_database, "0003")
    for table, index in INDEXES.items():
        assert index in index_names(empty_database, table)
    downgrade(empty_database, "0002")
    for table, index in INDEXES.items():
        assert index not in index_names(empty_database, table)


async def test_values_of_the_longest_allowed_size_are_stored_and_found(api, namespace):
    """Random text does not compress: 6,000 and 8,000 characters would not fit a btree entry on Postgres."""
    param = secrets.token_urlsafe(PARAM_VALUE_LENGTH)[:PARAM_VALUE_LENGTH]
    tag = secrets.token_urlsafe(TAG_VALUE_LENGTH)[:TAG_VALUE_LENGTH]
    medium = secrets.token_urlsafe(1000)[:1000]  # longer than the indexed values, short enough for a filter
    runs = []
    for params, tags in (({"blob": param}, {"note": tag}), ({"blob": medium}, {"note": medium})):
        body = {
            "experiment": "long",
            "params": [{"key": k, "value": v} for k, v in params.items()],
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        created = await api.post(f"/api/v1/namespaces/{namespace}/runs", json=body)
        assert created.status_code == 201, created.text
        runs.append(created.json()["run_id"])
    search = f"/api/v1/namespaces/{namespace}/runs/search"
    cases = {
        f"params.blob LIKE '{param[:100]}%'": [runs[0]],
        f"tags.note = '{medium}'": [runs[1]],
        f"params.blob IN ('x', '{medium}')": [runs[1]],
        "params.blob != 'short'": [runs[1], runs[0]],
    }
    for filter_, expected in cases.items():
        found = await api.post(search, json={"filter": filter_})
        assert found.status_code == 200, found.text
        assert [r["run_id"] for r in found.json()["items"]] == expected, filter_
    fetched = (await api.get(f"/api/v1/runs/{runs[0]}")).json()
    assert (fetched["params"]["blob"], fetched["tags"]["note"]) == (param, tag)


def test_a_filter_on_a_short_value_can_read_the_partial_index(postgres_api_url):
    """The search's param clause, as the repository builds it, is answerable from ix_run_params_key_value
    (sequential scans off, so that the plan shows whether the index applies at all, not whether it is
    the cheaper path on a near-empty table)."""
    from sqlalchemy.dialects import postgresql

    from modelplane.api.runs.filters import parse_filter
    from modelplane.api.runs.query import clause_condition

    engine = create_engine(sync_url(postgres_api_url))
    try:
        plans = []
        for filter_ in ("params.depth = '8'", "params.depth IN ('8', '16')", "tags.team = 'a'"):
            [clause] = parse_filter(filter_)
            condition = clause_condition(clause, {})
            sql = str(condition.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
            with engine.connect() as conn:
                conn.execute(text("SET enable_seqscan = off"))
                plan = conn.execute(text(f"EXPLAIN SELECT runs.id FROM runs WHERE {sql}")).scalars().all()
            plans.append("\n".join(plan))
        assert "ix_run_params_key_value" in plans[0], plans[0]
        assert "ix_run_params_key_value" in plans[1], plans[1]
        assert "ix_run_tags_key_value" in plans[2], plans[2]
    finally:
        engine.dispose()
