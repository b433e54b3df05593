"""The model registry through the HTTP API, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import uuid

import pytest

pytestmark = pytest.mark.db


def sha() -> str:
    return hashlib.sha256(uuid.uuid4().bytes).hexdigest()


def models_url(namespace, *rest):
    return "/".join([f"/api/v1/namespaces/{namespace}/models", *map(str, rest)])


async def register(api, namespace, model="churn", **body):
    payload = {"artifact_uri": f"s3://models/{model}/model.onnx", "sha256": sha(), "size_bytes": 1024, **body}
    response = await api.post(models_url(namespace, model, "versions"), json=payload)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def create_run(api, namespace):
    response = await api.post(f"/api/v1/namespaces/{namespace}/runs", json={"experiment": "churn"})
    assert response.status_code == 201, response.text
    return response.json()["run_id"]


async def test_create_model_is_idempotent_by_name(api, namespace):
    created = await api.post(models_url(namespace), json={"name": "churn", "description": "Who leaves"})
    assert created.status_code == 201, created.text
    model = created.json()
    assert model["name"] == "churn"
    assert model["description"] == "Who leaves"
    assert model["latest_version"] is None
    assert model["aliases"] == {}
    again = await api.post(models_url(namespace), json={"name": "churn", "description": "other words"})
    assert again.status_code == 200
    assert again.json()["description"] == "Who leaves"
    assert (await api.get(models_url(namespace, "churn"))).json() == model


async def test_register_versions_creates_the_model_and_numbers_them(api, namespace):
    run_id = await create_run(api, namespace)
    digest = "sha256:" + sha()
    first = await register(
        api,
        namespace,
        size_bytes=5 * 2**30,
        signature={"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]},
        metrics={"accuracy": 0.93},
        run_id=run_id,
        dataset_digest=digest,
        source="churn-7f3a",
    )
    assert first["version"] == 1
    assert first["model"] == "churn"
    assert first["format"] == "Onnx"
    assert first["size_bytes"] == 5 * 2**30
    assert first["run_id"] == run_id
    assert first["dataset_digest"] == digest
    assert first["metrics"] == {"accuracy": 0.93}
    assert first["tags"] == {}
    assert first["aliases"] == []
    second = await register(api, namespace)
    assert second["version"] == 2
    assert second["run_id"] is None
    assert (await api.get(models_url(namespace, "churn", "versions", 1))).json() == first
    model = (await api.get(models_url(namespace, "churn"))).json()
    assert model["latest_version"] == 2


async def test_same_sha256_returns_the_version_and_conflicts_on_other_content(api, namespace):
    run_id = await create_run(api, namespace)
    body = {"artifact_uri": "s3://m/a.onnx", "sha256": sha(), "size_bytes": 10, "run_id": run_id}
    first = await api.post(models_url(namespace, "churn", "versions"), json=body)
    assert first.status_code == 201
    again = await api.post(models_url(namespace, "churn", "versions"), json=body)
    assert again.status_code == 200
    assert again.json() == first.json()
    mirrored = await api.post(
        models_url(namespace, "churn", "versions"), json={**body, "artifact_uri": "https://mirror/a.onnx"}
    )
    assert mirrored.status_code == 200
    assert mirrored.json()["artifact_uri"] == "s3://m/a.onnx"
    resized = await api.post(models_url(namespace, "churn", "versions"), json={**body, "size_bytes": 11})
    assert resized.status_code == 409
    assert resized.json()["detail"] == (
        f"model 'churn' already has sha256 {body['sha256']} as version 1 with a different size_bytes; "
        "versions are immutable"
    )
    other_run = await create_run(api, namespace)
    relineaged = await api.post(models_url(namespace, "churn", "versions"), json={**body, "run_id": other_run})
    assert relineaged.status_code == 409
    assert relineaged.json()["details"] == {"fields": ["run_id"]}
    elsewhere = await api.post(models_url(namespace, "fraud", "versions"), json={**body, "run_id": None})
    assert elsewhere.status_code == 201
    assert elsewhere.json()["version"] == 1


async def test_run_must_exist_in_the_namespace(api, namespace):
    missing = uuid.uuid4().hex
    response = await api.post(
        models_url(namespace, "churn", "versions"),
        json={"artifact_uri": "s3://m/a", "sha256": sha(), "size_bytes": 1, "run_id": missing},
    )
    assert response.status_code == 404
    assert response.json()["detail"] == f"run {missing} not found in namespace {namespace!r}"
    foreign = await create_run(api, f"{namespace}-b")
    response = await api.post(
        models_url(namespace, "churn", "versions"),
        json={"artifact_uri": "s3://m/a", "sha256": sha(), "size_bytes": 1, "run_id": foreign},
    )
    assert response.status_code == 404
    assert (await api.get(models_url(namespace, "churn"))).status_code == 404


async def test_concurrent_registrations_get_distinct_numbers(api, namespace):
    bodies = [{"artifact_uri": "s3://m/a", "sha256": sha(), "size_bytes": 1} for _ in range(8)]
    responses = await asyncio.gather(*(api.post(models_url(namespace, "churn", "versions"), json=b) for b in bodies))
    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses]
    assert sorted(r.json()["version"] for r in responses) == list(range(1, 9))
    same = {"artifact_uri": "s3://m/a", "sha256": sha(), "size_bytes": 1}
    responses = await asyncio.gather(*(api.post(models_url(namespace, "new", "versions"), json=same) for _ in range(4)))
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert {r.json()["version"] for r in responses} == {1}


async def test_pages_of_models_and_versions(api, namespace):
    for name in ("d", "a", "c", "b", "e"):
        await register(api, namespace, model=name)
    for _ in range(4):
        await register(api, namespace, model="a")
    first = (await api.get(models_url(namespace), params={"page_size": 2})).json()
    assert [m["name"] for m in first["items"]] == ["a", "b"]
    assert first["items"][0]["latest_version"] == 5
    rest = (await api.get(models_url(namespace), params={"page_token": first["next_page_token"]})).json()
    assert [m["name"] for m in rest["items"]] == ["c", "d", "e"]
    assert rest["next_page_token"] is None
    seen, token = [], None
    while True:
        params = {"page_size": 2} | ({"page_token": token} if token else {})
        page = (await api.get(models_url(namespace, "a", "versions"), params=params)).json()
        seen.append([v["version"] for v in page["items"]])
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == [[5, 4], [3, 2], [1]]
    version_token = "WzNd"  # [3]: a token of the versions list, not of the models list
    assert (await api.get(models_url(namespace), params={"page_token": version_token})).status_code == 400
    models_token = first["next_page_token"]
    assert (
        await api.get(models_url(namespace, "a", "versions"), params={"page_token": models_token})
    ).status_code == 400


async def test_aliases_move_and_resolve(api, namespace):
    one, two = await register(api, namespace), await register(api, namespace)
    put = await api.put(models_url(namespace, "churn", "aliases", "champion"), json={"version": 1})
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 1
    assert (await api.get(models_url(namespace, "churn", "aliases", "champion"))).json()["sha256"] == one["sha256"]
    await api.put(models_url(namespace, "churn", "aliases", "challenger"), json={"version": 2})
    moved = await api.put(models_url(namespace, "churn", "aliases", "champion"), json={"version": 2})
    assert moved.json()["version"] == 2
    resolved = (await api.get(models_url(namespace, "churn", "aliases", "champion"))).json()
    assert resolved["sha256"] == two["sha256"]
    assert resolved["aliases"] == ["challenger", "champion"]
    assert (await api.get(models_url(namespace, "churn"))).json()["aliases"] == {"challenger": 2, "champion": 2}
    assert (await api.get(models_url(namespace, "churn", "versions", 1))).json()["aliases"] == []
    deleted = await api.delete(models_url(namespace, "churn", "aliases", "challenger"))
    assert deleted.status_code == 204
    assert (await api.get(models_url(namespace, "churn", "aliases", "challenger"))).status_code == 404
    assert (await api.delete(models_url(namespace, "churn", "aliases", "challenger"))).status_code == 404
    assert (await api.get(models_url(namespace, "churn"))).json()["aliases"] == {"champion": 2}


async def test_alias_errors(api, namespace):
    await register(api, namespace)
    unknown_version = await api.put(models_url(namespace, "churn", "aliases", "champion"), json={"version": 9})
    assert unknown_version.status_code == 404
    assert unknown_version.json()["detail"] == f"model 'churn' has no version 9 in namespace {namespace!r}"
    unknown_model = await api.put(models_url(namespace, "nope", "aliases", "champion"), json={"version": 1})
    assert unknown_model.status_code == 404
    numeric = await api.put(models_url(namespace, "churn", "aliases", "2"), json={"version": 1})
    assert numeric.status_code == 400
    assert "would read as a version" in numeric.json()["detail"]
    assert (
        await api.put(models_url(namespace, "churn", "aliases", "Champion"), json={"version": 1})
    ).status_code == 422
    too_long = "a" * 64
    assert (await api.put(models_url(namespace, "churn", "aliases", too_long), json={"version": 1})).status_code == 422
    assert (await api.put(models_url(namespace, "churn", "aliases", "x"), json={"version": 0})).status_code == 422


@pytest.mark.parametrize("moves", [12])
async def test_concurrent_alias_moves_leave_exactly_one_target(api, namespace, moves):
    for _ in range(4):
        await register(api, namespace)
    targets = [1 + i % 4 for i in range(moves)]
    responses = await asyncio.gather(
        *(api.put(models_url(namespace, "churn", "aliases", "champion"), json={"version": v}) for v in targets)
    )
    assert [r.status_code for r in responses] == [200] * moves, [r.text for r in responses]
    aliases = (await api.get(models_url(namespace, "churn"))).json()["aliases"]
    assert list(aliases) == ["champion"]
    pointed = [
        v
        for v in range(1, 5)
        if "champion" in (await api.get(models_url(namespace, "churn", "versions", v))).json()["aliases"]
    ]
    assert pointed == [aliases["champion"]]
    # The moves were serialized: each one's "before" is the previous one's "after", the last is the target.
    entries = (await api.get(f"/api/v1/namespaces/{namespace}/audit", params={"page_size": 1000})).json()["items"]
    chain = [e for e in reversed(entries) if e["action"] == "model_alias.set"]
    assert len(chain) == moves
    assert chain[0]["before"] is None
    assert all(later["before"] == earlier["after"] for earlier, later in itertools.pairwise(chain))
    assert chain[-1]["after"] == {"version": aliases["champion"]}


async def test_version_tags(api, namespace):
    await register(api, namespace)
    url = models_url(namespace, "churn", "versions", 1, "tags", "validated.by")
    put = await api.put(url, json={"value": "gate-job"})
    assert put.status_code == 200
    assert put.json() == {"model": "churn", "version": 1, "key": "validated.by", "value": "gate-job"}
    await api.put(url, json={"value": "gate-job-2"})
    await api.put(models_url(namespace, "churn", "versions", 1, "tags", "owner"), json={"value": "ml"})
    version = (await api.get(models_url(namespace, "churn", "versions", 1))).json()
    assert version["tags"] == {"owner": "ml", "validated.by": "gate-job-2"}
    assert (await api.delete(url)).status_code == 204
    assert (await api.delete(url)).status_code == 404
    assert (await api.get(models_url(namespace, "churn", "versions", 1))).json()["tags"] == {"owner": "ml"}
    assert (
        await api.put(models_url(namespace, "churn", "versions", 3, "tags", "k"), json={"value": "v"})
    ).status_code == 404
    assert (await api.put(url, json={"value": "x", "extra": 1})).status_code == 422


async def test_not_found_and_invalid_bodies(api, namespace):
    await register(api, namespace)
    assert (await api.get(models_url(namespace, "nope"))).status_code == 404
    assert (await api.get(models_url(namespace, "nope", "versions"))).status_code == 404
    assert (await api.get(models_url(namespace, "churn", "versions", 2))).status_code == 404
    assert (await api.get(models_url(namespace, "churn", "versions", 0))).status_code == 422
    assert (await api.get(models_url(namespace, "churn", "versions", "one"))).status_code == 422
    assert (await api.get(models_url(namespace, "churn", "aliases", "champion"))).status_code == 404
    url = models_url(namespace, "churn", "versions")
    bad_sha = await api.post(url, json={"artifact_uri": "s3://m", "sha256": "ABC", "size_bytes": 1})
    assert bad_sha.status_code == 422
    assert bad_sha.json()["detail"][0]["loc"] == ["body", "sha256"]
    bad_format = await api.post(
        url, json={"artifact_uri": "s3://m", "sha256": sha(), "size_bytes": 1, "format": "Pickle"}
    )
    assert bad_format.status_code == 422
    negative = await api.post(url, json={"artifact_uri": "s3://m", "sha256": sha(), "size_bytes": -1})
    assert negative.status_code == 422
    nan = await api.post(
        url,
        content=f'{{"artifact_uri": "s3://m", "sha256": "{sha()}", "size_bytes": 1, "metrics": {{"auc": NaN}}}}',
        headers={"Content-Type": "application/json"},
    )
    assert nan.status_code == 400
    assert nan.json()["detail"] == "metrics may not hold NaN or Infinity: JSON numbers are finite"
    assert (await api.post(models_url(namespace, "Bad_Name", "versions"), json={})).status_code == 422


async def test_viewers_read_editors_write_anonymous_is_401(api, namespace, client_as, anonymous_client):
    await register(api, namespace)
    viewer = await client_as("vera", {namespace: "viewer"})
    editor = await client_as("eddie", {namespace: "editor"})
    assert (await viewer.get(models_url(namespace, "churn"))).status_code == 200
    assert (await viewer.get(models_url(namespace, "churn", "versions", 1))).status_code == 200
    assert (await viewer.get(models_url(namespace))).status_code == 200
    writes = [
        ("post", models_url(namespace), {"name": "x"}),
        (
            "post",
            models_url(namespace, "churn", "versions"),
            {"artifact_uri": "s3://m", "sha256": sha(), "size_bytes": 1},
        ),
        ("put", models_url(namespace, "churn", "aliases", "champion"), {"version": 1}),
        ("put", models_url(namespace, "churn", "versions", 1, "tags", "k"), {"value": "v"}),
    ]
    for method, url, body in writes:
        denied = await viewer.request(method, url, json=body)
        assert denied.status_code == 403, (url, denied.text)
        assert (await anonymous_client.request(method, url, json=body)).status_code == 401
    assert (await viewer.delete(models_url(namespace, "churn", "aliases", "champion"))).status_code == 403
    moved = await editor.put(models_url(namespace, "churn", "aliases", "champion"), json={"version": 1})
    assert moved.status_code == 200
    assert (await anonymous_client.get(models_url(namespace, "churn"))).status_code == 401


async def test_writes_are_audited(api, namespace):
    await api.post(models_url(namespace), json={"name": "churn"})
    await register(api, namespace)
    await register(api, namespace, model="fraud")
    await api.put(models_url(namespace, "churn", "aliases", "champion"), json={"version": 1})
    await api.put(models_url(namespace, "churn", "versions", 1, "tags", "k"), json={"value": "v"})
    await api.delete(models_url(namespace, "churn", "versions", 1, "tags", "k"))
    await api.delete(models_url(namespace, "churn", "aliases", "champion"))
    entries = (await api.get(f"/api/v1/namespaces/{namespace}/audit")).json()["items"]
    assert [(e["action"], e["object_id"]) for e in reversed(entries)] == [
        ("model.create", "churn"),
        ("model_version.create", "churn:1"),
        ("model.create", "fraud"),
        ("model_version.create", "fraud:1"),
        ("model_alias.set", "churn@champion"),
        ("model_version_tag.set", "churn:1/k"),
        ("model_version_tag.delete", "churn:1/k"),
        ("model_alias.delete", "churn@champion"),
    ]
    assert entries[0]["before"] == {"version": 1}


async def test_versions_record_the_validation_jobs_lineage_and_optimized_artifact(api, namespace):
    optimized = {
        "uri": "s3://m/q.onnx",
        "sha256": sha(),
        "size_bytes": 300,
        "quantization": "Dynamic",
        "accuracy_delta": -0.004,
        "single_inference_microseconds": 41,
    }
    version = await register(
        api,
        namespace,
        source="churn-v3",
        training_run="churn-rf",
        optimized_artifact=optimized,
        single_inference_microseconds=95,
    )
    assert version["training_run"] == "churn-rf"
    assert version["optimized_artifact"] == optimized
    assert version["single_inference_microseconds"] == 95
    assert (await api.get(models_url(namespace, "churn", "versions", 1))).json() == version
    plain = await register(api, namespace)
    assert (plain["training_run"], plain["optimized_artifact"], plain["single_inference_microseconds"]) == (
        None,
        None,
        None,
    )
    url = models_url(namespace, "churn", "versions")
    body = {"artifact_uri": "s3://m", "sha256": sha(), "size_bytes": 1}
    bad = [
        {"optimized_artifact": {**optimized, "sha256": "XYZ"}},
        {"optimized_artifact": {**optimized, "quantization": "Int4"}},
        {"optimized_artifact": {**optimized, "extra": 1}},
        {"single_inference_microseconds": -1},
        {"training_run": "Not_A_Name"},
    ]
    for fields in bad:
        response = await api.post(url, json={**body, **fields})
        assert response.status_code == 422, (fields, response.text)
    nan = await api.post(
        url,
        content=(
            f'{{"artifact_uri": "s3://m", "sha256": "{sha()}", "size_bytes": 1, "optimized_artifact": '
            f'{{"uri": "s3://q", "sha256": "{sha()}", "size_bytes": 1, "quantization": "Dynamic", '
            '"accuracy_delta": NaN}}'
        ),
        headers={"Content-Type": "application/json"},
    )
    assert nan.status_code == 422
