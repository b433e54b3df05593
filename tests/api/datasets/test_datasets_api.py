"""Dataset versions through the HTTP API, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import pytest

pytestmark = pytest.mark.db


def new_digest() -> str:
    return "sha256:" + hashlib.sha256(uuid.uuid4().bytes).hexdigest()


def versions_url(namespace, name="iris"):
    return f"/api/v1/namespaces/{namespace}/datasets/{name}/versions"


async def register(api, namespace, name="iris", **body):
    body.setdefault("digest", new_digest())
    response = await api.post(versions_url(namespace, name), json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


FULL = {
    "schema": {"columns": [{"name": "sepal_length", "type": "float"}, {"name": "species", "type": "string"}]},
    "rows": 150,
    "columns": 2,
    "source": {"uri": "s3://raw/iris.csv", "format": "Csv"},
    "artifacts": {"train": "s3://b/iris/train.parquet", "test": "s3://b/iris/test.parquet"},
    "profile_uri": "s3://b/iris/profile.json",
}


async def test_register_and_read_by_number_and_digest(api, namespace):
    digest = new_digest()
    created = await api.post(versions_url(namespace), json={"digest": digest, **FULL})
    assert created.status_code == 201, created.text
    version = created.json()
    assert version["version"] == 1
    assert version["digest"] == digest
    assert version["schema"] == FULL["schema"]
    assert version["artifacts"] == FULL["artifacts"]
    assert version["rows"] == 150
    assert version["parents"] == []
    assert version["created_by"] == "bootstrap-admin"
    second = await register(api, namespace, rows=3_000_000_000)
    assert second["version"] == 2
    assert second["rows"] == 3_000_000_000
    by_number = await api.get(f"{versions_url(namespace)}/1")
    by_digest = await api.get(f"{versions_url(namespace)}/{digest}")
    assert by_number.status_code == by_digest.status_code == 200
    assert by_number.json() == by_digest.json() == version


async def test_same_digest_returns_the_version_and_conflicts_on_other_content(api, namespace):
    digest = new_digest()
    first = await api.post(versions_url(namespace), json={"digest": digest, **FULL})
    assert first.status_code == 201
    again = await api.post(versions_url(namespace), json={"digest": digest, **FULL})
    assert again.status_code == 200
    assert again.json() == first.json()
    elsewhere = await api.post(versions_url(namespace), json={"digest": digest, **FULL, "source": {"uri": "gs://x"}})
    assert elsewhere.status_code == 200
    assert elsewhere.json()["source"] == FULL["source"]
    only_digest = await api.post(versions_url(namespace), json={"digest": digest})
    assert only_digest.status_code == 200
    changed = await api.post(versions_url(namespace), json={"digest": digest, **FULL, "rows": 151})
    assert changed.status_code == 409
    assert changed.json()["detail"] == (
        f"dataset 'iris' already has digest {digest} as version 1 with a different rows; versions are immutable"
    )
    assert changed.json()["details"] == {"fields": ["rows"]}
    versions = (await api.get(versions_url(namespace))).json()["items"]
    assert [v["version"] for v in versions] == [1]


async def test_parents_in_any_dataset_of_the_namespace(api, namespace):
    raw = await register(api, namespace, name="raw-events")
    clean = await register(api, namespace, name="clean-events", parents=[raw["digest"]])
    assert clean["parents"] == [raw["digest"]]
    joined = await register(api, namespace, name="features", parents=[raw["digest"], clean["digest"], raw["digest"]])
    assert joined["parents"] == sorted([raw["digest"], clean["digest"]])
    unknown = new_digest()
    missing = await api.post(versions_url(namespace, "features"), json={"digest": new_digest(), "parents": [unknown]})
    assert missing.status_code == 404
    assert unknown in missing.json()["detail"]
    other_namespace = await api.post(
        versions_url(f"{namespace}-b", "features"), json={"digest": new_digest(), "parents": [raw["digest"]]}
    )
    assert other_namespace.status_code == 404
    digest = new_digest()
    itself = await api.post(versions_url(namespace, "features"), json={"digest": digest, "parents": [digest]})
    assert itself.status_code == 400
    assert "cannot be its own parent" in itself.json()["detail"]
    reparented = await api.post(
        versions_url(namespace, "clean-events"), json={"digest": clean["digest"], "parents": []}
    )
    assert reparented.status_code == 409


async def test_version_pages_newest_first(api, namespace):
    for _ in range(5):
        await register(api, namespace)
    seen, token = [], None
    while True:
        params = {"page_size": 2} | ({"page_token": token} if token else {})
        page = (await api.get(versions_url(namespace), params=params)).json()
        seen.append([v["version"] for v in page["items"]])
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == [[5, 4], [3, 2], [1]]


async def test_list_datasets_with_their_latest_version(api, namespace):
    for name in ("e", "a", "c", "b", "d"):
        await register(api, namespace, name=name)
    latest_b = await register(api, namespace, name="b", rows=10)
    url = f"/api/v1/namespaces/{namespace}/datasets"
    first = (await api.get(url, params={"page_size": 2})).json()
    assert [d["name"] for d in first["items"]] == ["a", "b"]
    assert first["items"][1]["versions"] == 2
    assert first["items"][1]["latest"] == latest_b
    rest = (await api.get(url, params={"page_size": 10, "page_token": first["next_page_token"]})).json()
    assert [d["name"] for d in rest["items"]] == ["c", "d", "e"]
    assert rest["next_page_token"] is None
    assert (await api.get(f"/api/v1/namespaces/{namespace}-empty/datasets")).json() == {
        "items": [],
        "next_page_token": None,
    }


async def test_concurrent_registrations_get_distinct_numbers(api, namespace):
    digests = [new_digest() for _ in range(8)]
    responses = await asyncio.gather(*(api.post(versions_url(namespace), json={"digest": d}) for d in digests))
    assert [r.status_code for r in responses] == [201] * 8
    assert sorted(r.json()["version"] for r in responses) == list(range(1, 9))
    same = new_digest()
    responses = await asyncio.gather(*(api.post(versions_url(namespace), json={"digest": same}) for _ in range(4)))
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert {r.json()["version"] for r in responses} == {9}


async def test_not_found_and_invalid_requests(api, namespace):
    await register(api, namespace)
    assert (await api.get(f"{versions_url(namespace)}/7")).status_code == 404
    assert (await api.get(f"{versions_url(namespace)}/{new_digest()}")).status_code == 404
    assert (await api.get(f"{versions_url(namespace)}/999999999999")).status_code == 404
    unknown = await api.get(versions_url(namespace, "nope"))
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == f"dataset 'nope' not found in namespace {namespace!r}"
    assert (await api.get(f"{versions_url(namespace)}/latest")).status_code == 422
    assert (await api.get(versions_url(namespace), params={"page_token": "garbage"})).status_code == 400
    assert (await api.get(versions_url(namespace), params={"page_token": "WyJhIl0"})).status_code == 400
    bad_digest = await api.post(versions_url(namespace), json={"digest": "md5:abc"})
    assert bad_digest.status_code == 422
    assert bad_digest.json()["detail"][0]["loc"] == ["body", "digest"]
    assert (await api.post(versions_url(namespace, "Bad_Name"), json={"digest": new_digest()})).status_code == 422
    unknown_field = await api.post(versions_url(namespace), json={"digest": new_digest(), "colour": "red"})
    assert unknown_field.status_code == 422
    negative = await api.post(versions_url(namespace), json={"digest": new_digest(), "rows": -1})
    assert negative.status_code == 422


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ('{"digest": "DIGEST", "schema": {"mean": NaN}}', 400),
        ('{"digest": "DIGEST", "source": {"weights": [1, Infinity]}}', 400),
        ('{"digest": "DIGEST", "source": {"uri": "a\\u0000b"}}', 422),
        ('{"digest": "DIGEST", "profile_uri": "s3://a\\u0000"}', 422),
        ('{"digest": "DIGEST", "source": {"uri": "\\ud800"}}', 422),
    ],
)
async def test_values_the_database_cannot_store_are_rejected(api, namespace, body, status):
    content = body.replace("DIGEST", new_digest())
    response = await api.post(versions_url(namespace), content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text


async def test_viewers_read_editors_write_anonymous_is_401(api, namespace, client_as, anonymous_client):
    version = await register(api, namespace)
    viewer = await client_as("vera", {namespace: "viewer"})
    editor = await client_as("eddie", {namespace: "editor"})
    outsider = await client_as("otto", {"elsewhere": "editor"})
    assert (await viewer.get(f"{versions_url(namespace)}/1")).json() == version
    assert (await viewer.get(f"/api/v1/namespaces/{namespace}/datasets")).status_code == 200
    denied = await viewer.post(versions_url(namespace), json={"digest": new_digest()})
    assert denied.status_code == 403
    assert denied.json()["detail"] == f"vera needs the editor role in namespace {namespace!r}"
    assert (await outsider.get(versions_url(namespace))).status_code == 403
    assert (await editor.post(versions_url(namespace), json={"digest": new_digest()})).status_code == 201
    assert (await anonymous_client.post(versions_url(namespace), json={"digest": new_digest()})).status_code == 401
    assert (await anonymous_client.get(versions_url(namespace))).status_code == 401


async def test_registrations_are_audited(api, namespace):
    first = await register(api, namespace)
    await register(api, namespace, digest=first["digest"])
    second = await register(api, namespace, parents=[first["digest"]])
    entries = (await api.get(f"/api/v1/namespaces/{namespace}/audit")).json()["items"]
    assert [(e["action"], e["object_id"]) for e in entries] == [
        ("dataset_version.create", "iris:2"),
        ("dataset_version.create", "iris:1"),
    ]
    assert entries[0]["after"] == {"digest": second["digest"], "version": 2, "parents": [first["digest"]]}
    assert entries[0]["principal"] == "bootstrap-admin"
