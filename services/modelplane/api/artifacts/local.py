"""The artifact store on a local directory, for the embedded mode (one process, SQLite, no S3 server).

Where it sits: the stand-in for :mod:`.s3` when the control plane runs on a laptop or in CI; the same
content addresses and upload protocol (:mod:`.store`), with ``file:///abs/path`` URIs::

    <root>/<namespace>/sha256/<hex[:2]>/<hex>    published objects, read-only (0444)
    <root>/.staging/<namespace>.<random>.part    uploads in flight

An upload is written to a staging file while it is hashed and fsynced; once its digest and size
match, it is published with ``os.link``, which fails instead of replacing an existing file, so a
content address is written once and never overwritten. No digest is recorded besides the file name,
so an existing file is re-read and hashed before it is reused (local reads are cheap). Readers never
see a partial file.

Presigned URLs do not exist here: a ``file://`` URL is useless to a remote client, so ``presign_get``,
``presign_put`` and ``complete_upload`` raise :class:`~.store.PresignNotSupported` (the API answers 501
and clients transfer through the API). Errors of the store's own files (not of the caller's source)
become ArtifactAccessDenied (permissions) or ArtifactStoreUnavailable (missing root, full disk).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from stat import S_ISREG
from urllib.parse import unquote, urlsplit

from modelplane.api.artifacts import store

logger = logging.getLogger(__name__)

_READ_ONLY = 0o444


class LocalArtifactStore(store.ArtifactStore):
    """Content-addressed artifacts in a directory. ``fsync=False`` trades durability for speed (tests)."""

    def __init__(
        self, root: str | os.PathLike[str], *, fsync: bool = True, on_bytes: store.ByteCallback | None = None
    ) -> None:
        super().__init__(on_bytes=on_bytes)
        self.root = Path(os.path.abspath(os.fspath(root)))
        self._staging = self.root / store.STAGING_DIR
        self._fsync = fsync

    def __repr__(self) -> str:
        return f"LocalArtifactStore(root={str(self.root)!r})"

    # addressing

    def _uri(self, key: store.ArtifactKey) -> str:
        return self._path(key).as_uri()

    def _path(self, key: store.ArtifactKey) -> Path:
        return self.root / key.path

    def _key(self, uri: str) -> store.ArtifactKey:
        parts = urlsplit(uri) if isinstance(uri, str) else None
        if parts is None or parts.scheme != "file" or parts.netloc not in {"", "localhost"} or parts.query:
            raise store.InvalidArtifactReference(f"{uri!r} is not a file:// URI of this store")
        path, root = unquote(parts.path), str(self.root).rstrip("/") + "/"
        if not path.startswith(root):
            raise store.InvalidArtifactReference(f"{uri!r} is outside this store's root {str(self.root)!r}")
        return store.parse_key(path[len(root) :])

    # hooks of the upload protocol

    def _find(self, key: store.ArtifactKey) -> store.ArtifactInfo | None:
        path = self._path(key)
        with self._errors("stat", path):
            try:
                stat = path.stat()
            except (FileNotFoundError, NotADirectoryError):
                return None
        return self._info(key, stat)

    def _info(self, key: store.ArtifactKey, stat: os.stat_result) -> store.ArtifactInfo:
        if not S_ISREG(stat.st_mode):
            raise store.CorruptArtifactError(f"{self._uri(key)} is not a regular file")
        modified = datetime.datetime.fromtimestamp(stat.st_mtime, datetime.UTC)
        # No digest is recorded besides the file name, so reusing a file re-reads it (``_reuse``).
        return store.ArtifactInfo(self._uri(key), key.sha256, stat.st_size, None, modified, digest_verified=False)

    def _open(self, key: store.ArtifactKey) -> tuple[store.ArtifactInfo, Iterator[bytes], Callable[[], None]]:
        path = self._path(key)
        with self._errors("open", path):
            try:
                file = path.open("rb")
            except (FileNotFoundError, NotADirectoryError):
                raise store.ArtifactNotFound(f"no artifact at {self._uri(key)}") from None
        try:
            info = self._info(key, os.fstat(file.fileno()))
        except BaseException:
            file.close()
            raise

        def chunks() -> Iterator[bytes]:
            with self._errors("read", path):
                while chunk := file.read(store.CHUNK_SIZE):
                    yield chunk

        return info, chunks(), file.close

    def _stage(
        self, namespace: str, reader: store.DigestingReader, content_type: str, size: int | None
    ) -> store.Staged:
        with self._errors("create a staging file in", self._staging):
            fd, name = tempfile.mkstemp(prefix=f"{namespace}.", suffix=".part", dir=self._staging)
        try:
            with os.fdopen(fd, "wb") as file:
                while chunk := reader.read(store.CHUNK_SIZE):  # errors reading the source stay as they are
                    with self._errors("write", name):
                        file.write(chunk)
                with self._errors("write", name):
                    file.flush()
                    if self._fsync:
                        os.fsync(file.fileno())
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return store.Staged(name)

    def _commit(self, staged: store.Staged, key: store.ArtifactKey, content_type: str) -> store.ArtifactInfo | None:
        path = self._path(key)
        with self._errors("publish", path):
            os.chmod(staged.handle, _READ_ONLY)
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(staged.handle, path)  # atomic, and never replaces an existing file
            except FileExistsError:
                existing = self._find(key)
                if existing is not None:
                    return existing
                os.link(staged.handle, path)  # it was deleted in between
            except OSError as exc:
                if exc.errno not in {errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK}:
                    raise
                existing = self._find(key)  # no hard links here: check, then rename
                if existing is not None:
                    return existing
                os.replace(staged.handle, path)
            if self._fsync:
                _fsync_directory(path.parent)
        return None

    def _discard(self, staged: store.Staged) -> None:
        try:
            Path(staged.handle).unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("Left staging file %s behind: %s", staged.handle, exc, extra={"path": staged.handle})

    def _delete(self, key: store.ArtifactKey) -> None:
        path = self._path(key)
        with self._errors("delete", path):
            path.unlink(missing_ok=True)

    # presigned transfers: not over a directory

    def presign_get(self, uri: str, expires: datetime.timedelta = datetime.timedelta(hours=1)) -> str:
        raise self._no_presign()

    def _presign_get(self, info: store.ArtifactInfo, expires: datetime.timedelta) -> str:
        raise self._no_presign()

    def presign_put(
        self,
        namespace: str,
        sha256: str,
        expires: datetime.timedelta = datetime.timedelta(hours=1),
        *,
        content_type: str = store.DEFAULT_CONTENT_TYPE,
    ) -> store.PresignedUpload:
        raise self._no_presign()

    def complete_upload(
        self, namespace: str, upload_uri: str, expected_sha256: str, *, size: int | None = None
    ) -> store.ArtifactRef:
        raise self._no_presign()

    def _no_presign(self) -> store.PresignNotSupported:
        return store.PresignNotSupported(
            f"the local artifact store ({self.root}) cannot presign URLs; transfer artifacts through the API"
        )

    # lifecycle

    def ensure_ready(self) -> None:
        with self._errors("create", self._staging):
            self._staging.mkdir(parents=True, exist_ok=True)
        self.check()

    def check(self) -> None:
        if not self._staging.is_dir():
            raise store.ArtifactStoreUnavailable(
                f"artifact root {self.root} does not exist or is not initialised (ensure_ready() creates it)"
            )
        if not os.access(self._staging, os.W_OK | os.X_OK):
            raise store.ArtifactAccessDenied(f"artifact root {self.root} is not writable by this process")

    def purge_staging(self, older_than: datetime.timedelta) -> int:
        cutoff = (datetime.datetime.now(datetime.UTC) - older_than).timestamp()
        removed = 0
        with self._errors("purge", self._staging):
            for path in self._staging.glob("*.part"):
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
        return removed

    # errors

    @contextlib.contextmanager
    def _errors(self, action: str, path: str | os.PathLike[str]) -> Iterator[None]:
        """Translate OSErrors of the store's own files into the store's exceptions."""
        try:
            yield
        except PermissionError as exc:
            raise store.ArtifactAccessDenied(f"could not {action} {os.fspath(path)}: permission denied") from exc
        except store.ArtifactError:
            raise
        except FileNotFoundError as exc:
            raise store.ArtifactStoreUnavailable(
                f"could not {action} {os.fspath(path)}: the artifact root {self.root} is missing "
                "(ensure_ready() creates it)"
            ) from exc
        except OSError as exc:
            raise store.ArtifactStoreUnavailable(f"could not {action} {os.fspath(path)}: {exc.strerror}") from exc


def _fsync_directory(path: Path) -> None:
    """Make a new directory entry durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
