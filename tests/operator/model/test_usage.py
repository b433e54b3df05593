"""Which InferenceServices use a ModelVersion (the deletion's in-use guard)."""

from __future__ import annotations

from typing import Any

from modelplane.operator.model.usage import in_use_message, users_of


def service(name: str, *, deleting: bool = False, status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if deleting:
        meta["deletionTimestamp"] = "2026-03-01T00:00:00Z"
    return {"metadata": meta, "spec": spec, "status": status or {}}


def test_every_way_of_using_a_version_counts_and_deleting_services_do_not():
    services = [
        service("by-ref", modelVersionRef={"name": "iris-v2"}),
        service("by-alias", modelRef={"name": "iris", "alias": "champion"}),
        service("by-default-alias", modelRef={"name": "iris"}),  # the alias defaults to champion
        service("other-alias", modelRef={"name": "iris", "alias": "staging"}),
        service("other-model", modelRef={"name": "wine", "alias": "champion"}),
        service("canary", modelVersionRef={"name": "iris-v3"}, traffic=[{"modelVersion": "iris-v2", "weight": 10}]),
        service("draining", modelVersionRef={"name": "iris-v3"}, status={"traffic": [{"modelVersion": "iris-v2"}]}),
        service("going", deleting=True, modelVersionRef={"name": "iris-v2"}),
        service("unrelated", modelVersionRef={"name": "iris-v1"}),
    ]
    users = users_of(services, version="iris-v2", model="iris", held=["champion"])
    assert users == [
        ("by-alias", "modelRef iris@champion"),
        ("by-default-alias", "modelRef iris@champion"),
        ("by-ref", "modelVersionRef"),
        ("canary", "traffic"),
        ("draining", "serving"),
    ]
    assert users_of(services[1:3], version="iris-v2", model="iris", held=[]) == []  # holds no alias


def test_the_message_names_the_services():
    assert in_use_message([("a", "modelVersionRef")]) == (
        "Deletion waits: InferenceService a (modelVersionRef) uses this version."
    )
    assert in_use_message([("a", "traffic"), ("b", "serving")]) == (
        "Deletion waits: InferenceServices a (traffic), b (serving) use this version."
    )
