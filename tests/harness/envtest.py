"""A real Kubernetes control plane for tests: etcd + kube-apiserver on 127.0.0.1, envtest-style.

What controller-runtime calls envtest: the real API server over real etcd, and nothing else (no
controller-manager, scheduler or kubelet): no garbage collection, no namespace finalization, no
Job -> Pod. Tests create objects and patch child status themselves.

The binaries come from ``make test-bin`` (``.ci/testbin/build.sh``), found at
``${MODELPLANE_TESTBIN_DIR:-~/.cache/modelplane/testbin}/current/{etcd,kube-apiserver}``.
:func:`envtest` starts them with throwaway state in a temp dir:

* etcd: ``--unsafe-no-fsync``, client and peer URLs on free 127.0.0.1 ports;
* kube-apiserver: serving certs self-signed by the server itself (``--cert-dir``; the file holds
  the serving certificate and its CA, which the kubeconfig trusts), a throwaway RSA key pair for
  service-account tokens and ``--service-account-issuer``, ``--authorization-mode=RBAC``, and a
  static token file whose one user (``modelplane-test-admin``) is in ``system:masters``;
* an admin kubeconfig file, written once ``/readyz`` answers ``ok``.

On exit kube-apiserver is stopped before etcd (the other way round its shutdown spends ~20 s
retrying etcd), each with SIGTERM and then SIGKILL, and the temp dir is removed. The servers also
get SIGTERM from the kernel if the test process dies (``PR_SET_PDEATHSIG``), so none outlives it.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import yaml

from harness.ports import LOOPBACK, free_port
from harness.s3 import TESTBIN_DIR_ENV, testbin_dir

ADMIN_USER = "modelplane-test-admin"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
BINARIES = ("etcd", "kube-apiserver")


class HarnessConfigError(Exception):
    """An explicit setting points nowhere: always an error, never a skip."""


class BinariesMissingError(Exception):
    """The etcd/kube-apiserver binaries are not built: a missing component (skip, or fail in CI)."""


@dataclasses.dataclass(frozen=True)
class EnvtestBinaries:
    etcd: Path
    kube_apiserver: Path


@dataclasses.dataclass(frozen=True)
class Envtest:
    """A running etcd + kube-apiserver pair.

    ``kubeconfig`` authenticates as ``modelplane-test-admin`` (group ``system:masters``);
    ``ca_file`` is the bundle that verifies the API server's serving certificate.
    """

    workdir: Path
    server: str
    ca_file: Path
    admin_token: str
    kubeconfig: Path
    etcd_url: str
    apiserver_log: Path
    etcd_log: Path


def find_binaries() -> EnvtestBinaries:
    """The built etcd and kube-apiserver, or :class:`BinariesMissingError` saying how to build them.

    A ``MODELPLANE_TESTBIN_DIR`` that is set but is not a directory is a :class:`HarnessConfigError`.
    """
    override = os.environ.get(TESTBIN_DIR_ENV)
    root = testbin_dir()
    if override and not root.is_dir():
        raise HarnessConfigError(f"{TESTBIN_DIR_ENV}={override!r} is not a directory")
    current = root / "current"
    missing = [name for name in BINARIES if not _is_executable(current / name)]
    if missing:
        hint = "run `make test-bin` (builds etcd, kube-apiserver and MinIO from Go modules, ~8 min cold)"
        if shutil.which("go") is None:
            hint += "; it needs Go >= 1.24, which is not on PATH"
        raise BinariesMissingError(f"{' and '.join(missing)} not found in {current}: {hint}")
    return EnvtestBinaries(etcd=current / "etcd", kube_apiserver=current / "kube-apiserver")


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def write_token_kubeconfig(
    path: Path,
    *,
    server: str,
    token: str,
    ca_file: Path | None,
    user: str,
    insecure: bool = False,
    cluster: str = "envtest",
    namespace: str = "default",
) -> Path:
    """Write a kubeconfig with one context: ``server`` verified by ``ca_file`` (or the system CAs), a bearer token."""
    cluster_entry: dict[str, object] = {"server": server}
    if ca_file is not None:
        cluster_entry["certificate-authority"] = str(ca_file)
    if insecure:
        cluster_entry["insecure-skip-tls-verify"] = True
    context = f"{user}@{cluster}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": cluster_entry}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": user, "namespace": namespace}}],
        "current-context": context,
        "preferences": {},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


def _write_service_account_keys(private_path: Path, public_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    private_path.chmod(0o600)
    public_path.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask the kernel to SIGTERM this process when its parent (the test process) dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class ServerProcess:
    """A server subprocess with its output in a log file; :meth:`stop` is SIGTERM, then SIGKILL."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, limit: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError as exc:
            return f"(no log: {exc})"

    def check_running(self) -> None:
        """Raise with the log's tail if the process has exited."""
        if not self.running():
            raise RuntimeError(f"{self.name} exited with code {self.proc.returncode}:\n{self.log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        if self.running():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        else:
            self.proc.wait()


def _wait(what: str, process: ServerProcess, probe: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        process.check_running()
        with contextlib.suppress(httpx.HTTPError, OSError):
            if probe():
                return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} was not ready after {timeout:.0f}s:\n{process.log_tail()}")
        time.sleep(0.1)


def start_etcd(binary: Path, workdir: Path, *, timeout: float = 30.0) -> tuple[ServerProcess, str]:
    """Start etcd with its data dir under ``workdir``; return the process and its client URL once healthy."""
    client_url = f"http://{LOOPBACK}:{free_port()}"
    peer_url = f"http://{LOOPBACK}:{free_port()}"
    argv = [
        str(binary),
        "--name=envtest",
        f"--data-dir={workdir / 'etcd'}",
        "--unsafe-no-fsync",
        f"--listen-client-urls={client_url}",
        f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=envtest={peer_url}",
        "--log-level=warn",
    ]
    process = ServerProcess("etcd", argv, workdir / "etcd.log")
    try:
        with httpx.Client(timeout=1.0) as http:
            _wait("etcd", process, lambda: http.get(f"{client_url}/health").json().get("health") == "true", timeout)
    except BaseException:
        process.stop()
        raise
    return process, client_url


def start_apiserver(
    binary: Path, workdir: Path, *, etcd_url: str, admin_token: str, timeout: float = 90.0
) -> tuple[ServerProcess, str, Path]:
    """Start kube-apiserver over ``etcd_url``; return the process, its URL and CA bundle once ``/readyz`` is ok."""
    port = free_port()
    server = f"https://{LOOPBACK}:{port}"
    cert_dir = workdir / "certs"
    tokens = workdir / "tokens.csv"
    tokens.write_text(f'{admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n', encoding="utf-8")
    tokens.chmod(0o600)
    sa_key, sa_pub = workdir / "sa.key", workdir / "sa.pub"
    _write_service_account_keys(sa_key, sa_pub)
    argv = [
        str(binary),
        f"--etcd-servers={etcd_url}",
        f"--bind-address={LOOPBACK}",
        f"--advertise-address={LOOPBACK}",
        f"--secure-port={port}",
        f"--cert-dir={cert_dir}",
        f"--service-account-key-file={sa_pub}",
        f"--service-account-signing-key-file={sa_key}",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        "--authorization-mode=RBAC",
        f"--token-auth-file={tokens}",
        "--disable-admission-plugins=ServiceAccount",
        "--allow-privileged=true",
    ]
    process = ServerProcess("kube-apiserver", argv, workdir / "kube-apiserver.log")
    ca_file = cert_dir / "apiserver.crt"
    clients: list[httpx.Client] = []

    def ready() -> bool:
        if not clients:
            if not ca_file.exists():
                return False
            context = ssl.create_default_context(cafile=str(ca_file))
            clients.append(
                httpx.Client(verify=context, timeout=2.0, headers={"Authorization": f"Bearer {admin_token}"})
            )
        return clients[0].get(f"{server}/readyz").text == "ok"

    try:
        _wait("kube-apiserver", process, ready, timeout)
    except BaseException:
        process.stop()
        raise
    finally:
        for client in clients:
            client.close()
    return process, server, ca_file


@contextlib.contextmanager
def envtest(binaries: EnvtestBinaries | None = None, *, keep_workdir: bool = False) -> Iterator[Envtest]:
    """Run etcd + kube-apiserver from ``binaries`` (default: :func:`find_binaries`) until the block exits."""
    binaries = binaries or find_binaries()
    workdir = Path(tempfile.mkdtemp(prefix="modelplane-envtest-"))
    try:
        with contextlib.ExitStack() as stack:  # unwinds newest first: kube-apiserver, then etcd
            etcd, etcd_url = start_etcd(binaries.etcd, workdir)
            stack.callback(etcd.stop)
            admin_token = secrets.token_urlsafe(32)
            apiserver, server, ca_file = start_apiserver(
                binaries.kube_apiserver, workdir, etcd_url=etcd_url, admin_token=admin_token
            )
            stack.callback(apiserver.stop)
            kubeconfig = write_token_kubeconfig(
                workdir / "admin.kubeconfig", server=server, token=admin_token, ca_file=ca_file, user=ADMIN_USER
            )
            yield Envtest(
                workdir=workdir,
                server=server,
                ca_file=ca_file,
                admin_token=admin_token,
                kubeconfig=kubeconfig,
                etcd_url=etcd_url,
                apiserver_log=apiserver.log_path,
                etcd_log=etcd.log_path,
            )
    finally:
        if not keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
