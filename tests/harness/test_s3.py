"""The S3 fixtures give a real S3 server over HTTP (MinIO or moto's server mode)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import httpx
import minio
import pytest

from harness.s3 import MINIO_BIN_ENV, S3Server, moto_server, s3_server, temporary_bucket

pytestmark = pytest.mark.s3


def test_s3_server_listens_on_loopback(s3_server: S3Server) -> None:
    host, _, port = s3_server.endpoint.partition(":")
    assert host == "127.0.0.1"
    assert int(port) > 0
    assert s3_server.kind in {"minio", "moto"}
    assert s3_server.region == "us-east-1"


def test_put_get_stat_and_presigned_get(s3_client: minio.Minio, s3_bucket: str) -> None:
    assert list(s3_client.list_objects(s3_bucket, recursive=True)) == []
    payload = b"sepal_length,sepal_width\n5.1,3.5\n"
    s3_client.put_object(
        s3_bucket, "datasets/iris/v1/data.csv", io.BytesIO(payload), len(payload), content_type="text/csv"
    )

    response = s3_client.get_object(s3_bucket, "datasets/iris/v1/data.csv")
    try:
        assert response.read() == payload
    finally:
        response.close()
        response.release_conn()

    stat = s3_client.stat_object(s3_bucket, "datasets/iris/v1/data.csv")
    assert stat.size == len(payload)
    assert stat.content_type == "text/csv"

    url = s3_client.presigned_get_object(s3_bucket, "datasets/iris/v1/data.csv")
    assert url.startswith("http://127.0.0.1:")
    fetched = httpx.get(url)
    assert fetched.status_code == 200
    assert fetched.content == payload


def test_presigned_put(s3_client: minio.Minio, s3_bucket: str) -> None:
    url = s3_client.presigned_put_object(s3_bucket, "models/m.onnx")
    # moto needs an explicit Content-Type on presigned PUTs; MinIO accepts it too.
    uploaded = httpx.put(url, content=b"\x08\x01onnx", headers={"Content-Type": "application/octet-stream"})
    assert uploaded.status_code == 200, uploaded.text
    assert s3_client.stat_object(s3_bucket, "models/m.onnx").size == 6


def test_buckets_are_fresh_and_removed(s3_client: minio.Minio) -> None:
    with temporary_bucket(s3_client) as bucket:
        assert s3_client.bucket_exists(bucket)
        s3_client.put_object(bucket, "a/b", io.BytesIO(b"x"), 1)
        s3_client.put_object(bucket, "c", io.BytesIO(b"y"), 1)
    assert not s3_client.bucket_exists(bucket)


FAKE_MINIO = '''#!{python}
"""A stand-in for the minio binary: moto's S3 server behind MinIO's CLI and health endpoint."""
import os, signal, sys
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

args = sys.argv[1:]
assert args[0] == "server", args
assert os.environ["MINIO_ROOT_USER"] and os.environ["MINIO_ROOT_PASSWORD"]
host, port = args[args.index("--address") + 1].rsplit(":", 1)
assert args[args.index("--console-address") + 1].startswith("127.0.0.1:")
assert os.path.isdir(args[-1])
s3 = DomainDispatcherApplication(create_backend_app)

def app(environ, start_response):
    if environ["PATH_INFO"] == "/minio/health/live":
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]
    return s3(environ, start_response)

server = make_server(host, int(port), app, threaded=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
server.serve_forever()
'''


def test_minio_binary_is_used_when_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "minio"
    fake.write_text(FAKE_MINIO.format(python=sys.executable))
    fake.chmod(0o755)
    monkeypatch.setenv(MINIO_BIN_ENV, str(fake))
    with s3_server() as server:
        assert server.kind == "minio"
        assert server.endpoint.startswith("127.0.0.1:")
        client = server.client()
        with temporary_bucket(client) as bucket:
            client.put_object(bucket, "k", io.BytesIO(b"v"), 1)
            assert client.stat_object(bucket, "k").size == 1
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://{server.endpoint}/minio/health/live")


def test_moto_fallback_serves_s3() -> None:
    # The fallback when no MinIO binary is around; exercised even where MinIO is.
    with moto_server() as server:
        assert server.kind == "moto"
        assert server.endpoint.startswith("127.0.0.1:")
        client = server.client()
        with temporary_bucket(client) as bucket:
            client.put_object(bucket, "k", io.BytesIO(b"value"), 5)
            url = client.presigned_put_object(bucket, "p")
            put = httpx.put(url, content=b"xy", headers={"Content-Type": "application/octet-stream"})
            assert put.status_code == 200
            assert httpx.get(client.presigned_get_object(bucket, "k")).content == b"value"
            assert client.stat_object(bucket, "p").size == 2
