"""The SDK calls the jobs use, against a control plane over real HTTP (SQLite and PostgreSQL): artifact
download, dataset version registration and lookup, and finishing a run with its lineage."""

from __future__ import annotations

import hashlib

import pytest

from modelplane.sdk import ClientConfig, ModelPlaneClient, ModelPlaneError, start_run
from modelplane.sdk.client import artifact_sha256

pytestmark = pytest.mark.db

ADMIN_TOKEN = "test-admin-token"
DIGEST = "sha256:" + "d" * 64


@pytest.fixture
def client(live_api, namespace):
    config = ClientConfig(api_url=live_api.url, token=ADMIN_TOKEN, namespace=namespace, max_retries=1)
    with ModelPlaneClient(config) as client:
        yield client


def test_download_by_sha256_or_uri_verifies_and_lands_atomically(client, tmp_path):
    source = tmp_path / "model.onnx"
    source.write_bytes(bytes(range(256)) * 5000)
    ref = client.upload_artifact(source)
    by_digest = client.download_artifact(ref["sha256"], tmp_path / "a" / "model.onnx")
    by_uri = client.download_artifact(ref["uri"], tmp_path / "b" / "model.onnx")
    assert by_digest.read_bytes() == by_uri.read_bytes() == source.read_bytes()
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["model.onnx"]  # no partial file left
    missing = "e" * 64
    with pytest.raises(ModelPlaneError) as caught:
        client.download_artifact(missing, tmp_path / "c" / "x")
    assert caught.value.status == 404
    assert not (tmp_path / "c" / "x").exists()
    assert list((tmp_path / "c").iterdir()) == []


@pytest.mark.unit
def test_artifact_references():
    hexdigest = hashlib.sha256(b"x").hexdigest()
    assert artifact_sha256(hexdigest) == artifact_sha256(f"sha256:{hexdigest}") == hexdigest
    assert artifact_sha256(f"s3://bucket/ml/sha256/{hexdigest[:2]}/{hexdigest}") == hexdigest
    assert artifact_sha256(f"file:///var/artifacts/ml/sha256/{hexdigest[:2]}/{hexdigest}") == hexdigest
    with pytest.raises(ValueError, match="neither"):
        artifact_sha256("s3://bucket/model.onnx")


def test_register_and_get_dataset_versions(client):
    body = {"schema": {"columns": []}, "rows": 10, "columns": 2, "artifacts": {"train": "s3://b/t"}}
    first = client.register_dataset_version("credit", digest=DIGEST, source={"uid": "u", "generation": 1}, **body)
    again = client.register_dataset_version("credit", digest=DIGEST, source={"uid": "u", "generation": 2}, **body)
    assert first["version"] == again["version"] == 1
    second = client.register_dataset_version("credit", digest="sha256:" + "f" * 64, rows=11)
    assert second["version"] == 2
    assert client.get_dataset_version("credit", DIGEST)["rows"] == 10
    assert client.get_dataset_version("credit", 1)["digest"] == DIGEST
    assert client.get_dataset_version("credit")["version"] == 2  # the latest
    with pytest.raises(ModelPlaneError) as caught:
        client.register_dataset_version("credit", digest=DIGEST, **{**body, "rows": 12})
    assert caught.value.status == 409
    with pytest.raises(ModelPlaneError) as caught:
        client.get_dataset_version("nothing")
    assert caught.value.status == 404


def test_finishing_a_run_records_its_lineage(client):
    run = start_run("exp", client=client, flush_interval=0.05)
    run.log_metric("accuracy", 0.9)
    run.finish(
        "Succeeded",
        artifact_uri="s3://b/model.onnx",
        dataset_digest=DIGEST,
        packages={"numpy": "2.0"},
        seed=7,
        hardware={"node": "n1"},
    )
    stored = client.get_run(run.run_id)
    assert stored["status"] == "Succeeded"
    assert stored["artifact_uri"] == "s3://b/model.onnx"
    assert (stored["dataset_digest"], stored["packages"], stored["seed"]) == (DIGEST, {"numpy": "2.0"}, 7)
    assert stored["hardware"] == {"node": "n1"}
    assert stored["metrics"]["accuracy"]["value"] == 0.9


@pytest.mark.unit
def test_a_download_whose_bytes_do_not_match_is_refused(tmp_path):
    import httpx

    wanted = hashlib.sha256(b"the model").hexdigest()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"something else"))
    config = ClientConfig(api_url="http://cp", namespace="ml")
    with (
        ModelPlaneClient(config, transport=transport) as client,
        pytest.raises(ModelPlaneError, match="arrived with content digest") as caught,
    ):
        client.download_artifact(wanted, tmp_path / "model.onnx")
    assert caught.value.code == "DigestMismatch"
    assert list(tmp_path.iterdir()) == []
