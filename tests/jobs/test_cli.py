"""``python -m modelplane.jobs ingest|train`` as the operator runs them: the environment contract in,
the one-line JSON result (stdout's last line and the result file) and the exit code out."""

from __future__ import annotations

import json
import uuid

import pytest

from modelplane.apis.v1alpha1.training_run import TrainingRun
from modelplane.jobs.cli import main
from modelplane.jobs.context import DatasetInput, Trial
from modelplane.jobs.result import MAX_RESULT_BYTES, encode_result
from modelplane.jobs.training.job import run_training

pytestmark = pytest.mark.db


@pytest.fixture
def api_db_url(sqlite_api_url):
    """These tests start processes (seconds each): SQLite only; the backends are covered elsewhere."""
    return sqlite_api_url


def test_ingest_then_train_as_processes(client, ctx, data, iris_csv, run_job):
    dataset = {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "iris", "uid": "u-1", "generation": 3},
        "spec": {"source": data.pvc(iris_csv), "schema": {"targetColumn": "target"}},
    }
    code, ingested, log = run_job("ingest", dataset)
    assert code == 0, log
    assert ingested["succeeded"]
    assert ingested["version"] == "1"
    assert ingested["observedGeneration"] == 3
    assert "Registered dataset iris version 1." in log

    run_id, parent = uuid.uuid4().hex, uuid.uuid4().hex
    training = {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": "iris-sweep", "uid": "u-2", "generation": 1},
        "spec": {
            "datasetRef": {"name": "iris"},
            "trainer": {"builtin": {"estimator": "DecisionTreeClassifier"}},
            "hyperparameters": {"max_depth": 5},
        },
    }
    code, trained, log = run_job(
        "train",
        training,
        MODELPLANE_RUN_ID=run_id,
        MODELPLANE_EXPERIMENT="iris-sweep",
        MODELPLANE_DATASET=json.dumps({"digest": ingested["digest"], "artifacts": ingested["artifacts"]}),
        MODELPLANE_TRIAL_INDEX="1",
        MODELPLANE_TRIAL_PARAMS=json.dumps({"max_depth": 2}),
        MODELPLANE_PARENT_RUN_ID=parent,
        NODE_NAME="gpu-node-7",
        MODELPLANE_ACCELERATOR="nvidia-l4",
        MODELPLANE_SEED="42",  # the operator sets it too; spec.seed is what counts
    )
    assert code == 0, log
    assert trained["succeeded"]
    assert trained["runId"] == run_id
    assert trained["trialIndex"] == 1
    assert trained["artifactDigest"].startswith("sha256:")
    assert trained["metrics"]["accuracy"] > 0.5
    assert trained["lineage"]["datasetDigest"] == ingested["digest"]
    assert trained["lineage"]["node"] == "gpu-node-7"
    assert trained["lineage"]["accelerator"] == "nvidia-l4"
    assert trained["lineage"]["parameters"] == {"max_depth": 2, "random_state": 42}
    # the same trial in this process (another hash seed, another run id): the same model bytes
    ctx.run_id = uuid.uuid4().hex
    ctx.trial = Trial(index=1, params={"max_depth": 2}, parent_run_id=parent)
    ctx.dataset = DatasetInput(ingested["digest"], ingested["artifacts"])
    assert run_training(TrainingRun.from_wire(training), ctx).artifact_digest == trained["artifactDigest"]
    stored = client.get_run(run_id)
    assert stored["status"] == "Succeeded"
    assert stored["parent_run_id"] == parent
    assert stored["hardware"]["accelerator"] == "nvidia-l4"
    assert stored["artifact_uri"] == trained["artifactUri"]


def test_failed_validation_exits_3_with_the_failed_rules(data, iris_csv, run_job):
    dataset = {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "iris", "uid": "u-1", "generation": 1},
        "spec": {
            "source": data.pvc(iris_csv),
            "schema": {"columns": [{"name": "petal_width", "type": "Float", "maximum": 2.0}]},
        },
    }
    code, result, _ = run_job("ingest", dataset)
    assert code == 3
    assert result["reason"] == "ValidationFailed"
    assert not result["succeeded"]
    assert result["version"] is None
    assert result["validation"]["failedRules"] == ["petal_width.maximum"]
    assert result["artifacts"]["report"]


def test_errors_become_results_with_reason_and_exit_code(job_env, tmp_path, capsys):
    bad = {**job_env, "MODELPLANE_RESOURCE": '{"kind": "Dataset", "metadata": {"name": "d"}, "spec": {}}'}
    assert main(["ingest"], bad) == 2
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (result["kind"], result["name"], result["reason"]) == ("Dataset", "d", "InvalidSpec")
    assert "not a valid Dataset" in result["message"]

    run_id = uuid.uuid4().hex
    training = {
        "kind": "TrainingRun",
        "apiVersion": "modelplane.io/v1alpha1",
        "metadata": {"name": "t"},
        "spec": {"datasetRef": {"name": "d"}, "trainer": {"builtin": {"estimator": "NoSuchEstimator"}}},
    }
    env = {**job_env, "MODELPLANE_RESOURCE": json.dumps(training), "MODELPLANE_RUN_ID": run_id}
    assert main(["train"], env) == 2
    result = json.loads((tmp_path / "termination-log").read_text())
    assert (result["reason"], result["runId"]) == ("InvalidSpec", run_id)
    assert main(["train"], {**env, "MODELPLANE_RUN_ID": "not-hex"}) == 2
    assert main(["ingest"], {**job_env, "MODELPLANE_RESOURCE": ""}) == 2


@pytest.mark.unit
def test_results_fit_the_termination_log():
    result = {
        "kind": "Dataset",
        "name": "big",
        "succeeded": False,
        "reason": "ValidationFailed",
        "message": "x" * 10_000,
        "digest": "sha256:" + "a" * 64,
        "validation": {"failedRules": [f"column_{i}.nullable" for i in range(1000)]},
        "lineage": {"parameters": {f"p{i}": i for i in range(1000)}},
    }
    line = encode_result(result)
    decoded = json.loads(line)
    assert len(line.encode()) <= MAX_RESULT_BYTES
    assert "\n" not in line
    assert decoded["truncated"]
    assert decoded["digest"] == result["digest"]
    assert decoded["reason"] == "ValidationFailed"
    assert "parameters" not in decoded["lineage"]
    assert 0 < len(decoded["validation"]["failedRules"]) < 1000
    small = {"kind": "Dataset", "succeeded": True, "rows": float("nan")}
    assert json.loads(encode_result(small)) == {"kind": "Dataset", "succeeded": True, "rows": "nan"}
