"""A throwaway PostgreSQL server for tests (or an existing one named by an env var).

Two sources, in order:

1. ``MODELPLANE_TEST_POSTGRES_URL`` (e.g. ``postgresql://postgres:pw@127.0.0.1:5432/postgres``):
   an existing server; its user must be allowed to ``CREATE DATABASE``.
2. A temporary cluster made by ``initdb`` and served by ``postgres`` (a direct child process),
   from the server binaries found via ``MODELPLANE_PG_BINDIR``, ``pg_config --bindir``,
   ``/usr/lib/postgresql/*/bin`` or ``initdb`` on ``PATH``. When running as root (initdb and
   postgres refuse root), the cluster directory is chowned to the ``postgres`` OS user and
   the binaries run as that user (``subprocess`` ``user=``/``group=``, no runuser/su needed).

The cluster listens on 127.0.0.1 and a unix socket in its own temp dir, with
trust authentication and durability switched off (fsync etc.) for speed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import psycopg
import sqlalchemy
from psycopg import sql

from harness.ports import LOOPBACK, free_port

PG_BINDIR_ENV = "MODELPLANE_PG_BINDIR"
POSTGRES_URL_ENV = "MODELPLANE_TEST_POSTGRES_URL"
POSTGRES_OS_USER = "postgres"
SUPERUSER = "postgres"


class ComponentMissingError(Exception):
    """The component is not available on this machine (the fixture turns it into a loud skip)."""


class HarnessConfigError(Exception):
    """An explicit harness setting (an env var) is wrong: always an error, never a skip."""


@dataclasses.dataclass
class ClusterControls:
    """Stop and start the server process of a temporary cluster."""

    stop: Callable[[], None]
    start: Callable[[], None]


@dataclasses.dataclass(frozen=True)
class PostgresServer:
    """Where a running PostgreSQL server listens and how to log in as a superuser."""

    host: str
    port: int
    user: str
    password: str | None = None
    kind: Literal["tempcluster", "external"] = "tempcluster"
    admin_database: str = "postgres"
    data_dir: Path | None = None  # only for a temporary cluster
    log_file: Path | None = None  # only for a temporary cluster
    controls: ClusterControls | None = dataclasses.field(default=None, compare=False, repr=False)

    def stop(self) -> None:
        """Stop a temporary cluster's server (fast shutdown), keeping its data: for outage tests."""
        if self.controls is None:
            raise RuntimeError("only a temporary cluster can be stopped")
        self.controls.stop()

    def start(self) -> None:
        """Start a stopped temporary cluster again, on the same port and data."""
        if self.controls is None:
            raise RuntimeError("only a temporary cluster can be started")
        self.controls.start()

    def url(self, dbname: str, driver: str = "psycopg") -> str:
        """SQLAlchemy URL of ``dbname`` on this server, e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/x``."""
        drivername = f"postgresql+{driver}" if driver else "postgresql"
        url = sqlalchemy.URL.create(
            drivername,
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=dbname,
        )
        return url.render_as_string(hide_password=False)

    def connect(self, dbname: str | None = None, *, autocommit: bool = True) -> psycopg.Connection[tuple[object, ...]]:
        """A plain psycopg connection (close it, e.g. with ``with``)."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname or self.admin_database,
            autocommit=autocommit,
            connect_timeout=10,
        )

    def create_database(self, name: str | None = None) -> str:
        """Create a database (a random ``modelplane_test_*`` name by default) and return its name."""
        name = name or f"modelplane_test_{uuid.uuid4().hex[:12]}"
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still connected to it."""
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --- Finding the server binaries -------------------------------------------------------------------------


def _has_server_binaries(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in ("initdb", "postgres"))


def _version_key(path: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,)
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def find_pg_bindir() -> Path:
    """Locate the directory with the ``initdb`` and ``postgres`` server binaries.

    Raises :class:`HarnessConfigError` if ``MODELPLANE_PG_BINDIR`` is set but wrong,
    :class:`ComponentMissingError` if nothing is found.
    """
    override = os.environ.get(PG_BINDIR_ENV)
    if override:
        bindir = Path(override).expanduser()
        if not _has_server_binaries(bindir):
            raise HarnessConfigError(f"{PG_BINDIR_ENV}={override!r} has no executable initdb and postgres")
        return bindir

    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    candidates.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for bindir in candidates:
        if _has_server_binaries(bindir):
            return bindir
    raise ComponentMissingError(
        "PostgreSQL server binaries (initdb, postgres) not found: install the PostgreSQL server "
        f"(e.g. apt-get install postgresql-15), or set {PG_BINDIR_ENV} to its bin directory, "
        f"or set {POSTGRES_URL_ENV} to an existing server"
    )


# --- Running a temporary cluster -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _OsUser:
    uid: int
    gid: int


