"""A real S3 server over HTTP on 127.0.0.1: MinIO when its binary is available, else moto's server mode.

MinIO is looked up in ``MODELPLANE_MINIO_BIN`` and then in
``${MODELPLANE_TESTBIN_DIR:-$HOME/.cache/modelplane/testbin}/current/minio``. Without it, moto's
``ThreadedMotoServer`` runs in-process. ``MODELPLANE_REQUIRE_MINIO=1`` makes a missing MinIO an error.

Differences worth knowing when a test passes on moto:

* moto does not verify signatures or credentials at all;
* a presigned PUT to moto needs an explicit ``Content-Type`` header;
* moto keeps its state in-process (shared with any ``moto.mock_aws`` in the same process).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import secrets
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import httpx
import minio
from minio.deleteobjects import DeleteObject

from harness.ports import LOOPBACK, free_port
from harness.skips import env_flag

MINIO_BIN_ENV = "MODELPLANE_MINIO_BIN"
TESTBIN_DIR_ENV = "MODELPLANE_TESTBIN_DIR"
REQUIRE_MINIO_ENV = "MODELPLANE_REQUIRE_MINIO"
REGION = "us-east-1"


class S3ConfigError(Exception):
    """An explicit S3 harness setting is wrong or unsatisfiable: always an error, never a skip."""


@dataclasses.dataclass(frozen=True)
class S3Server:
    """Where the S3 server listens and its credentials. ``endpoint`` is ``host:port`` (no scheme)."""

    endpoint: str
    access_key: str
    secret_key: str
    kind: Literal["minio", "moto"]
    region: str = REGION

    @property
    def url(self) -> str:
        """The endpoint as an ``http://`` URL (for boto3-style clients)."""
        return f"http://{self.endpoint}"

    def client(self) -> minio.Minio:
        """A fresh MinIO SDK client for this server."""
        return minio.Minio(
            self.endpoint, access_key=self.access_key, secret_key=self.secret_key, secure=False, region=self.region
        )


def testbin_dir() -> Path:
    """Where downloaded test binaries live: ``$MODELPLANE_TESTBIN_DIR`` or ``~/.cache/modelplane/testbin``."""
    override = os.environ.get(TESTBIN_DIR_ENV)
    return Path(override).expanduser() if override else Path.home() / ".cache" / "modelplane" / "testbin"


def find_minio() -> Path | None:
    """The MinIO server binary, or None. A set-but-wrong ``MODELPLANE_MINIO_BIN`` is an error."""
    override = os.environ.get(MINIO_BIN_ENV)
    if override:
        path = Path(override).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise S3ConfigError(f"{MINIO_BIN_ENV}={override!r} is not an executable file")
        return path
    path = testbin_dir() / "current" / "minio"
    if path.is_file() and os.access(path, os.X_OK):
        return path
    return None


@contextlib.contextmanager
def minio_server(binary: Path, *, startup_timeout: float = 30.0) -> Iterator[S3Server]:
    """Run a MinIO server from ``binary`` on 127.0.0.1 with random root credentials."""
    access_key = "mp" + secrets.token_hex(8)
    secret_key = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="modelplane-minio-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        log_path = Path(tmp) / "minio.log"
        port, console_port = free_port(), free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith("MINIO_")}  # no host config
        env.update(MINIO_ROOT_USER=access_key, MINIO_ROOT_PASSWORD=secret_key, MINIO_UPDATE="off")
        argv = [
            str(binary),
            "server",
            "--quiet",
            "--address",
            f"{LOOPBACK}:{port}",
            "--console-address",
            f"{LOOPBACK}:{console_port}",
            str(data_dir),
        ]
        with log_path.open("wb") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            health = f"http://{LOOPBACK}:{port}/minio/health/live"
            deadline = time.monotonic() + startup_timeout
            with httpx.Client(timeout=1.0) as http:
                while True:
                    if proc.poll() is not None:
                        raise RuntimeError(
                            f"minio exited with code {proc.returncode} during startup:\n"
                            + log_path.read_text(errors="replace")[-4000:]
                        )
                    with contextlib.suppress(httpx.HTTPError):
                        if http.get(health).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"minio did not become live in {startup_timeout}s:\n"
                            + log_path.read_text(errors="replace")[-4000:]
                        )
                    time.sleep(0.05)
            yield S3Server(endpoint=f"{LOOPBACK}:{port}", access_key=access_key, secret_key=secret_key, kind="minio")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def moto_server() -> Iterator[S3Server]:
    """Run moto's S3 emulation in server mode (a werkzeug thread) on a free 127.0.0.1 port."""
    from moto.server import ThreadedMotoServer

    # werkzeug logs every request at INFO to stderr unless its logger has a level: keep warnings only.
    werkzeug_logger = logging.getLogger("werkzeug")
    quieted = werkzeug_logger.level == logging.NOTSET
    if quieted:
        werkzeug_logger.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Server(
            endpoint=f"{host}:{port}",
            access_key="mp" + secrets.token_hex(8),  # moto accepts anything
            secret_key=secrets.token_urlsafe(24),
            kind="moto",
        )
    finally:
        server.stop()
        wsgi = server._server  # make sure the listening socket is closed (serve_forever does it too)
        if wsgi is not None:
            wsgi.server_close()
        if quieted:
            werkzeug_logger.setLevel(logging.NOTSET)


@contextlib.contextmanager
def s3_server() -> Iterator[S3Server]:
    """MinIO if found, else moto (unless ``MODELPLANE_REQUIRE_MINIO`` demands MinIO)."""
    binary = find_minio()
    if binary is not None:
        with minio_server(binary) as server:
            yield server
    elif env_flag(REQUIRE_MINIO_ENV):
        raise S3ConfigError(
            f"{REQUIRE_MINIO_ENV} is set, but no minio binary was found: set {MINIO_BIN_ENV} or put it at "
            f"{testbin_dir() / 'current' / 'minio'}"
        )
    else:
        with moto_server() as server:
            yield server


def unique_bucket_name(prefix: str = "mp-test") -> str:
    """A fresh, valid (lowercase, <= 63 chars) bucket name."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def empty_and_remove_bucket(client: minio.Minio, bucket: str) -> None:
    """Delete every object (all versions) and then the bucket itself."""
    if not client.bucket_exists(bucket):
        return
    to_delete = [
        DeleteObject(obj.object_name, obj.version_id)
        for obj in client.list_objects(bucket, recursive=True, include_version=True)
        if obj.object_name is not None
    ]
    if to_delete:
        errors = list(client.remove_objects(bucket, to_delete))
        if errors:
            raise RuntimeError(f"could not delete objects from bucket {bucket}: {errors}")
    client.remove_bucket(bucket)


@contextlib.contextmanager
def temporary_bucket(client: minio.Minio) -> Iterator[str]:
    """Create a uniquely named bucket; empty and remove it afterwards."""
    bucket = unique_bucket_name()
    client.make_bucket(bucket)
    try:
        yield bucket
    finally:
        empty_and_remove_bucket(client, bucket)
