"""The CRDs of ``crds/`` on a real API server: accepted, established, discoverable, printed.

A mock server accepts any CRD; kube-apiserver checks that the schema is structural, that defaults
are valid against it, that CEL rules compile within their cost budget, and serves the printer
columns through the Table API that ``kubectl get`` uses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cluster import CRD_DIR, CRD_PATH, kind_path
from harness.kubeapi import KubeClient
from modelplane.apis.meta import KindInfo
from modelplane.apis.v1alpha1 import KINDS

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
KIND_INFOS: dict[str, KindInfo] = {kind.kind_info.kind: kind.kind_info for kind in KINDS}
KUBECTL_ENV = "MODELPLANE_KUBECTL"


def example_of(kind: str) -> dict[str, Any]:
    """The first example manifest of ``kind`` under examples/."""
    for path in sorted((ROOT / "examples").rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == kind:
                return dict(document)
    raise LookupError(f"no example of {kind}")


def ready_status(reason: str = "Tested") -> dict[str, Any]:
    condition = {
        "type": "Ready",
        "status": "True",
        "reason": reason,
        "message": "set by a test",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
        "observedGeneration": 1,
    }
    return {"status": {"observedGeneration": 1, "conditions": [condition]}}


@pytest.mark.parametrize("path", sorted(CRD_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_crd_is_accepted_by_the_api_server_without_warnings(kube_client: KubeClient, path: Path) -> None:
    # Each CRD on its own (a dry run), so a rejection names its file; the server's causes are in the error.
    crd = yaml.safe_load(path.read_text())
    stored = kube_client.apply(f"{CRD_PATH}/{crd['metadata']['name']}", crd, field_manager="crd-test", dry_run=True)
    assert kube_client.last_warnings == []
    assert stored["spec"]["versions"][0]["schema"] == crd["spec"]["versions"][0]["schema"]


def test_crds_are_established_with_the_names_of_the_types(
    modelplane_crds: dict[str, tuple[dict[str, Any], list[str]]],
) -> None:
    assert sorted(modelplane_crds) == sorted(info.crd_name for info in KIND_INFOS.values())
    for info in KIND_INFOS.values():
        stored, warnings = modelplane_crds[info.crd_name]
        assert warnings == []
        accepted = stored["status"]["acceptedNames"]
        assert accepted["kind"] == info.kind
        assert accepted["plural"] == info.plural
        assert accepted["singular"] == info.singular
        assert accepted["shortNames"] == list(info.short_names)
        assert accepted["categories"] == list(info.categories)


def test_short_names_and_category_resolve_through_discovery(modelplane_crds: object, kube_client: KubeClient) -> None:
    resources = {r["name"]: r for r in kube_client.get("/apis/modelplane.io/v1alpha1")["resources"]}
    for info in KIND_INFOS.values():
        served = resources[info.plural]
        assert served["kind"] == info.kind
        assert served["namespaced"] is True
        assert served["shortNames"] == list(info.short_names)
        assert served["categories"] == ["modelplane"]
        assert {"create", "get", "list", "watch", "patch", "update", "delete"} <= set(served["verbs"])
        assert f"{info.plural}/status" in resources
    # And the group is listed with its preferred version, as kubectl's resource resolution reads it.
    groups = {g["name"]: g for g in kube_client.get("/apis")["groups"]}
    assert groups["modelplane.io"]["preferredVersion"]["version"] == "v1alpha1"


@pytest.fixture(scope="module")
def one_of_each_kind(kube_client: KubeClient, modelplane_crds: object) -> Iterator[str]:
    """A namespace with one example object of every kind, each with a Ready condition in its status."""
    from harness.cluster import temporary_namespace

    with temporary_namespace(kube_client, prefix="mp-print") as namespace:
        for kind in KIND_INFOS:
            obj = example_of(kind)
            name = obj["metadata"]["name"]
            kube_client.create(kind_path(kind, namespace), obj, fieldValidation="Strict")
            kube_client.patch(kind_path(kind, namespace, name, "status"), ready_status(f"{kind}Ok"))
        yield namespace


@pytest.mark.parametrize("kind", list(KIND_INFOS))
def test_printer_columns_come_back_through_the_table_api(
    kube_client: KubeClient, one_of_each_kind: str, kind: str
) -> None:
    info = KIND_INFOS[kind]
    table = kube_client.table(kind_path(kind, one_of_each_kind))
    columns = table["columnDefinitions"]
    assert [c["name"] for c in columns] == ["Name", *(c.name for c in info.printer_columns)]
    assert [c["priority"] for c in columns[1:]] == [c.priority for c in info.printer_columns]
    assert [c["type"] for c in columns[1:]] == [c.type for c in info.printer_columns]
    [row] = table["rows"]
    cells = dict(zip([c["name"] for c in columns], row["cells"], strict=True))
    assert cells["Name"] == example_of(kind)["metadata"]["name"]
    assert cells["Ready"] == "True"
    assert cells["Reason"] == f"{kind}Ok"


def find_kubectl() -> str | None:
    explicit = os.environ.get(KUBECTL_ENV)
    if explicit:
        if not (Path(explicit).is_file() and os.access(explicit, os.X_OK)):
            pytest.fail(f"{KUBECTL_ENV}={explicit!r} is not an executable file", pytrace=False)
        return explicit
    return shutil.which("kubectl")


def kubectl(binary: str, kubeconfig: str, *args: str) -> str:
    result = subprocess.run(
        [binary, "--kubeconfig", kubeconfig, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("kind", list(KIND_INFOS))
def test_kubectl_get_prints_the_columns(kubeconfig: str, one_of_each_kind: str, kind: str) -> None:
    binary = find_kubectl()
    if binary is None:  # optional: the Table API test above covers the server side
        pytest.skip(f"kubectl not found (put one on PATH or set {KUBECTL_ENV})")
    info = KIND_INFOS[kind]
    name = example_of(kind)["metadata"]["name"]
    plain = kubectl(binary, kubeconfig, "get", info.short_names[0], "-n", one_of_each_kind).splitlines()
    wide = kubectl(binary, kubeconfig, "get", info.plural, "-n", one_of_each_kind, "-o", "wide").splitlines()
    header = ["NAME", *(c.name.upper() for c in info.printer_columns if c.priority == 0)]
    wide_header = ["NAME", *(c.name.upper() for c in info.printer_columns)]
    assert plain[0].split() == header
    assert wide[0].split() == wide_header
    assert plain[1].split()[:2] == [name, "True"]


def test_kubectl_get_by_category_lists_every_kind(kubeconfig: str, one_of_each_kind: str) -> None:
    binary = find_kubectl()
    if binary is None:
        pytest.skip(f"kubectl not found (put one on PATH or set {KUBECTL_ENV})")
    listed = kubectl(binary, kubeconfig, "get", "modelplane", "-n", one_of_each_kind, "-o", "name").split()
    expected = {
        f"{info.singular}.{info.group}/{example_of(kind)['metadata']['name']}" for kind, info in KIND_INFOS.items()
    }
    assert set(listed) == expected
