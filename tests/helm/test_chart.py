"""The Helm chart as rendered by the real helm binary, for the default values and every file in ``ci/``.

Each rendered object must be valid for Kubernetes 1.34 (``kubernetes-validate``, strict), every pod must run
as non-root with a read-only root filesystem, requests and probes, selectors must select what they are
for, and the environment the chart gives the operator and the control plane must parse with their own
settings classes (a typo in a variable name fails here, not in a crash-looping pod).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.manifests import assert_valid_manifests
from helm.chart import (
    CHART_DIR,
    CI_VALUES,
    NAMESPACE,
    RELEASE,
    container_env,
    helm,
    objects_of,
    one,
    pod_templates,
    render,
)

pytestmark = pytest.mark.unit

CASES: dict[str, list[Path]] = {"default": [], **{path.stem: [path] for path in CI_VALUES}}
MONITORING = "monitoring.coreos.com/v1"
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding"}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    """``(name, objects)`` of one values case, rendered once per module."""
    return request.param, render(files=CASES[request.param])


def ci_values(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((CHART_DIR / "ci" / f"{name}.yaml").read_text(encoding="utf-8")))


@pytest.mark.parametrize("name", sorted(CASES))
def test_helm_lint_is_clean(name: str) -> None:
    args = [arg for path in CASES[name] for arg in ("--values", str(path))]
    out = helm("lint", "--strict", str(CHART_DIR), "--namespace", NAMESPACE, *args)
    assert "0 chart(s) failed" in out


def test_every_object_is_valid_for_kubernetes(case: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = case
    assert_valid_manifests([obj for obj in objects if obj["apiVersion"] != MONITORING])


def test_prometheus_operator_objects_have_their_required_fields(case: tuple[str, list[dict[str, Any]]]) -> None:
    name, objects = case
    monitors = objects_of(objects, "ServiceMonitor")
    rules = objects_of(objects, "PrometheusRule")
    assert bool(monitors) == bool(rules) == (name == "full-values")
    services = objects_of(objects, "Service")
    for monitor in monitors:
        selector = monitor["spec"]["selector"]["matchLabels"]
        (service,) = [s for s in services if selects(selector, s["metadata"]["labels"])]
        ports = {p["name"] for p in service["spec"]["ports"]}
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports
    for rule in rules:
        for group in rule["spec"]["groups"]:
            for item in group["rules"]:
                assert item["alert"]
                assert item["expr"]
                assert item["labels"]["severity"] in ("critical", "warning")
                assert item["expr"].count("(") == item["expr"].count(")"), item["alert"]
                assert "{{" not in item["expr"], "unrendered template in PromQL"


def test_objects_are_labelled_and_namespaced(case: tuple[str, list[dict[str, Any]]]) -> None:
    name, objects = case
    watched = ci_values(name).get("operator", {}).get("watchNamespaces", []) if name != "default" else []
    for obj in objects:
        meta = obj["metadata"]
        labels = meta["labels"]
        assert labels["app.kubernetes.io/part-of"] == "modelplane", meta["name"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/component"]
        if obj["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in meta
        elif obj["kind"] == "RoleBinding":
            assert meta["namespace"] in watched
        else:
            assert meta["namespace"] == NAMESPACE, f"{obj['kind']}/{meta['name']}"


def test_pods_run_unprivileged_with_a_read_only_root(case: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = case
    for name, template in pod_templates(objects):
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        tmp_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            requests = container["resources"]["requests"]
            assert {"cpu", "memory"} <= set(requests), name
            assert "memory" in container["resources"]["limits"], name
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts.get("/tmp") in tmp_volumes, f"{name}: /tmp must be an emptyDir"


def test_only_the_operator_mounts_an_api_token(case: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = case
    for name, template in pod_templates(objects):
        mounted = template["spec"]["automountServiceAccountToken"]
        assert mounted is name.endswith("-operator"), name


def test_long_running_containers_have_probes(case: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = case
    for name, template in pod_templates(objects):
        if name.startswith("Job/"):
            continue
        for container in template["spec"]["containers"]:
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert probe in container, f"{name}: {container['name']} has no {probe}"


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def workload_pod_labels(objects: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, str]]:
    return {name: template["metadata"]["labels"] for name, template in pod_templates(objects)}


def test_selectors_select_the_pods_they_are_for(case: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = case
    pods = workload_pod_labels(objects)
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind in ("Deployment", "StatefulSet"):
            assert selects(obj["spec"]["selector"]["matchLabels"], obj["spec"]["template"]["metadata"]["labels"])
        if kind == "Service":
            matched = [pod for pod, labels in pods.items() if selects(obj["spec"]["selector"], labels)]
            assert len(matched) == 1, f"Service/{name} selects {matched}"
            (workload,) = [o for o in objects if f"{o['kind']}/{o['metadata']['name']}" == matched[0]]
            ports = {p["name"] for c in workload["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
            assert {p["targetPort"] for p in obj["spec"]["ports"]} <= ports, name
        if kind in ("PodDisruptionBudget", "NetworkPolicy"):
            selector = obj["spec"]["selector" if kind == "PodDisruptionBudget" else "podSelector"]["matchLabels"]
            matched = [pod for pod, labels in pods.items() if selects(selector, labels)]
            assert len(matched) == 1, f"{kind}/{name} selects {matched}"
        if kind == "HorizontalPodAutoscaler":
            target = obj["spec"]["scaleTargetRef"]
            one(objects, target["kind"], target["name"])


def test_network_policies_name_ports_the_pods_expose(case: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = case
    pods = {
        name: {p["name"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
        for name, template in pod_templates(objects)
    }
    labels = workload_pod_labels(objects)
    for policy in objects_of(objects, "NetworkPolicy"):
        (target,) = [pod for pod, lbl in labels.items() if selects(policy["spec"]["podSelector"]["matchLabels"], lbl)]
        for rule in policy["spec"].get("ingress") or []:
            for port in rule["ports"]:
                assert port["port"] in pods[target], f"{policy['metadata']['name']}: {port['port']}"


def test_images_follow_registry_tag_and_digest() -> None:
    default = render()
    full = render(files=[CHART_DIR / "ci" / "full-values.yaml"])
    images = {c["image"] for _, t in pod_templates(default) for c in t["spec"]["containers"]}
    assert "ghcr.io/modelplane/modelplane-operator:0.1.0" in images
    assert "ghcr.io/modelplane/modelplane-api:0.1.0" in images
    operator = one(full, "Deployment", "modelplane-operator")
    container = operator["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/ml/modelplane-operator@sha256:" + "0" * 64
    env = container_env(container)
    assert env["MODELPLANE_OPERATOR_JOBS_IMAGE"] == "registry.example.com/ml/modelplane-jobs:0.1.0"
    assert env["MODELPLANE_OPERATOR_SERVING_IMAGE"] == "registry.example.com/ml/modelplane-serving:0.1.0"
    assert env["MODELPLANE_OPERATOR_JOBS_IMAGE_PULL_POLICY"] == "Always"


# --- the environment the components read ---------------------------------------------------------------------


def resolve_env(container: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, str]:
    """The container's environment as the kubelet builds it: Secret keys from ``secrets``, $(VAR) expanded."""
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        if "value" in item:
            value = re.sub(r"\$\((\w+)\)", lambda m: env.get(m[1], m[0]), str(item["value"]))
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            value = secrets.get(f"{ref['name']}/{ref['key']}", f"secret-{ref['key']}")
        env[item["name"]] = value
    return env


