"""What only the local store does: file:// URIs, read-only files, no presigning, the root's lifecycle."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
from pathlib import Path

import pytest

from modelplane.api.artifacts.local import LocalArtifactStore
from modelplane.api.artifacts.store import (
    ArtifactAccessDenied,
    ArtifactStoreUnavailable,
    CorruptArtifactError,
    InvalidArtifactReference,
    PresignNotSupported,
)

PAYLOAD = b"local artifact"
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_uris_are_absolute_file_uris(local_store, namespace) -> None:
    ref = local_store.put(namespace, PAYLOAD)

    path = local_store.root / namespace / "sha256" / PAYLOAD_SHA[:2] / PAYLOAD_SHA
    assert ref.uri == path.as_uri()
    assert ref.uri.startswith("file:///")
    assert path.read_bytes() == PAYLOAD
    assert stat.S_IMODE(path.stat().st_mode) == 0o444  # published files are read-only
    assert local_store.parse_uri(ref.uri.replace("file:///", "file://localhost/")).sha256 == PAYLOAD_SHA
    assert local_store.stat(ref.uri).content_type is None  # not recorded locally


def test_roots_with_odd_characters_round_trip(tmp_path, namespace) -> None:
    with LocalArtifactStore(tmp_path / "my artifacts %20 é", fsync=True) as store:
        store.ensure_ready()
        ref = store.put(namespace, PAYLOAD)
        assert "%2520" in ref.uri
        assert store.stat(ref.uri).size == len(PAYLOAD)


def test_relative_root_is_made_absolute(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = LocalArtifactStore("artifacts")
    assert store.root == tmp_path / "artifacts"
    with pytest.raises(InvalidArtifactReference, match="outside this store's root"):
        LocalArtifactStore(tmp_path / "elsewhere").stat(store.uri_for("ns", PAYLOAD_SHA))


def test_presigning_is_not_supported(local_store, namespace) -> None:
    ref = local_store.put(namespace, PAYLOAD)
    with pytest.raises(PresignNotSupported, match="transfer artifacts through the API"):
        local_store.presign_get(ref.uri)
    with pytest.raises(PresignNotSupported):
        local_store.presign_put(namespace, PAYLOAD_SHA)
    with pytest.raises(PresignNotSupported):
        local_store.complete_upload(namespace, ref.uri, PAYLOAD_SHA)


def test_the_root_is_created_by_ensure_ready(tmp_path, namespace) -> None:
    store = LocalArtifactStore(tmp_path / "not-yet" / "artifacts")
    with pytest.raises(ArtifactStoreUnavailable, match=r"ensure_ready\(\) creates it"):
        store.check()
    with pytest.raises(ArtifactStoreUnavailable, match=r"ensure_ready\(\) creates it"):
        store.put(namespace, PAYLOAD)
    store.ensure_ready()
    store.check()
    assert store.put(namespace, PAYLOAD).size == len(PAYLOAD)
    assert sorted(p.name for p in store.root.iterdir()) == [".staging", namespace]


def test_an_unwritable_root_is_access_denied(local_store, namespace, monkeypatch) -> None:
    # patched rather than chmod-ed: the tests may run as root, which ignores permissions
    monkeypatch.setattr(os, "access", lambda *_: False)
    with pytest.raises(ArtifactAccessDenied, match="not writable"):
        local_store.check()

    def denied(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(ArtifactAccessDenied, match="permission denied"):
        local_store.put(namespace, PAYLOAD)


def test_a_full_disk_is_unavailable_and_leaves_no_staging_file(local_store, namespace, monkeypatch) -> None:
    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ArtifactStoreUnavailable, match="No space left") as caught:
        LocalArtifactStore(local_store.root, fsync=True).put(namespace, PAYLOAD)
    assert caught.value.retryable
    assert list((local_store.root / ".staging").iterdir()) == []


def test_staging_files_are_removed_after_publishing(local_store: LocalArtifactStore, namespace) -> None:
    local_store.put(namespace, PAYLOAD)
    local_store.put(namespace, PAYLOAD + b"2")
    assert list((local_store.root / ".staging").iterdir()) == []


def test_a_directory_at_the_address_is_not_an_artifact(local_store, namespace) -> None:
    path: Path = local_store.root / namespace / "sha256" / PAYLOAD_SHA[:2] / PAYLOAD_SHA
    path.mkdir(parents=True)
    with pytest.raises(CorruptArtifactError, match="not a regular file"):
        local_store.stat(local_store.uri_for(namespace, PAYLOAD_SHA))
    with pytest.raises(CorruptArtifactError, match="not a regular file"):
        local_store.put(namespace, PAYLOAD)
    assert path.is_dir()
