"""The artifact routes over the local store (SQLite/Postgres app fixture) and over a real S3 server."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest
from pydantic import SecretStr

from modelplane.api.app import create_app
from modelplane.api.settings import ArtifactBackend, ArtifactSettings, S3Settings

pytestmark = pytest.mark.db

ADMIN = {"Authorization": "Bearer test-admin-token"}


async def test_upload_download_round_trip_and_idempotent_reupload(api, namespace):
    content = os.urandom(3 * 1024 * 1024 + 17)
    digest = hashlib.sha256(content).hexdigest()
    first = await api.post(
        f"/api/v1/namespaces/{namespace}/artifacts", content=content, headers={"X-Content-SHA256": digest}
    )
    assert first.status_code == 201, first.text
    assert first.json()["sha256"] == digest
    assert first.json()["size"] == len(content)
    again = await api.post(f"/api/v1/namespaces/{namespace}/artifacts", content=content)
    assert again.json()["uri"] == first.json()["uri"]
    downloaded = await api.get(f"/api/v1/namespaces/{namespace}/artifacts/{digest}")
    assert downloaded.status_code == 200
    assert downloaded.content == content
    assert downloaded.headers["x-content-sha256"] == digest


async def test_digest_mismatch_is_400_and_stores_nothing(api, namespace):
    claimed = "0" * 64
    response = await api.post(
        f"/api/v1/namespaces/{namespace}/artifacts", content=b"hello", headers={"X-Content-SHA256": claimed}
    )
    assert response.status_code == 400
    assert claimed in response.json()["detail"]
    actual = hashlib.sha256(b"hello").hexdigest()
    assert actual in response.json()["detail"]
    assert (await api.get(f"/api/v1/namespaces/{namespace}/artifacts/{actual}")).status_code == 404


async def test_presign_needs_s3(api, namespace):
    response = await api.post(
        f"/api/v1/namespaces/{namespace}/artifacts/presign", json={"method": "GET", "sha256": "a" * 64}
    )
    assert response.status_code in (400, 404)


async def test_viewer_cannot_upload(client_as, namespace):
    viewer = await client_as("viewer-1", {namespace: "viewer"})
    response = await viewer.post(f"/api/v1/namespaces/{namespace}/artifacts", content=b"x")
    assert response.status_code == 403


async def test_health_ready_and_metrics(api):
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "artifacts": "ok"}
    await api.get("/api/v1/whoami")
    exposition = (await api.get("/metrics")).text
    assert (
        'modelplane_api_request_duration_seconds_count{method="GET",route="/api/v1/whoami",status="200"}' in exposition
    )
    assert "modelplane_api_db_pool_connections_in_use" in exposition


@pytest.fixture
async def s3_api(api_settings, s3_server, namespace):
    settings = api_settings.model_copy(
        update={
            "artifacts": ArtifactSettings(backend=ArtifactBackend.S3),
            "s3": S3Settings(
                endpoint=s3_server.endpoint,
                access_key=SecretStr(s3_server.access_key),
                secret_key=SecretStr(s3_server.secret_key),
                bucket=f"mp-{namespace}",
            ),
        }
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cp", headers=ADMIN) as client,
    ):
        yield client


@pytest.mark.s3
async def test_s3_backend_upload_presigned_get_and_byte_metrics(s3_api, namespace):
    content = os.urandom(1024 * 1024)
    digest = hashlib.sha256(content).hexdigest()
    uploaded = await s3_api.post(f"/api/v1/namespaces/{namespace}/artifacts", content=content)
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["uri"].startswith(f"s3://mp-{namespace}/{namespace}/sha256/")
    presigned = await s3_api.post(
        f"/api/v1/namespaces/{namespace}/artifacts/presign", json={"method": "GET", "sha256": digest}
    )
    assert presigned.status_code == 200, presigned.text
    async with httpx.AsyncClient() as plain:
        fetched = await plain.get(presigned.json()["url"])
    assert fetched.content == content
    exposition = (await s3_api.get("/metrics")).text
    assert 'modelplane_api_artifact_bytes_total{direction="upload"} 1.048576e+06' in exposition
    assert (await s3_api.get("/readyz")).json()["checks"]["artifacts"] == "ok"


@pytest.mark.s3
async def test_s3_presigned_put_then_complete(s3_api, namespace):
    content = b"model bytes " * 1000
    digest = hashlib.sha256(content).hexdigest()
    presigned = (
        await s3_api.post(f"/api/v1/namespaces/{namespace}/artifacts/presign", json={"method": "PUT", "sha256": digest})
    ).json()
    async with httpx.AsyncClient() as plain:
        put = await plain.put(presigned["url"], content=content, headers=presigned["headers"])
    assert put.status_code == 200
    done = await s3_api.post(
        f"/api/v1/namespaces/{namespace}/artifacts/complete",
        json={"upload_uri": presigned["upload_uri"], "sha256": digest},
    )
    assert done.status_code == 200, done.text
    assert (await s3_api.get(f"/api/v1/namespaces/{namespace}/artifacts/{digest}")).content == content
