"""The built-in trainer end to end against a control plane over HTTP (SQLite and PostgreSQL): metrics and
lineage in the run, an ONNX model that ONNX Runtime runs like scikit-learn, byte-identical re-runs, sweep
trials and the errors a spec can cause."""

from __future__ import annotations

import hashlib
import io
import json
import uuid

import numpy as np
import onnx
import onnxruntime
import pyarrow.parquet as pq
import pytest

from modelplane.jobs.context import DatasetInput, JobContext, Trial
from modelplane.jobs.errors import InvalidSpec
from modelplane.jobs.ingest.job import run_ingest
from modelplane.jobs.training.job import run_training
from modelplane.sdk import ClientConfig, ModelPlaneClient

pytestmark = pytest.mark.db
CLASSIFICATION_METRICS = {"accuracy", "f1", "precision", "recall", "roc_auc", "log_loss"}


@pytest.fixture
def ingest(ctx, make_dataset, data, tmp_path):
    """Ingest a bundled scikit-learn dataset under its short name; the result."""

    def run(loader: str, **spec):
        name = loader.removeprefix("load_").replace("_", "-")
        path = data.write(data.sklearn(loader), tmp_path / "data" / f"{name}.csv")
        body = {"source": data.pvc(path), "schema": {"targetColumn": "target"}, **spec}
        return run_ingest(make_dataset(body, name=name), ctx)

    return run


def training_spec(dataset: str, estimator: str, task: str = "Classification", **fields):
    return {"datasetRef": {"name": dataset}, "trainer": {"builtin": {"estimator": estimator, "task": task}}, **fields}


def onnx_outputs(client, uri, x, tmp_path):
    path = client.download_artifact(uri, tmp_path / "model" / f"{uuid.uuid4().hex}.onnx")
    session = onnxruntime.InferenceSession(path.read_bytes(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x.astype(np.float32)}), onnx.load(path)


def split_arrays(client, uri, tmp_path, target_dtype=None):
    path = client.download_artifact(uri, tmp_path / "splits" / uri.rsplit("/", 1)[-1])
    table = pq.read_table(io.BytesIO(path.read_bytes()))
    x = np.column_stack([table.column(c).to_numpy() for c in table.column_names if c != "target"])
    return x.astype(np.float32), np.asarray(table.column("target").to_pylist(), dtype=target_dtype)


def test_classifier_metrics_lineage_and_onnx_parity(client, ctx, make_run, ingest, tmp_path):
    from sklearn.ensemble import RandomForestClassifier

    dataset = ingest("load_breast_cancer", split={"stratify": True})
    ctx.run_id, ctx.node_name = uuid.uuid4().hex, "node-a"
    spec = training_spec(
        "breast-cancer", "RandomForestClassifier", hyperparameters={"n_estimators": 20, "max_depth": 4}
    )
    result = run_training(make_run(spec), ctx)

    assert set(result.metrics) == CLASSIFICATION_METRICS
    assert result.metrics["accuracy"] > 0.9
    stored = client.get_run(ctx.run_id)
    assert stored["status"] == "Succeeded"
    assert stored["experiment"] == "train"
    assert stored["name"] == "train"
    assert stored["params"] == {"n_estimators": "20", "max_depth": "4", "random_state": "42"}
    assert {k: v["value"] for k, v in stored["metrics"].items()} == result.metrics
    assert stored["artifact_uri"] == result.artifact_uri
    assert stored["dataset_digest"] == dataset.digest
    assert stored["seed"] == 42
    assert {"scikit-learn", "skl2onnx", "onnx", "numpy"} <= set(stored["packages"])
    assert stored["hardware"]["node"] == "node-a"
    assert stored["tags"]["modelplane.estimator"] == "sklearn.ensemble._forest.RandomForestClassifier"
    assert result.to_result()["lineage"]["parameters"] == {"n_estimators": 20, "max_depth": 4, "random_state": 42}

    # ONNX Runtime agrees with a scikit-learn model fitted here on the same split
    x_train, y_train = split_arrays(client, dataset.artifacts["train"], tmp_path, np.int64)
    x_val, _ = split_arrays(client, dataset.artifacts["validation"], tmp_path, np.int64)
    reference = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=42).fit(x_train, y_train)
    (labels, probabilities), model = onnx_outputs(client, result.artifact_uri, x_val, tmp_path)
    assert (labels == reference.predict(x_val)).all()
    assert np.abs(probabilities - reference.predict_proba(x_val)).max() < 1e-5
    metadata = {p.key: p.value for p in model.metadata_props}
    assert json.loads(metadata["modelplane.features"])[:2] == ["mean_radius", "mean_texture"]
    assert metadata["modelplane.dataset_digest"] == dataset.digest
    assert result.artifact_digest == "sha256:" + hashlib.sha256(model.SerializeToString()).hexdigest()


