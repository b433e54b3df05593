"""Tokens, roles per namespace, 401 versus 403."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.db


async def test_anonymous_writes_are_401_with_a_bearer_challenge(anonymous_client, namespace):
    response = await anonymous_client.post(f"/api/v1/namespaces/{namespace}/runs", json={"experiment": "e"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "bearer token is required" in response.json()["detail"]


async def test_unknown_token_is_401(anonymous_client):
    response = await anonymous_client.get("/api/v1/whoami", headers={"Authorization": "Bearer mpt_nope"})
    assert response.status_code == 401
    assert response.json()["detail"] == "the bearer token is not valid"


async def test_viewer_reads_but_cannot_write(api, client_as, namespace):
    run = (await api.post(f"/api/v1/namespaces/{namespace}/runs", json={"experiment": "e"})).json()
    viewer = await client_as("alice", {namespace: "viewer"})
    assert (await viewer.get(f"/api/v1/runs/{run['run_id']}")).status_code == 200
    response = await viewer.post(f"/api/v1/runs/{run['run_id']}/log-batch", json={"tags": [{"key": "a", "value": "b"}]})
    assert response.status_code == 403
    assert response.json()["detail"] == f"alice needs the editor role in namespace {namespace!r}"


async def test_roles_are_per_namespace(api, client_as, namespace):
    editor = await client_as("bob", {namespace: "editor"})
    assert (await editor.post(f"/api/v1/namespaces/{namespace}/runs", json={"experiment": "e"})).status_code == 201
    other = await editor.post("/api/v1/namespaces/someone-else/runs", json={"experiment": "e"})
    assert other.status_code == 403
    whoami = (await editor.get("/api/v1/whoami")).json()
    assert whoami == {"principal": "bob", "authenticated": True, "roles": {namespace: "editor"}}


async def test_only_admins_issue_tokens_and_bind_roles(api, client_as, namespace):
    editor = await client_as("carol", {namespace: "editor"})
    response = await editor.post("/api/v1/tokens", json={"principal": "mallory", "roles": {namespace: "admin"}})
    assert response.status_code == 403
    admin = await client_as("dave", {namespace: "admin"})
    bound = await admin.put(f"/api/v1/namespaces/{namespace}/rolebindings/erin", json={"role": "viewer"})
    assert bound.status_code == 200
    bindings = (await admin.get(f"/api/v1/namespaces/{namespace}/rolebindings")).json()
    assert {"principal": "erin", "namespace": namespace, "role": "viewer"} in bindings


async def test_revoked_and_expired_tokens_are_rejected(api, anonymous_client, namespace):
    created = (await api.post("/api/v1/tokens", json={"principal": "frank", "roles": {namespace: "viewer"}})).json()
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert (await anonymous_client.get("/api/v1/whoami", headers=headers)).status_code == 200
    assert (await api.delete(f"/api/v1/tokens/{created['id']}")).status_code == 204
    response = await anonymous_client.get("/api/v1/whoami", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "the bearer token was revoked"
