"""The shared pieces of the interface, without a store: addresses, sources, download streams, errors."""

from __future__ import annotations

import datetime
import hashlib
import io
import subprocess
import sys

import pytest

from modelplane.api import artifacts
from modelplane.api.artifacts import store

pytestmark = pytest.mark.unit

DIGEST = hashlib.sha256(b"x").hexdigest()


@pytest.mark.parametrize("digest", [DIGEST, DIGEST.upper(), f"sha256:{DIGEST}", f"sha256:{DIGEST.upper()}"])
def test_digests_are_normalized(digest) -> None:
    assert store.normalize_sha256(digest) == DIGEST


def test_keys_parse_only_when_the_fanout_matches() -> None:
    key = store.ArtifactKey("team-a", DIGEST)
    assert store.parse_key(key.path) == key
    with pytest.raises(store.InvalidArtifactReference):
        store.parse_key(f"team-a/sha256/00/{DIGEST}")
    with pytest.raises(store.InvalidArtifactReference):
        store.parse_key(f"team-a-/sha256/{DIGEST[:2]}/{DIGEST}")  # not a DNS label


@pytest.mark.parametrize("seconds", [1, 3600, 7 * 24 * 3600])
def test_presign_expiry_within_sigv4_limits(seconds) -> None:
    expires = datetime.timedelta(seconds=seconds)
    assert store.check_expiry(expires) == expires


@pytest.mark.parametrize(
    "chunks", [[b"abc", b"", b"defgh", b"i"], [b"abcdefghi"], [bytearray(b"abcd"), memoryview(b"efghi")]]
)
def test_chunk_sources_read_like_files(chunks) -> None:
    with store.open_source(iter(chunks)) as read:
        reader = store.DigestingReader(read)
        parts = []
        while part := reader.read(2):
            assert len(part) <= 2
            parts.append(part)
    assert b"".join(parts) == b"abcdefghi"
    assert (reader.size, reader.sha256) == (9, hashlib.sha256(b"abcdefghi").hexdigest())
    with store.open_source(iter(chunks)) as read:
        assert read(-1) == b"abcdefghi"


def test_sources_of_every_kind(tmp_path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"content")
    for source in (b"content", path, io.BytesIO(b"content"), [b"con", b"tent"]):
        with store.open_source(source) as read:
            reader = store.DigestingReader(read)
            reader.drain()
        assert reader.size == 7
    assert store.is_rereadable(b"x")
    assert store.is_rereadable(path)
    assert not store.is_rereadable(io.BytesIO(b"x"))


def test_digesting_reader_reports_bytes() -> None:
    seen: list[int] = []
    reader = store.DigestingReader(io.BytesIO(b"0123456789").read, seen.append)
    reader.read(4)
    reader.drain()
    assert seen == [4, 6]


def _stream(data: bytes, claimed: bytes, verify: bool = True) -> tuple[store.ArtifactStream, list[str]]:
    closed: list[str] = []
    info = store.ArtifactInfo("mem://x", hashlib.sha256(claimed).hexdigest(), len(claimed))
    chunks = iter([data[:3], data[3:]])
    return store.ArtifactStream(info, chunks, lambda: closed.append("closed"), verify=verify, on_bytes=None), closed


def test_stream_yields_chunks_and_closes_once() -> None:
    stream, closed = _stream(b"payload", b"payload")
    assert list(stream) == [b"pay", b"load"]
    stream.close()
    assert closed == ["closed"]


def test_stream_raises_on_corruption_after_the_last_chunk() -> None:
    stream, closed = _stream(b"payl0ad", b"payload")
    assert next(stream) == b"pay"
    assert next(stream) == b"l0ad"
    with pytest.raises(store.CorruptArtifactError, match="is corrupt"):
        next(stream)
    assert closed == ["closed"]
    unchecked, _ = _stream(b"payl0ad", b"payload", verify=False)
    assert b"".join(unchecked) == b"payl0ad"


def test_error_tree() -> None:
    mismatch = store.DigestMismatchError("a" * 64, "b" * 64)
    assert str(mismatch) == f"sha256 mismatch: expected {'a' * 64}, the content has {'b' * 64}"
    assert isinstance(mismatch, store.ArtifactContentError)
    assert isinstance(store.InvalidArtifactReference("x"), ValueError)
    assert store.ArtifactStoreUnavailable.retryable
    retryable = [cls for cls in vars(store).values() if isinstance(cls, type) and issubclass(cls, store.ArtifactError)]
    assert [cls.__name__ for cls in retryable if cls.retryable] == ["ArtifactStoreUnavailable"]


def test_package_exports_the_interface_without_importing_the_s3_sdk() -> None:
    assert all(getattr(artifacts, name) is getattr(store, name) for name in artifacts.__all__)
    probe = "import sys, modelplane.api.artifacts; print('minio' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
