"""The ``cluster`` tier over any real API server: which cluster, CRDs, namespaces, the operator's identity.

The plugin's fixtures call these in order: :func:`external_kubeconfig` (a configured cluster) or
:func:`harness.envtest.envtest` (etcd + kube-apiserver from ``make test-bin``) gives a
:class:`KubeCluster`; :func:`install_crds` applies ``crds/`` and waits for ``Established``;
:func:`temporary_namespace` gives each test its own namespace; :func:`operator_identity` creates
the operator's service account with :func:`operator_cluster_role` bound to it and writes a
kubeconfig that authenticates as it, for :func:`harness.operator_process.run_operator`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml

from harness.envtest import write_token_kubeconfig
from harness.kubeapi import KubeApiError, KubeClient, resource_path

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = REPO_ROOT / "crds"
GROUP = "modelplane.io"
TEST_KUBECONFIG_ENV = "MODELPLANE_TEST_KUBECONFIG"
KUBECONFIG_ENV = "KUBECONFIG"
FORCE_ENVTEST = "envtest"
"""``MODELPLANE_TEST_KUBECONFIG=envtest`` starts envtest even when ``KUBECONFIG`` is set (CI does this)."""

TEST_FIELD_MANAGER = "modelplane-tests"
OPERATOR_NAMESPACE = "modelplane-test-system"
OPERATOR_SERVICE_ACCOUNT = "modelplane-operator"
OPERATOR_CLUSTER_ROLE = "modelplane-test-operator"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


@dataclasses.dataclass(frozen=True)
class KubeCluster:
    """A real API server for the ``cluster`` tier.

    ``kind`` is ``envtest`` (started by the harness) or ``external`` (``MODELPLANE_TEST_KUBECONFIG``
    or ``KUBECONFIG``); ``kubeconfig`` (a path or ``:``-list) authenticates as a cluster admin;
    ``workdir`` is a session temp dir for files the harness writes (other identities' kubeconfigs).
    """

    kubeconfig: str
    kind: Literal["envtest", "external"]
    version: str
    workdir: Path

    def client(self) -> KubeClient:
        """A new admin :class:`KubeClient` (close it, or use it as a context manager)."""
        return KubeClient(self.kubeconfig)


def external_kubeconfig() -> str | None:
    """The configured cluster's kubeconfig: ``MODELPLANE_TEST_KUBECONFIG``, else ``KUBECONFIG``; None for envtest."""
    explicit = os.environ.get(TEST_KUBECONFIG_ENV)
    if explicit == FORCE_ENVTEST:
        return None
    return explicit or os.environ.get(KUBECONFIG_ENV) or None


def server_version(kubeconfig: str, timeout: float = 5.0) -> str:
    """``gitVersion`` from ``/version``; raises when the server does not answer."""
    with KubeClient(kubeconfig, timeout=timeout) as client:
        return str(client.get("/version")["gitVersion"])


# --- CRDs ----------------------------------------------------------------------------------------------------


class CrdRejectedError(Exception):
    """The API server refused to store a CRD (the message lists each one with the server's causes)."""


def crd_documents(directory: Path | None = None) -> list[dict[str, Any]]:
    """The CRDs in ``directory`` (default: ``crds/`` of the repository), sorted by file name."""
    documents: list[dict[str, Any]] = []
    for path in sorted((directory or CRD_DIR).glob("*.yaml")):
        documents.extend(doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc)
    return documents


def _condition(obj: Mapping[str, Any], kind: str) -> str | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return str(condition.get("status"))
    return None


def is_established(crd: Mapping[str, Any]) -> bool:
    """Whether the CRD's ``Established`` and ``NamesAccepted`` conditions are both ``True``."""
    return _condition(crd, "Established") == "True" and _condition(crd, "NamesAccepted") == "True"


def install_crds(
    client: KubeClient, crds: list[dict[str, Any]], *, timeout: float = 30.0
) -> dict[str, tuple[dict[str, Any], list[str]]]:
    """Server-side apply each CRD, wait until it is Established and its resource is served.

    Returns ``{crd name: (the CRD as stored, the Warning headers of its apply)}``.
    """
    warnings: dict[str, list[str]] = {}
    rejected: list[str] = []
    for crd in crds:
        name = crd["metadata"]["name"]
        try:
            client.apply(f"{CRD_PATH}/{name}", crd, field_manager=TEST_FIELD_MANAGER, force=True)
        except KubeApiError as exc:
            causes = "".join(f"\n    {c.get('field')}: {c.get('message')}" for c in exc.causes) or f" {exc.message}"
            rejected.append(f"  {name} (HTTP {exc.status}):{causes}")
            continue
        warnings[name] = list(client.last_warnings)
    if rejected:
        raise CrdRejectedError("the API server rejected these CRDs:\n" + "\n".join(rejected))
    installed: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for crd in crds:
        name = crd["metadata"]["name"]
        stored = client.wait_for(f"{CRD_PATH}/{name}", is_established, timeout=timeout)
        spec = crd["spec"]
        for version in spec["versions"]:
            if version.get("served", True):
                # Established can precede the handler by a moment: wait until the collection answers.
                collection = resource_path(f"{spec['group']}/{version['name']}", spec["names"]["plural"])
                client.wait_for(collection, lambda _: True, timeout=timeout)
        installed[name] = (stored, warnings[name])
    return installed


# --- namespaces ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def temporary_namespace(client: KubeClient, prefix: str = "mp-test") -> Iterator[str]:
    """A new namespace, deleted afterwards (envtest has no namespace controller: it stays Terminating)."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    try:
        yield name
    finally:
        with contextlib.suppress(KubeApiError):
            client.delete(f"/api/v1/namespaces/{name}")


# --- the operator's identity ---------------------------------------------------------------------------------


def operator_cluster_role(name: str = OPERATOR_CLUSTER_ROLE, plurals: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The ClusterRole of the operator: what kopf and the handlers need, nothing more.

    * the ModelPlane kinds: read, watch, patch (finalizers, kopf's annotations) and their ``status``;
      ``create`` of ModelVersions only (a succeeded TrainingRun registers its model), and ``update`` of
      the kinds' ``finalizers`` subresource (children set ``blockOwnerDeletion`` on their owner);
    * the children the reconcilers manage: ``batch/jobs`` and ``services`` (read, watch, create by
      server-side apply, patch, delete) and ``pods`` (read: termination messages and placement facts);
    * ``events``: create (kopf posts one per handler outcome);
    * kopf's own machinery: list/watch namespaces and CRDs (it notices new ones), and its peering objects.
    """
    if plurals is None:
        from modelplane.apis.v1alpha1 import KINDS

        plurals = tuple(kind.kind_info.plural for kind in KINDS)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "modelplane"}},
        "rules": [
            {"apiGroups": [GROUP], "resources": list(plurals), "verbs": ["get", "list", "watch", "patch", "update"]},
            {"apiGroups": [GROUP], "resources": [f"{p}/status" for p in plurals], "verbs": ["get", "patch", "update"]},
            {"apiGroups": [GROUP], "resources": [f"{p}/finalizers" for p in plurals], "verbs": ["update"]},
            {"apiGroups": [GROUP], "resources": ["modelversions"], "verbs": ["create"]},
            {
                "apiGroups": ["batch"],
                "resources": ["jobs"],
                "verbs": ["get", "list", "watch", "create", "patch", "delete"],
            },
            {
                "apiGroups": [""],
                "resources": ["services"],
                "verbs": ["get", "list", "watch", "create", "patch", "delete"],
            },
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
            {
                "apiGroups": ["apps"],
                "resources": ["deployments"],
                "verbs": ["get", "list", "watch", "create", "patch", "delete"],
            },
            {
                "apiGroups": ["autoscaling"],
                "resources": ["horizontalpodautoscalers"],
                "verbs": ["get", "list", "watch", "create", "patch", "delete"],
            },
            {
                "apiGroups": ["policy"],
                "resources": ["poddisruptionbudgets"],
                "verbs": ["get", "list", "watch", "create", "patch", "delete"],
            },
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]},
            {
                "apiGroups": ["apiextensions.k8s.io"],
                "resources": ["customresourcedefinitions"],
                "verbs": ["list", "watch"],
            },
            {
                "apiGroups": ["kopf.dev"],
                "resources": ["kopfpeerings", "clusterkopfpeerings"],
                "verbs": ["get", "list", "watch", "patch"],
            },
        ],
    }


