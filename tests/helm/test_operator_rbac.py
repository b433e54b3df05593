"""The real operator, cluster-wide, as the chart's ServiceAccount with exactly the chart's ClusterRoles.

The chart's RBAC objects (rendered by helm) are applied to a real API server and bound to a fresh
ServiceAccount; ``kopf run -m modelplane.operator.main --all-namespaces`` then authenticates with a token of
that account and takes a Dataset and a TrainingRun to Ready, registering a ModelVersion on the way (the test
plays the Job controller and the jobs, as tests/cluster does). A permission the code needs and the chart
does not grant shows as a Forbidden error in the operator's log or as a run that never finishes.

The same run checks the GitOps contract: the operator never writes ``spec`` (only the creator's field
manager owns spec fields afterwards), so Argo CD sees no drift.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cluster.operator_support import complete_job, make_dataset_ready, path, start_job, terminated_pod, training_run
from cluster.test_training_operator import job_named, record_run
from harness.cluster import KubeCluster, service_account_kubeconfig
from harness.conditions import condition, has_condition
from harness.control_plane import ADMIN_TOKEN, make_settings, serve
from harness.kubeapi import KubeApiError, KubeClient, resource_path
from harness.operator_process import run_operator
from helm.chart import render

pytestmark = pytest.mark.cluster

RELEASE = "modelplane-rbac"
NAMESPACE = "modelplane-rbac-system"
MANAGER = "modelplane-chart-tests"
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")
WATCHING = ("datasets.v1alpha1.modelplane.io", "trainingruns.v1alpha1.modelplane.io", "jobs.v1.batch")


@pytest.fixture
def chart_identity(kube_cluster: KubeCluster, kube_client: KubeClient, tmp_path: Path) -> Iterator[Path]:
    """The chart's ServiceAccount and ClusterRoles (default values) in the API server; a kubeconfig as it."""
    kube_client.apply(
        f"/api/v1/namespaces/{NAMESPACE}",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        field_manager=MANAGER,
    )
    objects = [o for o in render(release=RELEASE, namespace=NAMESPACE) if o["kind"] in RBAC_KINDS]
    assert sorted(o["kind"] for o in objects) == sorted(
        [
            "ServiceAccount",
            "ClusterRole",
            "ClusterRole",
            "ClusterRole",
            "ClusterRole",
            "ClusterRoleBinding",
            "ClusterRoleBinding",
        ]
    )
    paths = []
    for obj in objects:
        if obj["kind"] == "ServiceAccount":
            target = resource_path("v1", "serviceaccounts", NAMESPACE, obj["metadata"]["name"])
        else:
            plural = "clusterroles" if obj["kind"] == "ClusterRole" else "clusterrolebindings"
            target = resource_path("rbac.authorization.k8s.io/v1", plural, None, obj["metadata"]["name"])
        kube_client.apply(target, obj, field_manager=MANAGER, force=True)
        paths.append(target)
    account = f"{RELEASE}-operator"
    kubeconfig = service_account_kubeconfig(
        kube_client, NAMESPACE, account, tmp_path / "chart-operator.kubeconfig", user=account
    )
    yield kubeconfig
    for target in paths:
        if "/serviceaccounts/" not in target:
            with contextlib.suppress(KubeApiError):
                kube_client.delete(target)


