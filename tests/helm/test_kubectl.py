"""kubectl ergonomics of the installed CRDs, with the real kubectl (``make helm-bin``) on a real API server.

What a platform engineer types must work as for built-in kinds: ``kubectl get`` by short name and by the
``modelplane`` category with the printer columns, ``kubectl explain`` teaching every spec field, and
``kubectl wait --for=condition=Ready`` for every kind (the operator's Ready condition is what it waits on).
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.kubeapi import KubeClient
from helm.chart import REPO_ROOT, require_tool

pytestmark = pytest.mark.cluster

EXAMPLES = {
    "Dataset": ("datasets", "mpds", "examples/datasets/inline-tiny.yaml"),
    "TrainingRun": ("trainingruns", "mptr", "examples/training/builtin-cpu.yaml"),
    "ModelVersion": ("modelversions", "mpmv", "examples/models/external.yaml"),
    "InferenceService": ("inferenceservices", "mpisvc", "examples/serving/inferenceservice.yaml"),
    "Rollout": ("rollouts", "mpro", "examples/rollouts/canary.yaml"),
}


def kubectl_binary() -> Path:
    explicit = os.environ.get("MODELPLANE_KUBECTL")
    return Path(explicit) if explicit else require_tool("kubectl")


def kubectl(kubeconfig: str, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(kubectl_binary()), "--kubeconfig", kubeconfig, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check:
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done


def example(kind: str) -> dict[str, Any]:
    return dict(yaml.safe_load((REPO_ROOT / EXAMPLES[kind][2]).read_text(encoding="utf-8")))


def ready_status(generation: int) -> dict[str, Any]:
    now = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    condition = {
        "type": "Ready",
        "status": "True",
        "reason": "TestReady",
        "message": "Set by the test, as the operator would.",
        "lastTransitionTime": now,
        "observedGeneration": generation,
    }
    return {"status": {"observedGeneration": generation, "conditions": [condition]}}


@pytest.fixture
def applied(kubeconfig: str, kube_namespace: str, modelplane_crds: object) -> str:
    """One example of each kind, applied with ``kubectl apply --server-side``; the namespace."""
    for kind in EXAMPLES:
        out = kubectl(
            kubeconfig, "apply", "--server-side", "-n", kube_namespace, "-f", str(REPO_ROOT / EXAMPLES[kind][2])
        )
        assert "serverside-applied" in out.stdout, out.stdout
    return kube_namespace


def test_get_by_short_name_and_category_shows_the_printer_columns(kubeconfig: str, applied: str) -> None:
    short = ",".join(short for _, short, _ in EXAMPLES.values())
    out = kubectl(kubeconfig, "get", short, "-n", applied).stdout
    for kind in EXAMPLES:
        assert example(kind)["metadata"]["name"] in out, kind
    headers = [line for line in out.splitlines() if line.startswith("NAME")]
    assert len(headers) == len(EXAMPLES)
    assert all("READY" in header and header.rstrip().endswith("AGE") for header in headers), headers
    names = kubectl(kubeconfig, "get", "modelplane", "-n", applied, "-o", "name").stdout.split()
    assert sorted(n.split("/")[0] for n in names) == sorted(f"{k.lower()}.modelplane.io" for k in EXAMPLES)


def test_wait_for_ready_works_for_every_kind(kubeconfig: str, applied: str, kube_client: KubeClient) -> None:
    for kind, (plural, _, _) in EXAMPLES.items():
        name = example(kind)["metadata"]["name"]
        target = f"{plural}.modelplane.io/{name}"
        early = kubectl(kubeconfig, "wait", "--for=condition=Ready", target, "-n", applied, "--timeout=1s", check=False)
        assert early.returncode != 0, f"{kind} was Ready before any status"
        path = f"/apis/modelplane.io/v1alpha1/namespaces/{applied}/{plural}/{name}"
        generation = kube_client.get(path)["metadata"]["generation"]
        kube_client.patch(f"{path}/status", ready_status(generation))
        done = kubectl(kubeconfig, "wait", "--for=condition=Ready", target, "-n", applied, "--timeout=30s")
        assert "condition met" in done.stdout
        row = kubectl(kubeconfig, "get", target, "-n", applied, "--no-headers").stdout
        assert re.search(rf"^{re.escape(name)}\s+True\b", row), row


def words(text: str) -> str:
    return " ".join(text.split())


def test_explain_teaches_every_spec_field(kubeconfig: str, modelplane_crds: dict[str, Any]) -> None:
    for kind, (plural, _, _) in EXAMPLES.items():
        stored, _ = modelplane_crds[f"{plural}.modelplane.io"]
        schema = stored["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        top = words(kubectl(kubeconfig, "explain", plural).stdout)
        assert f"KIND: {kind}" in top
        assert words(schema["description"])[:60] in top, kind
        spec = words(kubectl(kubeconfig, "explain", f"{plural}.spec").stdout)
        for field, node in schema["properties"]["spec"]["properties"].items():
            description = words(node.get("description", ""))
            assert description, f"{kind}.spec.{field} has no description"
            assert description[:50] in spec, f"kubectl explain {plural}.spec does not show {field}'s description"