@dataclasses.dataclass(frozen=True)
class OperatorIdentity:
    """The operator's service account, bound to :func:`operator_cluster_role`, and a kubeconfig for it."""

    namespace: str
    service_account: str
    username: str
    kubeconfig: Path


def service_account_kubeconfig(
    client: KubeClient, namespace: str, service_account: str, path: Path, *, token_seconds: int = 3600, user: str
) -> Path:
    """A kubeconfig at ``path`` for ``client``'s API server with a fresh token of the service account."""
    token_request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": token_seconds},
    }
    token = client.create(resource_path("v1", "serviceaccounts", namespace, service_account, "token"), token_request)[
        "status"
    ]["token"]
    connection = client.connection
    return write_token_kubeconfig(
        path,
        server=connection.server,
        token=token,
        ca_file=connection.ca_file,
        insecure=connection.insecure,
        user=user,
    )


def operator_identity(client: KubeClient, workdir: Path, *, token_seconds: int = 3600) -> OperatorIdentity:
    """Create (or update) the operator's service account and RBAC; write a kubeconfig with a fresh token."""
    ns, sa = OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT
    manager = TEST_FIELD_MANAGER
    client.apply(
        f"/api/v1/namespaces/{ns}",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        field_manager=manager,
    )
    client.apply(
        f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, "namespace": ns}},
        field_manager=manager,
    )
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    client.apply(f"{rbac}/clusterroles/{OPERATOR_CLUSTER_ROLE}", operator_cluster_role(), field_manager=manager)
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": OPERATOR_CLUSTER_ROLE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": OPERATOR_CLUSTER_ROLE},
        "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}],
    }
    client.apply(f"{rbac}/clusterrolebindings/{OPERATOR_CLUSTER_ROLE}", binding, field_manager=manager)
    kubeconfig = service_account_kubeconfig(
        client, ns, sa, workdir / "operator.kubeconfig", token_seconds=token_seconds, user=f"{sa}@{ns}"
    )
    return OperatorIdentity(
        namespace=ns, service_account=sa, username=f"system:serviceaccount:{ns}:{sa}", kubeconfig=kubeconfig
    )


# --- ModelPlane kinds --------------------------------------------------------------------------------------


def kind_path(kind: str, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
    """API path of a ModelPlane kind by its name: ``Dataset`` -> ``/apis/modelplane.io/v1alpha1/.../datasets``."""
    from modelplane.apis.v1alpha1 import KINDS

    for resource in KINDS:
        info = resource.kind_info
        if kind == info.kind:
            return resource_path(info.api_version, info.plural, namespace, name, subresource)
    raise KeyError(f"not a ModelPlane kind: {kind!r}")
