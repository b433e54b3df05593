"""The model validation job end to end: models trained in the test, a control plane on PostgreSQL with its
artifact store on the S3 server, external artifacts on S3 and HTTP. Each failure mode gets its reason:
a corrupted artifact, a wrong digest, a non-ONNX file, a signature mismatch, a failing gate."""

from __future__ import annotations

import io
import uuid

import numpy as np
import onnxruntime
import pytest
from sklearn import metrics as skm

from modelplane.jobs.context import DatasetInput, ModelSourceInput, SourceCredentials
from modelplane.jobs.errors import DigestMismatch, InvalidModel, InvalidSpec, SignatureMismatch, SourceUnavailable
from modelplane.jobs.model.job import run_model_validation
from modelplane.jobs.training.job import run_training
from modelplane.sdk import ModelPlaneError

pytestmark = [pytest.mark.db, pytest.mark.s3]


def training_run(make_run, dataset: str, estimator: str, task: str = "Classification", **hyperparameters):
    spec = {
        "datasetRef": {"name": dataset},
        "trainer": {"builtin": {"estimator": estimator, "task": task}},
        "hyperparameters": hyperparameters,
    }
    return make_run(spec, name=f"{dataset}-{estimator.lower()}")


def onnx_predictions(client, uri, x, tmp_path):
    path = client.download_artifact(uri, tmp_path / "check" / f"{uuid.uuid4().hex}.onnx")
    session = onnxruntime.InferenceSession(path.read_bytes(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})


def test_a_training_runs_model_is_validated_evaluated_and_registered_with_its_lineage(
    client, ctx, make_run, make_model_version, ingest, models, tmp_path
):
    dataset = ingest("load_iris")
    ctx.run_id = uuid.uuid4().hex
    run = training_run(make_run, "iris", "RandomForestClassifier", n_estimators=15, max_depth=3)
    trained = run_training(run, ctx)
    spec = {
        "modelName": "iris",
        "source": {"trainingRunRef": {"name": run.metadata.name}},
        "evaluation": {"thresholds": [{"metric": "accuracy", "min": 0.8}, {"metric": "log_loss", "max": 0.5}]},
    }
    model_version = make_model_version(spec, name="iris-rf")

    result = run_model_validation(model_version, ctx)  # local use: source and dataset from the control plane

    assert result.succeeded, result.message
    wire = result.to_result()
    sha256 = trained.artifact_digest.removeprefix("sha256:")
    assert wire["artifact"] == {"uri": trained.artifact_uri, "sha256": sha256, "sizeBytes": trained.artifact_size}
    assert wire["runId"] == ctx.run_id
    assert wire["trainingRun"] == "iris-randomforestclassifier"
    assert wire["datasetDigest"] == dataset.digest
    assert wire["signature"] == {
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]},
        ],
    }
    # the metrics are those of ONNX Runtime's predictions on the test split, computed independently here
    x, y = models.split(client, dataset, "test", tmp_path)
    assert wire["evaluation"] == {"dataset": "iris", "digest": dataset.digest, "split": "test", "rows": len(y)}
    labels, probabilities = onnx_predictions(client, trained.artifact_uri, x, tmp_path)
    classes = np.array(["setosa", "versicolor", "virginica"])
    assert wire["metrics"]["accuracy"] == pytest.approx(skm.accuracy_score(y, labels))
    assert wire["metrics"]["f1"] == pytest.approx(skm.f1_score(y, labels, average="macro"))
    assert wire["metrics"]["log_loss"] == pytest.approx(skm.log_loss(y, probabilities, labels=classes), rel=1e-6)
    assert wire["metrics"]["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, probabilities, multi_class="ovr", labels=classes), rel=1e-6
    )
    assert [(g["metric"], g["passed"]) for g in wire["gates"]] == [("accuracy", True), ("log_loss", True)]
    assert wire["singleInferenceMicroseconds"] > 0
    assert wire["optimizedArtifact"] is None
    assert wire["registeredVersion"] == 1
    assert wire["message"].startswith("registered as iris version 1; passed: accuracy ")

    stored = client.get_model_version("iris", 1)
    assert stored["sha256"] == sha256
    assert stored["artifact_uri"] == trained.artifact_uri
    assert stored["run_id"] == ctx.run_id
    assert stored["training_run"] == "iris-randomforestclassifier"
    assert stored["dataset_digest"] == dataset.digest
    assert stored["source"] == "iris-rf"
    assert stored["metrics"] == wire["metrics"]
    assert stored["signature"] == wire["signature"]
    assert stored["single_inference_microseconds"] == wire["singleInferenceMicroseconds"]
    assert stored["aliases"] == []  # the job never moves aliases
    graph = client.lineage("model:iris:1", direction="upstream")
    assert f"run:{ctx.run_id}" in {node["id"] for node in graph["nodes"]}

    # a retried job (the operator's resolved inputs this time) finds the same registry version
    source = ModelSourceInput(trained.artifact_uri, sha256, ctx.run_id, "iris-randomforestclassifier", dataset.digest)
    again = run_model_validation(model_version, ctx, source, DatasetInput(dataset.digest, dataset.artifacts))
    assert again.registered_version == 1
    assert again.metrics == result.metrics


