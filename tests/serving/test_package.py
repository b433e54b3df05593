"""The serving package: cheap to import, its config in step with the InferenceService spec, config sources."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from modelplane.apis.v1alpha1 import inference_service as spec
from modelplane.serving import config


def test_importing_the_package_loads_nothing_heavy() -> None:
    code = (
        "import sys, modelplane.serving, modelplane.serving.config, modelplane.serving.errors; "
        "heavy = {'onnxruntime', 'numpy', 'fastapi', 'starlette', 'uvicorn', 'minio', 'orjson', 'prometheus_client'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def aliases(model: type) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}  # type: ignore[attr-defined]


def test_config_sections_match_the_inference_service_spec() -> None:
    """The operator copies spec sections into the server's config: names, enums and defaults must agree."""
    assert aliases(spec.Batching) == aliases(config.Batching)
    assert config.Batching().max_batch_size == spec.Batching().max_batch_size
    assert config.Batching().max_latency_ms == spec.Batching().max_latency_ms
    assert aliases(spec.RuntimeSpec) - {"useOptimizedArtifact"} <= aliases(config.Runtime)
    assert {e.value for e in spec.GraphOptimizationLevel} == {e.value for e in config.GraphOptimizationLevel}
    assert aliases(spec.LoggerSpec) <= aliases(config.PayloadLogging)
    assert {e.value for e in spec.LoggerMode} == {e.value for e in config.LoggerMode}
    assert config.PayloadLogging().sample_rate == spec.LoggerSpec().sample_rate


SHA = "a" * 64


def test_read_yaml_and_json(tmp_path: Path) -> None:
    yaml_path = tmp_path / "models.yaml"
    yaml_path.write_text(
        f"models:\n  - name: iris\n    version: '3'\n    uri: s3://b/k\n    sha256: sha256:{SHA.upper()}\n"
        "    batching: {maxBatchSize: 8}\npayloadLogging: {mode: All, sampleRate: 1, sink: {path: /tmp/p.jsonl}}\n"
    )
    parsed = config.read_config(yaml_path)
    assert parsed.models[0].sha256 == SHA
    assert parsed.models[0].batching == config.Batching(max_batch_size=8, max_latency_ms=5)
    assert parsed.payload_logging.mode is config.LoggerMode.ALL
    json_path = tmp_path / "models.json"
    json_path.write_text(json.dumps({"models": [{"name": "iris", "uri": "/m.onnx", "sha256": SHA}]}))
    assert config.read_config(json_path).models[0].version == "1"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"models": []}, "at least 1 item"),
        ({"models": [{"name": "m", "uri": "/x", "sha256": "nope"}]}, "expected 64 hex digits"),
        ({"models": [{"name": "m", "uri": "/x", "sha256": SHA, "batchin": {}}]}, "Extra inputs are not permitted"),
        (
            {"models": [{"name": "m", "uri": "/x", "sha256": SHA}, {"name": "m", "uri": "/y", "sha256": SHA}]},
            "model 'm' version '1' is listed twice",
        ),
        ({"models": [{"name": "m", "uri": "/x", "sha256": SHA}], "payloadLogging": {"mode": "All"}}, "needs a sink"),
        (
            {
                "models": [{"name": "m", "uri": "/x", "sha256": SHA}],
                "payloadLogging": {"sink": {"url": "http://x", "path": "/p"}},
            },
            "exactly one of url or path",
        ),
        ([1], "expected a mapping"),
    ],
)
def test_invalid_config(document: object, message: str) -> None:
    with pytest.raises(config.ConfigError, match=message):
        config.parse_config(document)


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="cannot read config"):
        config.read_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [")
    with pytest.raises(config.ConfigError, match="not valid YAML or JSON"):
        config.read_config(bad)


def test_config_from_env(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"models: [{{name: a, uri: /a.onnx, sha256: {SHA}}}]")
    assert config.config_from_env({config.CONFIG_ENV: str(path)}).models[0].name == "a"
    single = config.config_from_env(
        {
            "MODELPLANE_SERVING_MODEL_NAME": "iris",
            "MODELPLANE_SERVING_MODEL_VERSION": "7",
            "MODELPLANE_SERVING_MODEL_URI": "s3://b/k",
            "MODELPLANE_SERVING_MODEL_SHA256": SHA,
        }
    )
    assert (single.models[0].name, single.models[0].version, single.models[0].uri) == ("iris", "7", "s3://b/k")
    with pytest.raises(config.ConfigError, match="no configuration"):
        config.config_from_env({})
