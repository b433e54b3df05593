"""Fetching a Dataset's source into local files, each hashed (sha256) as it is written.

Four kinds: ``s3`` (every object under a key or prefix, with the source credentials), ``http(s)`` (one
file, streamed, its sha256 checked when the spec pins one), ``pvc`` (a file or a directory; in a pod the
operator mounts the claim at ``MODELPLANE_PVC_MOUNT``, in local mode the path is a local path) and
``inline`` (the rows, written as canonical JSON Lines). Files of a prefix or directory are read in the
order of their names; names starting with ``.`` or ``_`` (``_SUCCESS``, ``.crc``) are skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import httpx

from modelplane.apis.v1alpha1.dataset import DataFormat, DatasetSource, HttpSource, PvcSource, S3Source
from modelplane.jobs import files
from modelplane.jobs.context import JobContext
from modelplane.jobs.encoding import json_safe
from modelplane.jobs.errors import InvalidSpec, SourceUnavailable

logger = logging.getLogger(__name__)
CHUNK = files.CHUNK
INLINE_NAME = "inline.jsonl"


@dataclass(frozen=True)
class SourceFile:
    """One fetched file: its name in the source, where it is now, its sha256 and size."""

    name: str
    path: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class FetchedSource:
    """The files of a source, in reading order, and the format they are in."""

    kind: str
    location: str
    format: DataFormat
    files: list[SourceFile]

    def describe(self) -> dict[str, Any]:
        """The ``source`` recorded with a dataset version (where the bytes came from)."""
        return {
            "kind": self.kind,
            "uri": self.location,
            "format": self.format.value,
            "files": [{"name": f.name, "sha256": f.sha256, "size": f.size} for f in self.files[:100]],
        }


def fetch_source(source: DatasetSource, data_format: DataFormat, ctx: JobContext, into: Path) -> FetchedSource:
    """Fetch every file of ``source`` into the directory ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    if source.s3 is not None:
        return FetchedSource("s3", source.s3.uri, data_format, _fetch_s3(source.s3, ctx, into))
    if source.http is not None:
        return FetchedSource("http", source.http.url, data_format, [_fetch_http(source.http, into)])
    if source.pvc is not None:
        location = f"pvc://{source.pvc.claim_name}/{source.pvc.path.lstrip('/')}"
        return FetchedSource("pvc", location, data_format, _fetch_path(source.pvc, ctx))
    if source.inline is not None:
        path = into / INLINE_NAME
        with path.open("wb") as file:
            for row in source.inline.rows:
                file.write(json.dumps(json_safe(row), ensure_ascii=False, allow_nan=False).encode() + b"\n")
        return FetchedSource("inline", "inline", DataFormat.JSON_LINES, [_local_file(INLINE_NAME, path)])
    raise InvalidSpec("spec.source must set one of s3, http, pvc and inline")


def _fetch_s3(spec: S3Source, ctx: JobContext, into: Path) -> list[SourceFile]:
    import urllib3
    from minio.error import MinioException, S3Error

    parts = urlsplit(spec.uri)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    client, host = ctx.source_s3_client(spec.endpoint, region=spec.region, what="an S3 source")
    try:
        if key and not key.endswith("/"):
            try:
                client.stat_object(bucket, key)
                keys = [key]
            except S3Error as error:
                if error.code not in ("NoSuchKey", "NoSuchObject"):
                    raise
                keys = []
            prefix = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
            if not keys:  # a prefix written without its trailing slash
                prefix = key + "/"
                keys = _s3_keys(client, bucket, prefix)
        else:
            prefix = key
            keys = _s3_keys(client, bucket, prefix)
        if not keys:
            raise SourceUnavailable(f"no objects at {spec.uri}")
        files = []
        for index, name in enumerate(keys):
            response = client.get_object(bucket, name)
            try:
                files.append(_write(name[len(prefix) :], into / _local_name(index, name), response.stream(CHUNK)))
            finally:
                response.close()
                response.release_conn()
        return files
    except (MinioException, urllib3.exceptions.HTTPError, OSError) as error:
        if isinstance(error, S3Error) and error.code in ("NoSuchBucket", "AccessDenied", "InvalidAccessKeyId"):
            raise SourceUnavailable(f"cannot read {spec.uri}: {error.code}: {error.message}") from error
        raise SourceUnavailable(f"cannot read {spec.uri} from {host}: {error}") from error


def _s3_keys(client: Any, bucket: str, prefix: str) -> list[str]:
    keys = [obj.object_name for obj in client.list_objects(bucket, prefix=prefix, recursive=True)]
    return sorted(k for k in keys if not k.endswith("/") and _visible(k[len(prefix) :]))


def _fetch_http(spec: HttpSource, into: Path) -> SourceFile:
    name = PurePosixPath(urlsplit(spec.url).path).name or "data"
    try:
        with httpx.stream("GET", spec.url, follow_redirects=True, timeout=60.0) as response:
            if not response.is_success:
                raise SourceUnavailable(f"GET {spec.url} answered {response.status_code} {response.reason_phrase}")
            fetched = _write(name, into / _local_name(0, name), response.iter_bytes(CHUNK))
    except httpx.HTTPError as error:
        raise SourceUnavailable(f"GET {spec.url} failed: {error}") from error
    if spec.sha256 is not None and fetched.sha256 != spec.sha256:
        raise SourceUnavailable(f"{spec.url} has sha256 {fetched.sha256}, but the spec pins {spec.sha256}")
    return fetched


def _fetch_path(spec: PvcSource, ctx: JobContext) -> list[SourceFile]:
    root = ctx.pvc_mount / spec.path.lstrip("/") if ctx.pvc_mount is not None else Path(spec.path)
    if root.is_file():
        return [_local_file(root.name, root)]
    if not root.is_dir():
        raise SourceUnavailable(f"{spec.path} does not exist on volume claim {spec.claim_name}")
    paths = sorted(
        (p for p in root.rglob("*") if p.is_file() and _visible(p.relative_to(root).as_posix())),
        key=lambda p: p.relative_to(root).as_posix(),
    )
    if not paths:
        raise SourceUnavailable(f"directory {spec.path} on volume claim {spec.claim_name} holds no data files")
    return [_local_file(p.relative_to(root).as_posix(), p) for p in paths]


def _local_name(index: int, name: str) -> str:
    """A safe local file name that keeps the suffixes (pyarrow detects compression such as .gz by them)."""
    suffixes = "".join(c for c in "".join(PurePosixPath(name).suffixes) if c.isalnum() or c == ".")
    return f"{index:06d}{suffixes[-32:]}"


def _visible(relative: str) -> bool:
    return not any(part.startswith((".", "_")) for part in relative.split("/"))


def _local_file(name: str, path: Path) -> SourceFile:
    return SourceFile(name, path, *files.hash_file(path))


def _write(name: str, path: Path, chunks: Iterable[bytes] | Iterator[bytes]) -> SourceFile:
    sha256, size = files.write_hashed(path, chunks)
    logger.info("Fetched source file %s (%d bytes).", name, size, extra={"file": name, "bytes": size})
    return SourceFile(name, path, sha256, size)