def operator_env(objects: Sequence[Mapping[str, Any]], tmp_path: Path) -> dict[str, str]:
    deployment = one(objects, "Deployment", "modelplane-operator")
    env = resolve_env(deployment["spec"]["template"]["spec"]["containers"][0], {})
    profiles = env.get("MODELPLANE_OPERATOR_ACCELERATOR_PROFILES")
    if profiles is not None:  # the mounted ConfigMap, written where the test can read it
        (config_map,) = objects_of(objects, "ConfigMap")
        path = tmp_path / "profiles.yaml"
        path.write_text(config_map["data"][Path(profiles).name], encoding="utf-8")
        env["MODELPLANE_OPERATOR_ACCELERATOR_PROFILES"] = str(path)
    return env


def test_operator_environment_is_a_valid_operator_config(
    case: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    from modelplane.operator.config import OperatorConfig

    name, objects = case
    config = OperatorConfig.from_env(operator_env(objects, tmp_path))
    assert config.api_token_file is not None
    api = one(objects, "Service", "modelplane-api")
    assert config.api_url == f"http://modelplane-api.{NAMESPACE}.svc:{api['spec']['ports'][0]['port']}"
    assert config.metrics_port == 9090
    if name == "full-values":
        assert set(config.accelerator_profiles) == {"a100", "tpu-v5e"}
        assert config.accelerator_profiles["tpu-v5e"].topologies == {1: "1x1", 4: "2x2"}
        assert config.jobs_service_account == "modelplane-jobs"
        assert config.control_plane_timeout_seconds == 20


def test_default_install_matches_the_operators_built_in_defaults(tmp_path: Path) -> None:
    from modelplane.operator.config import DEFAULT_API_URL, DEFAULT_JOBS_IMAGE, OperatorConfig

    config = OperatorConfig.from_env(operator_env(render(), tmp_path))
    assert config.api_url == DEFAULT_API_URL
    assert config.jobs_image == DEFAULT_JOBS_IMAGE
    assert config.accelerator_profiles == OperatorConfig().accelerator_profiles


def api_settings_of(env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    from modelplane.api.settings import Settings

    for key in [k for k in __import__("os").environ if k.startswith("MODELPLANE_API_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


def known_api_variable(name: str) -> bool:
    """Whether ``MODELPLANE_API_<A>[__<B>]`` names a field of the control plane's Settings."""
    from pydantic import BaseModel

    from modelplane.api.settings import Settings

    model: type[BaseModel] = Settings
    parts = name.removeprefix("MODELPLANE_API_").lower().split("__")
    for index, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if index < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def test_control_plane_environment_is_valid_settings(
    case: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, objects = case
    deployment = one(objects, "Deployment", "modelplane-api")
    secrets = {f"{s['metadata']['name']}/password": "pw" for s in objects_of(objects, "Secret")}
    env = resolve_env(deployment["spec"]["template"]["spec"]["containers"][0], secrets)
    unknown = [k for k in env if k.startswith("MODELPLANE_API_") and not known_api_variable(k)]
    assert not unknown, f"variables the control plane ignores: {unknown}"
    settings = api_settings_of({k: v for k, v in env.items() if k.startswith("MODELPLANE_API_")}, monkeypatch)
    assert settings.artifacts.backend == "s3"
    assert settings.auth.admin_token is not None
    url = settings.db.url.get_secret_value()
    # api.tokenCacheSeconds reaches the control plane
    assert settings.auth.token_cache_seconds == (1.5 if name == "full-values" else 5)
    if name == "default":
        assert url == "postgresql+psycopg://modelplane:pw@modelplane-postgres:5432/modelplane"
        one(objects, "Service", "modelplane-postgres")
        assert settings.s3.endpoint == f"modelplane-minio.{NAMESPACE}.svc:9000"
        assert settings.s3.secure is False
        one(objects, "Service", "modelplane-minio")
    if name == "full-values":
        assert settings.s3.endpoint == "s3.eu-west-1.amazonaws.com"
        assert settings.s3.secure is True
        assert settings.db.pool_size == 20
        assert settings.max_metrics_per_batch == 5000


def test_migrations_run_the_alembic_entry_point_with_the_same_database(case: tuple[str, list[dict[str, Any]]]) -> None:
    from modelplane.api.db import migrate

    _, objects = case
    job = one(objects, "Job", "modelplane-migrations")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", migrate.__name__]
    assert container["args"][0] in ("upgrade",)
    api = one(objects, "Deployment", "modelplane-api")["spec"]["template"]["spec"]["containers"][0]
    db_env = [e for e in api["env"] if "DB__URL" in e["name"] or "POSTGRES_PASSWORD" in e["name"]]
    assert container["env"] == db_env
    assert job["spec"]["template"]["spec"].get("serviceAccountName") is None  # exists before the release


@pytest.mark.parametrize(
    ("name", "hook"),
    [
        ("default", "post-install,pre-upgrade"),
        ("external-inline-values", "post-install,pre-upgrade"),
        ("full-values", "pre-install,pre-upgrade"),
    ],
)
def test_migrations_hook_runs_pre_install_only_when_the_database_exists_before_the_release(
    name: str, hook: str
) -> None:
    job = one(render(files=CASES[name]), "Job", "modelplane-migrations")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == hook


def test_secret_references_resolve(case: tuple[str, list[dict[str, Any]]]) -> None:
    """Every Secret a pod reads is rendered by the chart, or named in the values as an existing Secret."""
    name, objects = case
    rendered = {s["metadata"]["name"] for s in objects_of(objects, "Secret")}
    external = {"modelplane-admin-token", "modelplane-database", "modelplane-s3"} if name == "full-values" else set()
    for workload, template in pod_templates(objects):
        spec = template["spec"]
        names = {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
        for container in spec["containers"]:
            names |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", []) if "valueFrom" in e}
        assert names <= rendered | external, f"{workload}: {names - rendered - external}"


def test_namespace_scoped_operator_is_bound_only_in_its_namespaces() -> None:
    objects = render(files=[CHART_DIR / "ci" / "full-values.yaml"])
    bindings = objects_of(objects, "RoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["ml-team-a", "ml-team-b"]
    assert {b["roleRef"]["name"] for b in bindings} == {"modelplane-operator"}
    cluster_bindings = {b["roleRef"]["name"] for b in objects_of(objects, "ClusterRoleBinding")}
    assert cluster_bindings == {"modelplane-operator-cluster"}
    container = one(objects, "Deployment", "modelplane-operator")["spec"]["template"]["spec"]["containers"][0]
    assert "--namespace=ml-team-a" in container["args"]
    assert "--all-namespaces" not in container["args"]


def test_operator_never_runs_twice() -> None:
    deployment = one(render(), "Deployment", "modelplane-operator")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_crds_are_not_templates() -> None:
    """CRDs ship in crds/ (installed once by helm, upgraded by kubectl): never among the rendered objects."""
    assert not objects_of(render(), "CustomResourceDefinition")
    out = helm("template", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE, "--include-crds")
    kinds = [doc["kind"] for doc in yaml.safe_load_all(out) if doc]
    assert kinds.count("CustomResourceDefinition") == len(list((CHART_DIR / "crds").glob("*.yaml")))
