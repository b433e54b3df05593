"""Desired state of an InferenceService's children: the model server Deployment(s), their HPAs, the Service
and the PodDisruptionBudget. Pure.

One Deployment (``<service>-predictor``) serves the resolved ModelVersion; changing the version changes its
pod template (the served digest is a template annotation, and the server config is in the environment), so
the Deployment rolls: ``maxUnavailable: 0`` keeps every old pod serving until a new one is ready. With
``spec.traffic`` listing several versions, the others get a Deployment each
(``<service>-predictor-<6 hex of the version's name>``) and one Service selects them all. The pod runs
``python -m modelplane.serving --host 0.0.0.0 --port 8080`` with everything else in the environment
(``MODELPLANE_SERVING_CONFIG_JSON``: the whole server config), so the local runtime can run the same command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modelplane.apis.meta import GROUP
from modelplane.apis.v1alpha1 import InferenceService
from modelplane.apis.v1alpha1.common import ResourceSpec
from modelplane.apis.v1alpha1.inference_service import LoggerMode, ScalingMetric
from modelplane.operator import podspec
from modelplane.operator.accelerators import NVIDIA_GPU, Placement
from modelplane.operator.config import OperatorConfig
from modelplane.operator.inference.resolution import ServedVersion
from modelplane.operator.naming import child_name, label_value, short_hash

LABEL_INFERENCE_SERVICE = f"{GROUP}/inferenceservice"
LABEL_PREDICTOR = f"{GROUP}/predictor"
LABEL_MODEL_VERSION = f"{GROUP}/model-version"
ANNOTATION_SERVED_DIGESTS = f"{GROUP}/served-digests"
ANNOTATION_WEIGHT = f"{GROUP}/traffic-weight"
ANNOTATION_MODEL_VERSION = f"{GROUP}/model-version"
"""On a Deployment: the full name of the ModelVersion it serves (the label may be a cut, hashed value)."""
APP = "modelplane-server"
COMPONENT = "predictor"
CONTAINER = "server"
PORT = 8080
PORT_NAME = "http"
SERVICE_PORT = 80
COMMAND = ["python", "-m", "modelplane.serving"]
ARGS = ["--host", "0.0.0.0", "--port", str(PORT)]
CONFIG_JSON_ENV = "MODELPLANE_SERVING_CONFIG_JSON"
"""The server reads its whole config from this variable (``modelplane.serving.config``)."""
SCRATCH_DIR = "/tmp"
SCRATCH_VOLUME = "tmp"
"""The server writes only under /tmp (artifact cache ``/tmp/modelplane-artifacts``, payload file): an emptyDir."""
PAYLOAD_FILE = "payloads.jsonl"
"""Payload records without a configured sink: this file in the working directory (/tmp)."""
RUN_AS = 10001
"""The uid and gid of the ModelPlane images."""
INFLIGHT_METRIC = "modelplane_serving_inflight_requests"
"""The server's gauge of requests in flight: the Pods metric of Concurrency autoscaling."""
HEALTH_READY = "/v2/health/ready"
HEALTH_LIVE = "/v2/health/live"
PROGRESS_DEADLINE_SECONDS = 600
CUDA_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


@dataclass(frozen=True)
class Predictor:
    """One Deployment and the version it serves."""

    name: str
    version: ServedVersion
    primary: bool


def service_name(service: InferenceService) -> str:
    """The Service (and PodDisruptionBudget): the InferenceService's own name, as a DNS-1035 label."""
    return child_name(service.metadata.name)


def primary_name(service: InferenceService) -> str:
    """``<service>-predictor``: the Deployment of the resolved version (the first of ``spec.traffic``)."""
    return child_name(service.metadata.name, COMPONENT)


def extra_name(service: InferenceService, model_version: str) -> str:
    """``<service>-predictor-<6 hex>``: the Deployment of another version listed in ``spec.traffic``."""
    return child_name(service.metadata.name, COMPONENT, short_hash(model_version, length=6))


def service_url(service: InferenceService, model_name: str) -> str:
    """Base URL of the model's v2 endpoints inside the cluster."""
    return f"http://{service_name(service)}.{service.metadata.namespace}.svc.cluster.local/v2/models/{model_name}"


def plan_predictors(
    service: InferenceService, versions: Sequence[ServedVersion], current_primary: str | None
) -> tuple[Predictor, ...]:
    """The Deployments to run. The primary keeps the version it serves while that version is still listed
    (reordering ``spec.traffic`` rolls nothing); otherwise it serves the first listed version."""
    if not versions:
        return ()
    primary = next((v for v in versions if v.model_version == current_primary), versions[0])
    predictors = [Predictor(primary_name(service), primary, True)]
    predictors += [Predictor(extra_name(service, v.model_version), v, False) for v in versions if v is not primary]
    return tuple(predictors)


