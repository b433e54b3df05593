"""Pure building blocks shared by every Job the operator builds: labels, owner references, the job
contract's environment, the token and scratch volumes, resources, security settings and placement, and the
Job, pod and container around them.

The per-kind builders (``dataset.builders``, ``training.builders``, ``model.builders``) say what differs:
the container's image and command, its extra environment, volumes and labels, the Job's retries; every
Job gets the rest from :func:`job_manifest`, :func:`job_pod_spec` and :func:`job_container`, so the job
contract holds the same way for each. ``inference.builders`` takes the security settings and placement
for its Deployments. Nothing here talks to a client. See docs/operator.md ("Job contract") for what a
job container can rely on.
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


def json_object(text: str) -> Mapping[str, Any] | None:
    """The JSON object ``text`` holds (an annotation :func:`compact_json` wrote), or None for anything else."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return document if isinstance(document, Mapping) else None


def env_value(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def env_field(name: str, field_path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}


def env_secret(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def contract_env(resource: CustomResource, spec: Mapping[str, Any], config: OperatorConfig) -> list[dict[str, Any]]:
    """The environment every job container gets (docs/operator.md, "Job contract"), scratch directory included."""
    return [
        env_value("MODELPLANE_API_URL", config.effective_jobs_api_url),
        env_value("MODELPLANE_TOKEN_FILE", TOKEN_FILE),
        env_value("MODELPLANE_NAMESPACE", resource.metadata.namespace or ""),
        env_value("MODELPLANE_RESOURCE", resource_document(resource, spec)),
        env_value("MODELPLANE_RESULT_FILE", RESULT_FILE),
        env_field("NODE_NAME", "spec.nodeName"),
        env_field("POD_NAME", "metadata.name"),
        env_value("MODELPLANE_WORKDIR", WORK_DIR),
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


def scheduling(placement: Placement) -> dict[str, Any]:
    """A pod's ``nodeSelector`` and ``tolerations`` for an accelerator placement (none for a CPU-only one)."""
    fields: dict[str, Any] = {}
    if placement.node_selector:
        fields["nodeSelector"] = dict(placement.node_selector)
    if placement.tolerations:
        fields["tolerations"] = [dict(t) for t in placement.tolerations]
    return fields


def jobs_image(config: OperatorConfig, command: Sequence[str]) -> dict[str, Any]:
    """The image fields of a container that runs ``command`` in the configured jobs image."""
    return {"image": config.jobs_image, "imagePullPolicy": config.jobs_image_pull_policy, "command": list(command)}


def job_container(
    name: str,
    image: Mapping[str, Any],
    env: list[dict[str, Any]],
    resources: dict[str, Any],
    *,
    mounts: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A job's container: ``image`` (image, pull policy, command, args), the token and scratch mounts before
    ``mounts``, locked down, its result read from the termination message."""
    return {
        "name": name,
        **image,
        "env": env,
        "resources": resources,
        "volumeMounts": [token_mount(), work_mount(), *mounts],
        "securityContext": container_security(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def job_pod_spec(
    container: dict[str, Any],
    config: OperatorConfig,
    *,
    volumes: Sequence[dict[str, Any]] = (),
    placement: Placement | None = None,
    subdomain: str | None = None,
) -> dict[str, Any]:
    """A job's pod: never restarted in place (the Job retries), no service links, one container, the token and
    scratch volumes before ``volumes``, the placement's node selector and tolerations, the jobs' service account."""
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "enableServiceLinks": False,
        "securityContext": pod_security(),
        "containers": [container],
        "volumes": [token_volume(config), work_volume(), *volumes],
    }
    if placement is not None:
        pod_spec.update(scheduling(placement))
    if subdomain is not None:
        pod_spec["subdomain"] = subdomain
    if config.jobs_service_account:
        pod_spec["serviceAccountName"] = config.jobs_service_account
    return pod_spec


def job_manifest(
    owner: CustomResource,
    name: str,
    pod_spec: dict[str, Any],
    *,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    backoff_limit: int,
    permanent_exit_code: bool = True,
    job_labels: Mapping[str, str] | None = None,
    spec: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A Job of ``owner`` (controller owner reference) running ``pod_spec``: ``labels`` on the Job and its
    pods, ``job_labels`` on the Job only, the failure policy of its container, ``spec`` for more Job fields."""
    container = str(pod_spec["containers"][0]["name"])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": owner.metadata.namespace,
            "labels": {**labels, **(job_labels or {})},
            "annotations": dict(annotations),
            "ownerReferences": [owner_reference(owner)],
        },
        "spec": {
            "backoffLimit": backoff_limit,
            "podFailurePolicy": pod_failure_policy(container, permanent_exit_code=permanent_exit_code),
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
            **(spec or {}),
        },
    }
