"""The artifact store the settings ask for: S3 (any S3-compatible server) or a local directory."""

from __future__ import annotations

from modelplane.api.artifacts.store import ArtifactStore, ByteCallback
from modelplane.api.settings import ArtifactBackend, Settings


def build_store(settings: Settings, on_bytes: ByteCallback | None = None) -> ArtifactStore:
    """A store for ``settings.artifacts.backend``; nothing is contacted until ``ensure_ready``."""
    if settings.artifacts.backend is ArtifactBackend.LOCAL:
        from modelplane.api.artifacts.local import LocalArtifactStore

        return LocalArtifactStore(settings.artifacts.local_root, on_bytes=on_bytes)
    from modelplane.api.artifacts.s3 import S3ArtifactStore

    s3 = settings.s3
    return S3ArtifactStore(
        s3.endpoint,
        s3.bucket,
        access_key=s3.access_key.get_secret_value(),
        secret_key=s3.secret_key.get_secret_value(),
        prefix=s3.prefix,
        secure=s3.secure,
        region=s3.region,
        on_bytes=on_bytes,
    )
