"""Model loading: digests verified before loading, failures visible as not-ready reasons, S3 and the cache."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import minio
import pytest

from modelplane.serving.artifacts import cache_path, read_verified_artifact
from modelplane.serving.config import S3Config
from modelplane.serving.errors import ArtifactError

from .conftest import Models, serve

WRONG = "0" * 64


def test_sha256_mismatch_makes_the_server_not_ready_with_the_reason(
    models: Models, caplog: pytest.LogCaptureFixture
) -> None:
    config = {"models": [models.iris.model("good"), {**models.iris.model("bad"), "sha256": f"sha256:{WRONG}"}]}
    with (
        caplog.at_level(logging.INFO, logger="modelplane.serving"),
        serve(config) as running,
        running.client() as client,
    ):
        ready = client.get("/v2/health/ready")
        metadata = client.get("/v2/models/bad")
        model_ready = client.get("/v2/models/bad/ready")
        index = client.post("/v2/repository/index").json()
        infer = client.post(
            "/v2/models/bad/infer",
            json={"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [1] * 4}]},
        )
        good = client.get("/v2/models/good/ready")
        metrics = client.get("/metrics").text
    reason = f"sha256 mismatch for {models.iris.path}: expected {WRONG}, the artifact has {models.iris.sha256}"
    assert ready.status_code == 503
    assert {"name": "bad", "version": "1", "state": "UNAVAILABLE", "reason": reason} in ready.json()["models"]
    assert metadata.status_code == 503
    assert metadata.json() == {"error": f"model 'bad' version '1' is not ready: {reason}"}
    assert model_ready.status_code == 503
    assert reason in model_ready.json()["error"]
    assert {"name": "bad", "version": "1", "state": "UNAVAILABLE", "reason": reason} in index
    assert infer.status_code == 503
    assert reason in infer.json()["error"]
    assert good.status_code == 200
    assert "modelplane_serving_models_loaded 1.0" in metrics
    assert 'modelplane_serving_model_ready{model="bad",version="1"} 0.0' in metrics
    assert f"Failed to load model 'bad' version '1': {reason}" in caplog.messages


def failure_reason(config_model: dict[str, Any]) -> str:
    with serve({"models": [config_model]}) as running, running.client() as client:
        response = client.get("/v2/health/ready")
    assert response.status_code == 503
    (model,) = response.json()["models"]
    assert model["state"] == "UNAVAILABLE"
    reason: str = model["reason"]
    return reason


def test_missing_artifact(tmp_path: Path) -> None:
    reason = failure_reason({"name": "m", "uri": str(tmp_path / "nope.onnx"), "sha256": WRONG})
    assert reason == f"artifact {tmp_path / 'nope.onnx'} not found"


def test_artifact_that_is_not_onnx(tmp_path: Path) -> None:
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"not a model")
    reason = failure_reason(
        {"name": "m", "uri": f"file://{path}", "sha256": hashlib.sha256(b"not a model").hexdigest()}
    )
    assert reason.startswith("ONNX Runtime cannot load the model:")


def test_model_with_outputs_the_protocol_cannot_carry(models: Models) -> None:
    reason = failure_reason(models.zipmap.model("zipmap"))
    assert "has type seq(map(int64,tensor(float)))" in reason
    assert "zipmap disabled" in reason


def test_unavailable_execution_provider(models: Models) -> None:
    reason = failure_reason(models.iris.model("m", runtime={"providers": ["NoSuchExecutionProvider"]}))
    assert "execution provider(s) ['NoSuchExecutionProvider'] not available" in reason


def test_unsupported_uri_scheme() -> None:
    reason = failure_reason({"name": "m", "uri": "ftp://host/model.onnx", "sha256": WRONG})
    assert reason == "unsupported artifact URI 'ftp://host/model.onnx': use a local path, file:// or s3://"


def test_session_options_are_applied(models: Models) -> None:
    runtime = {"intraOpThreads": 1, "interOpThreads": 2, "graphOptimizationLevel": "Basic", "allowSpinning": True}
    with serve({"models": [models.iris.model("iris", runtime=runtime)]}) as running:
        model = running.app.dataplane.repository.find("iris", None).model
        assert model is not None
        options = model._session.get_session_options()
    import onnxruntime as ort

    assert options.intra_op_num_threads == 1
    assert options.inter_op_num_threads == 2
    assert options.execution_mode == ort.ExecutionMode.ORT_PARALLEL
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"


def test_readiness_waits_for_loading(models: Models) -> None:
    """Liveness answers from the start; readiness only once every model is loaded."""
    with serve({"models": [models.iris.model("iris")]}) as running, running.client() as client:
        repository = running.app.dataplane.repository
        repository.ready = False  # as while a load is in progress
        assert client.get("/v2/health/live").status_code == 200
        assert client.get("/v2/health/ready").status_code == 503
        repository.ready = True
        assert client.get("/v2/health/ready").status_code == 200


# S3: a real server over HTTP (MinIO, or moto's server mode) from the test harness


def s3_env(s3_server: Any) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL_S3": s3_server.url,
        "AWS_ACCESS_KEY_ID": s3_server.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
        "AWS_REGION": s3_server.region,
    }


def test_s3_artifact_is_downloaded_verified_and_cached(
    models: Models, s3_server: Any, s3_client: minio.Minio, s3_bucket: str, tmp_path: Path
) -> None:
    data = models.iris.path.read_bytes()
    s3_client.fput_object(s3_bucket, "team/iris.onnx", str(models.iris.path))
    uri = f"s3://{s3_bucket}/team/iris.onnx"
    env = s3_env(s3_server)
    cache = tmp_path / "cache"

    assert read_verified_artifact(uri, models.iris.sha256, cache_dir=cache, s3=S3Config(), env=env) == data
    cached = cache_path(cache, models.iris.sha256)
    assert cached.read_bytes() == data
    assert [p.name for p in cached.parent.iterdir()] == [models.iris.sha256]  # no partial files left

    s3_client.remove_object(s3_bucket, "team/iris.onnx")
    assert read_verified_artifact(uri, models.iris.sha256, cache_dir=cache, s3=S3Config(), env=env) == data

    cached.write_bytes(b"corrupt")  # a corrupt entry is dropped, and the object is gone: not found
    with pytest.raises(ArtifactError, match=f"artifact {uri} not found"):
        read_verified_artifact(uri, models.iris.sha256, cache_dir=cache, s3=S3Config(), env=env)
    assert not cached.exists()


def test_s3_digest_mismatch_caches_nothing(
    models: Models, s3_server: Any, s3_client: minio.Minio, s3_bucket: str, tmp_path: Path
) -> None:
    s3_client.fput_object(s3_bucket, "iris.onnx", str(models.iris.path))
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        read_verified_artifact(
            f"s3://{s3_bucket}/iris.onnx", WRONG, cache_dir=tmp_path, s3=S3Config(), env=s3_env(s3_server)
        )
    assert not any(path.is_file() for path in tmp_path.rglob("*"))


def test_server_loads_a_model_from_s3(
    models: Models,
    s3_server: Any,
    s3_client: minio.Minio,
    s3_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s3_client.fput_object(s3_bucket, "iris.onnx", str(models.iris.path))
    for key, value in s3_env(s3_server).items():
        monkeypatch.setenv(key, value)
    config = {
        "cacheDir": str(tmp_path),
        "models": [{"name": "iris", "uri": f"s3://{s3_bucket}/iris.onnx", "sha256": models.iris.sha256}],
    }
    with serve(config) as running, running.client() as client:
        assert client.get("/v2/health/ready").status_code == 200
        response = client.post(
            "/v2/models/iris/infer",
            json={"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [1] * 4}]},
        )
    assert response.status_code == 200
    assert cache_path(tmp_path, models.iris.sha256).is_file()
