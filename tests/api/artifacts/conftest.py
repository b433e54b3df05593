"""Fixtures of the artifact-store tests: both implementations behind one ``store`` fixture.

``store`` is parametrized over the local directory and a real S3 server (the harness' MinIO, or moto);
the S3 one uses a 5 MiB part size (the S3 minimum) so a ~12 MiB file takes the multipart path.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from modelplane.api.artifacts.local import LocalArtifactStore
from modelplane.api.artifacts.s3 import S3ArtifactStore
from modelplane.api.artifacts.store import ArtifactKey, ArtifactStore

MiB = 1024 * 1024
PART_SIZE = 5 * MiB
S3_PREFIX = "mp"


class ByteLog:
    """An ``on_bytes`` callback that adds up what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, direction: str, size: int) -> None:
        self.calls.append((direction, size))

    def total(self, direction: str) -> int:
        return sum(size for d, size in self.calls if d == direction)


@pytest.fixture
def byte_log() -> ByteLog:
    return ByteLog()


@pytest.fixture
def namespace() -> str:
    return f"ns-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def local_store(tmp_path: Path, byte_log: ByteLog) -> Iterator[LocalArtifactStore]:
    with LocalArtifactStore(tmp_path / "artifacts", fsync=False, on_bytes=byte_log) as store:
        store.ensure_ready()
        yield store


def make_s3_store(server, bucket: str, **options) -> S3ArtifactStore:
    options.setdefault("prefix", S3_PREFIX)
    options.setdefault("part_size", PART_SIZE)
    return S3ArtifactStore(
        server.endpoint,
        bucket,
        access_key=server.access_key,
        secret_key=server.secret_key,
        secure=False,
        region=server.region,
        **options,
    )


@pytest.fixture
def s3_store_factory(s3_server) -> Iterator[Callable[..., S3ArtifactStore]]:
    """``factory(bucket, **options)``: more S3 stores on the test server (prefix "mp", 5 MiB parts), closed after."""
    made: list[S3ArtifactStore] = []

    def factory(bucket: str, **options) -> S3ArtifactStore:
        made.append(make_s3_store(s3_server, bucket, **options))
        return made[-1]

    yield factory
    for store in made:
        store.close()


@pytest.fixture
def s3_store(s3_store_factory, s3_bucket: str, byte_log: ByteLog) -> S3ArtifactStore:
    store = s3_store_factory(s3_bucket, on_bytes=byte_log)
    store.ensure_ready()
    return store


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest) -> ArtifactStore:
    """Each contract test runs on both implementations."""
    value: ArtifactStore = request.getfixturevalue(f"{request.param}_store")
    return value


@pytest.fixture
def stored_objects(request: pytest.FixtureRequest) -> Callable[[ArtifactStore], list[str]]:
    """Every object the store holds (staging included), as paths relative to its root or prefix."""

    def list_objects(store: ArtifactStore) -> list[str]:
        if isinstance(store, LocalArtifactStore):
            return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())
        assert isinstance(store, S3ArtifactStore)
        client = request.getfixturevalue("s3_client")
        return sorted(
            str(obj.object_name).removeprefix(f"{S3_PREFIX}/")
            for obj in client.list_objects(store.bucket, recursive=True)
        )

    return list_objects


@pytest.fixture
def plant(request: pytest.FixtureRequest) -> Callable[[ArtifactStore, ArtifactKey, bytes], None]:
    """Write bytes at a content address behind the store's back (a hand copy, bit rot, a foreign writer)."""

    def write(store: ArtifactStore, key: ArtifactKey, data: bytes) -> None:
        if isinstance(store, LocalArtifactStore):
            path = store.root / key.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return
        assert isinstance(store, S3ArtifactStore)
        client = request.getfixturevalue("s3_client")
        client.put_object(store.bucket, f"{S3_PREFIX}/{key.path}", io.BytesIO(data), len(data))

    return write
