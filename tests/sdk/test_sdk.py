"""The SDK against a control plane served by uvicorn over real HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import threading
import uuid

import pytest

from modelplane.sdk import ClientConfig, ModelPlaneClient, ModelPlaneError, start_run

pytestmark = pytest.mark.db

ADMIN_TOKEN = "test-admin-token"


@pytest.fixture
def client(live_api, namespace):
    config = ClientConfig(api_url=live_api.url, token=ADMIN_TOKEN, namespace=namespace)
    with ModelPlaneClient(config) as client:
        yield client


def test_config_reads_the_operator_environment(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("mpt_from_secret\n")
    config = ClientConfig.from_env(
        {
            "MODELPLANE_API_URL": "http://cp:8080",
            "MODELPLANE_TOKEN_FILE": str(token_file),
            "MODELPLANE_NAMESPACE": "ml",
            "MODELPLANE_RUN_ID": "a" * 32,
            "MODELPLANE_EXPERIMENT": "iris-sweep",
        }
    )
    assert config == ClientConfig(
        api_url="http://cp:8080", token="mpt_from_secret", namespace="ml", run_id="a" * 32, experiment="iris-sweep"
    )


def test_hot_loop_logging_is_buffered_and_complete(client):
    with start_run("training", client=client, params={"lr": 0.01}, flush_interval=0.05) as run:
        for step in range(3000):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metrics({"accuracy": 0.93, "f1": 0.9}, step=3000)
        run.set_tag("framework", "sklearn")
        run_id = run.run_id
    stored = client.get_run(run_id)
    assert stored["status"] == "Succeeded"
    assert stored["params"] == {"lr": "0.01"}
    assert stored["tags"] == {"framework": "sklearn"}
    assert stored["metrics"]["loss"]["step"] == 2999
    assert stored["metrics"]["accuracy"]["value"] == 0.93
    history = client.request("GET", f"/api/v1/runs/{run_id}/metrics/loss", params={"page_size": 1000})
    assert len(history["items"]) == 1000
    assert history["next_page_token"]


def test_failed_block_marks_the_run_failed(client):
    run = start_run("training", client=client)

    def train() -> None:
        with run:
            run.log_metric("loss", 1.0)
            raise RuntimeError("diverged")

    with pytest.raises(RuntimeError, match="diverged"):
        train()
    assert client.get_run(run.run_id)["status"] == "Failed"


def test_concurrent_loggers_lose_and_duplicate_nothing(client):
    run = client.create_run("concurrent")
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            for batch in range(5):
                points = [
                    {"key": f"w{index}", "value": float(i), "step": batch * 200 + i, "timestamp": 1_000 + i}
                    for i in range(200)
                ]
                client.log_batch(run["run_id"], metrics=points)
                client.log_batch(run["run_id"], metrics=points)  # a client retry: stored once
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for index in range(8):
        points = list(_history(client, run["run_id"], f"w{index}"))
        assert len(points) == 1000
        assert len({p["step"] for p in points}) == 1000


def _history(client, run_id, key):
    token = None
    while True:
        page = client.request(
            "GET",
            f"/api/v1/runs/{run_id}/metrics/{key}",
            params={"page_size": 1000, "page_token": token} if token else {"page_size": 1000},
        )
        yield from page["items"]
        token = page["next_page_token"]
        if not token:
            return


def test_errors_carry_status_code_and_message(client):
    run = client.create_run("e", params=[{"key": "depth", "value": "3"}])
    with pytest.raises(ModelPlaneError) as caught:
        client.log_batch(run["run_id"], params={"depth": 4})
    assert caught.value.status == 409
    assert caught.value.code == "Conflict"
    assert "depth" in caught.value.message


def test_resuming_the_operator_run_id_is_idempotent(client):
    run_id = uuid.uuid4().hex
    first = start_run("exp", run_id=run_id, client=client)
    first.finish()
    again = client.create_run("exp", run_id=run_id)
    assert again["status"] == "Succeeded"


def test_search_iterates_every_page(client):
    for i in range(7):
        client.create_run("paged", name=f"r{i}")
    names = [r["name"] for r in client.search_runs(experiment="paged", page_size=3, view="info")]
    assert names == [f"r{i}" for i in reversed(range(7))]


def test_upload_artifact_streams_and_verifies(client, tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x07" * 300_000)
    ref = client.upload_artifact(path)
    assert ref["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert ref["size"] == 600_000


def test_unreachable_server_raises_after_bounded_retries():
    config = ClientConfig(api_url="http://127.0.0.1:9", max_retries=1, timeout_seconds=1)
    with ModelPlaneClient(config) as client, pytest.raises(Exception, match="Connect"):
        client.get_run("a" * 32)


def test_register_a_model_version_and_move_an_alias(client, tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"onnx-bytes" * 1000)
    run = client.create_run("train")
    ref = client.upload_artifact(path)
    version = client.register_model_version(
        "credit", artifact_uri=ref["uri"], sha256=ref["sha256"], size_bytes=ref["size"], run_id=run["run_id"]
    )
    again = client.register_model_version(
        "credit", artifact_uri=ref["uri"], sha256=ref["sha256"], size_bytes=ref["size"]
    )
    assert again["version"] == version["version"]
    client.set_alias("credit", "champion", version["version"])
    model = client.request("GET", f"/api/v1/namespaces/{client.namespace}/models/credit")
    assert model["aliases"] == {"champion": version["version"]}
