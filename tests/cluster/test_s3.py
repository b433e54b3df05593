"""S3 behaviour that only a real server shows (MinIO from ``make test-bin``; moto checks none of it).

Credentials are verified, presigned URLs expire, and a multipart upload of a file larger than 64 MiB
comes back byte for byte: what the control plane and the jobs rely on when they move datasets and
model artifacts.
"""

from __future__ import annotations

import hashlib
import io
import random
import time
from datetime import timedelta
from pathlib import Path

import httpx
import minio
import pytest
from minio.error import S3Error

from harness.s3 import S3Server
from harness.skips import missing_component

pytestmark = [pytest.mark.cluster, pytest.mark.s3]

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def minio_server(s3_server: S3Server) -> S3Server:
    if s3_server.kind != "minio":
        missing_component(
            "MinIO: these tests need a real S3 server (moto checks no credentials, signatures or expiry); "
            "run `make test-bin`"
        )
    return s3_server


def test_wrong_secret_key_is_a_clear_signature_error(minio_server: S3Server, s3_bucket: str) -> None:
    client = minio.Minio(
        minio_server.endpoint,
        access_key=minio_server.access_key,
        secret_key=minio_server.secret_key + "x",
        secure=False,
        region=minio_server.region,
    )
    with pytest.raises(S3Error) as caught:
        list(client.list_objects(s3_bucket))
    assert caught.value.code == "SignatureDoesNotMatch"
    assert "signature we calculated does not match" in str(caught.value.message)


def test_unknown_access_key_is_a_clear_error(minio_server: S3Server, s3_bucket: str) -> None:
    client = minio.Minio(
        minio_server.endpoint,
        access_key="nobody",
        secret_key="nothing-at-all",
        secure=False,
        region=minio_server.region,
    )
    with pytest.raises(S3Error) as caught:
        list(client.list_objects(s3_bucket))  # a GET: a HEAD's error would carry no body to read
    assert caught.value.code == "InvalidAccessKeyId"
    assert "Access Key Id you provided does not exist" in str(caught.value.message)


def test_presigned_url_works_until_it_expires(minio_server: S3Server, s3_client: minio.Minio, s3_bucket: str) -> None:
    payload = b"model bytes"
    s3_client.put_object(s3_bucket, "m.onnx", io.BytesIO(payload), len(payload))
    url = s3_client.presigned_get_object(s3_bucket, "m.onnx", expires=timedelta(seconds=2))
    with httpx.Client(timeout=10) as http:
        fresh = http.get(url)
        assert fresh.status_code == 200
        assert fresh.content == payload
        time.sleep(3.1)
        expired = http.get(url)
    assert expired.status_code == 403
    assert "<Code>AccessDenied</Code>" in expired.text
    assert "Request has expired" in expired.text


def test_tampered_presigned_url_is_refused(minio_server: S3Server, s3_client: minio.Minio, s3_bucket: str) -> None:
    s3_client.put_object(s3_bucket, "a.csv", io.BytesIO(b"a,b\n"), 4)
    url = s3_client.presigned_get_object(s3_bucket, "a.csv", expires=timedelta(minutes=5))
    tampered = url.replace("/a.csv?", "/b.csv?")
    response = httpx.get(tampered, timeout=10)
    assert response.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in response.text


def write_random_file(path: Path, size: int, seed: int = 3) -> str:
    """Write ``size`` pseudo-random bytes to ``path``; return their sha256."""
    rng = random.Random(seed)
    digest = hashlib.sha256()
    with path.open("wb") as out:
        remaining = size
        while remaining:
            chunk = rng.randbytes(min(remaining, 4 * MiB))
            digest.update(chunk)
            out.write(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(4 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def test_multipart_upload_of_a_large_file_keeps_its_digest(
    minio_server: S3Server, s3_client: minio.Minio, s3_bucket: str, tmp_path: Path
) -> None:
    size = 65 * MiB + 12_345  # > 64 MiB and not a multiple of the part size
    part_size = 5 * MiB  # S3's minimum part size: 14 parts
    source = tmp_path / "dataset.parquet"
    expected = write_random_file(source, size)

    result = s3_client.fput_object(s3_bucket, "datasets/big/v1/data.parquet", str(source), part_size=part_size)
    stat = s3_client.stat_object(s3_bucket, "datasets/big/v1/data.parquet")
    assert stat.size == size
    parts = -(-size // part_size)
    assert str(result.etag).strip('"').endswith(f"-{parts}")  # a multipart ETag: md5-of-md5s "-<parts>"

    downloaded = tmp_path / "downloaded.parquet"
    s3_client.fget_object(s3_bucket, "datasets/big/v1/data.parquet", str(downloaded))
    assert downloaded.stat().st_size == size
    assert sha256_of(downloaded) == expected
