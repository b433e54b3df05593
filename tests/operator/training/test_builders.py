from __future__ import annotations

import json
from typing import Any

import pytest

from modelplane.apis.v1alpha1 import TrainingRun
from modelplane.apis.v1alpha1.sweep import expand_trials
from modelplane.operator.accelerators import DEFAULT_PROFILES, resolve_accelerator
from modelplane.operator.config import OperatorConfig
from modelplane.operator.training.builders import (
    build_headless_service,
    build_model_version,
    build_training_job,
    make_trials,
    model_version_name,
    parent_run_id,
    trial_job_name,
)
from modelplane.operator.training.inputs import DatasetInfo

CONFIG = OperatorConfig.from_env({"MODELPLANE_OPERATOR_API_URL": "http://modelplane-api.mp-system.svc:8080"})
DATASET = DatasetInfo(
    name="credit",
    digest="sha256:" + "0d" * 32,
    version="4",
    artifacts={"train": "s3://mp/ml/sha256/aa/train", "validation": "s3://mp/ml/sha256/bb/val"},
)


def training_run(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> TrainingRun:
    return TrainingRun.from_wire(
        {
            "apiVersion": "modelplane.io/v1alpha1",
            "kind": "TrainingRun",
            "metadata": {
                "name": "credit-rf",
                "namespace": "risk",
                "uid": "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
                "generation": 2,
                "annotations": annotations or {},
            },
            "spec": {"datasetRef": {"name": "credit"}, **spec},
        }
    )


BUILTIN = {
    "trainer": {"builtin": {"estimator": "RandomForestClassifier"}},
    "hyperparameters": {"n_estimators": 100},
    "resources": {"cpu": "2", "memory": "4Gi"},
    "seed": 1234,
    "activeDeadlineSeconds": 3600,
    "maxRetries": 1,
}
SWEEP = {
    **BUILTIN,
    "sweep": {
        "algorithm": "Grid",
        "parameters": [{"name": "max_depth", "values": [4, 8]}],
        "objective": {"metric": "f1"},
        "parallelism": 2,
    },
}
CUSTOM_GPU = {
    "trainer": {
        "custom": {
            "image": "registry.example.com/churn@sha256:" + "4b" * 32,
            "command": ["torchrun", "--nproc-per-node=4"],
            "args": ["-m", "churn.train"],
            "env": [
                {"name": "TORCH_DISTRIBUTED_DEBUG", "value": "INFO"},
                {"name": "WANDB_API_KEY", "secretKeyRef": {"name": "wandb", "key": "apiKey"}},
            ],
        }
    },
    "hyperparameters": {"learning_rate": 0.0003},
    "resources": {
        "cpu": "8",
        "memory": "32Gi",
        "memoryLimit": "40Gi",
        "accelerator": {"type": "nvidia-a100", "count": 4},
    },
    "numNodes": 2,
    "maxRetries": 2,
    "suspend": True,
    "queueName": "gpu-batch",
}
TPU = {**BUILTIN, "resources": {"accelerator": {"type": "tpu-v5e", "count": 8}}}


def build(spec: dict[str, Any], trial: int = 0, **kwargs: Any) -> dict[str, Any]:
    run = training_run(spec, **kwargs)
    trials = make_trials(run, expand_trials(run.spec))
    placement = resolve_accelerator(run.spec.resources.accelerator, DEFAULT_PROFILES)
    return build_training_job(run, CONFIG, trial=trials[trial], dataset=DATASET, placement=placement)


@pytest.mark.parametrize(
    ("name", "spec", "trial"),
    [("training-builtin", BUILTIN, 0), ("training-sweep-trial", SWEEP, 1), ("training-tpu", TPU, 0)],
)
def test_training_jobs_match_their_golden_files(golden, name: str, spec: dict[str, Any], trial: int):
    golden(name, build(spec, trial, annotations={"modelplane.io/code-ref": "git+https://example.com/ml@3f2a"}))


def test_a_distributed_custom_gpu_run_matches_its_golden_files(golden):
    run = training_run(CUSTOM_GPU)
    (trial,) = make_trials(run, expand_trials(run.spec))
    golden("training-distributed-gpu", build(CUSTOM_GPU))
    golden("training-distributed-service", build_headless_service(run, trial))


def test_the_model_version_of_a_sweep_names_the_best_trial(golden):
    run = training_run({**SWEEP, "output": {"modelName": "credit-default"}})
    digest = "9f" * 32
    manifest = build_model_version(
        run,
        best_trial=1,
        best_run_id="a" * 32,
        artifact_uri=f"s3://mp/risk/sha256/9f/{digest}",
        artifact_sha256=digest,
        dataset_digest=DATASET.digest,
    )
    golden("model-version", manifest)
    assert manifest["metadata"]["name"] == "credit-rf-9f9f9f9f" == model_version_name(run, digest, "a" * 32)
    assert manifest["spec"]["source"] == {"trainingRunRef": {"name": "credit-rf", "trial": 1}}


def test_job_names_and_run_ids_are_deterministic_per_spec_and_trial():
    run = training_run(SWEEP)
    first, second = make_trials(run, expand_trials(run.spec))
    assert first.run_id != second.run_id
    assert first.parent_run_id == second.parent_run_id == parent_run_id(run)
    assert make_trials(run, expand_trials(run.spec)) == [first, second]
    assert trial_job_name(run, 0) != trial_job_name(run, 1)
    # Suspending, queueing or naming the output changes no trial; any other spec change does.
    resumed = training_run({**SWEEP, "suspend": True, "queueName": "q", "output": {"modelName": "m"}})
    assert trial_job_name(resumed, 0) == trial_job_name(run, 0)
    assert make_trials(resumed, expand_trials(resumed.spec))[0].run_id == first.run_id
    reseeded = training_run({**SWEEP, "seed": 99})
    assert trial_job_name(reseeded, 0) != trial_job_name(run, 0)
    assert make_trials(reseeded, expand_trials(reseeded.spec))[0].run_id != first.run_id
    assert first.params == {"n_estimators": 100, "max_depth": 4}
    assert parent_run_id(training_run(BUILTIN)) is None


def test_the_job_contract_of_a_training_job():
    env = {
        e["name"]: e.get("value", e.get("valueFrom"))
        for e in build(SWEEP, 1)["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["MODELPLANE_TRIAL_INDEX"] == "1"
    assert json.loads(env["MODELPLANE_TRIAL_PARAMS"]) == {"max_depth": 8}
    assert json.loads(env["MODELPLANE_DATASET"]) == {
        "name": "credit",
        "digest": DATASET.digest,
        "version": "4",
        "artifacts": DATASET.artifacts,
    }
    assert len(env["MODELPLANE_RUN_ID"]) == len(env["MODELPLANE_PARENT_RUN_ID"]) == 32
    plain = {e["name"]: e.get("value") for e in build(BUILTIN)["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "MODELPLANE_TRIAL_INDEX" not in plain
    assert "MODELPLANE_PARENT_RUN_ID" not in plain

    job = build(CUSTOM_GPU)
    container = job["spec"]["template"]["spec"]["containers"][0]
    names = [e["name"] for e in container["env"]]
    assert names.index("WANDB_API_KEY") < names.index("MODELPLANE_API_URL")  # the contract's variables win
    custom = {e["name"]: e.get("value") for e in container["env"]}
    assert json.loads(custom["MP_HYPERPARAMETERS"]) == {"learning_rate": 0.0003}
    assert custom["PET_MASTER_ADDR"] == f"{job['metadata']['name']}-0.{job['metadata']['name']}"
    assert "imagePullPolicy" not in container
    assert job["spec"]["suspend"] is True
    assert job["spec"]["podFailurePolicy"]["rules"] == [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    ]
