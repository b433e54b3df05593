"""The artifact-store contract, run on both implementations (local directory, real S3 server)."""

from __future__ import annotations

import concurrent.futures
import datetime
import hashlib
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelplane.api.artifacts.local import LocalArtifactStore
from modelplane.api.artifacts.store import (
    ArtifactKey,
    ArtifactNotFound,
    ArtifactStore,
    CorruptArtifactError,
    DigestMismatchError,
    InvalidArtifactReference,
    SizeMismatchError,
)

MiB = 1024 * 1024
PAYLOAD = b"\x08\x07\x12\x04onnx" + bytes(range(256)) * 40
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_all(store: ArtifactStore, uri: str) -> bytes:
    with store.get(uri) as stream:
        return b"".join(stream)


def chunked(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def as_source(kind: str, data: bytes, tmp_path: Path) -> object:
    if kind == "bytes":
        return data
    if kind == "path":
        path = tmp_path / "source.bin"
        path.write_bytes(data)
        return path
    if kind == "file":
        return io.BytesIO(data)
    return chunked(data)


SOURCES = ["bytes", "path", "file", "chunks"]


@pytest.mark.parametrize("kind", SOURCES)
def test_put_get_round_trip(store, namespace, tmp_path, kind) -> None:
    ref = store.put(namespace, as_source(kind, PAYLOAD, tmp_path), content_type="application/onnx")

    assert (ref.sha256, ref.size) == (PAYLOAD_SHA, len(PAYLOAD))
    assert ref.uri == store.uri_for(namespace, PAYLOAD_SHA)
    assert ref.uri.endswith(f"/{namespace}/sha256/{PAYLOAD_SHA[:2]}/{PAYLOAD_SHA}")
    assert store.parse_uri(ref.uri) == ArtifactKey(namespace, PAYLOAD_SHA)
    assert read_all(store, ref.uri) == PAYLOAD
    info = store.stat(ref.uri)
    assert (info.uri, info.sha256, info.size) == (ref.uri, PAYLOAD_SHA, len(PAYLOAD))
    assert info.digest_verified is not isinstance(store, LocalArtifactStore)  # S3 records it as metadata
    assert info.modified is not None
    assert store.exists(ref.uri)


def test_identical_content_is_stored_once(store, namespace, stored_objects, byte_log) -> None:
    first = store.put(namespace, PAYLOAD)
    uploaded = byte_log.total("upload")
    again = store.put(namespace, PAYLOAD)
    streamed = store.put(namespace, io.BytesIO(PAYLOAD))
    claimed = store.put(namespace, io.BytesIO(PAYLOAD), expected_sha256=PAYLOAD_SHA, size=len(PAYLOAD))

    assert first == again == streamed == claimed
    assert stored_objects(store) == [ArtifactKey(namespace, PAYLOAD_SHA).path]  # no duplicate, no staging left
    # bytes and a claimed digest are checked locally and not sent again; an unclaimed stream is
    assert uploaded == len(PAYLOAD)
    assert byte_log.total("upload") == 2 * len(PAYLOAD)


def test_concurrent_puts_of_the_same_content_agree(store, namespace, stored_objects) -> None:
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        refs = list(pool.map(lambda _: store.put(namespace, io.BytesIO(PAYLOAD)), range(4)))
    assert len(set(refs)) == 1
    assert stored_objects(store) == [ArtifactKey(namespace, PAYLOAD_SHA).path]


@pytest.mark.parametrize("kind", SOURCES)
def test_digest_mismatch_raises_and_stores_nothing(store, namespace, tmp_path, stored_objects, kind) -> None:
    wrong = sha(b"something else")
    with pytest.raises(DigestMismatchError) as caught:
        store.put(namespace, as_source(kind, PAYLOAD, tmp_path), expected_sha256=wrong)

    assert (caught.value.expected, caught.value.actual) == (wrong, PAYLOAD_SHA)
    assert wrong in str(caught.value)
    assert PAYLOAD_SHA in str(caught.value)
    assert stored_objects(store) == []
    assert not store.exists(store.uri_for(namespace, PAYLOAD_SHA))


def test_size_mismatch_raises_and_stores_nothing(store, namespace, stored_objects) -> None:
    with pytest.raises(SizeMismatchError, match=rf"expected {len(PAYLOAD) + 1} bytes"):
        store.put(namespace, io.BytesIO(PAYLOAD), size=len(PAYLOAD) + 1)
    assert stored_objects(store) == []


def test_expected_digest_forms_are_normalized(store, namespace) -> None:
    ref = store.put(namespace, PAYLOAD, expected_sha256=f"sha256:{PAYLOAD_SHA.upper()}")
    assert ref.sha256 == PAYLOAD_SHA
    assert store.uri_for(namespace, f"sha256:{PAYLOAD_SHA}") == ref.uri


def test_a_claimed_digest_of_stored_content_still_checks_the_stream(store, namespace) -> None:
    store.put(namespace, PAYLOAD)
    with pytest.raises(DigestMismatchError):
        store.put(namespace, io.BytesIO(b"not the payload"), expected_sha256=PAYLOAD_SHA)


def test_large_file_is_streamed_and_keeps_its_digest(store, namespace, tmp_path, monkeypatch, byte_log) -> None:
    path = tmp_path / "model.onnx"
    block = os.urandom(MiB)
    with path.open("wb") as out:
        for i in range(12):
            out.write(block[i:] + block[:i])
    data = path.read_bytes()
    parts: list[int] = []
    if not isinstance(store, LocalArtifactStore):  # count the parts the S3 SDK sends
        client = store._client
        upload_part = client._upload_part
        monkeypatch.setattr(client, "_upload_part", lambda *a: parts.append(a[5]) or upload_part(*a))

    ref = store.put(namespace, path, size=len(data))

    assert (ref.sha256, ref.size) == (sha(data), len(data))
    assert byte_log.total("upload") == len(data)
    if not isinstance(store, LocalArtifactStore):
        assert sorted(parts) == [1, 2, 3]  # 5 + 5 + 2 MiB
    digest = hashlib.sha256()
    with store.get(ref.uri) as stream:
        for chunk in stream:
            assert len(chunk) <= 1 * MiB
            digest.update(chunk)
    assert digest.hexdigest() == ref.sha256
    assert byte_log.total("download") == len(data)


def test_failing_source_leaves_nothing_behind(store, namespace, stored_objects) -> None:
    def broken() -> Iterator[bytes]:
        yield os.urandom(3 * MiB)
        yield os.urandom(3 * MiB)  # past the first 5 MiB part on S3: a multipart upload was started
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        store.put(namespace, broken())
    assert stored_objects(store) == []


def test_namespaces_are_isolated(store, namespace) -> None:
    other = f"{namespace}-other"
    ref_a, ref_b = store.put(namespace, PAYLOAD), store.put(other, PAYLOAD)

    assert ref_a.uri != ref_b.uri
    assert store.parse_uri(ref_b.uri).namespace == other
    store.delete(ref_a.uri)
    assert not store.exists(ref_a.uri)
    assert read_all(store, ref_b.uri) == PAYLOAD


def test_missing_objects(store, namespace) -> None:
    uri = store.uri_for(namespace, PAYLOAD_SHA)
    assert not store.exists(uri)
    with pytest.raises(ArtifactNotFound, match=re.escape(uri)):
        store.stat(uri)
    with pytest.raises(ArtifactNotFound):
        store.get(uri)  # raised by the call, before any byte: the API can still answer 404
    store.delete(uri)  # deleting what is gone is not an error (retention may run twice)


def test_delete(store, namespace, stored_objects) -> None:
    ref = store.put(namespace, PAYLOAD)
    store.delete(ref.uri)
    assert not store.exists(ref.uri)
    assert stored_objects(store) == []
    assert store.put(namespace, PAYLOAD) == ref  # and it can come back


def test_delete_removes_only_its_own_address(store, namespace, stored_objects) -> None:
    neighbour = next(d for d in (b"%d" % i for i in range(100_000)) if sha(d)[:2] == PAYLOAD_SHA[:2])
    ref, kept = store.put(namespace, PAYLOAD), store.put(namespace, neighbour)  # the same fan-out directory
    store.delete(ref.uri)
    store.delete(ref.uri)
    assert read_all(store, kept.uri) == neighbour
    assert stored_objects(store) == [f"{namespace}/sha256/{kept.sha256[:2]}/{kept.sha256}"]


def test_byte_counters(store, namespace, byte_log) -> None:
    ref = store.put(namespace, io.BytesIO(PAYLOAD))
    read_all(store, ref.uri)
    assert byte_log.total("upload") == len(PAYLOAD)
    assert byte_log.total("download") == len(PAYLOAD)
    assert {direction for direction, _ in byte_log.calls} == {"upload", "download"}


def test_partial_read_can_be_closed(store, namespace) -> None:
    ref = store.put(namespace, os.urandom(3 * MiB))
    stream = store.get(ref.uri)
    assert len(next(stream)) > 0
    stream.close()
    assert list(stream) == []


@pytest.mark.parametrize("namespace_name", ["", "UPPER", "-leading", "with/slash", ".staging", "a" * 64, "under_score"])
def test_invalid_namespaces_are_rejected(store, namespace_name) -> None:
    with pytest.raises(InvalidArtifactReference, match="invalid namespace"):
        store.put(namespace_name, PAYLOAD)
    with pytest.raises(InvalidArtifactReference):
        store.uri_for(namespace_name, PAYLOAD_SHA)


@pytest.mark.parametrize("digest", ["", "abc", "g" * 64, PAYLOAD_SHA + "0", "md5:" + PAYLOAD_SHA])
def test_invalid_digests_are_rejected(store, namespace, digest) -> None:
    with pytest.raises(InvalidArtifactReference, match="invalid sha256"):
        store.put(namespace, PAYLOAD, expected_sha256=digest)


def test_foreign_uris_are_rejected(store, namespace) -> None:
    uri = store.uri_for(namespace, PAYLOAD_SHA)
    head, _, tail = uri.rpartition(f"/{namespace}/")
    foreign = [
        "https://example.com/x",
        "s3://another-bucket/mp/ns/sha256/ab/" + "ab" * 32,
        "file:///etc/passwd",
        uri.replace(f"/{PAYLOAD_SHA[:2]}/", "/zz/"),  # fan-out directory does not match the digest
        f"{head}/{namespace}/sha256/{PAYLOAD_SHA[:2]}/../../../x",
        f"{head}/.staging/{namespace}/0123",
        uri + "?versionId=1",
    ]
    for bad in foreign:
        with pytest.raises(InvalidArtifactReference):
            store.stat(bad)
        with pytest.raises(InvalidArtifactReference):
            store.delete(bad)  # never touches anything outside the store's own content addresses
    assert tail  # the well-formed one parses
    assert store.parse_uri(uri).sha256 == PAYLOAD_SHA


def test_get_detects_corruption(store, namespace, plant) -> None:
    key = ArtifactKey(namespace, PAYLOAD_SHA)
    plant(store, key, PAYLOAD[:-1] + b"!")

    uri = store.uri_for(namespace, PAYLOAD_SHA)
    with pytest.raises(CorruptArtifactError, match="corrupt"), store.get(uri) as stream:
        for _ in stream:
            pass
    with store.get(uri, verify=False) as stream:
        assert b"".join(stream).endswith(b"!")


@pytest.mark.parametrize("planted", [PAYLOAD[:-1] + b"!", PAYLOAD + b"!"], ids=["same-size", "other-size"])
def test_corrupt_object_at_the_address_is_never_overwritten(store, namespace, plant, planted) -> None:
    key = ArtifactKey(namespace, PAYLOAD_SHA)
    plant(store, key, planted)

    with pytest.raises(CorruptArtifactError):
        store.put(namespace, io.BytesIO(PAYLOAD))
    with store.get(store.uri_for(namespace, PAYLOAD_SHA), verify=False) as stream:
        assert b"".join(stream) == planted


def test_purge_staging_removes_only_old_uploads(store, namespace, stored_objects) -> None:
    store.put(namespace, PAYLOAD)
    leftover = _leave_staging_object(store, namespace)
    assert leftover in stored_objects(store)

    assert store.purge_staging(older_than=datetime.timedelta(hours=1)) == 0
    assert store.purge_staging(older_than=datetime.timedelta(0)) == 1
    assert stored_objects(store) == [ArtifactKey(namespace, PAYLOAD_SHA).path]


def _leave_staging_object(store: ArtifactStore, namespace: str) -> str:
    """What a crashed upload leaves: a staging object nobody will publish."""
    if isinstance(store, LocalArtifactStore):
        path = store.root / ".staging" / f"{namespace}.crashed.part"
        path.write_bytes(b"half")
        old = path.stat().st_mtime - 1
        os.utime(path, (old, old))
        return str(path.relative_to(store.root))
    upload = store.presign_put(namespace, PAYLOAD_SHA)
    assert httpx.put(upload.url, content=b"half", headers=upload.headers).status_code == 200
    return upload.upload_uri.split("/", 4)[4]  # s3://bucket/mp/<this>
