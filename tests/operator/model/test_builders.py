"""The validation Job of a ModelVersion: golden files (validated against the Kubernetes schemas), the
validation key, and the inputs it carries."""

from __future__ import annotations

import json
from typing import Any

from modelplane.apis.v1alpha1 import ModelVersion
from modelplane.operator.config import OperatorConfig
from modelplane.operator.model.builders import (
    build_validation_job,
    model_version_selector,
    validation_job_name,
    validation_key,
)
from modelplane.operator.model.sources import ModelSource
from modelplane.operator.training.inputs import DatasetInfo

CONFIG = OperatorConfig.from_env({"MODELPLANE_OPERATOR_API_URL": "http://modelplane-api.mp-system.svc:8080"})
SHA = "a1" * 32
EXTERNAL = {
    "external": {
        "uri": "s3://models/credit/model.onnx",
        "sha256": SHA,
        "accessKeyIdRef": {"name": "model-reader", "key": "accessKeyId"},
        "secretAccessKeyRef": {"name": "model-reader", "key": "secretAccessKey"},
    }
}
FROM_RUN = {"trainingRunRef": {"name": "credit-rf"}}
DATASET = DatasetInfo(
    name="credit",
    digest="sha256:" + "d4" * 32,
    version="3",
    artifacts={"train": "s3://mp/train", "validation": "s3://mp/val", "test": "s3://mp/test", "profile": "s3://mp/p"},
)


def model_version(source: dict[str, Any], *, annotations: dict[str, str] | None = None, **spec: Any) -> ModelVersion:
    return ModelVersion.from_wire(
        {
            "apiVersion": "modelplane.io/v1alpha1",
            "kind": "ModelVersion",
            "metadata": {
                "name": "credit-v3",
                "namespace": "risk",
                "uid": "5f0c2a4e-1b7d-4c8e-9a3f-6d2e1c0b9a87",
                "generation": 2,
                "annotations": annotations or {},
            },
            "spec": {"modelName": "credit", "source": source, **spec},
        }
    )


def env_of(job: dict[str, Any]) -> dict[str, Any]:
    container = job["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_an_external_source_job_matches_its_golden_file(golden):
    config = OperatorConfig.from_env({"MODELPLANE_OPERATOR_SOURCE_S3_ENDPOINT": "http://minio:9000"})
    model = model_version(EXTERNAL, aliases=["champion"])
    source = ModelSource(uri="s3://models/credit/model.onnx", sha256=SHA)
    evaluation = DatasetInfo(name="credit-holdout", digest="sha256:" + "e5" * 32, artifacts={"test": "s3://mp/t"})
    golden(
        "model-validation-external",
        build_validation_job(model, config, key=validation_key(model), source=source, evaluation=evaluation),
    )


def test_a_training_run_source_job_matches_its_golden_file(golden):
    model = model_version(FROM_RUN, evaluation={"thresholds": [{"metric": "accuracy", "min": 0.9}]})
    source = ModelSource(
        uri=f"s3://modelplane/risk/sha256/{SHA[:2]}/{SHA}",
        sha256=SHA,
        run_id="0" * 32,
        training_run="credit-rf",
        dataset_digest=DATASET.digest,
    )
    golden(
        "model-validation-training",
        build_validation_job(model, CONFIG, key=validation_key(model), source=source, evaluation=DATASET),
    )


def test_the_job_carries_the_contract_the_validation_job_reads():
    model = model_version(FROM_RUN, evaluation={})
    source = ModelSource(uri="s3://b/k", sha256=SHA, run_id="1" * 32, training_run="credit-rf")
    job = build_validation_job(model, CONFIG, key="abc123", source=source, evaluation=DATASET)
    env = env_of(job)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "modelplane.jobs", "validate-model"]
    assert container["image"] == CONFIG.jobs_image
    assert json.loads(env["MODELPLANE_MODEL_SOURCE"]) == {
        "uri": "s3://b/k",
        "sha256": SHA,
        "runId": "1" * 32,
        "trainingRun": "credit-rf",
        "datasetDigest": None,
    }
    assert json.loads(env["MODELPLANE_EVAL_DATASET"]) == {
        "name": "credit",
        "digest": DATASET.digest,
        "version": "3",
        "artifacts": DATASET.artifacts,
    }
    resource = json.loads(env["MODELPLANE_RESOURCE"])
    assert (resource["kind"], resource["metadata"]["uid"], resource["spec"]["modelName"]) == (
        "ModelVersion",
        model.metadata.uid,
        "credit",
    )
    assert env["MODELPLANE_WORKDIR"] == "/var/run/modelplane-work"
    assert env["MODELPLANE_RESULT_FILE"] == "/dev/termination-log"
    assert env["MODELPLANE_TOKEN_FILE"] == "/var/run/modelplane/token"
    assert "MODELPLANE_SOURCE_ACCESS_KEY_ID" not in env  # credentials only for external sources
    assert job["metadata"]["annotations"]["modelplane.io/model-source"] == env["MODELPLANE_MODEL_SOURCE"]
    assert job["metadata"]["annotations"]["modelplane.io/evaluation-dataset"] == env["MODELPLANE_EVAL_DATASET"]
    assert job["metadata"]["name"] == "credit-v3-validate-abc123"
    assert job["metadata"]["ownerReferences"][0]["uid"] == model.metadata.uid
    # exit codes 2 (invalid artifact/spec) and 3 (GateFailed) fail the Job at once; 5 (SourceUnavailable) retries
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert rules[0]["action"] == "FailJob"
    assert {2, 3} <= set(rules[0]["onExitCodes"]["values"])
    assert 5 not in rules[0]["onExitCodes"]["values"]
    assert model_version_selector(model) == "modelplane.io/model-version=credit-v3"


