"""The InferenceService's children: golden files (each validated against the Kubernetes 1.34 schemas), the server
config the pods get (parsed by the model server's own config loader), names, replicas and budgets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from modelplane.apis.v1alpha1 import InferenceService, ModelVersion
from modelplane.operator.accelerators import DEFAULT_PROFILES, Placement, resolve_accelerator
from modelplane.operator.config import OperatorConfig
from modelplane.operator.inference import builders
from modelplane.operator.inference.resolution import ServedVersion, served_version
from modelplane.serving.config import CONFIG_JSON_ENV, ConfigError, config_from_env

CONFIG = OperatorConfig.from_env({})
STORE = OperatorConfig.from_env(
    {
        "MODELPLANE_OPERATOR_SERVING_IMAGE": "registry.example.com/modelplane-serving:0.2.0",
        "MODELPLANE_OPERATOR_ARTIFACT_S3_ENDPOINT": "http://minio.modelplane-system.svc:9000",
        "MODELPLANE_OPERATOR_ARTIFACT_CREDENTIALS_SECRET": "modelplane-artifacts",
        "MODELPLANE_OPERATOR_PAYLOAD_SINK_URL": "http://modelplane-monitor.modelplane-system.svc:8080/v1/payloads",
    }
)
BASIC = {"modelVersionRef": {"name": "credit-v4"}}
GPU = {
    "modelRef": {"name": "credit-default", "alias": "champion"},
    "replicas": {"min": 2, "max": 8},
    "autoscaling": {"metric": "Concurrency", "target": 16},
    "resources": {"cpu": "4", "memory": "8Gi", "accelerator": {"type": "nvidia-l4", "count": 1}},
    "batching": {"maxBatchSize": 64, "maxLatencyMs": 2},
    "runtime": {"intraOpThreads": 4, "graphOptimizationLevel": "Extended", "useOptimizedArtifact": True},
    "logger": {"mode": "All", "sampleRate": 0.05},
}


def children(
    service: InferenceService, version: ModelVersion, config: OperatorConfig = CONFIG
) -> tuple[builders.Predictor, Placement, dict[str, Any]]:
    placement = resolve_accelerator(service.spec.resources.accelerator, DEFAULT_PROFILES)
    (predictor,) = builders.plan_predictors(service, [served_version(service, version, 100)], None)
    return predictor, placement, builders.build_deployment(service, predictor, config, placement)


def env_of(deployment: dict[str, Any]) -> dict[str, Any]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_a_fixed_cpu_service_matches_its_golden_files(golden, make_service, make_version):
    service = make_service(BASIC)
    _, _, deployment = children(service, make_version("credit-v4"))
    golden("inference-deployment", deployment)
    golden("inference-service", builders.build_service(service))
    golden("inference-pdb-single", builders.build_pdb(service, 1))
    assert deployment["metadata"]["name"] == "credit-predictor"
    assert deployment["spec"]["replicas"] == 1  # no autoscaling: fixed at replicas.min
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}


def test_an_autoscaled_gpu_service_matches_its_golden_files(golden, make_service, make_version):
    service = make_service(GPU)
    version = make_version("credit-v5", registered=5, aliases=["champion"], optimized="7a" * 32)
    predictor, _, deployment = children(service, version, STORE)
    golden("inference-deployment-gpu", deployment)
    golden("inference-hpa-concurrency", builders.build_hpa(service, predictor))
    golden("inference-pdb-replicated", builders.build_pdb(service, 1))
    assert "replicas" not in deployment["spec"]  # the HPA owns it (server-side apply leaves it alone)
    pod = deployment["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert deployment["spec"]["template"]["metadata"]["annotations"]["modelplane.io/served-digests"] == (
        "sha256:" + "7a" * 32  # the optimized artifact
    )


def test_a_cpu_target_is_a_utilization_and_the_hpa_floor_is_one_pod(golden, make_service):
    service = make_service({**BASIC, "replicas": {"min": 0, "max": 4}, "autoscaling": {"metric": "Cpu", "target": 60}})
    predictor = builders.Predictor("credit-predictor", ServedVersion("v", "m", "1", 1, "s3://b/k", "a" * 64), True)
    hpa = builders.build_hpa(service, predictor)
    golden("inference-hpa-cpu", hpa)
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 60}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 4)


def test_the_pods_server_config_is_what_the_model_server_reads(make_service, make_version):
    service = make_service(GPU)
    version = make_version("credit-v5", registered=5, aliases=["champion"], optimized="7a" * 32)
    _, _, deployment = children(service, version, STORE)
    env = env_of(deployment)
    config = config_from_env({CONFIG_JSON_ENV: env[CONFIG_JSON_ENV]})
    (model,) = config.models
    assert (model.name, model.version, model.sha256) == ("credit-default", "5", "7a" * 32)
    assert model.uri.endswith("7a" * 32)
    assert model.batching is not None
    assert (model.batching.max_batch_size, model.batching.max_latency_ms) == (64, 2)
    assert model.runtime.intra_op_threads == 4
    assert model.runtime.graph_optimization_level.value == "Extended"
    assert model.runtime.providers == ("CUDAExecutionProvider", "CPUExecutionProvider")
    assert config.payload_logging.mode.value == "All"
    assert config.payload_logging.sample_rate == 0.05
    assert config.payload_logging.sink is not None
    assert config.payload_logging.sink.url == STORE.payload_sink_url
    assert env["AWS_ENDPOINT_URL_S3"] == "http://minio.modelplane-system.svc:9000"
    assert env["AWS_ACCESS_KEY_ID"] == {"secretKeyRef": {"name": "modelplane-artifacts", "key": "AWS_ACCESS_KEY_ID"}}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "modelplane.serving"]
    assert container["args"] == ["--host", "0.0.0.0", "--port", "8080"]


def test_without_a_sink_payloads_go_to_a_file_and_cpu_servers_use_the_cpu_provider(make_service, make_version):
    service = make_service({**BASIC, "logger": {"mode": "Request"}})
    _, _, deployment = children(service, make_version("credit-v4"))
    document = json.loads(env_of(deployment)[CONFIG_JSON_ENV])
    assert document["payloadLogging"]["sink"] == {"path": "payloads.jsonl"}  # in the working directory, /tmp
    assert "providers" not in document["models"][0]["runtime"]
    assert config_from_env({CONFIG_JSON_ENV: json.dumps(document)}).models[0].runtime.providers == (
        "CPUExecutionProvider",
    )
    assert "AWS_ACCESS_KEY_ID" not in env_of(deployment)  # no credentials configured: the pod's own


def test_an_external_artifact_is_read_with_its_own_endpoint_and_credentials(make_service, make_version):
    external = {
        "uri": "s3://partner-models/credit.onnx",
        "sha256": "3c" * 32,
        "endpoint": "https://s3.partner.example.com",
        "accessKeyIdRef": {"name": "partner-s3", "key": "id"},
        "secretAccessKeyRef": {"name": "partner-s3", "key": "secret"},
    }
    version = make_version("credit-ext", digest="3c" * 32, external=external)
    _, _, deployment = children(make_service({"modelVersionRef": {"name": "credit-ext"}}), version, STORE)
    env = env_of(deployment)
    assert json.loads(env[CONFIG_JSON_ENV])["s3"] == {"endpoint": "https://s3.partner.example.com"}
    assert env["AWS_SECRET_ACCESS_KEY"] == {"secretKeyRef": {"name": "partner-s3", "key": "secret"}}
    assert "AWS_ENDPOINT_URL_S3" not in env


def test_a_version_change_changes_the_pod_template_only(make_service, make_version):
    service = make_service(BASIC)
    _, _, before = children(service, make_version("credit-v4", registered=4, digest="9f" * 32))
    _, _, after = children(service, make_version("credit-v5", registered=5, digest="a1" * 32))
    assert before["metadata"]["name"] == after["metadata"]["name"]
    assert before["spec"]["selector"] == after["spec"]["selector"]  # immutable: the version is not in it
    assert before["spec"]["template"] != after["spec"]["template"]
    assert after["spec"]["template"]["metadata"]["annotations"]["modelplane.io/served-digests"] == "sha256:" + "a1" * 32


def test_traffic_gets_a_deployment_per_version_and_the_primary_keeps_its_version(make_service, make_version):
    spec = {
        **BASIC,
        "traffic": [{"modelVersion": "credit-v4", "weight": 90}, {"modelVersion": "credit-v5", "weight": 10}],
    }
    service = make_service(spec)
    v4 = served_version(service, make_version("credit-v4", registered=4), 90)
    v5 = served_version(service, make_version("credit-v5", registered=5), 10)
    first = builders.plan_predictors(service, [v4, v5], None)
    assert [(p.name, p.version.model_version, p.primary) for p in first] == [
        ("credit-predictor", "credit-v4", True),
        (builders.extra_name(service, "credit-v5"), "credit-v5", False),
    ]
    # The Rollout reorders the list: nothing moves. The primary's version leaves the list: it takes the first.
    assert builders.plan_predictors(service, [v5, v4], "credit-v4") == first
    promoted = builders.plan_predictors(service, [v5], "credit-v4")
    assert [(p.name, p.version.model_version) for p in promoted] == [("credit-predictor", "credit-v5")]
    assert builders.traffic_record([v4, v5]) == [
        {"model": "credit-default", "version": 4, "percent": 90},
        {"model": "credit-default", "version": 5, "percent": 10},
    ]


def test_unregistered_versions_are_not_recorded_and_are_served_under_their_name(make_service, make_version):
    service = make_service(BASIC)
    version = served_version(service, make_version("credit-v4", registered=None), 100)
    assert version.version == "credit-v4"
    assert builders.traffic_record([version]) is None


@pytest.mark.parametrize(
    ("replicas", "autoscaling", "predictors", "budget"),
    [
        ({"min": 1, "max": 1}, None, 1, {"maxUnavailable": 1}),  # one pod: a minAvailable 1 would block drains
        ({"min": 1, "max": 5}, {"metric": "Cpu"}, 1, {"maxUnavailable": 1}),  # the HPA may leave one pod
        ({"min": 2, "max": 5}, {"metric": "Cpu"}, 1, {"minAvailable": 1}),
        ({"min": 3, "max": 3}, None, 1, {"minAvailable": 1}),
        ({"min": 1, "max": 1}, None, 2, {"minAvailable": 1}),  # two versions, one pod each
    ],
)
def test_the_disruption_budget_keeps_one_pod_unless_that_blocks_drains(
    make_service: Callable[..., InferenceService],
    replicas: dict[str, int],
    autoscaling: dict[str, Any] | None,
    predictors: int,
    budget: dict[str, int],
):
    spec: dict[str, Any] = {**BASIC, "replicas": replicas}
    if autoscaling is not None:
        spec["autoscaling"] = autoscaling
    pdb = builders.build_pdb(make_service(spec), predictors)
    assert {k: v for k, v in pdb["spec"].items() if k in ("minAvailable", "maxUnavailable")} == budget


def test_no_hpa_when_min_equals_max_even_with_autoscaling(make_service):
    service = make_service({**BASIC, "replicas": {"min": 3, "max": 3}, "autoscaling": {"metric": "Cpu"}})
    assert not builders.autoscaled(service)


def test_names_fit_dns_labels_and_the_url_names_the_model(make_service):
    long = make_service(BASIC, name="a" * 40 + ".b" * 20)
    for name in (builders.service_name(long), builders.primary_name(long), builders.extra_name(long, "x" * 200)):
        assert len(name) <= 52
        assert name[0].isalpha()
        assert "." not in name
    service = make_service(BASIC, name="7-credit")
    assert builders.service_name(service) == "mp-7-credit"
    assert builders.service_url(service, "credit-default") == (
        "http://mp-7-credit.risk.svc.cluster.local/v2/models/credit-default"
    )


def test_the_server_refuses_a_malformed_or_ambiguous_inline_config():
    with pytest.raises(ConfigError, match="MODELPLANE_SERVING_CONFIG_JSON is not valid JSON"):
        config_from_env({CONFIG_JSON_ENV: "{models: ["})
    with pytest.raises(ConfigError, match="not both"):
        config_from_env({CONFIG_JSON_ENV: "{}", "MODELPLANE_SERVING_CONFIG": "/etc/models.yaml"})
    with pytest.raises(ConfigError, match="MODELPLANE_SERVING_CONFIG_JSON is invalid"):
        config_from_env({CONFIG_JSON_ENV: '{"models": []}'})
