"""The chart against a real API server: ``helm install``, ``helm upgrade`` and ``helm uninstall`` with the real
helm binary, and ``helm template`` of the full-featured values applied object by object.

envtest has no controllers, so the test plays the Job controller for the migrations hook (it marks the Job
complete, as the Job controller would once the pod succeeded); helm waits for the hook exactly as it would
in a cluster. Everything else is the API server's own admission, validation and defaulting.
"""

from __future__ import annotations

import base64
import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cluster.operator_support import complete_job, jobs_path
from harness.kubeapi import KubeApiError, KubeClient, resource_path
from helm.chart import CHART_DIR, render, require_tool

pytestmark = pytest.mark.cluster

FIELD_MANAGER = "modelplane-chart-tests"
MONITORING_CRDS = {"servicemonitors": "ServiceMonitor", "prometheusrules": "PrometheusRule"}


def stand_in_monitoring_crd(plural: str, kind: str) -> dict[str, Any]:
    """A schemaless CRD for a Prometheus Operator kind, so its objects can be stored (envtest has none)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.monitoring.coreos.com"},
        "spec": {
            "group": "monitoring.coreos.com",
            "names": {"plural": plural, "kind": kind, "singular": kind.lower(), "listKind": f"{kind}List"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }


def discover(client: KubeClient) -> dict[tuple[str, str], tuple[str, bool]]:
    """``(apiVersion, kind) -> (plural, namespaced)`` for every served resource."""
    found: dict[tuple[str, str], tuple[str, bool]] = {}
    versions = ["v1"]
    for group in client.get("/apis")["groups"]:
        versions += [v["groupVersion"] for v in group["versions"]]
    for version in versions:
        base = "/api/v1" if version == "v1" else f"/apis/{version}"
        for resource in client.get(base)["resources"]:
            if "/" not in resource["name"]:
                found[(version, resource["kind"])] = (resource["name"], resource["namespaced"])
    return found


def object_path(found: dict[tuple[str, str], tuple[str, bool]], obj: dict[str, Any]) -> str:
    plural, namespaced = found[(obj["apiVersion"], obj["kind"])]
    namespace = obj["metadata"].get("namespace") if namespaced else None
    return resource_path(obj["apiVersion"], plural, namespace, obj["metadata"]["name"])


@pytest.fixture
def release(kube_client: KubeClient) -> Iterator[str]:
    """A unique release name (and namespace); its cluster-scoped objects are removed afterwards."""
    name = f"modelplane-{uuid.uuid4().hex[:6]}"
    yield name
    for role in (f"{name}-operator", f"{name}-operator-cluster", f"{name}-view", f"{name}-edit"):
        for kind in ("clusterroles", "clusterrolebindings"):
            with contextlib.suppress(KubeApiError):
                kube_client.delete(f"/apis/rbac.authorization.k8s.io/v1/{kind}/{role}")


class HelmRun:
    """A helm command running in the background while the test plays the cluster's controllers."""

    def __init__(self, *args: str, kubeconfig: str, log: Path) -> None:
        self.log = log
        self._out = log.open("w")
        argv = [str(require_tool("helm")), *args, "--kubeconfig", kubeconfig, "--timeout", "120s"]
        self.process = subprocess.Popen(argv, stdout=self._out, stderr=subprocess.STDOUT, text=True)

    def check_running(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"helm exited {self.process.returncode} early:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text()

    def finish(self, timeout: float = 120) -> str:
        code = self.process.wait(timeout)
        self._out.close()
        assert code == 0, self.output()
        return self.output()


def play_migrations_job(client: KubeClient, namespace: str, release: str, helm_run: HelmRun) -> dict[str, Any]:
    """Wait for the hook Job helm creates, check it, and complete it as the Job controller would."""
    name = f"{release}-migrations"
    job = client.wait_for(jobs_path(namespace, name), lambda _: True, timeout=60, alive=helm_run.check_running)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["upgrade", "head"]
    complete_job(client, namespace, name)
    return dict(job)


def secret_value(client: KubeClient, namespace: str, name: str, key: str) -> str:
    data = client.get(resource_path("v1", "secrets", namespace, name))["data"]
    return base64.b64decode(data[key]).decode()


def test_helm_installs_upgrades_and_uninstalls_the_platform(
    kube_client: KubeClient, kubeconfig: str, release: str, tmp_path: Path
) -> None:
    ns = release
    install = HelmRun(
        "install",
        release,
        str(CHART_DIR),
        "--namespace",
        ns,
        "--create-namespace",
        kubeconfig=kubeconfig,
        log=tmp_path / "install.log",
    )
    job = play_migrations_job(kube_client, ns, release, install)
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    install.finish()

    # Every object of the release is stored, as the API server admitted and defaulted it.
    manifest = subprocess.run(
        [str(require_tool("helm")), "get", "manifest", release, "--namespace", ns, "--kubeconfig", kubeconfig],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = discover(kube_client)
    objects = [doc for doc in yaml.safe_load_all(manifest) if doc]
    assert len(objects) >= 20
    for obj in objects:
        stored = kube_client.get(object_path(found, obj))
        assert stored["metadata"]["labels"]["app.kubernetes.io/instance"] == release
    token = secret_value(kube_client, ns, f"{release}-admin-token", "token")
    password = secret_value(kube_client, ns, f"{release}-postgres", "password")
    assert token.startswith("mpt_")
    assert len(token) == 44
    assert len(password) == 32

    # An upgrade runs the migrations first (pre-upgrade), keeps generated secrets, applies the change.
    upgrade = HelmRun(
        "upgrade",
        release,
        str(CHART_DIR),
        "--namespace",
        ns,
        "--set",
        "api.replicas=3",
        kubeconfig=kubeconfig,
        log=tmp_path / "upgrade.log",
    )
    play_migrations_job(kube_client, ns, release, upgrade)
    upgrade.finish()
    assert secret_value(kube_client, ns, f"{release}-admin-token", "token") == token
    assert secret_value(kube_client, ns, f"{release}-postgres", "password") == password
    api = kube_client.get(resource_path("apps/v1", "deployments", ns, f"{release}-api"))
    assert api["spec"]["replicas"] == 3
    assert not kube_client.exists(jobs_path(ns, f"{release}-migrations"))  # hook-succeeded: deleted

    # Uninstall removes the release's objects, cluster-scoped ones included, and leaves the CRDs (and data).
    HelmRun("uninstall", release, "--namespace", ns, kubeconfig=kubeconfig, log=tmp_path / "uninstall.log").finish()
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    assert not kube_client.exists(f"{rbac}/clusterroles/{release}-operator")
    assert not kube_client.exists(resource_path("apps/v1", "deployments", ns, f"{release}-operator"))
    assert kube_client.exists("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/datasets.modelplane.io")


def test_full_featured_template_applies_to_the_api_server(
    kube_client: KubeClient, release: str, tmp_path: Path
) -> None:
    """``helm template`` of ci/full-values.yaml (hooks included), server-side applied object by object."""
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    for plural, kind in MONITORING_CRDS.items():
        crd = stand_in_monitoring_crd(plural, kind)
        kube_client.apply(f"{crds}/{crd['metadata']['name']}", crd, field_manager=FIELD_MANAGER, force=True)
        kube_client.wait_for(resource_path("monitoring.coreos.com/v1", plural, "default"), lambda _: True, timeout=30)
    ns = release
    for namespace in (ns, "ml-team-a", "ml-team-b"):
        kube_client.apply(
            f"/api/v1/namespaces/{namespace}",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            field_manager=FIELD_MANAGER,
        )
    objects = render(files=[CHART_DIR / "ci" / "full-values.yaml"], release=release, namespace=ns)
    found = discover(kube_client)
    kinds = set()
    for obj in objects:
        stored = kube_client.apply(object_path(found, obj), obj, field_manager=FIELD_MANAGER, force=True)
        assert not kube_client.last_warnings, f"{obj['kind']}/{obj['metadata']['name']}: {kube_client.last_warnings}"
        assert stored["metadata"]["uid"]
        kinds.add(obj["kind"])
    assert {
        "Deployment",
        "Job",
        "HorizontalPodAutoscaler",
        "Ingress",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "RoleBinding",
        "ServiceMonitor",
        "PrometheusRule",
        "ConfigMap",
    } <= kinds
    for namespace in ("ml-team-a", "ml-team-b"):
        binding = kube_client.get(
            resource_path("rbac.authorization.k8s.io/v1", "rolebindings", namespace, f"{release}-operator")
        )
        assert binding["subjects"][0]["namespace"] == ns
        kube_client.delete(
            resource_path("rbac.authorization.k8s.io/v1", "rolebindings", namespace, binding["metadata"]["name"])
        )
