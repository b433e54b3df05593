from __future__ import annotations

from pathlib import Path

import pytest

from modelplane.apis.v1alpha1.common import Accelerator
from modelplane.operator.accelerators import (
    DEFAULT_PROFILES,
    UnknownAcceleratorError,
    UnsupportedCountError,
    resolve_accelerator,
)
from modelplane.operator.config import DEFAULT_JOBS_IMAGE, DEFAULT_SERVING_IMAGE, ConfigError, OperatorConfig


def test_an_empty_environment_is_a_valid_configuration():
    config = OperatorConfig.from_env({})
    assert config.jobs_image == DEFAULT_JOBS_IMAGE == "ghcr.io/modelplane/modelplane-jobs:0.1.0"
    assert config.effective_jobs_api_url == config.api_url
    assert config.operator_token() is None
    assert set(config.accelerator_profiles) == set(DEFAULT_PROFILES)


def test_settings_come_from_modelplane_operator_variables(tmp_path: Path):
    token = tmp_path / "token"
    token.write_text("mpt_secret\n")
    config = OperatorConfig.from_env(
        {
            "MODELPLANE_OPERATOR_JOBS_IMAGE": "registry.local/jobs:dev",
            "MODELPLANE_OPERATOR_API_URL": "http://cp:8080",
            "MODELPLANE_OPERATOR_JOBS_API_URL": "http://cp.svc:8080",
            "MODELPLANE_OPERATOR_API_TOKEN_FILE": str(token),
            "MODELPLANE_OPERATOR_RETRY_DELAY_SECONDS": "2.5",
            "UNRELATED": "x",
        }
    )
    assert config.jobs_image == "registry.local/jobs:dev"
    assert config.effective_jobs_api_url == "http://cp.svc:8080"
    assert config.operator_token() == "mpt_secret"
    token.write_text("mpt_rotated")
    assert config.operator_token() == "mpt_rotated"
    assert config.retry_delay_seconds == 2.5
    assert "mpt_secret" not in repr(OperatorConfig.from_env({"MODELPLANE_OPERATOR_API_TOKEN": "mpt_secret"}))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MODELPLANE_OPERATOR_JOBS_IMAGEE": "x"}, "unknown operator setting"),
        ({"MODELPLANE_OPERATOR_API_URL": "cp:8080"}, "api_url"),
        ({"MODELPLANE_OPERATOR_API_TOKEN": "a", "MODELPLANE_OPERATOR_API_TOKEN_FILE": "/x"}, "not both"),
        ({"MODELPLANE_OPERATOR_ACCELERATOR_PROFILES": "/nonexistent.yaml"}, "cannot read"),
    ],
)
def test_invalid_settings_are_errors(env: dict[str, str], message: str):
    with pytest.raises(ConfigError, match=message):
        OperatorConfig.from_env(env)


def test_a_profiles_file_replaces_the_defaults(tmp_path: Path):
    path = tmp_path / "profiles.yaml"
    path.write_text(
        "amd-mi300:\n"
        "  resourceName: amd.com/gpu\n"
        "  nodeSelector: {pool: mi300}\n"
        "  tolerations: [{key: amd.com/gpu, operator: Exists, effect: NoSchedule}]\n"
    )
    config = OperatorConfig.from_env({"MODELPLANE_OPERATOR_ACCELERATOR_PROFILES": str(path)})
    placement = resolve_accelerator(Accelerator(type="amd-mi300", count=8), config.accelerator_profiles)
    assert placement.limits == {"amd.com/gpu": "8"}
    assert placement.node_selector == {"pool": "mi300"}
    assert placement.tolerations == ({"key": "amd.com/gpu", "operator": "Exists", "effect": "NoSchedule"},)
    path.write_text("amd-mi300: {resourceName: amd.com/gpu, nodeSelectr: {}}\n")
    with pytest.raises(ConfigError, match="invalid accelerator profiles"):
        OperatorConfig.from_env({"MODELPLANE_OPERATOR_ACCELERATOR_PROFILES": str(path)})


def test_gpu_and_tpu_profiles_resolve_to_placement():
    gpu = resolve_accelerator(Accelerator(type="nvidia-l4", count=1), DEFAULT_PROFILES)
    assert gpu.node_selector == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert gpu.limits == {"nvidia.com/gpu": "1"}
    tpu = resolve_accelerator(Accelerator(type="tpu-v5e", count=8), DEFAULT_PROFILES)
    assert tpu.node_selector["cloud.google.com/gke-tpu-topology"] == "2x4"
    assert tpu.limits == {"google.com/tpu": "8"}
    assert resolve_accelerator(None, DEFAULT_PROFILES).limits == {}


def test_unknown_profiles_and_counts_name_what_is_known():
    with pytest.raises(UnknownAcceleratorError, match=r"known profiles: .*nvidia-a100.*tpu-v5e"):
        resolve_accelerator(Accelerator(type="qpu", count=1), DEFAULT_PROFILES)
    with pytest.raises(UnsupportedCountError, match="supports 1, 4, 8 devices per pod, not 2"):
        resolve_accelerator(Accelerator(type="tpu-v5e", count=2), DEFAULT_PROFILES)


def test_serving_settings_default_to_the_chart_and_come_from_the_environment():
    default = OperatorConfig.from_env({})
    assert default.serving_image == DEFAULT_SERVING_IMAGE == "ghcr.io/modelplane/modelplane-serving:0.1.0"
    assert (default.serving_cpu, default.serving_memory) == ("500m", "1Gi")
    assert default.artifact_s3_endpoint is default.artifact_credentials_secret is default.payload_sink_url is None
    config = OperatorConfig.from_env(
        {
            "MODELPLANE_OPERATOR_SERVING_IMAGE": "registry.local/serving:dev",
            "MODELPLANE_OPERATOR_ARTIFACT_S3_ENDPOINT": "http://minio:9000",
            "MODELPLANE_OPERATOR_ARTIFACT_CREDENTIALS_SECRET": "artifacts",
        }
    )
    assert (config.serving_image, config.artifact_s3_endpoint, config.artifact_credentials_secret) == (
        "registry.local/serving:dev",
        "http://minio:9000",
        "artifacts",
    )
    with pytest.raises(ConfigError, match="artifact_s3_endpoint"):
        OperatorConfig.from_env({"MODELPLANE_OPERATOR_ARTIFACT_S3_ENDPOINT": "minio:9000"})
