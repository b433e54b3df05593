"""Objects validated against the generated CRD schemas: examples pass, invalid objects name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from modelplane.crd.validation import (
    FieldError,
    InvalidResourceError,
    validate_against_schema,
    validate_resource,
)

ROOT = Path(__file__).resolve().parents[2]
INVALID = sorted((Path(__file__).parent / "invalid").glob("*.yaml"))


def examples():
    for path in sorted((ROOT / "examples").rglob("*.yaml")):
        for index, document in enumerate(yaml.safe_load_all(path.read_text())):
            if document:
                yield pytest.param(document, id=f"{path.relative_to(ROOT)}#{index}")


@pytest.mark.parametrize("document", list(examples()))
def test_every_example_is_valid(document):
    validate_resource(document)


def expectation(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <message>'"
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_example_is_rejected_naming_the_field(path):
    with pytest.raises(InvalidResourceError) as caught:
        validate_resource(yaml.safe_load(path.read_text()))
    messages = [str(error) for error in caught.value.errors]
    expected = expectation(path)
    assert any(message.startswith(expected) for message in messages), f"expected {expected!r} in {messages}"


def test_there_are_invalid_examples_for_every_kind():
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in INVALID}
    assert kinds == {"Dataset", "TrainingRun", "ModelVersion", "InferenceService", "Rollout"}


def dataset(**spec):
    return {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "d"},
        "spec": {"source": {"http": {"url": "https://example.com/a.csv"}}, **spec},
    }


def test_defaults_are_applied_like_the_api_server():
    defaulted = validate_resource(dataset())
    assert defaulted["spec"]["format"] == "Csv"
    assert defaulted["spec"]["split"] == {
        "train": 0.8,
        "validation": 0.1,
        "test": 0.1,
        "seed": 42,
        "stratify": False,
    }
    assert defaulted["spec"]["validation"] == "Fail"


def test_defaults_fill_a_partial_object_and_the_input_is_not_modified():
    document = dataset(split={"train": 0.6, "validation": 0.2, "test": 0.2})
    defaulted = validate_resource(document)
    assert defaulted["spec"]["split"]["seed"] == 42
    assert "seed" not in document["spec"]["split"]


def test_integers_are_numbers_in_cel():
    validate_resource(dataset(split={"train": 1, "validation": 0, "test": 0}))


def test_unknown_fields_are_a_decoding_error_reported_alone_like_the_server():
    with pytest.raises(InvalidResourceError) as caught:
        validate_resource(dataset(format="Xls", bogus=True, split={"train": 1, "validation": 0, "test": 0, "x": 1}))
    assert [error.path for error in caught.value.errors] == ["spec.bogus", "spec.split.x"]
    assert str(caught.value) == (
        'Dataset in version "v1alpha1" cannot be handled as a Dataset: strict decoding error: '
        'unknown field "spec.bogus", unknown field "spec.split.x"'
    )


def test_all_errors_are_reported_at_once():
    with pytest.raises(InvalidResourceError) as caught:
        validate_resource(dataset(format="Xls", refreshIntervalSeconds=5))
    paths = sorted(error.path for error in caught.value.errors)
    assert paths == ["spec.format", "spec.refreshIntervalSeconds"]
    assert str(caught.value).startswith('Dataset "d" is invalid:\n* ')


def test_unknown_kind_is_rejected():
    with pytest.raises(InvalidResourceError, match=r"supported kinds: modelplane\.io/v1alpha1/Dataset"):
        validate_resource({"apiVersion": "modelplane.io/v1alpha1", "kind": "Pipeline", "metadata": {"name": "p"}})


def test_missing_name_and_spec():
    with pytest.raises(InvalidResourceError) as caught:
        validate_resource({"apiVersion": "modelplane.io/v1alpha1", "kind": "Dataset", "metadata": {}})
    assert [str(e) for e in caught.value.errors] == [
        "metadata.name: Required value: name or generateName is required",
        "spec: Required value",
    ]


def test_null_for_a_non_nullable_field():
    with pytest.raises(InvalidResourceError, match=r"spec\.format: Invalid value: null"):
        validate_resource(dataset(format=None))


def test_preserved_fields_accept_anything():
    run = {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": "r"},
        "spec": {
            "datasetRef": {"name": "d"},
            "trainer": {"builtin": {"estimator": "sklearn.linear_model.Ridge", "task": "Regression"}},
            "hyperparameters": {"alpha": 0.5, "solver": "auto", "nested": {"any": [1, "two", None]}},
        },
    }
    assert validate_resource(run)["spec"]["hyperparameters"]["nested"] == {"any": [1, "two", None]}


def test_rule_that_cannot_be_evaluated_is_an_error_not_a_crash():
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"a": {"type": "integer"}},
                "x-kubernetes-validations": [{"rule": "self.b > 1"}],
            }
        },
    }
    with pytest.raises(InvalidResourceError, match=r"spec: Invalid value: .*rule could not be evaluated"):
        validate_against_schema({"metadata": {"name": "x"}, "spec": {"a": 1}}, schema)


def test_field_error_wording():
    assert str(FieldError("spec.x", "Required value")) == "spec.x: Required value"
    assert str(FieldError("spec.x", "Invalid value", "too big", 5)) == "spec.x: Invalid value: 5: too big"
    assert str(FieldError("spec.x", "Unsupported value", 'supported values: "A"', "B")) == (
        'spec.x: Unsupported value: "B": supported values: "A"'
    )