def test_regressor_metrics_and_onnx_parity(client, ctx, make_run, ingest, tmp_path):
    from sklearn.linear_model import Ridge

    dataset = ingest("load_diabetes")
    spec = training_spec("diabetes", "sklearn.linear_model.Ridge", "Regression", hyperparameters={"alpha": 0.5})
    result = run_training(make_run(spec), ctx)
    assert set(result.metrics) == {"rmse", "mae", "r2"}
    assert result.metrics["r2"] > 0.2
    x_train, y_train = split_arrays(client, dataset.artifacts["train"], tmp_path)
    x_val, y_val = split_arrays(client, dataset.artifacts["validation"], tmp_path)
    reference = Ridge(alpha=0.5).fit(x_train, y_train)
    (predicted,), _ = onnx_outputs(client, result.artifact_uri, x_val, tmp_path)
    assert np.allclose(predicted.ravel(), reference.predict(x_val), rtol=1e-4)
    rmse = float(np.sqrt(np.mean((reference.predict(x_val) - y_val) ** 2)))
    assert result.metrics["rmse"] == pytest.approx(rmse, rel=1e-4)


def test_a_run_re_executed_from_its_lineage_gives_a_byte_identical_model(client, ctx, make_run, ingest):
    ingest("load_breast_cancer")
    first_id = ctx.run_id = uuid.uuid4().hex
    spec = training_spec("breast-cancer", "RandomForestClassifier", hyperparameters={"n_estimators": 10})
    first = run_training(make_run(spec), ctx)  # on the latest version: 1
    assert ingest("load_breast_cancer", split={"seed": 1}).version == "2"  # the lineage pins version 1
    lineage = first.to_result()["lineage"]
    replay = training_spec(
        "breast-cancer",
        "RandomForestClassifier",
        datasetRef={"name": "breast-cancer", "digest": lineage["datasetDigest"]},
        hyperparameters=lineage["parameters"],
        seed=lineage["seed"],
    )
    ctx.run_id = uuid.uuid4().hex
    again = run_training(make_run(replay), ctx)
    assert again.artifact_digest == first.artifact_digest
    assert again.artifact_uri == first.artifact_uri  # content-addressed: stored once
    ctx.run_id = first_id
    assert run_training(make_run(replay), ctx).artifact_digest == first.artifact_digest
    assert client.get_run(first_id)["status"] == "Succeeded"  # re-running a finished run is idempotent
    ctx.run_id = uuid.uuid4().hex
    reseeded = {**replay, "hyperparameters": {"n_estimators": 10}, "seed": 43}
    assert run_training(make_run(reseeded), ctx).artifact_digest != first.artifact_digest  # another forest


def test_text_labels_multiclass_and_fit_warnings(client, ctx, make_run, ingest, tmp_path):
    dataset = ingest("load_iris", split={"stratify": True})
    ctx.run_id = uuid.uuid4().hex
    spec = training_spec("iris", "LogisticRegression", hyperparameters={"max_iter": 3})  # does not converge
    result = run_training(make_run(spec), ctx)
    assert set(result.metrics) == CLASSIFICATION_METRICS
    stored = client.get_run(ctx.run_id)
    assert stored["status"] == "Succeeded"
    assert "ConvergenceWarning" in stored["tags"]["modelplane.fit_warnings"]
    x_val, _y_val = split_arrays(client, dataset.artifacts["validation"], tmp_path)
    (labels, probabilities), _ = onnx_outputs(client, result.artifact_uri, x_val, tmp_path)
    assert set(labels) <= {"setosa", "versicolor", "virginica"}
    assert probabilities.shape == (15, 3)


