"""Desired state of a ModelVersion's child: the validation Job, by a deterministic name. Pure.

One Job per *validation key*: 6 hex of the ModelVersion's uid, its spec without ``aliases`` and
``retentionPolicy`` (moving an alias or changing the retention re-validates nothing) and the value of its
``modelplane.io/refresh`` annotation (a way to validate again after a transient failure). The Job runs
``python -m modelplane.jobs validate-model`` in the jobs image with the job contract's environment plus the
resolved source (``MODELPLANE_MODEL_SOURCE``) and evaluation Dataset (``MODELPLANE_EVAL_DATASET``), both also
pinned as annotations (docs/operator.md, "Validation Jobs").
"""

from __future__ import annotations

from typing import Any

from modelplane.apis.meta import GROUP
from modelplane.apis.v1alpha1 import ModelVersion
from modelplane.apis.v1alpha1.common import ResourceSpec
from modelplane.operator import podspec
from modelplane.operator.config import OperatorConfig
from modelplane.operator.model.sources import ANNOTATION_EVALUATION_DATASET, ANNOTATION_MODEL_SOURCE, ModelSource
from modelplane.operator.naming import child_name, label_value, short_hash
from modelplane.operator.training.inputs import DatasetInfo

LABEL_MODEL_VERSION = f"{GROUP}/model-version"
LABEL_MODEL = f"{GROUP}/model"
LABEL_VALIDATION_KEY = f"{GROUP}/validation-key"
CONTAINER = "validator"
APP = "modelplane-validator"
COMPONENT = "model-validation"
COMMAND = ["python", "-m", "modelplane.jobs", "validate-model"]
NON_VALIDATING_FIELDS = ("aliases", "retentionPolicy")
"""Spec fields that do not change what is validated: changing them keeps the validation Job and its result."""


def validation_key(model: ModelVersion) -> str:
    """6 hex of the uid, the validated part of the spec and the ``modelplane.io/refresh`` annotation."""
    spec = {k: v for k, v in model.spec.to_wire().items() if k not in NON_VALIDATING_FIELDS}
    refresh = model.metadata.annotations.get(podspec.ANNOTATION_REFRESH, "")
    return short_hash(model.metadata.uid, podspec.compact_json(spec), refresh, length=6)


def validation_job_name(model: ModelVersion, key: str) -> str:
    """``<model version>-validate-<key>``."""
    return child_name(model.metadata.name, "validate", key)


def model_version_selector(model: ModelVersion) -> str:
    """Label selector of every validation Job of this ModelVersion."""
    return f"{LABEL_MODEL_VERSION}={label_value(model.metadata.name)}"


def _source_env(model: ModelVersion, config: OperatorConfig) -> list[dict[str, Any]]:
    external = model.spec.source.external
    env: list[dict[str, Any]] = []
    if external is None:
        return env
    if external.access_key_id_ref is not None:
        ref = external.access_key_id_ref
        env.append(podspec.env_secret("MODELPLANE_SOURCE_ACCESS_KEY_ID", ref.name, ref.key))
    if external.secret_access_key_ref is not None:
        ref = external.secret_access_key_ref
        env.append(podspec.env_secret("MODELPLANE_SOURCE_SECRET_ACCESS_KEY", ref.name, ref.key))
    if external.uri.startswith("s3://") and external.endpoint is None and config.source_s3_endpoint:
        env.append(podspec.env_value("MODELPLANE_SOURCE_S3_ENDPOINT", config.source_s3_endpoint))
    return env


def build_validation_job(
    model: ModelVersion, config: OperatorConfig, *, key: str, source: ModelSource, evaluation: DatasetInfo | None
) -> dict[str, Any]:
    """The validation Job of ``model`` for validation ``key``, with its inputs resolved."""
    meta = model.metadata
    labels = {
        **podspec.standard_labels(APP, meta.name, COMPONENT),
        LABEL_MODEL_VERSION: label_value(meta.name),
        LABEL_MODEL: label_value(model.spec.model_name),
        LABEL_VALIDATION_KEY: key,
    }
    annotations = {ANNOTATION_MODEL_SOURCE: source.to_json()}
    env = [
        *podspec.contract_env(model, model.spec.to_wire(), config),
        podspec.env_value("MODELPLANE_MODEL_SOURCE", source.to_json()),
    ]
    if evaluation is not None:
        env.append(podspec.env_value("MODELPLANE_EVAL_DATASET", evaluation.to_json()))
        annotations[ANNOTATION_EVALUATION_DATASET] = evaluation.to_json()
    env += _source_env(model, config)
    resources = podspec.container_resources(
        ResourceSpec(cpu=config.model_validation_cpu, memory=config.model_validation_memory)
    )
    container = podspec.job_container(CONTAINER, podspec.jobs_image(config, COMMAND), env, resources)
    return podspec.job_manifest(
        model,
        validation_job_name(model, key),
        podspec.job_pod_spec(container, config),
        labels=labels,
        annotations=annotations,
        backoff_limit=config.model_validation_backoff_limit,
    )
