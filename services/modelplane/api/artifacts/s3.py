"""The artifact store on any S3-compatible server (MinIO, AWS S3, Ceph RGW, ...) through the ``minio`` SDK.

Where it sits: the production implementation of :class:`~modelplane.api.artifacts.store.ArtifactStore`;
the control plane builds one from its settings at start-up, calls ``ensure_ready()``, and ``check()``
from ``/readyz``. Layout in the bucket, under the optional ``prefix``::

    <prefix>/<namespace>/sha256/<hex[:2]>/<hex>    published objects (metadata x-amz-meta-sha256: <hex>)
    <prefix>/.staging/<namespace>/<random>         uploads in flight or awaiting verification

How an upload is verified: the bytes are hashed on their way into a staging object (a single PUT up to
one part, multipart above; at most ``parallel_uploads + 1`` parts in memory); only after the digest
and size match is the staging object copied server-side to its content address, with the digest
recorded as metadata and an ``x-amz-copy-source-if-match`` on the ETag that was hashed, so a staging
object replaced in the meantime is never published. The copy happens only when the address is empty
(an object already there is checked and reused). Two writers racing on the same new content may both
copy, which rewrites the object with the same verified bytes.

Presigned PUTs go to a fresh staging object too, never to a content address: S3 does not check a
presigned body against a digest we choose, so ``complete_upload`` reads the staged object back once,
hashes it, and publishes it the same way. The unpublished staging objects of crashed processes are
removed by ``purge_staging``; incomplete multipart uploads are aborted by the SDK on errors, and by the
server's own expiry (MinIO) or a bucket lifecycle rule (AWS) after a crash.

Failures are bounded: short connect and read timeouts and a few retries with a capped backoff
(``Retry-After`` is ignored), and ``check()`` uses its own client with ``check_timeout`` and no retries,
so a probe answers within a readiness probe's budget. Errors are translated once, in ``_errors``.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import logging
import math
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import BinaryIO, cast
from urllib.parse import urlsplit

import minio
import urllib3
from minio.commonconfig import REPLACE, CopySource
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.helpers import MAX_PART_SIZE, MIN_PART_SIZE

from modelplane.api.artifacts import store

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 16 * MiB
MAX_PARTS = 10_000
SHA256_METADATA = "sha256"
_SHA256_HEADER = "x-amz-meta-sha256"

_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchObject", "NoSuchVersion"})
_BAD_CREDENTIALS = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired"}
)
_DENIED = frozenset({"AccessDenied", "AllAccessDisabled", "AccountProblem", "BucketAlreadyExists"})
_UNAVAILABLE = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "XMinioServerNotInitialized"}
)


class S3ArtifactStore(store.ArtifactStore):
    """Content-addressed artifacts in one bucket of an S3-compatible server.

    ``endpoint`` is ``host:port`` or an ``http(s)://host:port`` URL (the scheme then sets ``secure``).
    """

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        *,
        access_key: str,
        secret_key: str,
        session_token: str | None = None,
        secure: bool | None = None,
        region: str = "us-east-1",
        prefix: str = "",
        part_size: int = DEFAULT_PART_SIZE,
        parallel_uploads: int = 2,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        retries: int = 2,
        check_timeout: float = 2.0,
        ca_file: str | None = None,
        cert_check: bool = True,
        on_bytes: store.ByteCallback | None = None,
    ) -> None:
        super().__init__(on_bytes=on_bytes)
        if "://" in endpoint:
            url = urlsplit(endpoint)
            if url.scheme not in {"http", "https"} or url.path not in {"", "/"} or not url.netloc:
                raise ValueError(f"invalid S3 endpoint {endpoint!r}: expected host:port or http(s)://host:port")
            endpoint, secure = url.netloc, url.scheme == "https" if secure is None else secure
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be between 5 MiB and 5 GiB, got {part_size}")
        self.endpoint, self.bucket, self._access_key = endpoint, bucket, access_key
        self._root = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._part_size, self._parallel = part_size, max(1, parallel_uploads)
        cert_reqs = "CERT_REQUIRED" if cert_check else "CERT_NONE"
        self._http = _pool(
            connect_timeout, read_timeout, retries, maxsize=8 + self._parallel, cert_reqs=cert_reqs, ca_certs=ca_file
        )
        self._probe_http = _pool(check_timeout, check_timeout, 0, maxsize=2, cert_reqs=cert_reqs, ca_certs=ca_file)
        clients = [
            minio.Minio(
                endpoint,
                access_key=access_key,
                secret_key=secret_key,
                session_token=session_token,
                secure=bool(secure) if secure is not None else True,
                region=region,
                http_client=http,
            )
            for http in (self._http, self._probe_http)
        ]
        self._client, self._probe = clients

    def __repr__(self) -> str:
        return f"S3ArtifactStore(endpoint={self.endpoint!r}, bucket={self.bucket!r}, prefix={self._root!r})"

    # addressing

    def _uri(self, key: store.ArtifactKey) -> str:
        return f"s3://{self.bucket}/{self._object(key)}"

    def _object(self, key: store.ArtifactKey) -> str:
        return self._root + key.path

    def _key(self, uri: str) -> store.ArtifactKey:
        return store.parse_key(self._relative(uri))

    def _relative(self, uri: str) -> str:
        parts = urlsplit(uri) if isinstance(uri, str) else None
        if parts is None or parts.scheme != "s3" or parts.netloc != self.bucket or parts.query or parts.fragment:
            raise store.InvalidArtifactReference(f"{uri!r} is not an s3://{self.bucket}/ URI of this store")
        key = parts.path.removeprefix("/")
        if not key.startswith(self._root):
            raise store.InvalidArtifactReference(f"{uri!r} is outside this store's prefix {self._root!r}")
        return key[len(self._root) :]

    def _staging_object(self, namespace: str) -> str:
        return f"{self._root}{store.STAGING_DIR}/{namespace}/{uuid.uuid4().hex}"

    # hooks of the upload protocol

    def _find(self, key: store.ArtifactKey) -> store.ArtifactInfo | None:
        uri = self._uri(key)
        with self._errors("stat", uri):
            try:
                stat = self._client.stat_object(self.bucket, self._object(key))
            except S3Error as exc:
                if exc.code in _NOT_FOUND:
                    return None
                raise
        return self._info(key, stat.size or 0, stat.content_type, stat.last_modified, stat.metadata or {})

    def _info(
        self,
        key: store.ArtifactKey,
        size: int,
        content_type: str | None,
        modified: datetime.datetime | None,
        headers: Mapping[str, str],
    ) -> store.ArtifactInfo:
        uri = self._uri(key)
        recorded = next((v for k, v in headers.items() if k.lower() == _SHA256_HEADER), None)
        if recorded is not None and recorded.lower() != key.sha256:
            raise store.CorruptArtifactError(f"{uri} records sha256 {recorded}, which is not its address")
        return store.ArtifactInfo(uri, key.sha256, size, content_type, modified, digest_verified=recorded is not None)

    def _open(self, key: store.ArtifactKey) -> tuple[store.ArtifactInfo, Iterator[bytes], Callable[[], None]]:
        uri = self._uri(key)
        with self._errors("download", uri):
            response = self._client.get_object(self.bucket, self._object(key))

        def close() -> None:
            response.close()
            response.release_conn()

        try:
            headers = response.headers
            modified = headers.get("last-modified")
            info = self._info(
                key,
                int(headers.get("content-length", "0")),
                headers.get("content-type"),
                email.utils.parsedate_to_datetime(modified) if modified else None,
                headers,
            )
        except BaseException:
            close()
            raise

        def chunks() -> Iterator[bytes]:
            with self._errors("download", uri):
                yield from response.stream(store.CHUNK_SIZE)

        return info, chunks(), close

    def _stage(
        self, namespace: str, reader: store.DigestingReader, content_type: str, size: int | None
    ) -> store.Staged:
        name = self._staging_object(namespace)
        with self._errors("upload", f"s3://{self.bucket}/{name}"):
            result = self._client.put_object(
                self.bucket,
                name,
                cast("BinaryIO", reader),
                length=-1,  # read to the end whatever was declared: the size is checked afterwards
                content_type=content_type,
                part_size=self._part_size_for(size),
                num_parallel_uploads=self._parallel,
            )
        return store.Staged(name, result.etag)

    def _part_size_for(self, size: int | None) -> int:
        """The configured part size, raised when a declared size would need more than 10,000 parts."""
        if size is None:
            return self._part_size
        return max(self._part_size, math.ceil(size / MAX_PARTS / MiB) * MiB)

    def _commit(self, staged: store.Staged, key: store.ArtifactKey, content_type: str) -> store.ArtifactInfo | None:
        existing = self._find(key)
        if existing is not None:
            return existing
        with self._errors("publish", self._uri(key)):
            self._client.copy_object(
                self.bucket,
                self._object(key),
                CopySource(self.bucket, staged.handle, match_etag=staged.etag),
                metadata={"Content-Type": content_type, SHA256_METADATA: key.sha256},
                metadata_directive=REPLACE,
            )
        return None

    def _discard(self, staged: store.Staged) -> None:
        uri = f"s3://{self.bucket}/{staged.handle}"
        try:
            with self._errors("remove", uri):
                self._client.remove_object(self.bucket, staged.handle)
        except store.ArtifactError as exc:
            logger.warning("Left staged upload %s behind: %s", uri, exc, extra={"uri": uri})

    def _delete(self, key: store.ArtifactKey) -> None:
        with self._errors("delete", self._uri(key)):
            self._client.remove_object(self.bucket, self._object(key))

    # presigned transfers

    def _presign_get(self, info: store.ArtifactInfo, expires: datetime.timedelta) -> str:
        with self._errors("presign", info.uri):
            return self._client.presigned_get_object(self.bucket, self._relative_object(info.uri), expires=expires)

    def _relative_object(self, uri: str) -> str:
        return self._root + self._relative(uri)

    def presign_put(
        self,
        namespace: str,
        sha256: str,
        expires: datetime.timedelta = datetime.timedelta(hours=1),
        *,
        content_type: str = store.DEFAULT_CONTENT_TYPE,
    ) -> store.PresignedUpload:
        store.check_namespace(namespace)
        digest = store.normalize_sha256(sha256)
        store.check_expiry(expires)
        name = self._staging_object(namespace)
        with self._errors("presign", f"s3://{self.bucket}/{name}"):
            url = self._client.presigned_put_object(self.bucket, name, expires=expires)
        return store.PresignedUpload(
            url=url,
            upload_uri=f"s3://{self.bucket}/{name}",
            namespace=namespace,
            sha256=digest,
            expires_at=datetime.datetime.now(datetime.UTC) + expires,
            headers={"Content-Type": content_type},
        )

    def complete_upload(
        self, namespace: str, upload_uri: str, expected_sha256: str, *, size: int | None = None
    ) -> store.ArtifactRef:
        store.check_namespace(namespace)
        expected = store.normalize_sha256(expected_sha256)
        name = self._root + self._relative(upload_uri)
        if not name.startswith(f"{self._root}{store.STAGING_DIR}/{namespace}/"):
            raise store.InvalidArtifactReference(f"{upload_uri!r} is not an upload of namespace {namespace!r}")
        with self._errors("read the upload", upload_uri):
            try:
                response = self._client.get_object(self.bucket, name)
            except S3Error as exc:
                if exc.code in _NOT_FOUND:
                    raise store.ArtifactNotFound(
                        f"no upload at {upload_uri}: never uploaded, already completed, or purged"
                    ) from exc
                raise
            try:
                etag = response.headers.get("etag", "").strip('"') or None
                content_type = response.headers.get("content-type") or store.DEFAULT_CONTENT_TYPE
                reader = store.DigestingReader(response.read, self._counter("download"))
                reader.drain()
            finally:
                response.close()
                response.release_conn()
        staged = store.Staged(name, etag)
        try:
            store.check_content(reader.sha256, reader.size, expected_sha256=expected, expected_size=size)
        except store.ArtifactContentError:
            self._discard(staged)
            raise
        return self._publish(staged, store.ArtifactKey(namespace, reader.sha256), reader.size, content_type)

    # lifecycle

    def ensure_ready(self) -> None:
        with self._errors("create bucket", repr(self.bucket)):
            if not self._client.bucket_exists(self.bucket):
                try:
                    self._client.make_bucket(self.bucket)
                    logger.info("Created bucket %s on %s", self.bucket, self.endpoint, extra={"bucket": self.bucket})
                except S3Error as exc:
                    if exc.code != "BucketAlreadyOwnedByYou":  # another replica won the race
                        raise
        self.check()

    def check(self) -> None:
        with self._errors("check bucket", repr(self.bucket)):
            exists = self._probe.bucket_exists(self.bucket)
        if not exists:
            raise store.ArtifactStoreUnavailable(
                f"bucket {self.bucket!r} does not exist on S3 endpoint {self.endpoint} (ensure_ready() creates it)"
            )

    def purge_staging(self, older_than: datetime.timedelta) -> int:
        cutoff = datetime.datetime.now(datetime.UTC) - older_than
        removed = 0
        with self._errors("purge staging in", repr(self.bucket)):
            for obj in self._client.list_objects(
                self.bucket, prefix=f"{self._root}{store.STAGING_DIR}/", recursive=True
            ):
                if obj.object_name and obj.last_modified is not None and obj.last_modified < cutoff:
                    self._client.remove_object(self.bucket, obj.object_name)
                    removed += 1
        return removed

    def close(self) -> None:
        self._http.clear()
        self._probe_http.clear()

    # errors

    @contextlib.contextmanager
    def _errors(self, action: str, target: str) -> Iterator[None]:
        """Translate the SDK's and urllib3's exceptions into the store's, naming the endpoint."""
        try:
            yield
        except S3Error as exc:
            raise self._translate(exc, action, target) from exc
        except (ServerError, InvalidResponseError) as exc:
            raise store.ArtifactStoreUnavailable(
                f"could not {action} {target}: S3 endpoint {self.endpoint} failed: {exc}"
            ) from exc
        except urllib3.exceptions.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise store.ArtifactStoreUnavailable(
                f"could not {action} {target}: S3 endpoint {self.endpoint} is unreachable: {reason}"
            ) from exc

    def _translate(self, exc: S3Error, action: str, target: str) -> store.ArtifactError:
        code, detail = exc.code, f"{exc.code}: {exc.message}"
        where = f"could not {action} {target}: S3 endpoint {self.endpoint}"
        if code in _NOT_FOUND:
            return store.ArtifactNotFound(f"no artifact at {target}")
        if code == "NoSuchBucket":
            return store.ArtifactStoreUnavailable(f"{where} has no bucket {self.bucket!r} (ensure_ready() creates it)")
        if code in _BAD_CREDENTIALS:
            return store.ArtifactAccessDenied(
                f"{where} rejected the credentials of access key {self._access_key!r} ({detail})"
            )
        if code in _DENIED:
            return store.ArtifactAccessDenied(
                f"{where} rejected the credentials of access key {self._access_key!r} or denied them access to "
                f"bucket {self.bucket!r} ({detail}); check the credentials and the bucket policy"
            )
        if code in _UNAVAILABLE:
            return store.ArtifactStoreUnavailable(f"{where} cannot serve now ({detail})")
        if code == "PreconditionFailed":
            return store.ArtifactContentError(f"{target} changed while it was being verified; upload it again")
        return store.ArtifactError(f"{where} answered {detail}")


def _pool(
    connect_timeout: float, read_timeout: float, retries: int, *, maxsize: int, cert_reqs: str, ca_certs: str | None
) -> urllib3.PoolManager:
    """A urllib3 pool with bounded timeouts and a few quick retries (also on 5xx), never waiting on Retry-After."""
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        maxsize=maxsize,
        cert_reqs=cert_reqs,
        ca_certs=ca_certs,
        retries=urllib3.Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=0,
            backoff_factor=0.1,
            backoff_max=1.0,
            status_forcelist=(500, 502, 503, 504),
            respect_retry_after_header=False,
        ),
    )
