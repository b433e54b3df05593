"""Metric key ids kept by the process: read once, never an id from a transaction that rolled back."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event

from modelplane.api.runs.keys import MetricKeyIds

pytestmark = pytest.mark.db


@pytest.fixture
def statements(api):
    """The SQL statements the app's engine runs, as they run."""
    seen: list[str] = []
    engine = api.app.state.mp.engine.sync_engine

    def note(_conn, _cursor, statement, _parameters, _context, _many):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


async def test_ids_are_read_once_and_kept_only_when_committed(api, statements):
    keys = MetricKeyIds()
    name = f"loss-{uuid.uuid4().hex[:8]}"
    async with api.app.state.mp.sessions() as session:
        created = await keys.resolve(session, [name])
        assert set(created) == {name}
        assert len(keys) == 0  # created by this transaction, which now rolls back
        await session.rollback()
    async with api.app.state.mp.sessions() as session:
        assert await keys.resolve(session, [name], create=False) == {}  # it is gone
        again = await keys.resolve(session, [name])
        await session.commit()
    async with api.app.state.mp.sessions() as session:
        read = await keys.resolve(session, [name])  # committed: read and kept
        assert read == again
        assert len(keys) == 1
    statements.clear()
    async with api.app.state.mp.sessions() as session:
        assert await keys.resolve(session, [name], create=False) == again
    assert not [s for s in statements if "metric_keys" in s]


async def test_log_batches_reuse_the_ids_and_searches_do_not_create_keys(api, namespace, statements):
    run = (await api.post(f"/api/v1/namespaces/{namespace}/runs", json={"experiment": "e"})).json()
    batch = {"metrics": [{"key": "acc", "value": 0.5, "step": s, "timestamp": 1} for s in range(3)]}
    for _ in range(3):
        assert (await api.post(f"/api/v1/runs/{run['run_id']}/log-batch", json=batch)).status_code == 200
    key_reads = [s for s in statements if "FROM metric_keys" in s and "INSERT" not in s]
    assert len(key_reads) <= 3  # the first batch creates and reads back, the second reads, the third none
    statements.clear()
    assert (await api.post(f"/api/v1/runs/{run['run_id']}/log-batch", json=batch)).status_code == 200
    assert not [s for s in statements if "metric_keys" in s]
    unknown = f"never-{uuid.uuid4().hex[:8]}"
    found = await api.post(f"/api/v1/namespaces/{namespace}/runs/search", json={"filter": f"metrics.{unknown} > 0"})
    assert found.json()["items"] == []
    assert not [s for s in statements if "INSERT INTO metric_keys" in s]
    fetched = (await api.get(f"/api/v1/runs/{run['run_id']}")).json()
    assert fetched["metrics"]["acc"] == {"value": 0.5, "step": 2, "timestamp": 1}
