"""Deployments (traffic history) and rollout events through the HTTP API, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import pytest

pytestmark = pytest.mark.db


async def register(api, namespace, model="churn"):
    body = {"artifact_uri": "s3://m/a.onnx", "sha256": hashlib.sha256(uuid.uuid4().bytes).hexdigest(), "size_bytes": 1}
    response = await api.post(f"/api/v1/namespaces/{namespace}/models/{model}/versions", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def traffic_url(namespace, service="churn-svc"):
    return f"/api/v1/namespaces/{namespace}/services/{service}/traffic"


def history_url(namespace, service="churn-svc"):
    return f"/api/v1/namespaces/{namespace}/services/{service}/deployments"


def events_url(namespace, rollout="churn-canary"):
    return f"/api/v1/namespaces/{namespace}/rollouts/{rollout}/events"


def split(*targets):
    return {"traffic": [{"model": m, "version": v, "percent": p} for m, v, p in targets]}


def shares(traffic):
    return sorted((d["model"], d["version"], d["percent"]) for d in traffic)


async def test_traffic_changes_become_history(api, namespace):
    for _ in range(2):
        await register(api, namespace)
    first = await api.post(traffic_url(namespace), json=split(("churn", 1, 100)))
    assert first.status_code == 200, first.text
    assert first.json()["changed"] is True
    assert shares(first.json()["traffic"]) == [("churn", 1, 100)]
    canary = (await api.post(traffic_url(namespace), json=split(("churn", 1, 90), ("churn", 2, 10)))).json()
    assert shares(canary["traffic"]) == [("churn", 1, 90), ("churn", 2, 10)]
    same = (await api.post(traffic_url(namespace), json=split(("churn", 2, 10), ("churn", 1, 90)))).json()
    assert same["changed"] is False
    assert same["traffic"] == canary["traffic"]
    half = (await api.post(traffic_url(namespace), json=split(("churn", 1, 50), ("churn", 2, 50)))).json()
    promoted = (await api.post(traffic_url(namespace), json=split(("churn", 2, 100)))).json()
    assert shares(promoted["traffic"]) == [("churn", 2, 100)]
    history = (await api.get(history_url(namespace))).json()["items"]
    assert [(d["version"], d["percent"], d["active"]) for d in history] == [
        (2, 100, True),
        (2, 50, False),
        (1, 50, False),
        (2, 10, False),
        (1, 90, False),
        (1, 100, False),
    ]
    ended = {d["id"]: d for d in history}
    assert ended[first.json()["traffic"][0]["id"]]["ended_at"] == canary["traffic"][0]["started_at"]
    assert all(ended[d["id"]]["ended_at"] == promoted["traffic"][0]["started_at"] for d in half["traffic"])
    active = (await api.get(history_url(namespace), params={"active": True})).json()["items"]
    assert [d["id"] for d in active] == [promoted["traffic"][0]["id"]]


async def test_unchanged_entries_stay_open(api, namespace):
    for model in ("churn", "churn", "fraud"):
        await register(api, namespace, model)
    before = (await api.post(traffic_url(namespace), json=split(("churn", 1, 80), ("churn", 2, 20)))).json()
    after = (await api.post(traffic_url(namespace), json=split(("churn", 1, 80), ("fraud", 1, 20)))).json()
    kept = next(d for d in before["traffic"] if d["version"] == 1)
    assert kept in after["traffic"]
    assert shares(after["traffic"]) == [("churn", 1, 80), ("fraud", 1, 20)]


async def test_history_pages(api, namespace):
    await register(api, namespace)
    await register(api, namespace)
    for percent in range(0, 101, 20):
        await api.post(traffic_url(namespace), json=split(("churn", 1, 100 - percent), ("churn", 2, percent)))
    ids, token = [], None
    while True:
        params = {"page_size": 4} | ({"page_token": token} if token else {})
        page = (await api.get(history_url(namespace), params=params)).json()
        ids.append([d["id"] for d in page["items"]])
        token = page["next_page_token"]
        if token is None:
            break
    flat = [i for page in ids for i in page]
    assert [len(page) for page in ids] == [4, 4, 4]
    assert flat == sorted(flat, reverse=True)
    assert len(set(flat)) == 12
    assert (await api.get(history_url(namespace, "other-svc"))).json() == {"items": [], "next_page_token": None}


async def test_invalid_traffic(api, namespace):
    await register(api, namespace)
    short = await api.post(traffic_url(namespace), json=split(("churn", 1, 90)))
    assert short.status_code == 400
    assert short.json()["detail"] == "traffic percents must sum to 100; they sum to 90"
    empty = await api.post(traffic_url(namespace), json={"traffic": []})
    assert empty.status_code == 400
    assert "DELETE" in empty.json()["detail"]
    twice = await api.post(traffic_url(namespace), json=split(("churn", 1, 50), ("churn", 1, 50)))
    assert twice.status_code == 400
    assert twice.json()["detail"] == "each model version may appear once in the traffic; repeated: churn:1"
    unknown = await api.post(traffic_url(namespace), json=split(("churn", 1, 50), ("churn", 7, 50)))
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == f"model versions not found in namespace {namespace!r}: churn:7"
    assert (await api.post(traffic_url(namespace), json=split(("churn", 1, 101)))).status_code == 422
    assert (await api.post(traffic_url(namespace, "Bad_Svc"), json=split(("churn", 1, 100)))).status_code == 422
    assert (await api.get(history_url(namespace), params={"page_token": "x"})).status_code == 400
    assert (await api.get(history_url(namespace))).json()["items"] == []


async def test_ending_a_service(api, namespace):
    await register(api, namespace)
    await api.post(traffic_url(namespace), json=split(("churn", 1, 100)))
    assert (await api.delete(traffic_url(namespace))).status_code == 204
    assert (await api.get(history_url(namespace), params={"active": True})).json()["items"] == []
    history = (await api.get(history_url(namespace))).json()["items"]
    assert history[0]["ended_at"] is not None
    assert (await api.delete(traffic_url(namespace))).status_code == 204


async def test_concurrent_reports_leave_one_split_open(api, namespace):
    for _ in range(3):
        await register(api, namespace)
    splits = [split(("churn", 1 + i % 3, 60), ("churn", 1 + (i + 1) % 3, 40)) for i in range(9)]
    responses = await asyncio.gather(*(api.post(traffic_url(namespace), json=s) for s in splits))
    assert [r.status_code for r in responses] == [200] * 9, [r.text for r in responses]
    active = (await api.get(history_url(namespace), params={"active": True})).json()["items"]
    assert sum(d["percent"] for d in active) == 100
    assert shares(active) in [shares(s["traffic"]) for s in splits]


async def test_rollout_events(api, namespace):
    await register(api, namespace)
    first = await api.post(events_url(namespace), json={"service": "churn-svc", "event": "Started", "message": "go"})
    assert first.status_code == 201, first.text
    assert first.json()["model"] is None
    step = await api.post(
        events_url(namespace),
        json={"service": "churn-svc", "model": "churn", "version": 1, "event": "WeightChanged", "weight": 20},
    )
    assert step.status_code == 201
    assert step.json()["version"] == 1
    assert step.json()["weight"] == 20
    for i in range(3):
        await api.post(
            events_url(namespace), json={"service": "churn-svc", "event": "AnalysisSucceeded", "message": str(i)}
        )
    page = (await api.get(events_url(namespace), params={"page_size": 3})).json()
    assert [e["message"] for e in page["items"]] == ["2", "1", "0"]
    rest = (await api.get(events_url(namespace), params={"page_token": page["next_page_token"]})).json()
    assert [e["event"] for e in rest["items"]] == ["WeightChanged", "Started"]
    assert rest["items"][0]["model"] == "churn"
    assert rest["next_page_token"] is None
    assert (await api.get(events_url(namespace, "other"))).json()["items"] == []


async def test_invalid_rollout_events(api, namespace):
    await register(api, namespace)
    unknown = await api.post(
        events_url(namespace), json={"service": "s", "model": "churn", "version": 5, "event": "Started"}
    )
    assert unknown.status_code == 404
    half = await api.post(events_url(namespace), json={"service": "s", "model": "churn", "event": "Started"})
    assert half.status_code == 422
    assert "model and version go together" in half.json()["detail"][0]["msg"]
    assert (await api.post(events_url(namespace), json={"service": "s", "event": "started"})).status_code == 422
    assert (await api.post(events_url(namespace), json={"service": "s", "event": "Two Words"})).status_code == 422
    assert (
        await api.post(events_url(namespace), json={"service": "s", "event": "X", "weight": 120})
    ).status_code == 422
    assert (await api.post(events_url(namespace), json={"event": "Started"})).status_code == 422


async def test_viewers_read_editors_write_anonymous_is_401(api, namespace, client_as, anonymous_client):
    await register(api, namespace)
    viewer = await client_as("vera", {namespace: "viewer"})
    editor = await client_as("eddie", {namespace: "editor"})
    body = split(("churn", 1, 100))
    event = {"service": "churn-svc", "event": "Started"}
    assert (await viewer.post(traffic_url(namespace), json=body)).status_code == 403
    assert (await viewer.delete(traffic_url(namespace))).status_code == 403
    assert (await viewer.post(events_url(namespace), json=event)).status_code == 403
    assert (await anonymous_client.post(traffic_url(namespace), json=body)).status_code == 401
    assert (await anonymous_client.post(events_url(namespace), json=event)).status_code == 401
    assert (await anonymous_client.get(history_url(namespace))).status_code == 401
    assert (await editor.post(traffic_url(namespace), json=body)).status_code == 200
    assert (await editor.post(events_url(namespace), json=event)).status_code == 201
    assert (await viewer.get(history_url(namespace))).json()["items"][0]["created_by"] == "eddie"
    assert (await viewer.get(events_url(namespace))).json()["items"][0]["created_by"] == "eddie"


async def test_writes_are_audited(api, namespace):
    await register(api, namespace)
    await register(api, namespace)
    await api.post(traffic_url(namespace), json=split(("churn", 1, 100)))
    await api.post(traffic_url(namespace), json=split(("churn", 1, 100)))
    await api.post(traffic_url(namespace), json=split(("churn", 1, 50), ("churn", 2, 50)))
    await api.delete(traffic_url(namespace))
    await api.post(events_url(namespace), json={"service": "churn-svc", "event": "Promoted"})
    entries = (await api.get(f"/api/v1/namespaces/{namespace}/audit")).json()["items"]
    ours = [(e["action"], e["object_id"]) for e in entries if not e["action"].startswith("model")]
    assert ours == [
        ("rollout_event.create", "churn-canary"),
        ("deployment.end", "churn-svc"),
        ("deployment.traffic", "churn-svc"),
        ("deployment.traffic", "churn-svc"),
    ]
    assert entries[2]["before"] == {"traffic": [{"model": "churn", "version": 1, "percent": 100}]}
    assert entries[2]["after"]["traffic"] == [
        {"model": "churn", "version": 1, "percent": 50},
        {"model": "churn", "version": 2, "percent": 50},
    ]
