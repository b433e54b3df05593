"""What only the S3 store does: layout and metadata, presigned transfers, bucket set-up, failure modes."""

from __future__ import annotations

import datetime
import hashlib
import io
import os
import socket
import time
import tracemalloc
import uuid

import httpx
import pytest

from harness.ports import LOOPBACK, free_port
from harness.s3 import empty_and_remove_bucket
from modelplane.api.artifacts.s3 import S3ArtifactStore
from modelplane.api.artifacts.store import (
    ArtifactAccessDenied,
    ArtifactContentError,
    ArtifactKey,
    ArtifactNotFound,
    ArtifactStoreUnavailable,
    DigestMismatchError,
    InvalidArtifactReference,
    Staged,
)

pytestmark = pytest.mark.s3

MiB = 1024 * 1024
PART_SIZE = 5 * MiB  # the s3_store fixtures' part size
PAYLOAD = b"ONNX" + os.urandom(4096)
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_layout_content_type_and_recorded_digest(s3_store, s3_client, namespace) -> None:
    ref = s3_store.put(namespace, PAYLOAD, content_type="application/onnx")

    key = f"mp/{namespace}/sha256/{PAYLOAD_SHA[:2]}/{PAYLOAD_SHA}"
    assert ref.uri == f"s3://{s3_store.bucket}/{key}"
    stat = s3_client.stat_object(s3_store.bucket, key)
    assert stat.content_type == "application/onnx"
    assert stat.metadata["x-amz-meta-sha256"] == PAYLOAD_SHA
    info = s3_store.stat(ref.uri)
    assert (info.content_type, info.digest_verified) == ("application/onnx", True)


def test_prefixes_isolate_stores_sharing_a_bucket(s3_store_factory, s3_bucket, namespace) -> None:
    team_a = s3_store_factory(s3_bucket, prefix="team-a/")
    team_b = s3_store_factory(s3_bucket, prefix="team-b")
    bare = s3_store_factory(s3_bucket, prefix="")
    uri_a, uri_b = team_a.put(namespace, PAYLOAD).uri, team_b.put(namespace, PAYLOAD).uri
    assert uri_a == f"s3://{s3_bucket}/team-a/{namespace}/sha256/{PAYLOAD_SHA[:2]}/{PAYLOAD_SHA}"
    assert uri_b.startswith(f"s3://{s3_bucket}/team-b/")
    assert (
        bare.uri_for(namespace, PAYLOAD_SHA) == f"s3://{s3_bucket}/{namespace}/sha256/{PAYLOAD_SHA[:2]}/{PAYLOAD_SHA}"
    )
    with pytest.raises(InvalidArtifactReference, match="outside this store's prefix"):
        team_a.stat(uri_b)
    team_b.delete(uri_b)
    assert team_a.exists(uri_a)


def test_content_without_recorded_digest_is_reread_before_reuse(s3_store, s3_client, namespace) -> None:
    key = f"mp/{namespace}/sha256/{PAYLOAD_SHA[:2]}/{PAYLOAD_SHA}"
    s3_client.put_object(s3_store.bucket, key, io.BytesIO(PAYLOAD), len(PAYLOAD))  # right bytes, no metadata
    assert s3_store.stat(f"s3://{s3_store.bucket}/{key}").digest_verified is False

    ref = s3_store.put(namespace, PAYLOAD)

    assert ref.uri == f"s3://{s3_store.bucket}/{key}"
    assert "x-amz-meta-sha256" not in s3_client.stat_object(s3_store.bucket, key).metadata  # left as it was


