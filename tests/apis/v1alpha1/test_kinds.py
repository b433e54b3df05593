"""The API types: wire names, descriptions, kind metadata, and parsing of every example."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from modelplane.apis.v1alpha1 import KINDS, Dataset, InferenceService, TrainingRun

ROOT = Path(__file__).resolve().parents[3]
KIND_BY_NAME = {kind.kind_info.kind: kind for kind in KINDS}
SHORT_NAMES = {
    "Dataset": "mpds",
    "TrainingRun": "mptr",
    "ModelVersion": "mpmv",
    "InferenceService": "mpisvc",
    "Rollout": "mpro",
}


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        for arg in _type_args(field.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                _models(arg, seen)


def _type_args(annotation: object) -> list[object]:
    args = list(getattr(annotation, "__args__", ()) or ())
    out = [annotation]
    for arg in args:
        out.extend(_type_args(arg))
    return out


def all_models() -> list[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    for kind in KINDS:
        _models(kind, seen)
    return sorted(seen, key=lambda m: m.__name__)


def test_five_kinds_with_their_short_names():
    assert {kind.kind_info.kind: kind.kind_info.short_names for kind in KINDS} == {
        k: (v,) for k, v in SHORT_NAMES.items()
    }
    for kind in KINDS:
        info = kind.kind_info
        assert info.group == "modelplane.io"
        assert info.version == "v1alpha1"
        assert info.categories == ("modelplane",)
        assert info.printer_columns[0].name == "Ready"
        assert info.printer_columns[-1].name == "Age"


@pytest.mark.parametrize("model", all_models(), ids=lambda m: m.__name__)
def test_every_field_has_a_description(model):
    missing = [name for name, field in model.model_fields.items() if not field.description]
    assert not missing, f"{model.__name__} fields without description: {missing}"


@pytest.mark.parametrize("model", all_models(), ids=lambda m: m.__name__)
def test_wire_names_are_camel_case(model):
    for name, field in model.model_fields.items():
        alias = field.alias or name
        assert "_" not in alias, f"{model.__name__}.{name} is {alias!r} on the wire"


def _examples():
    for path in sorted((ROOT / "examples").rglob("*.yaml")):
        for index, document in enumerate(yaml.safe_load_all(path.read_text())):
            if document:
                yield pytest.param(document, id=f"{path.relative_to(ROOT)}#{index}")


@pytest.mark.parametrize("document", list(_examples()))
def test_examples_parse_into_their_kind_and_round_trip(document):
    kind = KIND_BY_NAME[document["kind"]]
    resource = kind.from_wire(document)
    wire = resource.to_wire()
    assert wire["spec"].keys() >= document["spec"].keys()
    assert kind.from_wire(wire) == resource


def test_reads_are_tolerant_of_unknown_fields():
    resource = Dataset.from_wire(
        {
            "apiVersion": "modelplane.io/v1alpha1",
            "kind": "Dataset",
            "metadata": {"name": "x", "managedFields": [{"manager": "kubectl"}]},
            "spec": {"source": {"inline": {"rows": [{"a": 1}]}}, "fromTheFuture": True},
            "status": {"conditions": [], "newStatusField": 1},
        }
    )
    assert resource.metadata.name == "x"
    assert resource.spec.split.train == 0.8


def test_python_names_and_aliases_both_populate():
    run = TrainingRun.model_validate(
        {
            "apiVersion": "modelplane.io/v1alpha1",
            "kind": "TrainingRun",
            "metadata": {"name": "r"},
            "spec": {
                "dataset_ref": {"name": "d"},
                "trainer": {"builtin": {"estimator": "Ridge", "task": "Regression"}},
                "numNodes": 1,
            },
        }
    )
    assert run.spec.dataset_ref.name == "d"
    assert run.spec.num_nodes == 1
    isvc = InferenceService.from_wire(
        {
            "apiVersion": "modelplane.io/v1alpha1",
            "kind": "InferenceService",
            "metadata": {"name": "s"},
            "spec": {"modelRef": {"name": "m"}},
        }
    )
    assert isvc.spec.model_ref is not None
    assert isvc.spec.model_ref.alias == "champion"
