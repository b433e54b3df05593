"""The artifact store interface: content addresses, the upload protocol, shared types and errors.

Where it sits: the control plane's services (model registry, runs, datasets) hand bytes to an
``ArtifactStore`` and record the ``ArtifactRef`` it returns in the metadata database; downloads
and presigned URLs go the other way. :mod:`.s3` implements it on any S3-compatible server,
:mod:`.local` on a directory for the embedded mode. Nothing here knows HTTP or Prometheus: the API
maps the errors below to status codes once, and reads byte counts through ``on_bytes``.

Addressing: every object lives at ``<namespace>/sha256/<hex[:2]>/<hex>`` under the store's root
(an optional key prefix on S3, a directory locally), so namespaces have disjoint prefixes and a key
names exactly one content. Objects are immutable: there is no named or overwritable object. A name
(a run's ``plots/loss.png``, a dataset split) is a row in the metadata database pointing at a
content address.

Upload protocol (:meth:`ArtifactStore.put`), the same for both implementations:

1. A re-readable source (``bytes`` or a path) is hashed locally first; if its address already holds
   the object, nothing is uploaded. A stream is hashed while it is uploaded.
2. The bytes go to a private *staging* object (``.staging/...``, a random name) while they are hashed
   and counted; memory stays bounded by one part (S3) or one chunk (local).
3. The digest and size are checked against the caller's claims (``DigestMismatchError``,
   ``SizeMismatchError``); on a mismatch the staged object is removed and nothing else changed.
4. The staged object is published at its content address without overwriting anything: if an
   object is already there it is checked (size, recorded digest) and reused, so re-putting the same
   content is idempotent; one that does not match is a ``CorruptArtifactError``, never replaced.
5. The staged object is removed. Crashed uploads leave staging objects that
   :meth:`ArtifactStore.purge_staging` removes.

The API is synchronous (blocking I/O, thread-safe): FastAPI calls it in its threadpool
(``run_in_threadpool``, or a plain ``def`` route), and a ``StreamingResponse`` iterates an
``ArtifactStream`` in the threadpool too.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, Literal, Protocol, TypeAlias

DEFAULT_CONTENT_TYPE = "application/octet-stream"
CHUNK_SIZE = 1024 * 1024
MAX_PRESIGN_EXPIRY = datetime.timedelta(days=7)  # the SigV4 limit
STAGING_DIR = ".staging"  # cannot clash with a namespace (DNS labels start with [a-z0-9])

_NAMESPACE_RE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_SHA256_RE = re.compile(r"(?:sha256:)?([0-9a-fA-F]{64})")
_KEY_RE = re.compile(r"(?P<namespace>[a-z0-9][-a-z0-9]*)/sha256/(?P<fanout>[0-9a-f]{2})/(?P<sha256>[0-9a-f]{64})")

Direction: TypeAlias = Literal["upload", "download"]
ByteCallback: TypeAlias = Callable[[Direction, int], None]
"""Called with ``("upload", n)`` / ``("download", n)`` as bytes flow into or out of the store."""


class Readable(Protocol):
    """A binary file-like object: ``open(..., "rb")``, ``io.BytesIO``, FastAPI's ``UploadFile.file``."""

    def read(self, size: int = ..., /) -> bytes: ...


ArtifactSource: TypeAlias = bytes | os.PathLike[str] | Readable | Iterable[bytes]
"""What ``put`` accepts: bytes, a local file's path, a binary file object, or an iterable of chunks."""


# --- errors -------------------------------------------------------------------------------------------------


class ArtifactError(Exception):
    """Base of the artifact store's errors. ``retryable`` says whether trying again later may help."""

    retryable: ClassVar[bool] = False


class ArtifactNotFound(ArtifactError):
    """No object at this address (or no staged upload at this URI)."""


class InvalidArtifactReference(ArtifactError, ValueError):
    """A malformed namespace, digest or URI, or a URI that does not belong to this store."""


class ArtifactContentError(ArtifactError):
    """The uploaded bytes are not what the caller claimed; nothing was stored."""