def selector(service: InferenceService) -> dict[str, str]:
    """Labels of every model server pod of the service (the Service's and the PDB's selector)."""
    return {LABEL_INFERENCE_SERVICE: label_value(service.metadata.name)}


def predictor_selector(service: InferenceService, predictor: Predictor) -> dict[str, str]:
    """The Deployment's (immutable) selector: the service and the predictor, never the version."""
    return {**selector(service), LABEL_PREDICTOR: label_value(predictor.name)}


def _labels(service: InferenceService) -> dict[str, str]:
    return {**podspec.standard_labels(APP, service.metadata.name, COMPONENT), **selector(service)}


def _predictor_labels(service: InferenceService, predictor: Predictor) -> dict[str, str]:
    return {
        **_labels(service),
        **predictor_selector(service, predictor),
        LABEL_MODEL_VERSION: label_value(predictor.version.model_version),
    }


def autoscaled(service: InferenceService) -> bool:
    """An HPA scales the Deployments: autoscaling is set and replicas.min < replicas.max."""
    return service.spec.autoscaling is not None and service.spec.replicas.min < service.spec.replicas.max


def fewest_pods(service: InferenceService, predictors: int) -> int:
    """The fewest model server pods the service runs (HPA floor, or the fixed count, per Deployment)."""
    per_deployment = max(1, service.spec.replicas.min) if autoscaled(service) else service.spec.replicas.min
    return per_deployment * predictors


def server_config(
    service: InferenceService, version: ServedVersion, config: OperatorConfig, placement: Placement
) -> dict[str, Any]:
    """The model server's config (``modelplane.serving.config.ServingConfig`` on the wire) for one version."""
    spec = service.spec
    runtime: dict[str, Any] = {"graphOptimizationLevel": spec.runtime.graph_optimization_level.value}
    if spec.runtime.intra_op_threads is not None:
        runtime["intraOpThreads"] = spec.runtime.intra_op_threads
    if spec.runtime.inter_op_threads is not None:
        runtime["interOpThreads"] = spec.runtime.inter_op_threads
    if NVIDIA_GPU in placement.limits:
        runtime["providers"] = list(CUDA_PROVIDERS)
    model: dict[str, Any] = {
        "name": version.model_name,
        "version": version.version,
        "uri": version.uri,
        "sha256": version.sha256,
        "runtime": runtime,
    }
    if spec.batching is not None:
        model["batching"] = spec.batching.to_wire()
    document: dict[str, Any] = {"models": [model]}
    if version.s3_endpoint is not None:
        document["s3"] = {"endpoint": version.s3_endpoint}
    logger = spec.logger
    if logger.mode is not LoggerMode.NONE:
        sink = {"url": config.payload_sink_url} if config.payload_sink_url else {"path": PAYLOAD_FILE}
        document["payloadLogging"] = {
            "mode": logger.mode.value,
            "sampleRate": logger.sample_rate,
            "includeErrors": logger.include_errors,
            "sink": sink,
        }
    return document


def _env(service: InferenceService, version: ServedVersion, config: OperatorConfig, placement: Placement) -> list[Any]:
    env = [podspec.env_value(CONFIG_JSON_ENV, podspec.compact_json(server_config(service, version, config, placement)))]
    if version.s3_endpoint is None and config.artifact_s3_endpoint:
        env.append(podspec.env_value("AWS_ENDPOINT_URL_S3", config.artifact_s3_endpoint))
    if version.access_key_id_ref is not None and version.secret_access_key_ref is not None:
        key_id, secret = version.access_key_id_ref, version.secret_access_key_ref
        env.append(podspec.env_secret("AWS_ACCESS_KEY_ID", key_id.name, key_id.key))
        env.append(podspec.env_secret("AWS_SECRET_ACCESS_KEY", secret.name, secret.key))
    elif version.s3_endpoint is None and config.artifact_credentials_secret:
        secret_name = config.artifact_credentials_secret
        env.append(podspec.env_secret("AWS_ACCESS_KEY_ID", secret_name, "AWS_ACCESS_KEY_ID"))
        env.append(podspec.env_secret("AWS_SECRET_ACCESS_KEY", secret_name, "AWS_SECRET_ACCESS_KEY"))
    return env


def _resources(service: InferenceService, config: OperatorConfig, placement: Placement) -> dict[str, Any]:
    spec = service.spec.resources
    defaults = ResourceSpec(cpu=spec.cpu or config.serving_cpu, memory=spec.memory or config.serving_memory)
    merged = spec.model_copy(update={"cpu": defaults.cpu, "memory": defaults.memory})
    return podspec.container_resources(merged, placement)


