"""Model artifacts: fetched, cached on local disk by content address, and verified before they are loaded.

Where it sits: the repository calls :func:`read_verified_artifact` (in a worker thread) for each model
version at start-up and hands the bytes to ONNX Runtime; nothing is loaded whose sha256 differs from the
configured one. Sources:

* a local path or ``file://`` URI: read in place (the embedded mode);
* ``s3://bucket/key``: downloaded through the ``minio`` SDK (credentials from ``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY`` and optionally ``AWS_SESSION_TOKEN``) into
  ``<cacheDir>/sha256/<hex[:2]>/<hex>``, hashed on the way and renamed into place only when the digest
  matches, so the cache holds verified content only. A later start with the same digest reads the cache
  (and re-verifies it: a corrupt cache entry is removed and downloaded again).

The bytes that are hashed are the bytes that are loaded, so a file changed between check and load cannot
slip through.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from modelplane.serving.config import S3Config
from modelplane.serving.errors import ArtifactError, TransientArtifactError

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
DOWNLOAD_ATTEMPTS = 3
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "NoSuchObject"})
_TRANSIENT_CODES = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"})


def read_verified_artifact(
    uri: str, sha256: str, *, cache_dir: Path, s3: S3Config, env: Mapping[str, str] = os.environ
) -> bytes:
    """The artifact's bytes once their sha256 equals ``sha256`` (64 lowercase hex digits)."""
    parts = urlsplit(uri)
    if parts.scheme in ("", "file"):
        path = Path(unquote(parts.path) if parts.scheme == "file" else uri)
        return _verified(_read_file(path, uri), sha256, uri)
    if parts.scheme == "s3":
        return _read_s3(uri, sha256, cache_dir=cache_dir, s3=s3, env=env)
    raise ArtifactError(f"unsupported artifact URI {uri!r}: use a local path, file:// or s3://")


def cache_path(cache_dir: Path, sha256: str) -> Path:
    """Where the content with this digest lives in the cache."""
    return cache_dir / "sha256" / sha256[:2] / sha256


def _read_file(path: Path, uri: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ArtifactError(f"artifact {uri} not found") from exc
    except OSError as exc:
        raise ArtifactError(f"cannot read artifact {uri}: {exc.strerror or exc}") from exc


def _verified(data: bytes, sha256: str, uri: str) -> bytes:
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ArtifactError(f"sha256 mismatch for {uri}: expected {sha256}, the artifact has {actual}")
    return data


def _read_s3(uri: str, sha256: str, *, cache_dir: Path, s3: S3Config, env: Mapping[str, str]) -> bytes:
    cached = cache_path(cache_dir, sha256)
    if cached.is_file():
        data = cached.read_bytes()
        if hashlib.sha256(data).hexdigest() == sha256:
            logger.info("Read artifact %s from the cache", uri, extra={"uri": uri, "path": str(cached)})
            return data
        logger.warning("Removed a corrupt cache entry %s", cached, extra={"uri": uri, "path": str(cached)})
        cached.unlink(missing_ok=True)
    parts = urlsplit(uri)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if not bucket or not key:
        raise ArtifactError(f"invalid artifact URI {uri!r}: expected s3://bucket/key")
    client = _s3_client(s3, env)
    for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
        try:
            _download(client, bucket, unquote(key), uri, sha256, cached)
            break
        except TransientArtifactError as exc:
            if attempt == DOWNLOAD_ATTEMPTS:
                raise
            delay = 0.5 * 2 ** (attempt - 1)
            logger.warning("Retrying the download of %s in %.1fs: %s", uri, delay, exc, extra={"uri": uri})
            time.sleep(delay)
    return _verified(cached.read_bytes(), sha256, uri)


def _s3_client(s3: S3Config, env: Mapping[str, str]) -> Any:
    import minio

    endpoint = s3.endpoint or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or "s3.amazonaws.com"
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ArtifactError(f"invalid S3 endpoint {endpoint!r}: expected http(s)://host:port or host:port")
    return minio.Minio(
        parts.netloc,
        access_key=env.get("AWS_ACCESS_KEY_ID"),
        secret_key=env.get("AWS_SECRET_ACCESS_KEY"),
        session_token=env.get("AWS_SESSION_TOKEN"),
        secure=parts.scheme == "https",
        region=s3.region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
    )


def _download(client: Any, bucket: str, key: str, uri: str, sha256: str, target: Path) -> None:
    """Stream the object into a temporary file beside ``target``, hashing it; rename it into place if it matches."""
    import urllib3
    from minio.error import InvalidResponseError, S3Error, ServerError

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    digest = hashlib.sha256()
    started = time.monotonic()
    size = 0
    try:
        response = client.get_object(bucket, key)
        try:
            with partial.open("wb") as sink:
                for chunk in response.stream(CHUNK_BYTES):
                    digest.update(chunk)
                    sink.write(chunk)
                    size += len(chunk)
        finally:
            response.close()
            response.release_conn()
        actual = digest.hexdigest()
        if actual != sha256:
            raise ArtifactError(f"sha256 mismatch for {uri}: expected {sha256}, the artifact has {actual}")
        os.replace(partial, target)
    except S3Error as exc:
        if exc.code in _NOT_FOUND_CODES:
            raise ArtifactError(f"artifact {uri} not found ({exc.code})") from exc
        if exc.code in _TRANSIENT_CODES:
            raise TransientArtifactError(f"S3 is unavailable for {uri}: {exc.code}: {exc.message}") from exc
        raise ArtifactError(f"cannot download {uri}: {exc.code}: {exc.message}") from exc
    except (ServerError, InvalidResponseError, urllib3.exceptions.HTTPError, OSError) as exc:
        raise TransientArtifactError(f"cannot download {uri}: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    logger.info(
        "Downloaded artifact %s",
        uri,
        extra={"uri": uri, "bytes": size, "seconds": round(time.monotonic() - started, 3), "path": str(target)},
    )
