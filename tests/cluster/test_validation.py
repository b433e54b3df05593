"""Custom resources on a real API server: what it rejects, how it words it, what it defaults.

The offline validator (``modelplane.crd.validation``) promises to reject what the API server rejects,
naming the same fields in the same words. These tests hold it to that against kube-apiserver: the
invalid manifests of ``tests/crd/invalid/`` (first line ``# expect: <message>``) and every example.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cluster import kind_path
from harness.kubeapi import KubeApiError, KubeClient
from modelplane.crd.validation import InvalidResourceError, validate_resource

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("modelplane_crds")]

ROOT = Path(__file__).resolve().parents[2]
INVALID = sorted((ROOT / "tests" / "crd" / "invalid").glob("*.yaml"))
# The server adds this cause whenever schema errors kept it from evaluating the CEL rules.
RULES_NOT_CHECKED = "some validation rules were not checked because the object was invalid"
STRICT_DECODING = re.compile(r'unknown field "(?P<field>[^"]+)"')

# Where the offline validator's wording differs from kube-apiserver v1.34 (the field paths agree): nowhere
# today; an entry here marks a known difference as a strict xfail.
WORDING_DIFFERS: dict[str, str] = {}


def expectation(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <message>'"
    return first.removeprefix("# expect: ")


def rejection(kube_client: KubeClient, namespace: str, document: dict[str, Any]) -> KubeApiError:
    with pytest.raises(KubeApiError) as caught:
        kube_client.create(kind_path(document["kind"], namespace), document, fieldValidation="Strict")
    return caught.value


def server_errors(error: KubeApiError) -> dict[str, str]:
    """``{field path: "<field>: <message>"}`` of a rejection (the strict-decoding 400 has no causes)."""
    if error.status == 400:
        return {m["field"]: error.message for m in STRICT_DECODING.finditer(error.message)}
    return {
        cause["field"]: f"{cause['field']}: {cause['message']}"
        for cause in error.causes
        if RULES_NOT_CHECKED not in cause["message"]
    }


def offline_errors(document: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidResourceError) as caught:
        validate_resource(document)
    return {error.path: str(error) for error in caught.value.errors}


@pytest.fixture(scope="module")
def namespace(kube_client: KubeClient, modelplane_crds: object) -> Iterator[str]:
    from harness.cluster import temporary_namespace

    with temporary_namespace(kube_client, prefix="mp-valid") as name:
        yield name


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_resource_is_rejected_naming_the_field_the_offline_validator_names(
    kube_client: KubeClient, namespace: str, path: Path
) -> None:
    document = yaml.safe_load(path.read_text())
    error = rejection(kube_client, namespace, document)
    assert error.status in {400, 422}, error
    server = server_errors(error)
    assert server, error
    assert set(server) == set(offline_errors(document)), error.message
    expected = expectation(path)
    decoded = STRICT_DECODING.search(expected)
    field = decoded.group("field") if decoded else expected.split(":", 1)[0]
    assert field in server, error.message


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=pytest.mark.xfail(reason=WORDING_DIFFERS[p.stem], strict=True))
        if p.stem in WORDING_DIFFERS
        else p
        for p in INVALID
    ],
    ids=lambda p: p.stem,
)
def test_server_message_reads_like_the_offline_validator(kube_client: KubeClient, namespace: str, path: Path) -> None:
    document = yaml.safe_load(path.read_text())
    server = server_errors(rejection(kube_client, namespace, document))
    offline = offline_errors(document)
    assert offline == {field: server.get(field) for field in offline}
    assert any(message.startswith(expectation(path)) for message in server.values())


def examples() -> Iterator[Any]:
    for path in sorted((ROOT / "examples").rglob("*.yaml")):
        for index, document in enumerate(yaml.safe_load_all(path.read_text())):
            if document:
                yield pytest.param(document, id=f"{path.relative_to(ROOT)}#{index}")


@pytest.mark.parametrize("document", list(examples()))
def test_example_is_accepted_and_defaulted_like_the_offline_validator(
    kube_client: KubeClient, kube_namespace: str, document: dict[str, Any]
) -> None:
    created = kube_client.create(kind_path(document["kind"], kube_namespace), document, fieldValidation="Strict")
    assert kube_client.last_warnings == []
    assert created["spec"] == validate_resource(document)["spec"]


def test_server_applies_the_schema_defaults(kube_client: KubeClient, kube_namespace: str) -> None:
    minimal = {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "minimal"},
        "spec": {"source": {"http": {"url": "https://example.com/a.csv"}}},
    }
    created = kube_client.create(kind_path("Dataset", kube_namespace), minimal)
    spec = created["spec"]
    assert spec["format"] == "Csv"
    assert spec["validation"] == "Fail"
    assert spec["split"] == {"train": 0.8, "validation": 0.1, "test": 0.1, "seed": 42, "stratify": False}
    assert spec == validate_resource(minimal)["spec"]
    # Defaults are persisted, not only applied on the way out: a fresh read has them.
    assert kube_client.get(kind_path("Dataset", kube_namespace, "minimal"))["spec"] == spec
