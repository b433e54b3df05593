"""Pure building blocks shared by every Job the operator builds: labels, owner references, the job
contract's environment, the token volume, resources and security settings.

The per-kind builders (``dataset.builders``, ``training.builders``) compose these; nothing here talks to
a client. See docs/operator.md ("Job contract") for what a job container can rely on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from modelplane.apis.meta import GROUP
from modelplane.apis.v1alpha1.base import CustomResource
from modelplane.apis.v1alpha1.common import EnvVar, ResourceSpec
from modelplane.operator.accelerators import Placement
from modelplane.operator.config import JOB_TOKEN_KEY, OperatorConfig
from modelplane.operator.naming import label_value

PART_OF = "modelplane"
MANAGED_BY = "modelplane-operator"
TOKEN_DIR = "/var/run/modelplane"
TOKEN_FILE = f"{TOKEN_DIR}/token"
TOKEN_VOLUME = "modelplane-token"
RESULT_FILE = "/dev/termination-log"
COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
PERMANENT_FAILURE_EXIT_CODES = (2, 3, 4)
"""Exit codes of the ModelPlane jobs image for failures a retry cannot fix: InvalidSpec/InvalidData (2),
ValidationFailed (3), TrainingFailed (4) (docs/jobs.md)."""
WORK_DIR = "/var/run/modelplane-work"
WORK_VOLUME = "modelplane-work"

LABEL_GENERATION = f"{GROUP}/generation"
ANNOTATION_REFRESH = f"{GROUP}/refresh"
ANNOTATION_CODE_REF = f"{GROUP}/code-ref"


def standard_labels(app: str, instance: str, component: str) -> dict[str, str]:
    """The ``app.kubernetes.io/*`` labels of a child object."""
    return {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/instance": label_value(instance),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }


def owner_reference(resource: CustomResource) -> dict[str, Any]:
    """A controller owner reference to ``resource`` (garbage collection deletes the child with it)."""
    return {
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "name": resource.metadata.name,
        "uid": resource.metadata.uid or "",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def resource_document(resource: CustomResource, spec: Mapping[str, Any]) -> str:
    """``MODELPLANE_RESOURCE``: the resource's identity and spec as compact JSON."""
    meta = resource.metadata
    document = {
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "metadata": {"name": meta.name, "namespace": meta.namespace, "uid": meta.uid, "generation": meta.generation},
        "spec": dict(spec),
    }
    return compact_json(document)


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def env_value(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def env_field(name: str, field_path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}


def env_secret(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def contract_env(resource: CustomResource, spec: Mapping[str, Any], config: OperatorConfig) -> list[dict[str, Any]]:
    """The environment every job container gets (docs/operator.md, "Job contract")."""
    return [
        env_value("MODELPLANE_API_URL", config.effective_jobs_api_url),
        env_value("MODELPLANE_TOKEN_FILE", TOKEN_FILE),
        env_value("MODELPLANE_NAMESPACE", resource.metadata.namespace or ""),
        env_value("MODELPLANE_RESOURCE", resource_document(resource, spec)),
        env_value("MODELPLANE_RESULT_FILE", RESULT_FILE),
        env_field("NODE_NAME", "spec.nodeName"),
        env_field("POD_NAME", "metadata.name"),
    ]


def user_env(env: Sequence[EnvVar]) -> list[dict[str, Any]]:
    """A custom trainer's own variables (values or Secret keys)."""
    out: list[dict[str, Any]] = []
    for var in env:
        if var.secret_key_ref is not None:
            out.append(env_secret(var.name, var.secret_key_ref.name, var.secret_key_ref.key))
        else:
            out.append(env_value(var.name, var.value or ""))
    return out


def token_volume(config: OperatorConfig) -> dict[str, Any]:
    """The Secret volume holding the jobs' control-plane token (key ``token``), readable by the pod only."""
    return {
        "name": TOKEN_VOLUME,
        "secret": {
            "secretName": config.job_token_secret,
            "items": [{"key": JOB_TOKEN_KEY, "path": "token"}],
            "defaultMode": 0o440,
        },
    }


def token_mount() -> dict[str, Any]:
    return {"name": TOKEN_VOLUME, "mountPath": TOKEN_DIR, "readOnly": True}


def work_volume() -> dict[str, Any]:
    """Scratch space of the jobs image (downloads, splits, models): an emptyDir (``MODELPLANE_WORKDIR``)."""
    return {"name": WORK_VOLUME, "emptyDir": {}}


def work_mount() -> dict[str, Any]:
    return {"name": WORK_VOLUME, "mountPath": WORK_DIR}


def container_resources(spec: ResourceSpec | None, placement: Placement | None = None) -> dict[str, Any]:
    """Requests and limits: memory limit defaults to the request, CPU is unlimited unless set, devices as limits."""
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if spec is not None:
        if spec.cpu:
            requests["cpu"] = spec.cpu
        if spec.memory:
            requests["memory"] = spec.memory
        if spec.cpu_limit:
            limits["cpu"] = spec.cpu_limit
        if spec.memory_limit or spec.memory:
            limits["memory"] = spec.memory_limit or spec.memory or ""
    if placement is not None:
        limits.update(placement.limits)
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return resources


def container_security() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def pod_security() -> dict[str, Any]:
    return {"seccompProfile": {"type": "RuntimeDefault"}}


def pod_failure_policy(container: str, *, permanent_exit_code: bool) -> dict[str, Any]:
    """Disruptions (preemption, node drain) do not count against backoffLimit; our image's permanent failures
    (exit codes 2, 3, 4) fail the Job at once instead of spending retries."""
    rules: list[dict[str, Any]] = []
    if permanent_exit_code:
        codes = list(PERMANENT_FAILURE_EXIT_CODES)
        rules.append(
            {"action": "FailJob", "onExitCodes": {"containerName": container, "operator": "In", "values": codes}}
        )
    rules.append({"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]})
    return {"rules": rules}
