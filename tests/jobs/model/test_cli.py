"""``python -m modelplane.jobs validate-model`` as the operator runs it: the resource, the resolved source and
evaluation Dataset in the environment; the one-line JSON result and the exit code out."""

from __future__ import annotations

import json
import uuid

import pytest

from modelplane.jobs.errors import PERMANENT_EXIT_CODES
from modelplane.jobs.training.job import run_training

pytestmark = [pytest.mark.db, pytest.mark.s3]
RESULT_KEYS = {
    "kind",
    "name",
    "uid",
    "observedGeneration",
    "succeeded",
    "reason",
    "message",
    "registeredVersion",
    "artifact",
    "optimizedArtifact",
    "signature",
    "metrics",
    "gates",
    "baseline",
    "singleInferenceMicroseconds",
    "evaluation",
    "runId",
    "trainingRun",
    "datasetDigest",
}


def validate(run_job, resource, **extra):
    return run_job("validate-model", resource, timeout=180, **extra)


def test_validate_model_as_a_process(client, ctx, make_run, ingest, run_job):
    dataset = ingest("load_iris")
    run_id = ctx.run_id = uuid.uuid4().hex
    run = make_run(
        {"datasetRef": {"name": "iris"}, "trainer": {"builtin": {"estimator": "LogisticRegression"}}}, name="iris-lr"
    )
    trained = run_training(run, ctx)
    sha256 = trained.artifact_digest.removeprefix("sha256:")
    source = {
        "uri": trained.artifact_uri,
        "sha256": sha256,
        "runId": run_id,
        "trainingRun": "iris-lr",
        "datasetDigest": dataset.digest,
    }
    resource = {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "ModelVersion",
        "metadata": {"name": "iris-lr-1", "uid": "u-7", "generation": 4},
        "spec": {
            "modelName": "iris",
            "source": {"trainingRunRef": {"name": "iris-lr"}},
            "evaluation": {"thresholds": [{"metric": "accuracy", "min": 0.7}]},
            "optimize": {"quantization": "Dynamic"},
        },
    }
    evaluation = json.dumps({"digest": dataset.digest, "artifacts": dataset.artifacts})

    code, result, log = validate(
        run_job, resource, MODELPLANE_MODEL_SOURCE=json.dumps(source), MODELPLANE_EVAL_DATASET=evaluation
    )
    assert code == 0, log
    assert set(result) == RESULT_KEYS
    assert result["succeeded"] is True
    assert (result["name"], result["uid"], result["observedGeneration"]) == ("iris-lr-1", "u-7", 4)
    assert result["registeredVersion"] == 1
    assert result["artifact"] == {"uri": trained.artifact_uri, "sha256": sha256, "sizeBytes": trained.artifact_size}
    assert result["optimizedArtifact"] is None  # a linear classifier of ai.onnx.ml has nothing to quantize
    assert "dynamic quantization is not applicable" in result["message"]
    assert result["metrics"]["accuracy"] >= 0.7
    assert result["gates"][0]["passed"] is True
    assert (result["runId"], result["trainingRun"], result["datasetDigest"]) == (run_id, "iris-lr", dataset.digest)
    assert "Validated ModelVersion iris-lr-1: registered as iris version 1" in log
    assert client.get_model_version("iris", 1)["run_id"] == run_id

    resource["spec"]["evaluation"]["thresholds"] = [{"metric": "accuracy", "min": 1.01}]  # cannot pass
    code, result, log = validate(
        run_job, resource, MODELPLANE_MODEL_SOURCE=json.dumps(source), MODELPLANE_EVAL_DATASET=evaluation
    )
    assert code == 3, log
    assert code in PERMANENT_EXIT_CODES
    assert (result["succeeded"], result["reason"]) == (False, "GateFailed")
    assert result["message"] == f"gates failed: accuracy {result['metrics']['accuracy']:.4g} < min 1.01"
    assert result["registeredVersion"] is None

    wrong = {**source, "sha256": "0" * 64}
    code, result, log = validate(run_job, resource, MODELPLANE_MODEL_SOURCE=json.dumps(wrong))
    assert code == 2, log
    assert (result["succeeded"], result["reason"]) == (False, "DigestMismatch")
    assert sha256 in result["message"]
    assert "0" * 64 in result["message"]
    assert (result["runId"], result["trainingRun"], result["datasetDigest"]) == (run_id, "iris-lr", dataset.digest)

    code, result, _ = validate(run_job, {**resource, "kind": "Dataset"})
    assert (code, result["reason"]) == (2, "InvalidSpec")
    assert result["kind"] == "ModelVersion"