def test_without_evaluation_there_is_no_eval_dataset_and_external_credentials_come_from_secrets():
    model = model_version(EXTERNAL)
    job = build_validation_job(model, CONFIG, key="k", source=ModelSource("s3://x/y", SHA), evaluation=None)
    env = env_of(job)
    assert "MODELPLANE_EVAL_DATASET" not in env
    assert "modelplane.io/evaluation-dataset" not in job["metadata"]["annotations"]
    assert env["MODELPLANE_SOURCE_ACCESS_KEY_ID"] == {"secretKeyRef": {"name": "model-reader", "key": "accessKeyId"}}
    assert env["MODELPLANE_SOURCE_SECRET_ACCESS_KEY"] == {
        "secretKeyRef": {"name": "model-reader", "key": "secretAccessKey"}
    }
    assert "MODELPLANE_SOURCE_S3_ENDPOINT" not in env  # none configured


def test_the_key_ignores_aliases_and_retention_and_follows_the_validated_spec_and_refresh():
    base = model_version(EXTERNAL)
    key = validation_key(base)
    assert validation_key(model_version(EXTERNAL, aliases=["champion"], retentionPolicy="Delete")) == key
    assert validation_key(model_version(EXTERNAL, evaluation={"datasetRef": {"name": "d"}})) != key
    assert validation_key(model_version(EXTERNAL, annotations={"modelplane.io/refresh": "1"})) != key
    other = base.model_copy(update={"metadata": base.metadata.model_copy(update={"uid": "another"})})
    assert validation_key(other) != key
    newer = base.model_copy(update={"metadata": base.metadata.model_copy(update={"generation": 9})})
    assert validation_key(newer) == key  # the generation alone (an alias change) keeps the Job
    assert validation_job_name(base, key) == f"credit-v3-validate-{key}"
    long = model_version(EXTERNAL).model_copy(deep=True)
    long.metadata.name = "a-very-long-model-version-name-made-by-a-training-run-abcdef12"
    assert len(validation_job_name(long, key)) <= 52
