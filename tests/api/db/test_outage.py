"""A PostgreSQL restart while clients write: answers are 503 (retryable), never 500, and every
acknowledged write survives; the service recovers by itself once the database is back."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from harness.control_plane import ADMIN_TOKEN, make_settings, serve
from harness.postgres import temporary_cluster
from modelplane.api.db.migrate import upgrade

pytestmark = pytest.mark.db


@pytest.fixture
def restartable_postgres():
    with temporary_cluster() as server:
        yield server


def test_database_restart_during_writes(restartable_postgres, tmp_path):
    server = restartable_postgres
    url = server.url(server.create_database())
    upgrade(url)
    with (
        serve(make_settings(url, tmp_path / "artifacts")) as live,
        httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10) as client,
    ):
        run_id = client.post("/api/v1/namespaces/outage/runs", json={"experiment": "e"}).json()["run_id"]
        acknowledged: list[int] = []
        statuses: list[int] = []
        stop = threading.Event()

        def writer() -> None:
            step = 0
            deadline = time.monotonic() + 30
            while not stop.is_set() and time.monotonic() < deadline:
                body = {"metrics": [{"key": "loss", "value": float(step), "step": step, "timestamp": step}]}
                response = client.post(f"/api/v1/runs/{run_id}/log-batch", json=body)
                statuses.append(response.status_code)
                if response.status_code == 200:
                    acknowledged.append(step)
                step += 1
                time.sleep(0.005)

        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(0.5)
        server.stop()
        time.sleep(1.0)
        outage_ready = client.get("/readyz")
        server.start()
        time.sleep(1.5)
        stop.set()
        thread.join()

        assert outage_ready.status_code == 503
        assert outage_ready.json()["checks"]["database"].startswith("unavailable")
        failures = [s for s in statuses if s != 200]
        assert failures, "the outage was not observed by any write"
        assert set(failures) == {503}, f"non-retryable answers during the outage: {set(failures)}"
        assert statuses[-1] == 200, "the service did not recover after the database came back"
        stored = client.get(f"/api/v1/runs/{run_id}/metrics/loss", params={"page_size": 1000}).json()["items"]
        assert {p["step"] for p in stored} >= set(acknowledged)
        assert client.get("/readyz").status_code == 200