def _cluster_owner() -> _OsUser | None:
    """The OS user to run the server binaries as: ``postgres`` when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(POSTGRES_OS_USER)
    except KeyError:
        raise ComponentMissingError(
            f"running as root and there is no {POSTGRES_OS_USER!r} OS user to run initdb/postgres as"
        ) from None
    return _OsUser(entry.pw_uid, entry.pw_gid)


def _server_env() -> dict[str, str]:
    # TZ skips initdb's slow time zone probing; C locale keeps the cluster deterministic.
    return dict(os.environ, TZ="UTC", LC_ALL="C", LANG="C")


def _tail(path: Path, size: int = 4000) -> str:
    return path.read_text(errors="replace")[-size:] if path.exists() else "(no log)"


@contextlib.contextmanager
def temporary_cluster(
    bindir: Path | None = None, *, startup_timeout: float = 30.0, port_attempts: int = 3
) -> Iterator[PostgresServer]:
    """Create, start, yield, stop and delete a throwaway PostgreSQL cluster on 127.0.0.1.

    ``initdb`` makes the cluster; the ``postgres`` server then runs as a direct child process
    (rather than daemonized by ``pg_ctl``), so that it can never outlive the test session
    unnoticed and its crash or exit is seen immediately. It is stopped with SIGINT (a "fast"
    shutdown, like ``pg_ctl stop -m fast``), then SIGKILL if needed.
    """
    bindir = bindir or find_pg_bindir()
    owner = _cluster_owner()
    user_kwargs: dict[str, object] = {}
    if owner is not None:
        user_kwargs = {"user": owner.uid, "group": owner.gid, "extra_groups": []}
    base = Path(tempfile.mkdtemp(prefix="modelplane-pg-"))
    data_dir = base / "data"
    log_file = base / "server.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        if owner is not None:
            os.chown(base, owner.uid, owner.gid)
        initdb = [
            str(bindir / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]
        done = subprocess.run(
            initdb,
            cwd=base,
            env=_server_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **user_kwargs,  # type: ignore[call-overload]
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"initdb failed with exit code {done.returncode}: {shlex.join(initdb)}\n"
                f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"
            )
        argv: list[str] = []

        def launch(port: int) -> subprocess.Popen[bytes]:
            argv[:] = [
                str(bindir / "postgres"),
                "-D",
                str(data_dir),
                "-p",
                str(port),
                "-k",
                str(base),
                "-c",
                f"listen_addresses={LOOPBACK}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
            with log_file.open("ab") as log:
                started: subprocess.Popen[bytes] = subprocess.Popen(
                    argv,
                    cwd=base,
                    env=_server_env(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    **user_kwargs,  # type: ignore[call-overload]
                )
            return started

        def stop() -> None:
            if proc is not None:
                _stop(proc)

        def start() -> None:
            nonlocal proc
            if proc is not None and proc.poll() is None:
                return
            proc = launch(server.port)
            if not _wait_ready(server, proc, startup_timeout):
                raise RuntimeError(f"postgres did not restart ({shlex.join(argv)}):\n{_tail(log_file)}")

        controls = ClusterControls(stop=stop, start=start)
        for attempt in range(port_attempts):
            port = free_port()
            proc = launch(port)
            server = PostgresServer(
                host=LOOPBACK,
                port=port,
                user=SUPERUSER,
                kind="tempcluster",
                data_dir=data_dir,
                log_file=log_file,
                controls=controls,
            )
            if _wait_ready(server, proc, startup_timeout):
                break
            proc.wait()
            proc = None
            if attempt + 1 == port_attempts:  # most likely the port got taken meanwhile: retry on another one
                raise RuntimeError(f"postgres did not start ({shlex.join(argv)}):\n{_tail(log_file)}")
        yield server
    finally:
        try:
            if proc is not None:
                _stop(proc)
        finally:
            shutil.rmtree(base, ignore_errors=True)


def _wait_ready(server: PostgresServer, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait until the server accepts connections (True), or exits (False); time out (raise)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            return False
        try:
            with server.connect() as conn:
                row = conn.execute("SHOW data_directory").fetchone()
            if row is not None and Path(str(row[0])) == server.data_dir:
                return True  # ours, not another server that grabbed the port meanwhile
        except psycopg.OperationalError:
            pass
        if time.monotonic() >= deadline:
            _stop(proc)
            assert server.log_file is not None
            raise TimeoutError(f"postgres did not accept connections in {timeout}s:\n{_tail(server.log_file)}")
        time.sleep(0.02)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # "fast" shutdown: disconnect clients, no checkpoint wait for them
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def external_server(url: str) -> PostgresServer:
    """Describe the existing server from ``MODELPLANE_TEST_POSTGRES_URL`` (and check that it answers)."""
    try:
        parsed = sqlalchemy.make_url(url)
    except sqlalchemy.exc.ArgumentError as exc:
        raise HarnessConfigError(f"{POSTGRES_URL_ENV} is not a valid database URL: {exc}") from None
    if not parsed.drivername.startswith("postgresql"):
        raise HarnessConfigError(f"{POSTGRES_URL_ENV} must be a postgresql:// URL, got {parsed.drivername}://")
    query_host = parsed.query.get("host")
    host = parsed.host or (query_host if isinstance(query_host, str) else None) or LOOPBACK
    server = PostgresServer(
        host=host,
        port=parsed.port or 5432,
        user=parsed.username or SUPERUSER,
        password=parsed.password,
        kind="external",
        admin_database=parsed.database or "postgres",
    )
    try:
        with server.connect() as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise HarnessConfigError(f"{POSTGRES_URL_ENV} is set, but the server does not answer: {exc}") from None
    return server


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """The external server if ``MODELPLANE_TEST_POSTGRES_URL`` is set, else a temporary cluster."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        yield external_server(url)
    else:
        with temporary_cluster() as server:
            yield server


@contextlib.contextmanager
def temporary_database(server: PostgresServer) -> Iterator[str]:
    """Create a randomly named database, yield its name, drop it afterwards."""
    name = server.create_database()
    try:
        yield name
    finally:
        server.drop_database(name)