def test_a_sweep_trial_merges_its_values_and_joins_the_sweep_run(client, ctx, make_run, ingest):
    dataset = ingest("load_breast_cancer")
    parent, ctx.run_id = uuid.uuid4().hex, uuid.uuid4().hex
    ctx.experiment = "cancer-sweep"
    ctx.trial = Trial(index=2, params={"max_depth": 2, "criterion": "entropy"}, parent_run_id=parent)
    ctx.dataset = DatasetInput(dataset.digest, {k: dataset.artifacts[k] for k in ("train", "validation")})
    spec = training_spec("breast-cancer", "DecisionTreeClassifier", hyperparameters={"max_depth": 5})
    result = run_training(make_run(spec, name="cancer-sweep"), ctx)
    assert result.to_result()["trialIndex"] == 2
    stored = client.get_run(ctx.run_id)
    assert stored["parent_run_id"] == parent
    assert stored["name"] == "cancer-sweep-trial-2"
    assert stored["params"]["max_depth"] == "2"
    assert stored["params"]["criterion"] == "entropy"
    assert stored["tags"]["modelplane.trial_index"] == "2"
    assert client.get_run(parent)["experiment"] == "cancer-sweep"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("estimator", "task", "hyperparameters", "message"),
    [
        ("RandomForestClasifier", "Classification", {}, "did you mean RandomForestClassifier"),
        ("sklearn.nothing.Here", "Classification", {}, "cannot be imported"),
        ("json.JSONDecoder", "Classification", {}, "not a scikit-learn estimator class"),
        ("Ridge", "Classification", {}, "not a classifier"),
        ("LogisticRegression", "Regression", {}, "not a regressor"),
        ("RandomForestClassifier", "Classification", {"depth": 3}, "unknown hyperparameters .*: depth .*max_depth"),
    ],
)
def test_invalid_estimators_fail_before_any_call(make_run, estimator, task, hyperparameters, message):
    spec = training_spec("breast-cancer", estimator, task, hyperparameters=hyperparameters)
    with (
        ModelPlaneClient(ClientConfig(api_url="http://127.0.0.1:9", max_retries=0)) as unreachable,
        pytest.raises(InvalidSpec, match=message),
    ):
        run_training(make_run(spec), JobContext(client=unreachable))


def test_a_value_rejected_while_fitting_fails_the_run(client, ctx, make_run, ingest):
    ingest("load_breast_cancer")
    ctx.run_id = uuid.uuid4().hex
    spec = training_spec("breast-cancer", "RandomForestClassifier", hyperparameters={"n_estimators": -1})
    with pytest.raises(InvalidSpec, match="rejected its hyperparameters"):
        run_training(make_run(spec), ctx)
    stored = client.get_run(ctx.run_id)
    assert stored["status"] == "Failed"
    assert "n_estimators" in stored["tags"]["modelplane.error"]


def test_dataset_problems_are_invalid_specs(ctx, make_run, make_dataset, data, ingest, tmp_path):
    dataset = ingest("load_breast_cancer")
    ctx.dataset = DatasetInput(dataset.digest, dataset.artifacts)
    pinned = training_spec(
        "breast-cancer", "GaussianNB", datasetRef={"name": "breast-cancer", "digest": "sha256:" + "0" * 64}
    )
    with pytest.raises(InvalidSpec, match="pins"):
        run_training(make_run(pinned), ctx)
    ctx.dataset = None
    with pytest.raises(InvalidSpec, match="has no version"):
        run_training(make_run(training_spec("nothing", "GaussianNB")), ctx)
    rows = [{"x": float(i), "city": "ab"[i % 2], "y": i % 2} for i in range(20)]
    run_ingest(make_dataset({"source": {"inline": {"rows": rows}}, "schema": {"targetColumn": "y"}}, name="text"), ctx)
    with pytest.raises(InvalidSpec, match="also has city"):
        run_training(make_run(training_spec("text", "GaussianNB")), ctx)
    run_ingest(make_dataset({"source": {"inline": {"rows": rows}}}, name="untargeted"), ctx)
    with pytest.raises(InvalidSpec, match=r"no schema\.targetColumn"):
        run_training(make_run(training_spec("untargeted", "GaussianNB")), ctx)