def test_streaming_upload_memory_does_not_grow_with_the_size(s3_server, s3_store_factory, s3_bucket, namespace) -> None:
    if s3_server.kind == "moto":
        pytest.skip("moto serves from this process and keeps objects in memory: tracemalloc would count them")
    store = s3_store_factory(s3_bucket, parallel_uploads=1)
    block = os.urandom(MiB)

    def upload_peak(parts: int) -> int:
        tracemalloc.start()
        try:
            ref = store.put(namespace, (block for _ in range(parts * PART_SIZE // MiB)))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert ref.size == parts * PART_SIZE
        return peak

    small, large = upload_peak(3), upload_peak(10)
    # the SDK holds a part and a copy of it while it assembles the next one: a few parts, whatever the size
    assert large < small + PART_SIZE, f"{small / MiB:.1f} MiB for 15 MiB, {large / MiB:.1f} MiB for 50 MiB"
    assert large < 4 * PART_SIZE


def test_declared_size_raises_the_part_size_to_fit_10000_parts(s3_store) -> None:
    assert s3_store._part_size_for(None) == PART_SIZE
    assert s3_store._part_size_for(10 * MiB) == PART_SIZE
    one_tib = 1024 * 1024 * MiB
    assert s3_store._part_size_for(one_tib) * 10_000 >= one_tib


# --- presigned transfers -------------------------------------------------------------------------------------


def test_presigned_get(s3_store, namespace) -> None:
    ref = s3_store.put(namespace, PAYLOAD)
    url = s3_store.presign_get(ref.uri, datetime.timedelta(minutes=5))
    fetched = httpx.get(url)
    assert fetched.status_code == 200
    assert fetched.content == PAYLOAD


def test_presigned_get_of_missing_object_is_not_found(s3_store, namespace) -> None:
    with pytest.raises(ArtifactNotFound):
        s3_store.presign_get(s3_store.uri_for(namespace, PAYLOAD_SHA))


@pytest.mark.parametrize("expires", [datetime.timedelta(0), datetime.timedelta(days=8)])
def test_presign_expiry_is_bounded(s3_store, namespace, expires) -> None:
    with pytest.raises(ValueError, match="between 1 s and 7 days"):
        s3_store.presign_put(namespace, PAYLOAD_SHA, expires)


def test_presigned_put_then_complete(s3_store, namespace, stored_objects, byte_log) -> None:
    upload = s3_store.presign_put(namespace, f"sha256:{PAYLOAD_SHA}", content_type="application/onnx")
    assert upload.sha256 == PAYLOAD_SHA
    assert upload.upload_uri.startswith(f"s3://{s3_store.bucket}/mp/.staging/{namespace}/")
    assert upload.expires_at > datetime.datetime.now(datetime.UTC)
    # moto needs the Content-Type the upload names; MinIO takes it too
    assert httpx.put(upload.url, content=PAYLOAD, headers=upload.headers).status_code == 200

    ref = s3_store.complete_upload(namespace, upload.upload_uri, PAYLOAD_SHA, size=len(PAYLOAD))

    assert ref == s3_store.put(namespace, PAYLOAD)  # the same address as any other upload of it
    assert s3_store.stat(ref.uri).content_type == "application/onnx"
    assert stored_objects(s3_store) == [ArtifactKey(namespace, PAYLOAD_SHA).path]
    assert byte_log.total("download") == len(PAYLOAD)  # read back once to verify it
    with pytest.raises(ArtifactNotFound, match="already completed"):
        s3_store.complete_upload(namespace, upload.upload_uri, PAYLOAD_SHA)


def test_presigned_put_with_wrong_content_is_rejected(s3_store, namespace, stored_objects) -> None:
    upload = s3_store.presign_put(namespace, PAYLOAD_SHA)
    assert httpx.put(upload.url, content=b"tampered", headers=upload.headers).status_code == 200

    with pytest.raises(DigestMismatchError, match=PAYLOAD_SHA):
        s3_store.complete_upload(namespace, upload.upload_uri, PAYLOAD_SHA)
    assert stored_objects(s3_store) == []


def test_complete_upload_checks_the_namespace_and_uri(s3_store, namespace) -> None:
    upload = s3_store.presign_put(namespace, PAYLOAD_SHA)
    with pytest.raises(InvalidArtifactReference, match="not an upload of namespace"):
        s3_store.complete_upload("other", upload.upload_uri, PAYLOAD_SHA)
    with pytest.raises(InvalidArtifactReference):
        s3_store.complete_upload(namespace, s3_store.uri_for(namespace, PAYLOAD_SHA), PAYLOAD_SHA)
    with pytest.raises(ArtifactNotFound, match="never uploaded"):
        s3_store.complete_upload(namespace, upload.upload_uri, PAYLOAD_SHA)


def test_a_staged_object_replaced_after_hashing_is_not_published(s3_server, s3_store, s3_client, namespace) -> None:
    if s3_server.kind == "moto":
        pytest.skip("moto ignores x-amz-copy-source-if-match; MinIO and AWS honour it")
    name = f"mp/.staging/{namespace}/{uuid.uuid4().hex}"
    hashed = s3_client.put_object(s3_store.bucket, name, io.BytesIO(PAYLOAD), len(PAYLOAD))
    s3_client.put_object(s3_store.bucket, name, io.BytesIO(b"swapped in"), 10)

    with pytest.raises(ArtifactContentError, match="changed while it was being verified"):
        s3_store._publish(Staged(name, hashed.etag), ArtifactKey(namespace, PAYLOAD_SHA), len(PAYLOAD), "x/y")
    assert not s3_store.exists(s3_store.uri_for(namespace, PAYLOAD_SHA))


# --- the bucket -------------------------------------------------------------------------------------------------


def test_ensure_ready_creates_the_bucket(s3_store_factory, s3_client) -> None:
    bucket = f"mp-ready-{uuid.uuid4().hex[:12]}"
    store = s3_store_factory(bucket)
    try:
        with pytest.raises(ArtifactStoreUnavailable, match=r"does not exist.*ensure_ready\(\) creates it"):
            store.check()
        store.ensure_ready()
        assert s3_client.bucket_exists(bucket)
        store.ensure_ready()  # idempotent (and a second replica racing the first)
        store.check()
    finally:
        empty_and_remove_bucket(s3_client, bucket)


def test_a_missing_bucket_is_unavailable_not_missing_content(s3_store_factory, namespace) -> None:
    store = s3_store_factory(f"mp-gone-{uuid.uuid4().hex[:12]}")
    with pytest.raises(ArtifactStoreUnavailable, match="ensure_ready"):
        store.put(namespace, PAYLOAD)
    with pytest.raises(ArtifactStoreUnavailable, match="ensure_ready"):
        store.get(store.uri_for(namespace, PAYLOAD_SHA))


# --- failure modes ------------------------------------------------------------------------------------------------


def _unreachable_store(endpoint: str) -> S3ArtifactStore:
    return S3ArtifactStore(
        endpoint,
        "bucket",
        access_key="key",
        secret_key="secret",
        secure=False,
        connect_timeout=0.5,
        read_timeout=0.3,
        retries=1,
        check_timeout=0.3,
    )


def test_stopped_endpoint_is_unavailable_quickly(namespace) -> None:
    endpoint = f"{LOOPBACK}:{free_port()}"  # nothing listens there
    with _unreachable_store(endpoint) as store:
        for call in (
            store.check,
            lambda: store.put(namespace, io.BytesIO(PAYLOAD)),
            lambda: store.exists(store.uri_for(namespace, PAYLOAD_SHA)),
        ):
            started = time.monotonic()
            with pytest.raises(ArtifactStoreUnavailable, match=f"S3 endpoint {endpoint} is unreachable") as caught:
                call()
            assert time.monotonic() - started < 3
            assert caught.value.retryable


def test_silent_endpoint_times_out(namespace) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind((LOOPBACK, 0))
        silent.listen(8)
        endpoint = f"{LOOPBACK}:{silent.getsockname()[1]}"
        with _unreachable_store(endpoint) as store:
            for call in (store.check, lambda: store.stat(store.uri_for(namespace, PAYLOAD_SHA))):
                started = time.monotonic()
                with pytest.raises(ArtifactStoreUnavailable, match="timed out"):
                    call()
                assert time.monotonic() - started < 3


def test_endpoint_may_be_a_url(s3_server, s3_store, s3_bucket, namespace) -> None:
    with S3ArtifactStore(
        f"http://{s3_server.endpoint}",
        s3_bucket,
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        prefix="mp",
    ) as store:
        assert store.endpoint == s3_server.endpoint
        store.check()
        assert store.put(namespace, PAYLOAD).uri == s3_store.uri_for(namespace, PAYLOAD_SHA)


@pytest.mark.parametrize(
    ("endpoint", "options", "message"),
    [
        ("ftp://host:21", {}, "invalid S3 endpoint"),
        ("http://host:9000/path", {}, "invalid S3 endpoint"),
        ("host:9000", {"part_size": MiB}, "part_size must be between 5 MiB and 5 GiB"),
    ],
)
def test_invalid_configuration(endpoint, options, message) -> None:
    with pytest.raises(ValueError, match=message):
        S3ArtifactStore(endpoint, "bucket", access_key="k", secret_key="s", **options)


def test_wrong_credentials_are_access_denied(s3_server, s3_bucket, namespace) -> None:
    if s3_server.kind == "moto":
        pytest.skip("moto checks no credentials; MinIO does")
    with S3ArtifactStore(
        s3_server.endpoint, s3_bucket, access_key="intruder", secret_key="wrong-secret", secure=False
    ) as store:
        with pytest.raises(ArtifactAccessDenied, match=f"S3 endpoint {s3_server.endpoint} rejected the credentials"):
            store.check()
        with pytest.raises(ArtifactAccessDenied, match="'intruder'") as caught:
            store.put(namespace, PAYLOAD)
        assert not caught.value.retryable
        assert "wrong-secret" not in str(caught.value)