def fit_mlp(x, y):
    """A small neural network (scaler + MLP): MatMul weights that dynamic quantization can shrink."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), MLPClassifier((128, 64), max_iter=500, random_state=0)).fit(x, y)


def mlp_onnx(model, n_features: int) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.neural_network import MLPClassifier

    proto = convert_sklearn(
        model,
        initial_types=[("input", FloatTensorType([None, n_features]))],
        options={MLPClassifier: {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return proto.SerializeToString()


def test_an_external_model_on_s3_is_verified_quantized_and_published_into_the_platform_store(
    client, ctx, make_model_version, ingest, models, s3_server, s3_client, s3_bucket, tmp_path
):
    dataset = ingest("load_breast_cancer")
    x, y = models.split(client, dataset, "train", tmp_path)
    onnx_bytes = mlp_onnx(fit_mlp(x, y), x.shape[1])
    s3_client.put_object(s3_bucket, "external/mlp.onnx", io.BytesIO(onnx_bytes), len(onnx_bytes))
    ctx.source_credentials = SourceCredentials(s3_server.access_key, s3_server.secret_key)
    sha256 = models.sha256(onnx_bytes)
    spec = {
        "modelName": "cancer",
        "source": {
            "external": {"uri": f"s3://{s3_bucket}/external/mlp.onnx", "sha256": sha256, "endpoint": s3_server.url}
        },
        "signature": {
            "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 30]}],
            "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1]}],
        },
        "evaluation": {"datasetRef": {"name": "breast-cancer"}, "thresholds": [{"metric": "accuracy", "min": 0.9}]},
        "optimize": {"quantization": "Dynamic", "maxAccuracyDrop": 0.05},
    }

    result = run_model_validation(make_model_version(spec, name="cancer-mlp"), ctx)

    assert result.succeeded, result.message
    wire = result.to_result()
    artifact, optimized = wire["artifact"], wire["optimizedArtifact"]
    assert artifact["sha256"] == sha256
    assert artifact["sizeBytes"] == len(onnx_bytes)
    assert artifact["uri"].startswith(f"s3://{s3_bucket}/platform/")  # published: serving finds it in the store
    assert client.download_artifact(artifact["uri"], tmp_path / "published.onnx").read_bytes() == onnx_bytes
    assert optimized["quantization"] == "Dynamic"
    assert optimized["uri"].startswith(f"s3://{s3_bucket}/platform/")
    assert optimized["sha256"] != sha256
    assert optimized["sizeBytes"] < artifact["sizeBytes"] / 2
    assert optimized["singleInferenceMicroseconds"] > 0
    quantized = client.download_artifact(optimized["uri"], tmp_path / "quantized.onnx").read_bytes()
    assert (len(quantized), models.sha256(quantized)) == (optimized["sizeBytes"], optimized["sha256"])
    # the recorded delta is the quantized model's test accuracy minus the original's, measured here too
    x_test, y_test = models.split(client, dataset, "test", tmp_path)
    accuracies = []
    for model_bytes in (onnx_bytes, quantized):
        session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
        accuracies.append(skm.accuracy_score(y_test.astype(np.int64), session.run(None, {"input": x_test})[0]))
    assert wire["metrics"]["accuracy"] == pytest.approx(accuracies[0])
    assert optimized["accuracyDelta"] == pytest.approx(accuracies[1] - accuracies[0])
    assert (wire["runId"], wire["trainingRun"], wire["datasetDigest"]) == (None, None, None)
    stored = client.get_model_version("cancer", result.registered_version)
    assert stored["artifact_uri"] == artifact["uri"]
    assert stored["optimized_artifact"] == {
        "uri": optimized["uri"],
        "sha256": optimized["sha256"],
        "size_bytes": optimized["sizeBytes"],
        "quantization": "Dynamic",
        "accuracy_delta": optimized["accuracyDelta"],
        "single_inference_microseconds": optimized["singleInferenceMicroseconds"],
    }


def test_tree_models_have_nothing_to_quantize(client, ctx, make_run, make_model_version, ingest):
    ingest("load_breast_cancer")
    ctx.run_id = uuid.uuid4().hex
    run = training_run(make_run, "breast-cancer", "RandomForestClassifier", n_estimators=5)
    run_training(run, ctx)
    spec = {
        "modelName": "cancer",
        "source": {"trainingRunRef": {"name": run.metadata.name}},
        "optimize": {"quantization": "Dynamic"},
    }
    result = run_model_validation(make_model_version(spec), ctx)
    assert result.succeeded
    assert result.optimized is None
    assert "dynamic quantization is not applicable to this model" in (result.message or "")
    assert result.metrics == {}  # no evaluation asked for: sample rows synthesized from the signature
    assert result.single_inference_microseconds is not None


def test_a_regressor_is_scored_with_regression_metrics(
    client, ctx, make_run, make_model_version, ingest, models, tmp_path
):
    dataset = ingest("load_diabetes")
    ctx.run_id = uuid.uuid4().hex
    run = training_run(make_run, "diabetes", "Ridge", "Regression", alpha=0.5)
    trained = run_training(run, ctx)
    spec = {
        "modelName": "diabetes",
        "source": {"trainingRunRef": {"name": run.metadata.name}},
        "evaluation": {"thresholds": [{"metric": "rmse", "max": 100}, {"metric": "r2", "min": 0.1}]},
    }
    result = run_model_validation(make_model_version(spec), ctx)
    assert result.succeeded, result.message
    x, y = models.split(client, dataset, "test", tmp_path)
    (predicted,) = onnx_predictions(client, trained.artifact_uri, x, tmp_path)
    assert set(result.metrics) == {"rmse", "mae", "r2"}
    assert result.metrics["rmse"] == pytest.approx(float(np.sqrt(skm.mean_squared_error(y, predicted.ravel()))))
    assert result.metrics["r2"] == pytest.approx(skm.r2_score(y, predicted.ravel()))
    assert result.signature.outputs[0].model_dump(mode="json") == {
        "name": "variable",
        "datatype": "FP32",
        "shape": [-1, 1],
    }


@pytest.fixture
def served_model(client, ctx, ingest, models, http_files, tmp_path):
    """An MLP fitted on breast-cancer, written to the HTTP server: (URL, bytes)."""
    dataset = ingest("load_breast_cancer")
    x, y = models.split(client, dataset, "train", tmp_path)
    onnx_bytes = mlp_onnx(fit_mlp(x, y), x.shape[1])
    base, root = http_files
    (root / "mlp.onnx").write_bytes(onnx_bytes)
    return f"{base}/mlp.onnx", onnx_bytes


def external(url: str, sha256: str, **spec):
    return {"modelName": "cancer", "source": {"external": {"uri": url, "sha256": sha256}}, **spec}


def test_a_wrong_digest_is_a_permanent_digest_mismatch_naming_both_digests(
    client, ctx, make_model_version, models, served_model
):
    url, onnx_bytes = served_model
    declared = models.sha256(b"another model")
    with pytest.raises(DigestMismatch) as caught:
        run_model_validation(make_model_version(external(url, declared)), ctx)
    assert str(caught.value) == (
        f"artifact {url} has sha256 {models.sha256(onnx_bytes)}, but {declared} is expected "
        "(the artifact changed, or the declared sha256 is wrong)"
    )
    assert caught.value.exit_code == 2
    with pytest.raises(ModelPlaneError) as missing:
        client.get_model_version("cancer", 1)
    assert missing.value.status == 404


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(lambda b: b[: len(b) // 2], "the artifact is not an ONNX model: ", id="truncated"),
        pytest.param(lambda b: b"sepal_length,sepal_width\n5.1,3.5\n", "the artifact is not an ONNX model: ", id="csv"),
        pytest.param(lambda b: b"", "the artifact is not an ONNX model: it parses as an empty graph", id="empty"),
    ],
)
def test_bytes_that_are_not_an_onnx_model_are_an_invalid_model(
    ctx, make_model_version, models, served_model, http_files, content, message
):
    _, onnx_bytes = served_model
    base, root = http_files
    bad = content(onnx_bytes)
    (root / "bad.onnx").write_bytes(bad)
    with pytest.raises(InvalidModel) as caught:  # the digest matches: the content itself is wrong
        run_model_validation(make_model_version(external(f"{base}/bad.onnx", models.sha256(bad))), ctx)
    assert str(caught.value).startswith(message)
    assert caught.value.exit_code == 2


def test_a_model_corrupted_in_the_platform_store_is_a_digest_mismatch(
    ctx, make_run, make_model_version, ingest, models, s3_client, s3_bucket
):
    import io

    ingest("load_iris")
    ctx.run_id = uuid.uuid4().hex
    run = training_run(make_run, "iris", "DecisionTreeClassifier", max_depth=2)
    trained = run_training(run, ctx)
    key = trained.artifact_uri.removeprefix(f"s3://{s3_bucket}/")
    stored = s3_client.get_object(s3_bucket, key).read()
    flipped = bytes([stored[0] ^ 0xFF]) + stored[1:]
    s3_client.put_object(s3_bucket, key, io.BytesIO(flipped), len(flipped))
    spec = {"modelName": "iris", "source": {"trainingRunRef": {"name": run.metadata.name}}}
    with pytest.raises(DigestMismatch) as caught:
        run_model_validation(make_model_version(spec), ctx)
    sha256 = trained.artifact_digest.removeprefix("sha256:")
    assert str(caught.value) == (
        f"artifact {trained.artifact_uri} is corrupt in the store: "
        f"expected sha256 {sha256}, got {models.sha256(flipped)}"
    )


def test_an_unreachable_artifact_is_source_unavailable(ctx, make_model_version, http_files):
    base, _ = http_files
    with pytest.raises(SourceUnavailable) as caught:
        run_model_validation(make_model_version(external(f"{base}/missing.onnx", "0" * 64)), ctx)
    assert str(caught.value) == f"GET {base}/missing.onnx answered 404 File not found"
    assert caught.value.exit_code == 5


def test_a_declared_signature_that_differs_is_a_signature_mismatch(ctx, make_model_version, models, served_model):
    url, onnx_bytes = served_model
    signature = {
        "inputs": [{"name": "input", "datatype": "FP64", "shape": [-1, 29]}],
        "outputs": [
            {"name": "label", "datatype": "INT64", "shape": [-1]},
            {"name": "scores", "datatype": "FP32", "shape": [-1, 2]},
        ],
    }
    with pytest.raises(SignatureMismatch) as caught:
        run_model_validation(make_model_version(external(url, models.sha256(onnx_bytes), signature=signature)), ctx)
    assert str(caught.value) == (
        "signature mismatch: input 'input': datatype FP64 declared, the model's is FP32; "
        "input 'input': shape [-1, 29] declared, the model's is [-1, 30]; "
        "output 'scores': declared, but the model has no such output"
    )
    assert caught.value.exit_code == 2


def test_a_failing_gate_leaves_the_version_unregistered_with_the_measured_values(
    client, ctx, make_model_version, models, served_model
):
    url, onnx_bytes = served_model
    thresholds = [
        {"metric": "accuracy", "min": 0.999},
        {"metric": "log_loss", "max": 1e-6},
        {"metric": "f1", "min": 0.5},
    ]
    spec = external(
        url, models.sha256(onnx_bytes), evaluation={"datasetRef": {"name": "breast-cancer"}, "thresholds": thresholds}
    )
    result = run_model_validation(make_model_version(spec), ctx)
    assert not result.succeeded
    assert result.reason == "GateFailed"
    measured = result.metrics
    assert result.message == (
        f"gates failed: accuracy {measured['accuracy']:.4g} < min 0.999; "
        f"log_loss {measured['log_loss']:.4g} > max 1e-06; passed: f1 {measured['f1']:.4g} >= min 0.5"
    )
    assert [g.to_wire() for g in result.gates] == [
        {"metric": "accuracy", "value": measured["accuracy"], "min": 0.999, "max": None, "passed": False},
        {"metric": "log_loss", "value": measured["log_loss"], "min": None, "max": 1e-6, "passed": False},
        {"metric": "f1", "value": measured["f1"], "min": 0.5, "max": None, "passed": True},
    ]
    assert result.registered_version is None
    with pytest.raises(ModelPlaneError) as missing:
        client.get_model_version("cancer", 1)
    assert missing.value.status == 404


def test_must_beat_alias_compares_with_the_alias_holders_metrics(client, ctx, make_run, make_model_version, ingest):
    ingest("load_breast_cancer")
    evaluation = {"thresholds": [{"metric": "accuracy", "min": 0.5}], "mustBeatAlias": "champion"}

    def validate(estimator, **hyperparameters):
        ctx.run_id = uuid.uuid4().hex
        run = training_run(make_run, "breast-cancer", estimator, **hyperparameters)
        run_training(run, ctx)
        spec = {
            "modelName": "cancer",
            "source": {"trainingRunRef": {"name": run.metadata.name}},
            "evaluation": evaluation,
        }
        return run_model_validation(make_model_version(spec, name=run.metadata.name), ctx)

    stump = validate("DecisionTreeClassifier", max_depth=1)
    assert stump.succeeded, stump.message
    assert stump.to_result()["baseline"] == {"alias": "champion", "version": None, "metrics": {}}
    assert "no version holds alias champion, so mustBeatAlias passes" in stump.message
    client.set_alias("cancer", "champion", stump.registered_version)

    forest = validate("RandomForestClassifier", n_estimators=30)
    assert forest.succeeded, forest.message
    assert forest.metrics["accuracy"] > stump.metrics["accuracy"]
    assert forest.to_result()["baseline"] == {"alias": "champion", "version": 1, "metrics": stump.metrics}
    assert forest.gates[-1].to_wire() == {
        "metric": "accuracy",
        "value": forest.metrics["accuracy"],
        "min": stump.metrics["accuracy"],
        "max": None,
        "passed": True,
        "alias": "champion",
    }
    client.set_alias("cancer", "champion", forest.registered_version)

    again = validate("DecisionTreeClassifier", max_depth=1)  # the stump, now against the forest
    assert not again.succeeded
    assert again.reason == "GateFailed"
    assert f"accuracy {stump.metrics['accuracy']:.4g} < champion {forest.metrics['accuracy']:.4g}" in again.message
    assert "compared with champion (version 2)" in again.message


def test_evaluation_of_an_external_model_needs_a_dataset(ctx, make_model_version, models, served_model):
    url, onnx_bytes = served_model
    spec = external(url, models.sha256(onnx_bytes), evaluation={"thresholds": [{"metric": "accuracy", "min": 0.5}]})
    with pytest.raises(InvalidSpec) as caught:
        run_model_validation(make_model_version(spec), ctx)
    assert "spec.evaluation needs a datasetRef" in str(caught.value)


def test_the_import_example_validates_the_file_its_export_script_writes(
    ctx, make_model_version, ingest, models, http_files
):
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    examples = Path(__file__).resolve().parents[3] / "examples" / "models"
    base, root = http_files
    process = subprocess.run(
        [sys.executable, str(examples / "export_sklearn.py"), "--output", str(root / "cancer-mlp.onnx")],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    onnx_bytes = (root / "cancer-mlp.onnx").read_bytes()
    assert f"sha256: {models.sha256(onnx_bytes)}" in process.stdout
    spec = yaml.safe_load((examples / "import-external.yaml").read_text())["spec"]
    spec["source"] = {"external": {"uri": f"{base}/cancer-mlp.onnx", "sha256": models.sha256(onnx_bytes)}}
    ingest("load_breast_cancer")

    result = run_model_validation(make_model_version(spec, name="cancer-mlp-1"), ctx)

    assert result.succeeded, result.message
    assert result.registered_version == 1
    assert result.optimized is not None
    assert result.optimized.size_bytes < len(onnx_bytes)
    assert "no version holds alias champion, so mustBeatAlias passes" in result.message
