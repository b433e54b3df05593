"""The harness' pytest plugin: fixtures with real components, loud skips, markers, a summary.

Registered from ``tests/conftest.py`` (``pytest_plugins = ["harness.plugin"]``).
See ``tests/harness/README.md`` for what each fixture gives and the env vars.
"""

from __future__ import annotations

import collections
import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.skips import REQUIRE_ALL_TIERS_ENV, SKIP_PREFIX, missing_component

if TYPE_CHECKING:
    import minio

    from harness import cluster, kube, kubeapi, operator_process, postgres, s3

# The component modules are imported inside the fixtures: kopf, kubernetes, SQLAlchemy & co. take
# seconds to import, which every pytest run (e.g. of the unit tier alone) would otherwise pay.

# Tests that use these fixtures get the marker even if the module forgot ``pytestmark``,
# so that ``-m "not db"`` & co. select correctly.
FIXTURE_MARKERS: dict[str, str] = {
    "postgres_server": "db",
    "postgres_database": "db",
    "sqlite_url": "db",
    "s3_server": "s3",
    "s3_client": "s3",
    "s3_bucket": "s3",
    "kmock_cluster": "kmock",
    "kmock_kubeconfig": "kmock",
    "kube_cluster": "cluster",
    "kubeconfig": "cluster",
    "kube_client": "cluster",
    "modelplane_crds": "cluster",
    "kube_namespace": "cluster",
    "operator_identity": "cluster",
    "run_cluster_operator": "cluster",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixturenames: list[str] = list(getattr(item, "fixturenames", ()))
        have = {mark.name for mark in item.iter_markers()}
        for name in fixturenames:
            marker = FIXTURE_MARKERS.get(name)
            if marker is not None and marker not in have:
                item.add_marker(marker)
                have.add(marker)


# Notes about substitutes the session used (e.g. moto instead of MinIO), printed in the summary.
NOTES_KEY = pytest.StashKey[list[str]]()


def _note(config: pytest.Config, text: str) -> None:
    notes = config.stash.setdefault(NOTES_KEY, [])
    if text not in notes:
        notes.append(text)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Group the tests skipped for a missing component by reason; list substitutes used."""
    notes = terminalreporter.config.stash.get(NOTES_KEY, [])
    if notes:
        terminalreporter.section("ModelPlane: test components", sep="-", bold=True)
        for text in notes:
            terminalreporter.line(text)
    reasons: collections.Counter[str] = collections.Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        if isinstance(longrepr, tuple) and len(longrepr) == 3:
            reason = str(longrepr[2]).removeprefix("Skipped: ")
            if reason.startswith(SKIP_PREFIX):
                reasons[reason.removeprefix(SKIP_PREFIX)] += 1
    if not reasons:
        return
    terminalreporter.section("ModelPlane: tests skipped for missing components", sep="-", yellow=True, bold=True)
    for reason, count in reasons.most_common():
        terminalreporter.line(f"{count:4d} skipped: {reason}")
    terminalreporter.line(f"(with {REQUIRE_ALL_TIERS_ENV}=1, as in CI, these are failures)")


# --- PostgreSQL & SQLite (marker: db) ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server(pytestconfig: pytest.Config) -> Iterator[postgres.PostgresServer]:
    """A running PostgreSQL server: ``MODELPLANE_TEST_POSTGRES_URL`` or a throwaway cluster."""
    from harness import postgres

    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(postgres.postgres_server())
        except postgres.ComponentMissingError as exc:
            missing_component(str(exc))
        except postgres.HarnessConfigError as exc:
            pytest.fail(str(exc), pytrace=False)
        where = "MODELPLANE_TEST_POSTGRES_URL" if server.kind == "external" else "a throwaway cluster"
        _note(pytestconfig, f"PostgreSQL: {where} on {server.host}:{server.port}")
        yield server


@pytest.fixture(scope="session")
def postgres_database(postgres_server: postgres.PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL (``postgresql+psycopg://…``) of a database created for this test session."""
    from harness import postgres

    with postgres.temporary_database(postgres_server) as name:
        yield postgres_server.url(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLAlchemy URL of a fresh SQLite file for the embedded mode (``sqlite+pysqlite:///…``)."""
    return f"sqlite+pysqlite:///{tmp_path / 'modelplane.db'}"


# --- S3 (marker: s3) ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_server(pytestconfig: pytest.Config) -> Iterator[s3.S3Server]:
    """A real S3 server over HTTP on 127.0.0.1: MinIO if its binary is found, else moto's server."""
    from harness import s3

    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(s3.s3_server())
        except s3.S3ConfigError as exc:
            pytest.fail(str(exc), pytrace=False)
        if server.kind == "moto":
            _note(
                pytestconfig,
                f"S3: moto's server mode on {server.endpoint}, not MinIO (set {s3.MINIO_BIN_ENV}, "
                f"or {s3.REQUIRE_MINIO_ENV}=1 to insist on MinIO)",
            )
        else:
            _note(pytestconfig, f"S3: MinIO on {server.endpoint}")
        yield server


@pytest.fixture(scope="session")
def s3_client(s3_server: s3.S3Server) -> Iterator[minio.Minio]:
    """``minio.Minio`` client for :func:`s3_server` (plain HTTP, region us-east-1)."""
    client = s3_server.client()
    yield client
    pool = getattr(client, "_http", None)
    if pool is not None:
        pool.clear()


@pytest.fixture
def s3_bucket(s3_client: minio.Minio) -> Iterator[str]:
    """Name of a fresh, empty bucket; its objects and the bucket are removed after the test."""
    from harness import s3

    with s3.temporary_bucket(s3_client) as bucket:
        yield bucket


# --- Kubernetes: kmock + kopf (marker: kmock), a real cluster (marker: cluster) ---------------------------


@pytest.fixture
def kmock_cluster(tmp_path: Path) -> Iterator[kube.KmockCluster]:
    """A fresh kmock API server on 127.0.0.1 with the ModelPlane kinds declared (+ a kubeconfig)."""
    from harness import kube

    workdir = tmp_path / "kmock"
    workdir.mkdir()
    with kube.KmockCluster(workdir) as cluster:
        yield cluster


@pytest.fixture
def kmock_kubeconfig(kmock_cluster: kube.KmockCluster) -> Path:
    """Path of a kubeconfig file pointing at :func:`kmock_cluster`."""
    return kmock_cluster.kubeconfig


@pytest.fixture(scope="session")
def kube_cluster(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[cluster.KubeCluster]:
    """A real API server: the configured cluster (MODELPLANE_TEST_KUBECONFIG/KUBECONFIG), else envtest.

    envtest is etcd + kube-apiserver from ``make test-bin``, started for the session and stopped at its end.
    """
    from harness import cluster, envtest, kube

    workdir = tmp_path_factory.mktemp("cluster")
    config = cluster.external_kubeconfig()
    if config:
        try:
            version = kube.probe_cluster(config)
        except Exception as exc:
            missing_component(f"the Kubernetes API server of kubeconfig {config!r} does not answer: {exc!r}")
        _note(pytestconfig, f"Kubernetes: external cluster {version} of kubeconfig {config}")
        yield cluster.KubeCluster(kubeconfig=config, kind="external", version=version, workdir=workdir)
        return
    try:
        binaries = envtest.find_binaries()
    except envtest.HarnessConfigError as exc:
        pytest.fail(str(exc), pytrace=False)
    except envtest.BinariesMissingError as exc:
        missing_component(
            f"no Kubernetes API server: {exc} (or set {cluster.TEST_KUBECONFIG_ENV} to a cluster's kubeconfig)"
        )
    with envtest.envtest(binaries) as env:
        version = cluster.server_version(str(env.kubeconfig))
        _note(pytestconfig, f"Kubernetes: envtest (etcd + kube-apiserver {version}) on {env.server}")
        yield cluster.KubeCluster(kubeconfig=str(env.kubeconfig), kind="envtest", version=version, workdir=workdir)


@pytest.fixture(scope="session")
def kubeconfig(kube_cluster: cluster.KubeCluster) -> str:
    """Kubeconfig (path or ``:``-list) of :func:`kube_cluster`, authenticating as a cluster admin."""
    return kube_cluster.kubeconfig


@pytest.fixture(scope="session")
def kube_client(kube_cluster: cluster.KubeCluster) -> Iterator[kubeapi.KubeClient]:
    """An admin :class:`harness.kubeapi.KubeClient` for :func:`kube_cluster` (raw HTTP: statuses, warnings)."""
    with kube_cluster.client() as client:
        yield client


@pytest.fixture(scope="session")
def modelplane_crds(kube_client: kubeapi.KubeClient) -> dict[str, tuple[dict[str, Any], list[str]]]:
    """The CRDs of ``crds/``, applied and Established: ``{name: (stored CRD, Warning headers of the apply)}``."""
    from harness import cluster

    return cluster.install_crds(kube_client, cluster.crd_documents())


@pytest.fixture
def kube_namespace(kube_client: kubeapi.KubeClient) -> Iterator[str]:
    """Name of a fresh namespace for this test, deleted afterwards."""
    from harness import cluster

    with cluster.temporary_namespace(kube_client) as name:
        yield name


@pytest.fixture(scope="session")
def operator_identity(kube_cluster: cluster.KubeCluster, kube_client: kubeapi.KubeClient) -> cluster.OperatorIdentity:
    """The operator's service account with only its ClusterRole, and a kubeconfig that authenticates as it."""
    from harness import cluster

    return cluster.operator_identity(kube_client, kube_cluster.workdir)


@pytest.fixture
def run_cluster_operator(
    operator_identity: cluster.OperatorIdentity, modelplane_crds: object, tmp_path: Path
) -> Callable[..., contextlib.AbstractContextManager[operator_process.OperatorProcess]]:
    """``run_cluster_operator(target, namespaces=..., module=False, watching=...)``: run ``kopf run`` as the operator.

    A context manager (see :func:`harness.operator_process.run_operator`); the CRDs are installed first
    and the operator authenticates as :func:`operator_identity`. Logs go to ``tmp_path``.
    """
    from harness import operator_process

    counter = iter(range(1_000_000))

    def run(
        target: str | os.PathLike[str], **kwargs: Any
    ) -> contextlib.AbstractContextManager[operator_process.OperatorProcess]:
        log_path = tmp_path / f"operator-{next(counter)}.log"
        return operator_process.run_operator(
            target, kubeconfig=operator_identity.kubeconfig, log_path=log_path, **kwargs
        )

    return run
