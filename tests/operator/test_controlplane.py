"""The operator's control-plane client against the real control plane over HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from harness.control_plane import ADMIN_TOKEN, LiveApi
from harness.ports import free_port
from modelplane.operator.config import OperatorConfig
from modelplane.operator.controlplane import (
    ArtifactDeletionUnsupported,
    ControlPlaneClient,
    ControlPlaneError,
    ControlPlaneUnavailable,
)
from modelplane.operator.records import Run


def config(url: str, token: str | None = ADMIN_TOKEN) -> OperatorConfig:
    env = {"MODELPLANE_OPERATOR_API_URL": url}
    if token:
        env["MODELPLANE_OPERATOR_API_TOKEN"] = token
    return OperatorConfig.from_env(env)


@pytest.mark.db
async def test_dataset_versions_newest_first_and_by_digest(live_api: LiveApi):
    ns = f"ns-{uuid.uuid4().hex[:8]}"
    async with (
        ControlPlaneClient(config(live_api.url)) as client,
        httpx.AsyncClient(base_url=live_api.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as admin,
    ):
        assert await client.latest_dataset_version(ns, "iris") is None
        for digit in ("1", "2"):
            body = {"digest": "sha256:" + digit * 64, "rows": 10, "artifacts": {"train": f"s3://b/{digit}"}}
            response = await admin.post(f"/api/v1/namespaces/{ns}/datasets/iris/versions", json=body)
            assert response.status_code == 201, response.text
        latest = await client.latest_dataset_version(ns, "iris")
        first = await client.dataset_version(ns, "iris", "sha256:" + "1" * 64)
        missing = await client.dataset_version(ns, "iris", "sha256:" + "3" * 64)
    assert latest is not None
    assert (latest.version, latest.digest, latest.artifacts) == (2, "sha256:" + "2" * 64, {"train": "s3://b/2"})
    assert first is not None
    assert first.version == 1
    assert missing is None


@pytest.mark.db
async def test_runs_created_idempotently_read_and_finished(live_api: LiveApi):
    ns = f"ns-{uuid.uuid4().hex[:8]}"
    run_id = uuid.uuid4().hex
    async with ControlPlaneClient(config(live_api.url)) as client:
        assert await client.get_run(run_id) is None
        await client.fail_run(run_id)  # never created: nothing to fail
        created = await client.ensure_run(ns, {"run_id": run_id, "experiment": "sweep"})
        again = await client.ensure_run(ns, {"run_id": run_id, "experiment": "sweep"})
        await client.finish_run(run_id, "Succeeded", metrics={"f1": 0.8}, tags={"modelplane.best_trial": "2"})
        await client.finish_run(run_id, "Succeeded", metrics={"f1": 0.8}, tags={})  # final already: left as is
        await client.fail_run(run_id)  # final already: left as is
        run = await client.get_run(run_id)
    assert created.run_id == again.run_id == run_id
    assert run is not None
    assert (run.status, run.metric_values, run.tags["modelplane.best_trial"]) == ("Succeeded", {"f1": 0.8}, "2")


@pytest.mark.db
async def test_auth_failures_are_errors_and_outages_are_unavailable(live_api: LiveApi):
    async with ControlPlaneClient(config(live_api.url, token="wrong")) as client:
        with pytest.raises(ControlPlaneError) as denied:
            await client.get_run(uuid.uuid4().hex)
    assert denied.value.status == 401
    assert not isinstance(denied.value, ControlPlaneUnavailable)
    async with ControlPlaneClient(config(f"http://127.0.0.1:{free_port()}")) as client:
        with pytest.raises(ControlPlaneUnavailable, match="unreachable"):
            await client.latest_dataset_version("ns", "iris")


async def test_5xx_answers_are_unavailable():
    transport = httpx.MockTransport(lambda request: httpx.Response(503, json={"detail": "database unavailable"}))
    async with ControlPlaneClient(config("http://cp"), transport=transport) as client:
        with pytest.raises(ControlPlaneUnavailable, match="database unavailable") as outage:
            await client.get_run("a" * 32)
    assert outage.value.status == 503


def test_the_artifact_digest_comes_from_a_content_address_or_a_tag():
    digest = "ab" * 32
    by_uri = Run.model_validate(
        {"run_id": "r", "status": "Succeeded", "artifact_uri": f"s3://mp/ns/sha256/ab/{digest}"}
    )
    by_tag = Run.model_validate(
        {"run_id": "r", "status": "Succeeded", "artifact_uri": "s3://x/model.onnx", "tags": {"artifact_sha256": digest}}
    )
    unknown = Run.model_validate({"run_id": "r", "status": "Succeeded", "artifact_uri": "s3://x/model.onnx"})
    assert (by_uri.artifact_sha256, by_tag.artifact_sha256, unknown.artifact_sha256) == (digest, digest, None)


@pytest.mark.db
async def test_an_inference_services_traffic_is_recorded_once_per_change_and_ended(live_api: LiveApi):
    ns = f"ns-{uuid.uuid4().hex[:8]}"
    async with (
        ControlPlaneClient(config(live_api.url)) as client,
        httpx.AsyncClient(base_url=live_api.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as admin,
    ):
        for digit in ("1", "2"):
            body = {"artifact_uri": f"s3://mp/{digit}", "sha256": digit * 64, "size_bytes": 10}
            response = await admin.post(f"/api/v1/namespaces/{ns}/models/credit/versions", json=body)
            assert response.status_code == 201, response.text
        first = await client.set_traffic(ns, "credit", [{"model": "credit", "version": 1, "percent": 100}])
        same = await client.set_traffic(ns, "credit", [{"model": "credit", "version": 1, "percent": 100}])
        split = [{"model": "credit", "version": 1, "percent": 90}, {"model": "credit", "version": 2, "percent": 10}]
        moved = await client.set_traffic(ns, "credit", split)
        with pytest.raises(ControlPlaneError) as unknown:
            await client.set_traffic(ns, "credit", [{"model": "credit", "version": 9, "percent": 100}])
        await client.end_traffic(ns, "credit")
        await client.end_traffic(ns, "credit")  # nothing open any more: a no-op
        history = (await admin.get(f"/api/v1/namespaces/{ns}/services/credit/deployments")).json()["items"]
    assert (first, same, moved) == (True, False, True)
    assert unknown.value.status == 404
    assert sorted((d["version"], d["percent"]) for d in history) == [(1, 90), (1, 100), (2, 10)]
    assert all(d["ended_at"] is not None for d in history)


@pytest.mark.db
async def test_registered_versions_are_read_found_by_digest_and_aliased(live_api: LiveApi):
    ns = f"ns-{uuid.uuid4().hex[:8]}"
    async with (
        ControlPlaneClient(config(live_api.url)) as client,
        httpx.AsyncClient(base_url=live_api.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as admin,
    ):
        assert await client.get_model(ns, "iris") is None
        assert await client.find_model_version(ns, "iris", "1" * 64) is None
        for digit in ("1", "2"):
            body = {
                "artifact_uri": f"s3://mp/{digit}",
                "sha256": digit * 64,
                "size_bytes": 10 + int(digit),
                "metrics": {"accuracy": 0.9},
                "signature": {"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}], "outputs": []},
                "source": f"iris-v{digit}",
            }
            response = await admin.post(f"/api/v1/namespaces/{ns}/models/iris/versions", json=body)
            assert response.status_code == 201, response.text
        first = await client.get_model_version(ns, "iris", 1)
        missing = await client.get_model_version(ns, "iris", 9)
        found = await client.find_model_version(ns, "iris", "2" * 64)
        await client.set_model_alias(ns, "iris", "champion", 1)
        await client.set_model_alias(ns, "iris", "champion", 2)  # moves: one holder
        await client.set_model_alias(ns, "iris", "staging", 1)
        aliased = await client.get_model(ns, "iris")
        with pytest.raises(ControlPlaneError) as no_version:
            await client.set_model_alias(ns, "iris", "beta", 7)
        removed = await client.delete_model_alias(ns, "iris", "staging")
        again = await client.delete_model_alias(ns, "iris", "staging")
        after = await client.get_model(ns, "iris")
    assert first is not None
    assert (first.version, first.sha256, first.size_bytes, first.metrics) == (1, "1" * 64, 11, {"accuracy": 0.9})
    assert first.signature["inputs"][0]["name"] == "x"
    assert missing is None
    assert found is not None
    assert (found.version, found.artifact_uri, found.source) == (2, "s3://mp/2", "iris-v2")
    assert aliased is not None
    assert aliased.aliases == {"champion": 2, "staging": 1}
    assert (aliased.aliases_of(2), aliased.aliases_of(1), aliased.latest_version) == (["champion"], ["staging"], 2)
    assert no_version.value.status == 404
    assert (removed, again) == (True, False)
    assert after is not None
    assert after.aliases == {"champion": 2}


async def test_artifact_deletion_answers_map_to_deleted_gone_unsupported_and_unavailable():
    answers = {"a" * 64: 204, "b" * 64: 404, "c" * 64: 405, "d" * 64: 503}
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        return httpx.Response(answers[request.url.path.rsplit("/", 1)[-1]], json={"detail": "x"})

    async with ControlPlaneClient(config("http://cp"), transport=httpx.MockTransport(handler)) as client:
        deleted = await client.delete_artifact("ml", "a" * 64)
        gone = await client.delete_artifact("ml", "b" * 64)
        with pytest.raises(ArtifactDeletionUnsupported, match="cannot delete artifacts"):
            await client.delete_artifact("ml", "c" * 64)
        with pytest.raises(ControlPlaneUnavailable):
            await client.delete_artifact("ml", "d" * 64)
    assert (deleted, gone) == (True, False)
    assert seen[0] == ("DELETE", f"/api/v1/namespaces/ml/artifacts/{'a' * 64}")


@pytest.mark.db
async def test_artifacts_are_deleted_with_an_editor_token_and_a_second_delete_finds_them_gone(live_api: LiveApi):
    ns = f"ns-{uuid.uuid4().hex[:8]}"
    content = b"an onnx model " * 64
    async with httpx.AsyncClient(base_url=live_api.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as admin:
        uploaded = await admin.post(f"/api/v1/namespaces/{ns}/artifacts", content=content)
        assert uploaded.status_code == 201, uploaded.text
        sha256 = uploaded.json()["sha256"]
        tokens = {}
        for role in ("editor", "viewer"):
            issued = await admin.post("/api/v1/tokens", json={"principal": f"operator-{role}", "roles": {ns: role}})
            assert issued.status_code == 201, issued.text
            tokens[role] = issued.json()["token"]
        async with ControlPlaneClient(config(live_api.url, token=tokens["viewer"])) as viewer:
            with pytest.raises(ControlPlaneError) as denied:
                await viewer.delete_artifact(ns, sha256)
        kept = await admin.get(f"/api/v1/namespaces/{ns}/artifacts/{sha256}")
        async with ControlPlaneClient(config(live_api.url, token=tokens["editor"])) as client:
            deleted = await client.delete_artifact(ns, sha256)
            gone = await client.delete_artifact(ns, sha256)  # a retried pass: already gone is not an error
        after = await admin.get(f"/api/v1/namespaces/{ns}/artifacts/{sha256}")
    assert denied.value.status == 403
    assert not isinstance(denied.value, ControlPlaneUnavailable | ArtifactDeletionUnsupported)
    assert kept.content == content
    assert (deleted, gone) == (True, False)
    assert after.status_code == 404
