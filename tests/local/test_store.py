"""The local object store keeps the API server's bookkeeping: generation, status, selectors, finalizers, GC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelplane.local.store import ObjectStore, StoreError, matches_selector, merge_patch

pytestmark = pytest.mark.unit


def dataset(name: str = "iris", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": name, "namespace": "ml", "labels": {"team": "a"}},
        "spec": {"source": {"inline": {"rows": [{"a": 1}]}}, **spec},
    }


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "objects.db")


def test_create_sets_identity_and_apply_bumps_generation_only_on_spec_change(store: ObjectStore) -> None:
    created = store.apply(dataset())
    meta = created["metadata"]
    assert meta["generation"] == 1
    assert meta["uid"]
    assert meta["creationTimestamp"]
    assert meta["resourceVersion"]
    again = store.apply(dataset())
    assert again["metadata"]["generation"] == 1
    assert again["metadata"]["uid"] == meta["uid"]
    changed = store.apply(dataset(format="Csv"))
    assert changed["metadata"]["generation"] == 2
    assert int(changed["metadata"]["resourceVersion"]) > int(again["metadata"]["resourceVersion"])


def test_status_is_written_only_through_the_subresource(store: ObjectStore) -> None:
    store.apply(dataset())
    store.apply_status("Dataset", "ml", "iris", {"conditions": [{"type": "Ready", "status": "True"}]})
    body = dataset()
    body["status"] = {"conditions": []}
    applied = store.apply(body)  # a user's apply never overwrites status
    assert applied["status"]["conditions"][0]["type"] == "Ready"
    assert applied["metadata"]["generation"] == 1
    with pytest.raises(StoreError) as missing:
        store.apply_status("Dataset", "ml", "nope", {})
    assert missing.value.code == 404


def test_apply_merges_labels_and_annotations(store: ObjectStore) -> None:
    store.apply(dataset())
    patch = {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "iris", "namespace": "ml", "annotations": {"x": "1"}},
    }
    merged = store.apply(patch)
    assert merged["metadata"]["labels"] == {"team": "a"}
    assert merged["metadata"]["annotations"] == {"x": "1"}
    assert merged["spec"] == dataset()["spec"]  # an apply without spec keeps it


def test_create_conflicts_with_an_existing_object(store: ObjectStore) -> None:
    store.create(dataset())
    with pytest.raises(StoreError) as conflict:
        store.create(dataset())
    assert conflict.value.code == 409


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("team=a", True),
        ("team==a", True),
        ("team!=a", False),
        ("team", True),
        ("!team", False),
        ("team in (a, b)", True),
        ("team notin (a)", False),
        ("team=a,tier=gold", False),
        ("missing notin (x)", True),
        ("", True),
    ],
)
def test_label_selectors(selector: str, expected: bool) -> None:
    assert matches_selector({"team": "a"}, selector) is expected


def test_a_bad_selector_is_a_400() -> None:
    with pytest.raises(StoreError) as bad:
        matches_selector({}, "a b c")
    assert bad.value.code == 400


def test_list_filters_by_namespace_and_selector(store: ObjectStore) -> None:
    store.apply(dataset("a"))
    other = dataset("b")
    other["metadata"]["labels"] = {"team": "b"}
    store.apply(other)
    assert [o["metadata"]["name"] for o in store.list("Dataset", "ml", "team=b")] == ["b"]
    assert [o["metadata"]["name"] for o in store.list("Dataset")] == ["a", "b"]
    assert store.list("Dataset", "other") == []


def test_finalizers_hold_deletion_until_cleared(store: ObjectStore) -> None:
    body = dataset()
    body["metadata"]["finalizers"] = ["modelplane.io/test"]
    store.apply(body)
    assert store.delete("Dataset", "ml", "iris") is True
    marked = store.get("Dataset", "ml", "iris")
    assert marked is not None
    assert marked["metadata"]["deletionTimestamp"]
    store.patch("Dataset", "ml", "iris", {"metadata": {"finalizers": None}})
    assert store.get("Dataset", "ml", "iris") is None
    assert store.delete("Dataset", "ml", "iris") is False


def test_deleting_an_owner_collects_its_dependents(store: ObjectStore) -> None:
    owner = store.apply(dataset())
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "iris-ingest",
            "namespace": "ml",
            "ownerReferences": [
                {
                    "apiVersion": "modelplane.io/v1alpha1",
                    "kind": "Dataset",
                    "name": "iris",
                    "uid": owner["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {"template": {}},
    }
    created = store.apply(job)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "namespace": "ml",
            "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "Job", "name": "iris-ingest", "uid": created["metadata"]["uid"]}
            ],
        },
        "spec": {},
    }
    store.apply(pod)
    store.delete("Dataset", "ml", "iris")
    assert store.get("Job", "ml", "iris-ingest") is None
    assert store.get("Pod", "ml", "p") is None


def test_change_log_reports_writes_and_deletes_in_order(store: ObjectStore) -> None:
    start = store.revision()
    store.apply(dataset())
    store.delete("Dataset", "ml", "iris")
    changes = store.changes_since(start)
    assert [(c.kind, c.name, c.deleted) for c in changes] == [("Dataset", "iris", False), ("Dataset", "iris", True)]
    assert store.changes_since(changes[-1].revision) == []


def test_merge_patch_follows_rfc_7386() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": None, "e": 3}, "d": [1]}) == {
        "a": {"c": 2, "e": 3},
        "d": [1],
    }


def test_a_resource_version_in_a_patch_is_a_precondition(store: ObjectStore) -> None:
    current = store.apply(dataset())
    version = current["metadata"]["resourceVersion"]
    store.patch("Dataset", "ml", "iris", {"metadata": {"resourceVersion": version, "finalizers": ["a/b"]}})
    with pytest.raises(StoreError) as conflict:
        store.patch("Dataset", "ml", "iris", {"metadata": {"resourceVersion": version, "finalizers": None}})
    assert conflict.value.code == 409
    assert (store.get("Dataset", "ml", "iris") or {})["metadata"]["finalizers"] == ["a/b"]
