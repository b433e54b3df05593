"""Artifact storage of the control plane: immutable, content-addressed blobs in S3 or a local directory.

``store`` holds the interface, its values and errors; ``s3`` (the ``minio`` SDK) and ``local`` (the
embedded mode) implement it. Import the implementation you build from its module; the names below
are the light, shared ones (no S3 client is imported here).
"""

from modelplane.api.artifacts.store import (
    ArtifactAccessDenied,
    ArtifactContentError,
    ArtifactError,
    ArtifactInfo,
    ArtifactKey,
    ArtifactNotFound,
    ArtifactRef,
    ArtifactSource,
    ArtifactStore,
    ArtifactStoreUnavailable,
    ArtifactStream,
    ByteCallback,
    CorruptArtifactError,
    DigestMismatchError,
    InvalidArtifactReference,
    PresignedUpload,
    PresignNotSupported,
    SizeMismatchError,
)

__all__ = [
    "ArtifactAccessDenied",
    "ArtifactContentError",
    "ArtifactError",
    "ArtifactInfo",
    "ArtifactKey",
    "ArtifactNotFound",
    "ArtifactRef",
    "ArtifactSource",
    "ArtifactStore",
    "ArtifactStoreUnavailable",
    "ArtifactStream",
    "ByteCallback",
    "CorruptArtifactError",
    "DigestMismatchError",
    "InvalidArtifactReference",
    "PresignNotSupported",
    "PresignedUpload",
    "SizeMismatchError",
]
