"""The operator's control-plane client against the real control plane over HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from harness.control_plane import ADMIN_TOKEN, LiveApi
from harness.ports import free_port
from modelplane.operator.config import OperatorConfig
from modelplane.operator.controlplane import ControlPlaneClient, ControlPlaneError, ControlPlaneUnavailable
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