def _probe(path: str, *, period: int, timeout: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": PORT_NAME},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def _container(
    service: InferenceService, version: ServedVersion, config: OperatorConfig, placement: Placement
) -> dict[str, Any]:
    return {
        "name": CONTAINER,
        "image": config.serving_image,
        "imagePullPolicy": config.serving_image_pull_policy,
        "command": list(COMMAND),
        "args": list(ARGS),
        "workingDir": SCRATCH_DIR,
        "ports": [{"name": PORT_NAME, "containerPort": PORT, "protocol": "TCP"}],
        "env": _env(service, version, config, placement),
        "resources": _resources(service, config, placement),
        # Ready only once every model is loaded and verified; live while loading (a big download is not a hang).
        "readinessProbe": _probe(HEALTH_READY, period=5, timeout=2, failures=3),
        "livenessProbe": _probe(HEALTH_LIVE, period=10, timeout=5, failures=3),
        "startupProbe": _probe(HEALTH_LIVE, period=2, timeout=2, failures=30),
        "securityContext": {
            **podspec.container_security(),
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "volumeMounts": [{"name": SCRATCH_VOLUME, "mountPath": SCRATCH_DIR}],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def _pod_spec(
    service: InferenceService, predictor: Predictor, config: OperatorConfig, placement: Placement
) -> dict[str, Any]:
    return {
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "securityContext": {
            **podspec.pod_security(),
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
        },
        "containers": [_container(service, predictor.version, config, placement)],
        "volumes": [{"name": SCRATCH_VOLUME, "emptyDir": {}}],
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": predictor_selector(service, predictor)},
            }
        ],
        **podspec.scheduling(placement),
    }


def _metadata(service: InferenceService, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": service.metadata.namespace,
        "labels": labels,
        "ownerReferences": [podspec.owner_reference(service)],
    }


def build_deployment(
    service: InferenceService, predictor: Predictor, config: OperatorConfig, placement: Placement
) -> dict[str, Any]:
    """The Deployment of one predictor. ``spec.replicas`` is left to the HPA when one scales it."""
    labels = _predictor_labels(service, predictor)
    version = predictor.version
    metadata = _metadata(service, predictor.name, labels)
    metadata["annotations"] = {ANNOTATION_MODEL_VERSION: version.model_version, ANNOTATION_WEIGHT: str(version.weight)}
    spec: dict[str, Any] = {
        "revisionHistoryLimit": 3,
        "progressDeadlineSeconds": PROGRESS_DEADLINE_SECONDS,
        "selector": {"matchLabels": predictor_selector(service, predictor)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
            "metadata": {
                "labels": labels,
                "annotations": {
                    ANNOTATION_SERVED_DIGESTS: f"sha256:{version.sha256}",
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(PORT),
                    "prometheus.io/path": "/metrics",
                },
            },
            "spec": _pod_spec(service, predictor, config, placement),
        },
    }
    if not autoscaled(service):
        spec = {"replicas": service.spec.replicas.min, **spec}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec}


def build_service(service: InferenceService) -> dict[str, Any]:
    """The ClusterIP Service in front of every predictor: port 80 to the servers' ``http`` port."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(service, service_name(service), _labels(service)),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(service),
            "ports": [{"name": PORT_NAME, "port": SERVICE_PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
        },
    }


def build_hpa(service: InferenceService, predictor: Predictor) -> dict[str, Any]:
    """The HPA of one predictor (only when :func:`autoscaled`): CPU utilization or requests in flight per pod."""
    autoscaling = service.spec.autoscaling
    assert autoscaling is not None
    if autoscaling.metric is ScalingMetric.CPU:
        metric: dict[str, Any] = {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": autoscaling.target}},
        }
    else:
        metric = {
            "type": "Pods",
            "pods": {
                "metric": {"name": INFLIGHT_METRIC},
                "target": {"type": "AverageValue", "averageValue": str(autoscaling.target)},
            },
        }
    replicas = service.spec.replicas
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(service, predictor.name, _predictor_labels(service, predictor)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": predictor.name},
            # 0 needs the HPAScaleToZero feature gate; the floor is one pod per Deployment.
            "minReplicas": max(1, replicas.min),
            "maxReplicas": replicas.max,
            "metrics": [metric],
        },
    }


def build_pdb(service: InferenceService, predictors: int) -> dict[str, Any]:
    """The PodDisruptionBudget over every model server pod of the service.

    With at least two pods guaranteed, a drain must leave one serving (``minAvailable: 1``); with one, a
    budget of ``minAvailable: 1`` would block every node drain, so one pod may go (``maxUnavailable: 1``).
    """
    budget: dict[str, Any] = {"minAvailable": 1} if fewest_pods(service, predictors) > 1 else {"maxUnavailable": 1}
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(service, service_name(service), _labels(service)),
        "spec": {
            **budget,
            "selector": {"matchLabels": selector(service)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def traffic_record(versions: Sequence[ServedVersion]) -> list[dict[str, Any]] | None:
    """The split as the control plane records it (``{model, version, percent}``); None while a version is
    not registered (it has no version number yet)."""
    if not versions or any(v.registered_version is None for v in versions):
        return None
    return [{"model": v.model_name, "version": v.registered_version, "percent": v.weight} for v in versions]
