"""The validation job's steps without a control plane: the environment contract, signatures (inferred and
compared), gates and their message, scoring helpers, optimization on real models, the result's size."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

from modelplane.apis.v1alpha1.model_version import OptimizeSpec, Signature, Threshold
from modelplane.apis.v1alpha1.training_run import Task
from modelplane.jobs.context import (
    EVAL_DATASET_ENV,
    MODEL_SOURCE_ENV,
    DatasetInput,
    ModelSourceInput,
    eval_dataset_from_env,
    model_source_from_env,
)
from modelplane.jobs.errors import PERMANENT_EXIT_CODES, InvalidModel, InvalidSpec, JobError, SignatureMismatch
from modelplane.jobs.model import check, gates, optimize, scoring, signature, source
from modelplane.jobs.result import MAX_RESULT_BYTES, encode_result
from modelplane.jobs.training.export import to_onnx

pytestmark = pytest.mark.unit
SHA = "ab" * 32


def sig(inputs=(), outputs=()) -> Signature:
    def tensors(items):
        return [{"name": n, "datatype": d, "shape": list(s)} for n, d, s in items]

    return Signature.model_validate({"inputs": tensors(inputs), "outputs": tensors(outputs)})


# the environment contract


def test_model_source_from_env_reads_the_operators_json():
    body = {
        "uri": f"s3://mp/ns/sha256/ab/{SHA}",
        "sha256": SHA,
        "runId": "0" * 32,
        "trainingRun": "iris-rf",
        "datasetDigest": "sha256:" + "cd" * 32,
    }
    assert model_source_from_env({MODEL_SOURCE_ENV: json.dumps(body)}) == ModelSourceInput(
        body["uri"], SHA, "0" * 32, "iris-rf", "sha256:" + "cd" * 32
    )
    external = {"uri": "https://h/m.onnx", "sha256": f"sha256:{SHA}", "runId": None, "trainingRun": None}
    assert model_source_from_env({MODEL_SOURCE_ENV: json.dumps(external)}) == ModelSourceInput("https://h/m.onnx", SHA)
    assert model_source_from_env({}) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{", "MODELPLANE_MODEL_SOURCE is not valid JSON"),
        ('{"sha256": "x"}', "MODELPLANE_MODEL_SOURCE must be {"),
        ('{"uri": "s3://b/k", "sha256": "ABC"}', "MODELPLANE_MODEL_SOURCE.sha256 must be 64 lowercase hex digits"),
        (json.dumps({"uri": "s3://b/k", "sha256": SHA, "runId": "x"}), "MODELPLANE_MODEL_SOURCE.runId must be 32"),
        (
            json.dumps({"uri": "s3://b/k", "sha256": SHA, "datasetDigest": SHA}),
            "MODELPLANE_MODEL_SOURCE.datasetDigest must be",
        ),
        (
            json.dumps({"uri": "s3://b/k", "sha256": SHA, "trainingRun": 3}),
            "MODELPLANE_MODEL_SOURCE.trainingRun must be a string",
        ),
    ],
)
def test_a_bad_model_source_is_an_invalid_spec(raw, message):
    with pytest.raises(InvalidSpec, match="^" + re.escape(message)):
        model_source_from_env({MODEL_SOURCE_ENV: raw})


def test_eval_dataset_from_env_has_the_train_jobs_shape():
    body = {"digest": "sha256:" + "cd" * 32, "artifacts": {"test": "s3://b/t"}}
    assert eval_dataset_from_env({EVAL_DATASET_ENV: json.dumps(body)}) == DatasetInput(
        body["digest"], {"test": "s3://b/t"}
    )
    with pytest.raises(InvalidSpec, match=r"^MODELPLANE_EVAL_DATASET must be"):
        eval_dataset_from_env({EVAL_DATASET_ENV: "[]"})


def test_every_model_failure_reason_has_its_exit_code():
    from modelplane.jobs import errors

    codes = {cls.reason: cls.exit_code for cls in JobError.__subclasses__()}
    assert codes["DigestMismatch"] == codes["InvalidModel"] == codes["SignatureMismatch"] == codes["InvalidSpec"] == 2
    assert codes["GateFailed"] == 3
    assert codes["SourceUnavailable"] == 5
    assert JobError.exit_code == 1
    permanent = {"DigestMismatch", "InvalidModel", "SignatureMismatch", "InvalidSpec", "GateFailed"}
    assert {reason for reason, code in codes.items() if code in PERMANENT_EXIT_CODES} >= permanent
    assert errors.EXIT_SOURCE_UNAVAILABLE not in PERMANENT_EXIT_CODES


# signatures


def test_the_declared_signature_must_match_the_models():
    model = sig(
        inputs=[("input", "FP32", (-1, 4))],
        outputs=[("label", "INT64", (-1,)), ("probabilities", "FP32", (-1, 3))],
    )
    signature.check_signature(None, model)
    signature.check_signature(model, model)
    narrower = sig(inputs=[("input", "FP32", (8, 4))], outputs=[("label", "INT64", (-1,))])
    signature.check_signature(narrower, model)  # a fixed batch where the model takes any, a subset of outputs
    assert signature.signature_differences(sig(inputs=[("input", "FP32", (-1, -1))]), model) == [
        "input 'input': shape [-1, -1] declared, the model's is [-1, 4]"
    ]
    assert signature.signature_differences(sig(inputs=[("x", "FP32", (-1, 4))]), model) == [
        "input 'x': declared, but the model has no such input",
        "input 'input': the model requires it, but the declared signature lacks it",
    ]
    assert signature.signature_differences(
        sig(inputs=[("input", "FP32", (-1, 4))], outputs=[("label", "BYTES", (-1, 1))]), model
    ) == [
        "output 'label': datatype BYTES declared, the model's is INT64",
        "output 'label': shape [-1, 1] declared, the model's is [-1]",
    ]
    with pytest.raises(SignatureMismatch, match=r"^signature mismatch: input 'x': declared"):
        signature.check_signature(sig(inputs=[("x", "FP32", (-1, 4))]), model)


class Arg:
    def __init__(self, name, type_, shape):
        self.name, self.type, self.shape = name, type_, shape


class Session:
    def __init__(self, inputs, outputs):
        self._inputs, self._outputs = inputs, outputs

    def get_inputs(self):
        return self._inputs

    def get_outputs(self):
        return self._outputs


def test_signatures_are_inferred_with_oip_datatypes_and_dynamic_dimensions():
    session = Session(
        [
            Arg("x", "tensor(float)", ["N", 4]),
            Arg("ids", "tensor(int64)", [None, 2, 3]),
            Arg("t", "tensor(string)", [1]),
        ],
        [Arg("y", "tensor(double)", [-1])],
    )
    assert signature.to_wire(signature.infer_signature(session)) == {
        "inputs": [
            {"name": "x", "datatype": "FP32", "shape": [-1, 4]},
            {"name": "ids", "datatype": "INT64", "shape": [-1, 2, 3]},
            {"name": "t", "datatype": "BYTES", "shape": [1]},
        ],
        "outputs": [{"name": "y", "datatype": "FP64", "shape": [-1]}],
    }
    zipmap = Session([Arg("x", "tensor(float)", ["N", 4])], [Arg("p", "seq(map(int64,tensor(float)))", None)])
    with pytest.raises(InvalidModel, match=r"output 'p' has type seq\(map\(int64,tensor\(float\)\)\), which the Open"):
        signature.infer_signature(zipmap)


def test_sample_inputs_are_synthesized_from_the_signature():
    inputs = signature.synthesize_inputs(
        sig(inputs=[("x", "FP32", (-1, 4)), ("n", "INT64", (2, -1)), ("t", "BYTES", (-1,)), ("b", "BOOL", ())])
    )
    assert {k: (v.dtype.name, v.shape) for k, v in inputs.items()} == {
        "x": ("float32", (1, 4)),
        "n": ("int64", (2, 1)),
        "t": ("object", (1,)),
        "b": ("bool", ()),
    }


# gates


def test_threshold_gates_and_their_message():
    thresholds = [
        Threshold.model_validate(t)
        for t in (
            {"metric": "accuracy", "min": 0.9},
            {"metric": "log_loss", "max": 0.3},
            {"metric": "roc_auc", "min": 0.5},
            {"metric": "r2", "min": 0.1, "max": 0.99},
        )
    ]
    measured = {"accuracy": 0.81, "log_loss": 0.2, "r2": 0.995}
    result = gates.threshold_gates(thresholds, measured)
    assert [g.passed for g in result] == [False, True, False, False]
    assert gates.gate_message(result) == (
        "gates failed: accuracy 0.81 < min 0.9; roc_auc not measured; r2 0.995 >= min 0.1, r2 0.995 > max 0.99; "
        "passed: log_loss 0.2 <= max 0.3"
    )
    assert result[2].to_wire() == {"metric": "roc_auc", "value": None, "min": 0.5, "max": None, "passed": False}


def test_baseline_gates_compare_each_gate_metric_in_its_direction():
    champion = gates.Baseline("champion", 3, {"accuracy": 0.9, "log_loss": 0.25})
    result = gates.baseline_gates(
        champion, {"accuracy": 0.9, "log_loss": 0.3, "f1": 0.8}, ["accuracy", "log_loss", "f1"]
    )
    assert [(g.metric, g.min, g.max, g.passed) for g in result] == [
        ("accuracy", 0.9, None, True),  # a tie passes: the holder's own artifact passes its own bar
        ("log_loss", None, 0.25, False),  # lower is better
    ]  # f1: the holder has no value, so it is not compared
    assert result[1].describe() == "log_loss 0.3 > champion 0.25"
    assert gates.gate_message(result, champion).endswith("; compared with champion (version 3)")
    nobody = gates.Baseline("champion", None, {})
    assert gates.baseline_gates(nobody, {"accuracy": 0.5}, ["accuracy"]) == []
    assert gates.baseline_note(nobody) == "no version holds alias champion, so mustBeatAlias passes"
    without_thresholds = gates.baseline_gates(champion, {"accuracy": 0.95, "log_loss": 0.2}, [])
    assert [(g.metric, g.passed) for g in without_thresholds] == [("accuracy", True), ("log_loss", True)]


# scoring


def test_the_task_comes_from_metadata_else_from_the_outputs():
    classifier = sig(outputs=[("label", "INT64", (-1,)), ("probabilities", "FP32", (-1, 2))])
    regressor = sig(outputs=[("variable", "FP32", (-1, 1))])
    logits = sig(outputs=[("logits", "FP32", (-1, 10))])
    assert scoring.infer_task(classifier, {}) == Task.CLASSIFICATION
    assert scoring.infer_task(regressor, {}) == Task.REGRESSION
    assert scoring.infer_task(logits, {}) == Task.CLASSIFICATION
    assert scoring.infer_task(logits, {"modelplane.task": "Regression"}) == Task.REGRESSION


def test_probability_only_classifiers_are_scored_by_argmax():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]], dtype=np.float32)

    class Outputs:
        def run(self, _names, _feed):
            return [probabilities]

    class Graph:
        class graph:  # noqa: N801 (mimics onnx.ModelProto.graph)
            node = ()

    spec = sig(inputs=[("x", "FP32", (-1, 3))], outputs=[("p", "FP32", (-1, 2))])
    predictions = scoring.predict(Outputs(), Graph(), spec, {"x": np.zeros((4, 3), np.float32)}, Task.CLASSIFICATION)
    assert predictions.values.tolist() == [0, 1, 0, 1]
    assert predictions.classes.tolist() == [0, 1]
    metrics = scoring.score(predictions, np.array([0, 1, 1, 1]))
    assert metrics["accuracy"] == 0.75
    assert set(metrics) == {"accuracy", "f1", "precision", "recall", "roc_auc", "log_loss"}
    with pytest.raises(InvalidSpec, match="the target holds text labels, but the model predicts numbers"):
        scoring.score(predictions, np.array(["a", "b", "a", "b"], dtype=object))


# optimization, on real models


@pytest.fixture(scope="module")
def mlp_file(tmp_path_factory):
    from sklearn.datasets import load_breast_cancer
    from sklearn.neural_network import MLPClassifier

    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is beside the point here
        model = MLPClassifier((128, 64), max_iter=50, random_state=0).fit(x, y)
    path = tmp_path_factory.mktemp("mlp") / "model.onnx"
    path.write_bytes(to_onnx(model, x.shape[1], classifier=True, metadata={}))
    return path


@pytest.mark.parametrize(
    ("quantized_accuracy", "max_drop", "kept"),
    [(0.93, 0.05, True), (0.93, 0.01, False), (0.96, 0.0, True), (None, None, True), (None, 0.5, False)],
)
def test_dynamic_quantization_keeps_a_smaller_artifact_unless_accuracy_drops_too_far(
    mlp_file, quantized_accuracy, max_drop, kept
):
    published = []

    def publish(artifact):
        published.append(artifact)
        return f"s3://store/{artifact.sha256}"

    session = check.open_session(mlp_file)
    sample = signature.synthesize_inputs(signature.infer_signature(session))
    outcome = optimize.optimize(
        OptimizeSpec(quantization="Dynamic", max_accuracy_drop=max_drop),
        mlp_file,
        original_metric=0.95 if quantized_accuracy is not None else None,
        measure=lambda _session: quantized_accuracy,
        sample=sample,
        publish=publish,
    )
    if not kept:
        assert outcome.artifact is None
        assert published == []
        assert outcome.note.startswith("the quantized model was dropped: ")
        return
    artifact = outcome.artifact
    assert published == [source.hash_file(published[0].path)]
    assert artifact.uri == f"s3://store/{artifact.sha256}"
    assert artifact.size_bytes < mlp_file.stat().st_size / 2
    expected = None if quantized_accuracy is None else quantized_accuracy - 0.95
    assert (
        artifact.accuracy_delta == pytest.approx(expected) if expected is not None else artifact.accuracy_delta is None
    )
    assert artifact.single_inference_microseconds > 0
    assert artifact.to_wire()["quantization"] == "Dynamic"


def test_quantization_none_derives_nothing(mlp_file):
    outcome = optimize.optimize(
        OptimizeSpec(), mlp_file, original_metric=None, measure=lambda _s: None, sample={}, publish=lambda _a: "x"
    )
    assert outcome == optimize.Optimization(None)


# the result


def test_a_large_model_result_fits_the_termination_log():
    tensors = [{"name": f"feature_{i:03d}", "datatype": "FP32", "shape": [-1, 1]} for i in range(200)]
    result = {
        "kind": "ModelVersion",
        "name": "wide",
        "uid": "u",
        "observedGeneration": 3,
        "succeeded": True,
        "reason": None,
        "message": "registered as wide version 4",
        "registeredVersion": 4,
        "artifact": {"uri": f"s3://b/sha256/ab/{SHA}", "sha256": SHA, "sizeBytes": 10},
        "optimizedArtifact": None,
        "signature": {"inputs": tensors, "outputs": tensors[:1]},
        "metrics": {"accuracy": 0.9},
        "gates": [{"metric": "accuracy", "value": 0.9, "min": 0.8, "max": None, "passed": True}],
        "baseline": None,
        "singleInferenceMicroseconds": 120,
        "evaluation": {"dataset": "d", "digest": "sha256:" + SHA, "split": "test", "rows": 10},
        "runId": None,
        "trainingRun": None,
        "datasetDigest": None,
    }
    line = encode_result(result)
    assert len(line.encode()) <= MAX_RESULT_BYTES
    decoded = json.loads(line)
    assert decoded["truncated"] is True
    assert decoded["signature"] is None  # the registry keeps it
    assert decoded["registeredVersion"] == 4
    assert decoded["artifact"] == result["artifact"]
    assert decoded["gates"] == result["gates"]


# single-file artifacts


def test_a_model_with_external_data_files_is_rejected_naming_them(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def floats(name: str, shape: tuple[int, int]) -> onnx.TensorProto:
        return numpy_helper.from_array(np.ones(shape, dtype=np.float32), name=name)

    branch = helper.make_graph(  # a subgraph with a tensor of its own: found there too
        [helper.make_node("Constant", [], ["k"], value=floats("k", (32, 64)))],
        "branch",
        [],
        [helper.make_tensor_value_info("k", TensorProto.FLOAT, [32, 64])],
    )
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["h"]),
            helper.make_node("If", ["c"], ["z"], then_branch=branch, else_branch=branch),
        ],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 32]),
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
        ],
        [
            helper.make_tensor_value_info("h", TensorProto.FLOAT, [None, 64]),
            helper.make_tensor_value_info("z", TensorProto.FLOAT, [32, 64]),
        ],
        [floats("w", (32, 64))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])

    def copy() -> onnx.ModelProto:  # saving with external data rewrites the tensors of the model it is given
        duplicate = onnx.ModelProto()
        duplicate.CopyFrom(model)
        return duplicate

    onnx.save_model(copy(), tmp_path / "one.onnx")
    assert check.external_data_files(check.check_onnx(tmp_path / "one.onnx")) == []

    onnx.save_model(
        copy(), tmp_path / "split.onnx", save_as_external_data=True, location="split.onnx.data", size_threshold=0
    )
    assert (tmp_path / "split.onnx.data").is_file()  # the checker would accept it beside its data file
    with pytest.raises(InvalidModel, match=r"external data files \(split\.onnx\.data\).*external_data=False"):
        check.check_onnx(tmp_path / "split.onnx")

    nested = copy()  # onnx's saver leaves subgraph tensors inline; a hand-written file may not
    then_branch = next(a.g for a in nested.graph.node[1].attribute if a.name == "then_branch")
    constant = then_branch.node[0].attribute[0].t
    constant.ClearField("float_data")
    constant.ClearField("raw_data")
    constant.data_location = TensorProto.EXTERNAL
    constant.external_data.add(key="location", value="k.bin")
    assert check.external_data_files(nested) == ["k.bin"]
