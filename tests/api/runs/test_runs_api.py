"""Runs, params, tags and metrics through the HTTP API, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.db


async def create_run(api, namespace, **body):
    response = await api.post(f"/api/v1/namespaces/{namespace}/runs", json={"experiment": "exp", **body})
    assert response.status_code in (200, 201), response.text
    return response.json()


async def test_create_get_and_idempotent_create(api, namespace):
    run_id = uuid.uuid4().hex
    created = await api.post(
        f"/api/v1/namespaces/{namespace}/runs",
        json={"experiment": "iris", "run_id": run_id, "params": [{"key": "depth", "value": "8"}], "seed": 7},
    )
    assert created.status_code == 201, created.text
    again = await api.post(f"/api/v1/namespaces/{namespace}/runs", json={"experiment": "iris", "run_id": run_id})
    assert again.status_code == 200
    run = (await api.get(f"/api/v1/runs/{run_id}")).json()
    assert run["params"] == {"depth": "8"}
    assert run["seed"] == 7
    assert run["status"] == "Running"
    assert run["created_by"] == "bootstrap-admin"


async def test_a_created_run_is_answered_as_it_reads_back(api, namespace):
    """POST answers from what it wrote (no read back): the same body a GET gives, times in UTC."""
    parent = await create_run(api, namespace)
    body = {
        "experiment": "iris",
        "name": "trial",
        "parent_run_id": parent["run_id"],
        "status": "Scheduled",
        "start_time": "2026-11-30T10:00:00.123456+02:00",
        "params": [{"key": "depth", "value": "8"}, {"key": "lr", "value": "0.1"}],
        "tags": [{"key": "team", "value": "a"}, {"key": "team", "value": "b"}],
        "dataset_digest": "sha256:" + "a" * 64,
        "packages": {"scikit-learn": "1.7.0"},
        "hardware": {"node": "n1", "accelerator": {"type": "a100", "count": 2}, "memory_gib": 7.5},
        "seed": -(2**63),
    }
    created = await api.post(f"/api/v1/namespaces/{namespace}/runs", json=body)
    assert created.status_code == 201, created.text
    answer = created.json()
    assert answer == (await api.get(f"/api/v1/runs/{answer['run_id']}")).json()
    assert answer["start_time"] == "2026-11-30T08:00:00.123456Z"
    assert answer["tags"] == {"team": "b"}
    assert answer["parent_run_id"] == parent["run_id"]
    plain = await api.post(f"/api/v1/namespaces/{namespace}/runs", json={"experiment": "iris"})
    assert plain.json() == (await api.get(f"/api/v1/runs/{plain.json()['run_id']}")).json()


async def test_log_batch_stores_series_and_latest_values(api, namespace):
    run = await create_run(api, namespace)
    points = [{"key": "loss", "value": 1.0 / (step + 1), "step": step, "timestamp": 1000 + step} for step in range(50)]
    response = await api.post(
        f"/api/v1/runs/{run['run_id']}/log-batch",
        json={"metrics": points, "params": [{"key": "lr", "value": "0.1"}], "tags": [{"key": "team", "value": "a"}]},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"metrics": 50, "params": 1, "tags": 1}
    fetched = (await api.get(f"/api/v1/runs/{run['run_id']}")).json()
    assert fetched["metrics"]["loss"] == {"value": 1.0 / 50, "step": 49, "timestamp": 1049}
    assert fetched["params"] == {"lr": "0.1"}
    assert fetched["tags"] == {"team": "a"}
    history = (await api.get(f"/api/v1/runs/{run['run_id']}/metrics/loss", params={"page_size": 20})).json()
    assert [p["step"] for p in history["items"]] == list(range(20))
    rest = (
        await api.get(
            f"/api/v1/runs/{run['run_id']}/metrics/loss",
            params={"page_size": 40, "page_token": history["next_page_token"]},
        )
    ).json()
    assert [p["step"] for p in rest["items"]] == list(range(20, 50))
    assert rest["next_page_token"] is None


async def test_log_batch_retry_is_idempotent_and_older_points_do_not_move_latest(api, namespace):
    run = await create_run(api, namespace)
    batch = {
        "metrics": [
            {"key": "acc", "value": 0.5, "step": 1, "timestamp": 10},
            {"key": "acc", "value": 0.9, "step": 5, "timestamp": 50},
        ]
    }
    for _ in range(3):
        assert (await api.post(f"/api/v1/runs/{run['run_id']}/log-batch", json=batch)).status_code == 200
    late = {"metrics": [{"key": "acc", "value": 0.1, "step": 2, "timestamp": 99}]}
    assert (await api.post(f"/api/v1/runs/{run['run_id']}/log-batch", json=late)).status_code == 200
    history = (await api.get(f"/api/v1/runs/{run['run_id']}/metrics/acc")).json()["items"]
    assert [(p["step"], p["value"]) for p in history] == [(1, 0.5), (2, 0.1), (5, 0.9)]
    latest = (await api.get(f"/api/v1/runs/{run['run_id']}")).json()["metrics"]["acc"]
    assert latest["value"] == 0.9


async def test_params_are_immutable(api, namespace):
    run = await create_run(api, namespace, params=[{"key": "depth", "value": "8"}])
    same = await api.post(f"/api/v1/runs/{run['run_id']}/log-batch", json={"params": [{"key": "depth", "value": "8"}]})
    assert same.status_code == 200
    changed = await api.post(
        f"/api/v1/runs/{run['run_id']}/log-batch", json={"params": [{"key": "depth", "value": "9"}]}
    )
    assert changed.status_code == 409
    assert "params are immutable: depth" in changed.json()["detail"]


async def test_batch_limits_answer_400_with_a_message(api, namespace):
    run = await create_run(api, namespace)
    metrics = [{"key": "m", "value": 1.0, "step": i, "timestamp": i} for i in range(1001)]
    response = await api.post(f"/api/v1/runs/{run['run_id']}/log-batch", json={"metrics": metrics})
    assert response.status_code == 400
    assert response.json()["detail"] == "a batch may hold at most 1000 metrics; got 1001: split it into smaller batches"
    params = [{"key": f"p{i}", "value": "x"} for i in range(101)]
    response = await api.post(f"/api/v1/runs/{run['run_id']}/log-batch", json={"params": params})
    assert response.status_code == 400
    assert "at most 100 params" in response.json()["detail"]


async def test_invalid_bodies_get_422_with_field_paths(api, namespace):
    run = await create_run(api, namespace)
    response = await api.post(
        f"/api/v1/runs/{run['run_id']}/log-batch", json={"metrics": [{"key": "m", "value": "high", "timestamp": 1}]}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "metrics", 0, "value"]
    response = await api.post(f"/api/v1/namespaces/{namespace}/runs", json={"experiment": "x", "colour": "red"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "colour"]
    response = await api.post("/api/v1/namespaces/Bad_NS/runs", json={"experiment": "x"})
    assert response.status_code == 422


async def test_finished_runs_keep_their_status(api, namespace):
    run = await create_run(api, namespace)
    done = await api.patch(f"/api/v1/runs/{run['run_id']}", json={"status": "Succeeded", "artifact_uri": "s3://b/k"})
    assert done.status_code == 200
    assert done.json()["end_time"] is not None
    assert done.json()["artifact_uri"] == "s3://b/k"
    again = await api.patch(f"/api/v1/runs/{run['run_id']}", json={"status": "Running"})
    assert again.status_code == 409


async def test_unknown_run_is_404(api):
    response = await api.get(f"/api/v1/runs/{uuid.uuid4().hex}")
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


async def test_sweep_children_point_at_their_parent(api, namespace):
    parent = await create_run(api, namespace, name="sweep")
    child = await create_run(api, namespace, name="trial-0", parent_run_id=parent["run_id"])
    assert child["parent_run_id"] == parent["run_id"]
    orphan = await api.post(
        f"/api/v1/namespaces/{namespace}/runs", json={"experiment": "e", "parent_run_id": uuid.uuid4().hex}
    )
    assert orphan.status_code == 404


async def test_writes_are_audited(api, namespace):
    run = await create_run(api, namespace)
    await api.post(f"/api/v1/runs/{run['run_id']}/log-batch", json={"params": [{"key": "a", "value": "1"}]})
    await api.patch(f"/api/v1/runs/{run['run_id']}", json={"status": "Failed"})
    entries = (await api.get(f"/api/v1/namespaces/{namespace}/audit")).json()["items"]
    assert [e["action"] for e in entries] == ["run.update", "run.log", "run.create"]
    assert all(e["principal"] == "bootstrap-admin" for e in entries)
    assert entries[0]["before"]["status"] == "Running"
