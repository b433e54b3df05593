"""What a ModelVersion validates: a TrainingRun's artifact (best or another trial), an external artifact, and
the evaluation Dataset it defaults to."""

from __future__ import annotations

import json
from typing import Any

from modelplane.apis.v1alpha1 import ModelVersion
from modelplane.apis.v1alpha1.model_version import TrainingRunSource
from modelplane.operator.model import reasons
from modelplane.operator.model.sources import (
    ModelSource,
    SourceCheck,
    check_training_run,
    evaluation_ref,
    external_source,
    trial_source,
)
from modelplane.operator.naming import run_id
from modelplane.operator.records import Run
from modelplane.operator.training.builders import spec_key

SHA = "ab" * 32
DATASET_DIGEST = "sha256:" + "d1" * 32


def training_run(succeeded: str | None = "True", *, reason: str = "JobSucceeded", sweep: bool = False, **status: Any):
    spec: dict[str, Any] = {"datasetRef": {"name": "iris"}, "trainer": {"builtin": {"estimator": "Ridge"}}}
    if sweep:
        spec["sweep"] = {
            "algorithm": "Grid",
            "parameters": [{"name": "alpha", "values": [0.1, 1.0]}],
            "objective": {"metric": "r2", "direction": "Maximize"},
        }
    conditions = []
    if succeeded is not None:
        conditions.append(
            {
                "type": "Succeeded",
                "status": succeeded,
                "reason": reason,
                "message": "m",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
                "observedGeneration": 1,
            }
        )
    return {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": "iris-rf", "namespace": "ml", "uid": "run-uid", "generation": 1},
        "spec": spec,
        "status": {"conditions": conditions, **status},
    }


SUCCEEDED = {
    "runId": "9" * 32,
    "artifactUri": f"s3://mp/ml/sha256/ab/{SHA}",
    "artifactDigest": f"sha256:{SHA}",
    "lineage": {"datasetDigest": DATASET_DIGEST},
}


def model_version(source: dict[str, Any], **spec: Any) -> ModelVersion:
    return ModelVersion.from_wire(
        {
            "apiVersion": "modelplane.io/v1alpha1",
            "kind": "ModelVersion",
            "metadata": {"name": "v1", "namespace": "ml", "uid": "mv"},
            "spec": {"modelName": "iris", "source": source, **spec},
        }
    )


def test_a_succeeded_run_gives_its_artifact_and_lineage():
    check = check_training_run(training_run(**SUCCEEDED), TrainingRunSource(name="iris-rf"))
    assert check.ready
    assert check.source == ModelSource(SUCCEEDED["artifactUri"], SHA, "9" * 32, "iris-rf", DATASET_DIGEST)
    assert json.loads(check.source.to_json()) == {
        "uri": SUCCEEDED["artifactUri"],
        "sha256": SHA,
        "runId": "9" * 32,
        "trainingRun": "iris-rf",
        "datasetDigest": DATASET_DIGEST,
    }
    assert ModelSource.from_json(check.source.to_json()) == check.source
    assert ModelSource.from_json('{"uri": "s3://x", "sha256": "short"}') is None
    assert ModelSource.from_json("not json") is None


def test_a_run_not_there_not_finished_or_failed_is_waited_for():
    ref = TrainingRunSource(name="iris-rf")
    assert check_training_run(None, ref).reason == reasons.SOURCE_NOT_FOUND
    assert check_training_run(training_run(None), ref).reason == reasons.SOURCE_NOT_READY
    running = check_training_run(training_run("Unknown", reason="Running"), ref)
    assert (running.reason, running.message) == (
        reasons.SOURCE_NOT_READY,
        "TrainingRun iris-rf has not succeeded (Running: m).",
    )
    failed = check_training_run(training_run("False", reason="JobFailed"), ref)
    assert (failed.reason, failed.ready) == (reasons.SOURCE_FAILED, False)
    stale = training_run(**SUCCEEDED)
    stale["metadata"]["generation"] = 2  # succeeded for an earlier spec
    assert check_training_run(stale, ref).reason == reasons.SOURCE_NOT_READY
    no_artifact = check_training_run(training_run(runId="9" * 32), ref)
    assert (no_artifact.reason, no_artifact.ready) == (reasons.SOURCE_NOT_READY, False)
    assert "names no artifact" in no_artifact.message


def test_another_trial_than_the_best_is_read_from_its_run():
    body = training_run(sweep=True, **SUCCEEDED, trials={"total": 2, "succeeded": 2, "bestTrial": 1})
    best = check_training_run(body, TrainingRunSource(name="iris-rf", trial=1))
    assert best.ready
    other = check_training_run(body, TrainingRunSource(name="iris-rf", trial=0))
    assert not other.ready
    assert other.run is not None
    assert other.trial_run_id == run_id("run-uid", spec_key(other.run), 0)
    record = Run(
        run_id=other.trial_run_id,
        status="Succeeded",
        artifact_uri=f"s3://mp/ml/sha256/cd/{'cd' * 32}",
        dataset_digest=DATASET_DIGEST,
    )
    found = trial_source(other, record)
    assert found.source == ModelSource(
        record.artifact_uri or "", "cd" * 32, other.trial_run_id, "iris-rf", DATASET_DIGEST
    )
    assert trial_source(other, None).reason == reasons.SOURCE_NOT_FOUND
    assert trial_source(other, record.model_copy(update={"status": "Failed"})).reason == reasons.SOURCE_FAILED


def test_an_external_source_is_the_spec():
    model = model_version({"external": {"uri": "https://example.com/m.onnx", "sha256": SHA}})
    assert external_source(model) == ModelSource("https://example.com/m.onnx", SHA)


def test_the_evaluation_dataset_defaults_to_the_training_dataset_at_the_trained_version():
    run_check = check_training_run(training_run(**SUCCEEDED), TrainingRunSource(name="iris-rf"))
    source = {"trainingRunRef": {"name": "iris-rf"}}
    assert evaluation_ref(model_version(source), run_check) is None
    default = evaluation_ref(model_version(source, evaluation={}), run_check)
    assert default is not None
    assert not isinstance(default, str)
    assert (default.name, default.digest) == ("iris", DATASET_DIGEST)
    explicit = evaluation_ref(model_version(source, evaluation={"datasetRef": {"name": "holdout"}}), run_check)
    assert explicit is not None
    assert not isinstance(explicit, str)
    assert (explicit.name, explicit.digest) == ("holdout", None)
    external = model_version({"external": {"uri": "s3://b/m.onnx", "sha256": SHA}}, evaluation={})
    missing = evaluation_ref(external, SourceCheck(reasons.SOURCE_NOT_READY, "", external_source(external)))
    assert isinstance(missing, str)
    assert "evaluation.datasetRef is required" in missing
