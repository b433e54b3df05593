"""The artifact routes over the local store (SQLite/Postgres app fixture) and over a real S3 server."""

from __future__ import annotations

import errno
import hashlib
import os
import pathlib

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


async def upload(client: httpx.AsyncClient, namespace: str, content: bytes) -> str:
    response = await client.post(f"/api/v1/namespaces/{namespace}/artifacts", content=content)
    assert response.status_code == 201, response.text
    return str(response.json()["sha256"])


async def audit_actions(api: httpx.AsyncClient, namespace: str) -> list[tuple[str, str, str, dict | None]]:
    response = await api.get(f"/api/v1/namespaces/{namespace}/audit")
    assert response.status_code == 200, response.text
    return [(e["action"], e["principal"], e["object_id"], e["before"]) for e in response.json()["items"]]


async def test_delete_removes_the_artifact_records_it_and_a_second_delete_is_404(api, namespace):
    content = os.urandom(4096)
    digest = await upload(api, namespace, content)
    other = await upload(api, namespace, b"another artifact")

    deleted = await api.delete(f"/api/v1/namespaces/{namespace}/artifacts/{digest}")
    again = await api.delete(f"/api/v1/namespaces/{namespace}/artifacts/{digest}")

    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""
    assert (await api.get(f"/api/v1/namespaces/{namespace}/artifacts/{digest}")).status_code == 404
    assert (await api.get(f"/api/v1/namespaces/{namespace}/artifacts/{other}")).content == b"another artifact"
    assert again.status_code == 404
    assert again.json()["code"] == "NotFound"
    assert again.json()["detail"] == f"no artifact with sha256 {digest} in namespace {namespace!r}"
    actions = await audit_actions(api, namespace)
    assert actions[0] == ("artifact.delete", "bootstrap-admin", digest, {"size": 4096})  # newest first
    assert [a[0] for a in actions].count("artifact.delete") == 1  # the 404 recorded nothing


async def test_delete_accepts_the_prefixed_upper_case_digest_form(api, namespace):
    digest = await upload(api, namespace, b"weights")
    response = await api.delete(f"/api/v1/namespaces/{namespace}/artifacts/sha256:{digest.upper()}")
    assert response.status_code == 204, response.text
    assert (await api.get(f"/api/v1/namespaces/{namespace}/artifacts/{digest}")).status_code == 404


@pytest.mark.parametrize("digest", ["abc", "g" * 64, "a" * 65, "md5:" + "a" * 64, "presign"])
async def test_delete_of_a_malformed_digest_is_400_with_a_message(api, namespace, digest):
    response = await api.delete(f"/api/v1/namespaces/{namespace}/artifacts/{digest}")
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == f"invalid sha256 {digest!r}: expected 64 hex digits"


async def test_delete_of_a_malformed_namespace_is_422(api):
    response = await api.delete(f"/api/v1/namespaces/Not_A_Namespace/artifacts/{'a' * 64}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "namespace"]


async def test_deleting_needs_the_editor_role(api, client_as, namespace):
    digest = await upload(api, namespace, b"kept")
    viewer = await client_as("viewer-1", {namespace: "viewer"})
    elsewhere = await client_as("editor-elsewhere", {f"{namespace}-other": "editor"})
    editor = await client_as("editor-1", {namespace: "editor"})

    as_viewer = await viewer.delete(f"/api/v1/namespaces/{namespace}/artifacts/{digest}")
    as_other = await elsewhere.delete(f"/api/v1/namespaces/{namespace}/artifacts/{digest}")
    missing_as_viewer = await viewer.delete(f"/api/v1/namespaces/{namespace}/artifacts/{'0' * 64}")
    still_there = await api.get(f"/api/v1/namespaces/{namespace}/artifacts/{digest}")
    as_editor = await editor.delete(f"/api/v1/namespaces/{namespace}/artifacts/{digest}")

    assert (as_viewer.status_code, as_other.status_code) == (403, 403)
    assert as_viewer.json()["detail"] == f"viewer-1 needs the editor role in namespace {namespace!r}"
    assert missing_as_viewer.status_code == 403  # whether a digest exists is not told to a non-editor
    assert still_there.content == b"kept"
    assert as_editor.status_code == 204
    assert (await audit_actions(api, namespace))[0][:3] == ("artifact.delete", "editor-1", digest)


async def test_anonymous_callers_cannot_delete(api, anonymous_client, namespace):
    digest = await upload(api, namespace, b"kept")
    response = await anonymous_client.delete(f"/api/v1/namespaces/{namespace}/artifacts/{digest}")
    assert response.status_code == 401
    assert (await api.get(f"/api/v1/namespaces/{namespace}/artifacts/{digest}")).content == b"kept"


async def test_a_failing_store_is_503_and_records_no_deletion(api, namespace, monkeypatch):
    digest = await upload(api, namespace, b"on a failing disk")

    def io_error(self: pathlib.Path, missing_ok: bool = False) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(pathlib.Path, "unlink", io_error)  # the disk fails under the local store
    response = await api.delete(f"/api/v1/namespaces/{namespace}/artifacts/{digest}")
    monkeypatch.undo()

    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert "Input/output error" in response.json()["detail"]
    assert [a[0] for a in await audit_actions(api, namespace)] == ["artifact.upload"]
    assert (await api.get(f"/api/v1/namespaces/{namespace}/artifacts/{digest}")).content == b"on a failing disk"


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


@pytest.mark.s3
async def test_s3_backend_delete_removes_the_object_from_the_bucket(s3_api, s3_client, namespace):
    digest = await upload(s3_api, namespace, b"onnx bytes " * 100)
    key = f"{namespace}/sha256/{digest[:2]}/{digest}"
    assert [o.object_name for o in s3_client.list_objects(f"mp-{namespace}", recursive=True)] == [key]

    deleted = await s3_api.delete(f"/api/v1/namespaces/{namespace}/artifacts/{digest}")
    again = await s3_api.delete(f"/api/v1/namespaces/{namespace}/artifacts/{digest}")

    assert deleted.status_code == 204, deleted.text
    assert list(s3_client.list_objects(f"mp-{namespace}", recursive=True)) == []
    assert again.status_code == 404
    assert digest in again.json()["detail"]