def can(kubeconfig: Path, verb: str, resource: str, namespace: str, group: str = "", subresource: str = "") -> bool:
    """A SelfSubjectAccessReview as the identity of ``kubeconfig``."""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {
                "verb": verb,
                "resource": resource,
                "group": group,
                "namespace": namespace,
                "subresource": subresource,
            }
        },
    }
    with KubeClient(str(kubeconfig)) as client:
        answer = client.create("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
    return bool(answer["status"]["allowed"])


def spec_managers(obj: dict[str, Any]) -> set[str]:
    """Field managers that own anything under ``spec``."""
    return {
        entry["manager"]
        for entry in obj["metadata"].get("managedFields") or []
        if "f:spec" in (entry.get("fieldsV1") or {})
    }


def test_the_chart_grants_what_the_operator_does_and_no_more(
    kube_client: KubeClient,
    kube_namespace: str,
    modelplane_crds: object,
    chart_identity: Path,
    sqlite_api_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns = kube_namespace
    with serve(make_settings(sqlite_api_url, tmp_path / "cp-artifacts")) as live:
        for key, value in {
            "MODELPLANE_OPERATOR_API_URL": live.url,
            "MODELPLANE_OPERATOR_API_TOKEN": ADMIN_TOKEN,
            "MODELPLANE_OPERATOR_RETRY_DELAY_SECONDS": "1",
            "MODELPLANE_OPERATOR_RESYNC_SECONDS": "3",
        }.items():
            monkeypatch.setenv(key, value)
        cp = httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
        with (
            cp,
            run_operator(
                "modelplane.operator.main",
                module=True,
                kubeconfig=chart_identity,
                log_path=tmp_path / "operator.log",
                watching=list(WATCHING),
            ) as operator,
        ):
            run = training_run(f"rbac-{uuid.uuid4().hex[:4]}", output={"modelName": "iris"})
            name = run["metadata"]["name"]
            created = kube_client.create(path("trainingruns", ns), run)
            dataset = make_dataset_ready(kube_client, cp, ns, operator)
            listed = kube_client.wait_for(
                resource_path("batch/v1", "jobs", ns) + f"?labelSelector=modelplane.io/training-run={name}",
                lambda jobs: len(jobs["items"]) == 1,
                alive=operator.check_running,
            )
            job = job_named(kube_client, ns, listed["items"][0]["metadata"]["name"])
            start_job(kube_client, ns, job["metadata"]["name"])
            artifact = uuid.uuid4().hex * 2
            record_run(cp, ns, job, {"accuracy": 0.9}, artifact)
            terminated_pod(
                kube_client, ns, job["metadata"]["name"], message='{"succeeded": true}', exit_code=0, phase="Succeeded"
            )
            complete_job(kube_client, ns, job["metadata"]["name"])
            done = kube_client.wait_for(
                path("trainingruns", ns, name), has_condition("Succeeded", "True"), alive=operator.check_running
            )
            model = kube_client.wait_for(
                path("modelversions", ns, f"{name}-{artifact[:8]}"), lambda obj: True, alive=operator.check_running
            )
            events = kube_client.wait_for(
                f"/api/v1/namespaces/{ns}/events",
                lambda listed: {"VersionReady", "JobSucceeded"} <= {e.get("reason") for e in listed["items"]},
                alive=operator.check_running,
            )
            log = operator.output()

    # RBAC denials name the identity ("User ... cannot <verb> resource ...") or the operator's own "(RBAC)" note;
    # other 403s (objects in namespaces that earlier tests left Terminating) are not about permissions.
    denied = [line for line in log.splitlines() if re.search(r'User "[^"]+" cannot |\(RBAC\)', line)]
    assert not denied, "the operator was denied:\n" + "\n".join(denied[:10])
    assert condition(done, "Ready")["status"] == "True"
    assert model["metadata"]["ownerReferences"][0]["uid"] == done["metadata"]["uid"]
    assert any(e["involvedObject"]["kind"] == "Dataset" for e in events["items"])

    # GitOps: what the user applied is all that is in spec; only the creator manages spec fields.
    for plural, obj, before in (("datasets", dataset, None), ("trainingruns", done, created)):
        current = kube_client.get(path(plural, ns, obj["metadata"]["name"]))
        assert len(spec_managers(current)) == 1, current["metadata"]["managedFields"]
        if before is not None:
            assert current["spec"] == before["spec"]
            assert current["metadata"]["generation"] == before["metadata"]["generation"]

    # And nothing beyond: no Secrets, no deleting or replacing the user's objects, no Pods.
    assert can(chart_identity, "patch", "datasets", ns, "modelplane.io", "status")
    assert can(chart_identity, "create", "jobs", ns, "batch")
    assert not can(chart_identity, "get", "secrets", ns)
    assert not can(chart_identity, "delete", "datasets", ns, "modelplane.io")
    assert not can(chart_identity, "update", "trainingruns", ns, "modelplane.io")
    assert not can(chart_identity, "create", "pods", ns)
    assert not can(chart_identity, "create", "clusterroles", "", "rbac.authorization.k8s.io")