class DigestMismatchError(ArtifactContentError):
    """The content's sha256 differs from the expected one."""

    def __init__(self, expected: str, actual: str) -> None:
        self.expected, self.actual = expected, actual
        super().__init__(f"sha256 mismatch: expected {expected}, the content has {actual}")


class SizeMismatchError(ArtifactContentError):
    """The content's length differs from the declared size."""

    def __init__(self, expected: int, actual: int) -> None:
        self.expected, self.actual = expected, actual
        super().__init__(f"size mismatch: expected {expected} bytes, the content has {actual}")


class CorruptArtifactError(ArtifactError):
    """The object stored at a content address does not match its address; it is left untouched."""


class ArtifactStoreUnavailable(ArtifactError):
    """The store cannot be reached or cannot serve now (server down, timeout, missing bucket)."""

    retryable = True


class ArtifactAccessDenied(ArtifactError):
    """The store rejected the control plane's credentials or denied it access."""


class PresignNotSupported(ArtifactError):
    """This store cannot issue presigned URLs (the local store); transfer through the API instead."""


# --- values -------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ArtifactKey:
    """A content address: the namespace and the sha256 (lowercase hex) of the content."""

    namespace: str
    sha256: str

    @property
    def path(self) -> str:
        """The address relative to the store's root: ``<namespace>/sha256/<hex[:2]>/<hex>``."""
        return f"{self.namespace}/sha256/{self.sha256[:2]}/{self.sha256}"


@dataclasses.dataclass(frozen=True)
class ArtifactRef:
    """What the metadata database records for a stored artifact."""

    uri: str
    sha256: str
    size: int


@dataclasses.dataclass(frozen=True)
class ArtifactInfo(ArtifactRef):
    """A stored object's metadata. ``digest_verified`` says the store recorded the digest it checked when
    it wrote the object (S3 metadata); when False (the local store, an object copied there by hand)
    reusing the object re-reads it, and ``get(verify=True)`` checks it as always."""

    content_type: str | None = None
    modified: datetime.datetime | None = None
    digest_verified: bool = True


@dataclasses.dataclass(frozen=True)
class PresignedUpload:
    """A presigned PUT to a staging object; pass ``upload_uri`` to ``complete_upload`` once done."""

    url: str
    upload_uri: str
    namespace: str
    sha256: str
    expires_at: datetime.datetime
    headers: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Staged:
    """An implementation's handle on a staged object (key or path, and its ETag on S3)."""

    handle: str
    etag: str | None = None


# --- validation and hashing helpers ----------------------------------------------------------------------


def check_namespace(namespace: str) -> str:
    """The namespace if it is a DNS label (as Kubernetes namespaces are), else InvalidArtifactReference."""
    if not isinstance(namespace, str) or not _NAMESPACE_RE.fullmatch(namespace):
        raise InvalidArtifactReference(f"invalid namespace {namespace!r}: must be a DNS label ([a-z0-9-], <= 63)")
    return namespace


def normalize_sha256(digest: str) -> str:
    """``<hex>`` or ``sha256:<hex>`` (any case) as 64 lowercase hex digits."""
    match = _SHA256_RE.fullmatch(digest) if isinstance(digest, str) else None
    if match is None:
        raise InvalidArtifactReference(f"invalid sha256 {digest!r}: expected 64 hex digits")
    return match.group(1).lower()


def parse_key(path: str) -> ArtifactKey:
    """The content address of a root-relative path, or InvalidArtifactReference."""
    match = _KEY_RE.fullmatch(path)
    if match is None or match["fanout"] != match["sha256"][:2] or not _NAMESPACE_RE.fullmatch(match["namespace"]):
        raise InvalidArtifactReference(f"{path!r} is not a content address (<namespace>/sha256/<xx>/<sha256>)")
    return ArtifactKey(match["namespace"], match["sha256"])


def check_expiry(expires: datetime.timedelta) -> datetime.timedelta:
    """``expires`` if it is positive and at most seven days (the SigV4 limit)."""
    if not datetime.timedelta(seconds=1) <= expires <= MAX_PRESIGN_EXPIRY:
        raise ValueError(f"presigned URL expiry must be between 1 s and 7 days, got {expires}")
    return expires


def check_content(sha256: str, size: int, *, expected_sha256: str | None, expected_size: int | None) -> None:
    """Raise DigestMismatchError / SizeMismatchError when the content is not what was claimed."""
    if expected_sha256 is not None and sha256 != expected_sha256:
        raise DigestMismatchError(expected_sha256, sha256)
    if expected_size is not None and size != expected_size:
        raise SizeMismatchError(expected_size, size)


class DigestingReader:
    """A ``read(n)`` source that hashes and counts what passes through it (and reports it)."""

    def __init__(self, read: Callable[[int], bytes], on_chunk: Callable[[int], None] | None = None) -> None:
        self._read, self._on_chunk = read, on_chunk
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._read(size)
        if data:
            self._hash.update(data)
            self.size += len(data)
            if self._on_chunk is not None:
                self._on_chunk(len(data))
        return data

    def drain(self) -> None:
        """Read (and hash) everything that is left."""
        while self.read(CHUNK_SIZE):
            pass

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


class _ChunkReader:
    """``read(n)`` over an iterable of byte chunks: at most one chunk at a time, no buffering.

    Like a raw file, it may return fewer bytes than asked (callers loop until ``b""``).
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._rest = b""

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            data, self._rest = self._rest + b"".join(bytes(chunk) for chunk in self._chunks), b""
            return data
        while not self._rest:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._rest = bytes(chunk)
        data, self._rest = self._rest[:size], self._rest[size:]
        return data


class _OpenSource:
    """Context manager giving a ``read(n)`` callable over any ArtifactSource (opens and closes paths)."""

    def __init__(self, source: ArtifactSource) -> None:
        self._source = source
        self._file: Any = None

    def __enter__(self) -> Callable[[int], bytes]:
        source = self._source
        if isinstance(source, bytes | bytearray | memoryview):
            view = memoryview(source)
            offset = 0

            def read_bytes(size: int) -> bytes:
                nonlocal offset
                end = len(view) if size < 0 else min(len(view), offset + size)
                data, offset = bytes(view[offset:end]), end
                return data

            return read_bytes
        if isinstance(source, os.PathLike):
            self._file = open(os.fspath(source), "rb")
            return self._file.read  # type: ignore[no-any-return]
        if hasattr(source, "read"):
            return source.read
        return _ChunkReader(source).read

    def __exit__(self, *exc_info: object) -> None:
        if self._file is not None:
            self._file.close()


def open_source(source: ArtifactSource) -> _OpenSource:
    """``with open_source(src) as read:`` a ``read(n) -> bytes`` over bytes, a path, a file or chunks."""
    return _OpenSource(source)


def is_rereadable(source: ArtifactSource) -> bool:
    """Whether ``source`` can be read twice (bytes, a path): ``put`` then hashes it before uploading."""
    return isinstance(source, bytes | bytearray | memoryview | os.PathLike)


# --- downloads ----------------------------------------------------------------------------------------------


class ArtifactStream(Iterator[bytes]):
    """The chunks of a stored object, counted and (with ``verify``) checked against its address.

    Iterate it (or hand it to a ``StreamingResponse``) and close it, or use it as a context manager.
    A mismatch raises CorruptArtifactError after the last chunk, before the iteration ends.
    """

    def __init__(
        self,
        info: ArtifactInfo,
        chunks: Iterator[bytes],
        close: Callable[[], None],
        *,
        verify: bool,
        on_bytes: ByteCallback | None,
    ) -> None:
        self.info = info
        self._chunks, self._close, self._on_bytes = chunks, close, on_bytes
        self._hash = hashlib.sha256() if verify else None
        self._size = 0
        self._closed = False

    def __next__(self) -> bytes:
        if self._closed:
            raise StopIteration
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self.close()
            self._check()
            raise
        except BaseException:
            self.close()
            raise
        self._size += len(chunk)
        if self._hash is not None:
            self._hash.update(chunk)
        if self._on_bytes is not None:
            self._on_bytes("download", len(chunk))
        return chunk

    def _check(self) -> None:
        if self._hash is None:
            return
        actual = self._hash.hexdigest()
        if actual != self.info.sha256 or self._size != self.info.size:
            raise CorruptArtifactError(
                f"{self.info.uri} is corrupt: its address says sha256 {self.info.sha256} ({self.info.size} bytes), "
                f"the stored content has {actual} ({self._size} bytes)"
            )

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            close_chunks = getattr(self._chunks, "close", None)
            try:
                if close_chunks is not None:
                    close_chunks()
            finally:
                self._close()

    def __enter__(self) -> ArtifactStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --- the interface --------------------------------------------------------------------------------------------


class ArtifactStore(abc.ABC):
    """Immutable, content-addressed artifact storage (see the module docstring for the protocol)."""

    def __init__(self, *, on_bytes: ByteCallback | None = None) -> None:
        self._on_bytes = on_bytes

    # addressing

    def uri_for(self, namespace: str, sha256: str) -> str:
        """The URI the content with this digest has (or would have) in ``namespace``."""
        return self._uri(ArtifactKey(check_namespace(namespace), normalize_sha256(sha256)))

    def parse_uri(self, uri: str) -> ArtifactKey:
        """The namespace and digest of one of this store's URIs; InvalidArtifactReference for any other."""
        return self._key(uri)

    # writing

    def put(
        self,
        namespace: str,
        source: ArtifactSource,
        *,
        expected_sha256: str | None = None,
        size: int | None = None,
        content_type: str = DEFAULT_CONTENT_TYPE,
    ) -> ArtifactRef:
        """Store ``source`` at its content address in ``namespace``, verifying the claimed digest/size.

        Identical content is stored once: putting it again returns the same ref.
        """
        check_namespace(namespace)
        expected = normalize_sha256(expected_sha256) if expected_sha256 is not None else None
        if size is not None and size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        hashed = False
        if is_rereadable(source):  # hash first: known content is not uploaded again
            with open_source(source) as read:
                reader = DigestingReader(read)
                reader.drain()
            check_content(reader.sha256, reader.size, expected_sha256=expected, expected_size=size)
            expected, size, hashed = reader.sha256, reader.size, True
        if expected is not None:
            existing = self._find(ArtifactKey(namespace, expected))
            if existing is not None:
                if not hashed:  # check the caller's claim about its stream before handing out the ref
                    with open_source(source) as read:
                        reader = DigestingReader(read)
                        reader.drain()
                    check_content(reader.sha256, reader.size, expected_sha256=expected, expected_size=size)
                return self._reuse(existing, reader.size if size is None else size)
        with open_source(source) as read:
            reader = DigestingReader(read, self._counter("upload"))
            staged = self._stage(namespace, reader, content_type, size)
        try:
            check_content(reader.sha256, reader.size, expected_sha256=expected, expected_size=size)
        except ArtifactContentError:
            self._discard(staged)
            raise
        return self._publish(staged, ArtifactKey(namespace, reader.sha256), reader.size, content_type)

    def delete(self, uri: str) -> None:
        """Remove the object at ``uri`` (for retention policies); a missing object is not an error."""
        self._delete(self._key(uri))

    # reading

    def stat(self, uri: str) -> ArtifactInfo:
        """The metadata of the object at ``uri``; ArtifactNotFound if there is none."""
        info = self._find(self._key(uri))
        if info is None:
            raise ArtifactNotFound(f"no artifact at {uri}")
        return info

    def exists(self, uri: str) -> bool:
        """Whether an object is stored at ``uri``."""
        return self._find(self._key(uri)) is not None

    def get(self, uri: str, *, verify: bool = True) -> ArtifactStream:
        """Stream the object at ``uri`` in chunks; ArtifactNotFound before any byte if there is none."""
        info, chunks, close = self._open(self._key(uri))
        return ArtifactStream(info, chunks, close, verify=verify, on_bytes=self._on_bytes)

    # presigned transfers (S3 only)

    def presign_get(self, uri: str, expires: datetime.timedelta = datetime.timedelta(hours=1)) -> str:
        """A URL that GETs the object at ``uri`` without credentials until ``expires`` from now."""
        check_expiry(expires)
        return self._presign_get(self.stat(uri), expires)

    @abc.abstractmethod
    def presign_put(
        self,
        namespace: str,
        sha256: str,
        expires: datetime.timedelta = datetime.timedelta(hours=1),
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
    ) -> PresignedUpload:
        """A URL to PUT content with this digest to a fresh staging object; then call ``complete_upload``."""

    @abc.abstractmethod
    def complete_upload(
        self, namespace: str, upload_uri: str, expected_sha256: str, *, size: int | None = None
    ) -> ArtifactRef:
        """Verify a presigned upload against its digest and publish it at its content address."""

    # lifecycle

    @abc.abstractmethod
    def ensure_ready(self) -> None:
        """Create the bucket or root directory if it is missing, then :meth:`check`."""

    @abc.abstractmethod
    def check(self) -> None:
        """Raise ArtifactStoreUnavailable / ArtifactAccessDenied unless the store can serve (``/readyz``)."""

    @abc.abstractmethod
    def purge_staging(self, older_than: datetime.timedelta) -> int:
        """Remove staging objects older than ``older_than`` (crashed or abandoned uploads); return how many."""

    def close(self) -> None:  # noqa: B027 - optional hook, most stores hold nothing
        """Release connections."""

    def __enter__(self) -> ArtifactStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # implementation hooks

    @abc.abstractmethod
    def _uri(self, key: ArtifactKey) -> str: ...

    @abc.abstractmethod
    def _key(self, uri: str) -> ArtifactKey: ...

    @abc.abstractmethod
    def _find(self, key: ArtifactKey) -> ArtifactInfo | None:
        """The object at ``key``, or None."""

    @abc.abstractmethod
    def _open(self, key: ArtifactKey) -> tuple[ArtifactInfo, Iterator[bytes], Callable[[], None]]:
        """The object's info, its chunks, and a function that releases the connection or file."""

    @abc.abstractmethod
    def _stage(self, namespace: str, reader: DigestingReader, content_type: str, size: int | None) -> Staged:
        """Copy everything ``reader`` gives into a new staging object."""

    @abc.abstractmethod
    def _commit(self, staged: Staged, key: ArtifactKey, content_type: str) -> ArtifactInfo | None:
        """Publish a verified staged object at ``key`` unless an object is there; return that object if so."""

    @abc.abstractmethod
    def _discard(self, staged: Staged) -> None:
        """Remove a staged object (best effort: purge_staging catches what is left)."""

    @abc.abstractmethod
    def _delete(self, key: ArtifactKey) -> None: ...

    @abc.abstractmethod
    def _presign_get(self, info: ArtifactInfo, expires: datetime.timedelta) -> str: ...

    # shared steps

    def _publish(self, staged: Staged, key: ArtifactKey, size: int, content_type: str) -> ArtifactRef:
        """Move a verified staged object to ``key`` (or reuse the identical object there); drop the staging copy."""
        try:
            existing = self._commit(staged, key, content_type)
        finally:
            self._discard(staged)
        if existing is not None:
            return self._reuse(existing, size)
        return ArtifactRef(self._uri(key), key.sha256, size)

    def _reuse(self, existing: ArtifactInfo, size: int) -> ArtifactRef:
        """The ref of an object already at the content address, after checking it matches its address."""
        if existing.size != size:
            raise CorruptArtifactError(
                f"{existing.uri} holds {existing.size} bytes, but content with its sha256 has {size}; "
                "the stored object was left untouched"
            )
        if not existing.digest_verified:  # placed there by something else: read it once to be sure
            with self.get(existing.uri, verify=True) as stream:
                for _ in stream:
                    pass
        return ArtifactRef(existing.uri, existing.sha256, existing.size)

    def _counter(self, direction: Direction) -> Callable[[int], None] | None:
        on_bytes = self._on_bytes
        if on_bytes is None:
            return None
        return lambda n: on_bytes(direction, n)
