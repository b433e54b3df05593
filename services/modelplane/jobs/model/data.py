"""The evaluation data: a Dataset version's split as the model's inputs and the target to score against.

Where it sits: between the signature (:mod:`.signature`) and the scoring (:mod:`.scoring`). The version
comes from ``MODELPLANE_EVAL_DATASET`` (the operator resolved it) or, in local use, from the control
plane: ``evaluation.datasetRef`` (its digest, else the latest version), else the Dataset version the
source model was trained on (by its digest). Its schema in the control plane names the target column;
the features are the other columns, in the order the model's ``modelplane.features`` metadata gives
(models of the built-in trainer carry it), else in schema order.

Columns meet inputs in one of two ways: a model with one rank-2 input ``[N, F]`` takes all F features
stacked (the built-in trainer's and most exported models' layout); a model whose inputs are named after
columns takes each column as ``[N]`` or ``[N, 1]``. Anything else is an :class:`InvalidSpec` that names
both sides.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from modelplane.apis.v1alpha1.dataset import DatasetSchema
from modelplane.apis.v1alpha1.model_version import ModelVersion, Signature, TensorSpec
from modelplane.jobs.context import DatasetInput, JobContext, ModelSourceInput
from modelplane.jobs.errors import InvalidSpec
from modelplane.sdk.client import ModelPlaneError
from modelplane.serving.datatypes import NUMPY_DTYPES

FEATURES_METADATA = "modelplane.features"
SAMPLE_ROWS = 8


@dataclass(frozen=True)
class EvaluationData:
    """One split of a registered Dataset version, ready to score."""

    dataset: str
    digest: str
    split: str
    table: pa.Table
    target: str
    columns: list[str]
    """Every column of the schema other than the target, in schema order."""

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)

    def describe(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "digest": self.digest, "split": self.split, "rows": self.rows}


def load_evaluation(
    model_version: ModelVersion,
    ctx: JobContext,
    source: ModelSourceInput,
    given: DatasetInput | None,
    workdir: Path,
) -> EvaluationData | None:
    """The evaluation split of ``spec.evaluation``; None when the spec has no evaluation."""
    spec = model_version.spec.evaluation
    if spec is None:
        return None
    ref = spec.dataset_ref
    if given is not None and ref is not None and ref.digest is not None and given.digest != ref.digest:
        raise InvalidSpec(f"evaluation.datasetRef pins {ref.digest}, but the job was given {given.digest}")
    digest = given.digest if given is not None else (ref.digest if ref is not None else source.dataset_digest)
    if ref is None and digest is None:
        raise InvalidSpec(
            "spec.evaluation needs a datasetRef: the model's source names no training Dataset version to evaluate on"
        )
    name = ref.name if ref is not None else _dataset_name(ctx, str(digest))
    try:
        stored = ctx.client.get_dataset_version(name, digest)
    except ModelPlaneError as error:
        if error.status == 404:
            raise InvalidSpec(f"dataset {name} has no version {digest or ''} in the control plane") from error
        raise
    artifacts = dict(stored.get("artifacts") or {})
    if given is not None:
        artifacts.update(given.artifacts)
    schema = DatasetSchema.model_validate(stored["schema"])
    if schema.target_column is None:
        raise InvalidSpec(f"dataset {name} {stored['digest']} has no schema.targetColumn to evaluate against")
    split = spec.split.value.lower()
    uri = artifacts.get(split)
    if uri is None:
        raise InvalidSpec(f"dataset {name} {stored['digest']} has no {split} split to evaluate on")
    path = ctx.client.download_artifact(uri, workdir / f"eval-{split}.parquet")
    table = pq.read_table(path)
    if table.num_rows == 0:
        raise InvalidSpec(f"the {split} split of dataset {name} {stored['digest']} is empty")
    if schema.target_column not in table.column_names:
        raise InvalidSpec(f"the {split} split of dataset {name} has no target column {schema.target_column!r}")
    columns = [c.name for c in schema.columns if c.name != schema.target_column and c.name in table.column_names]
    return EvaluationData(name, stored["digest"], split, table, schema.target_column, columns)


def _dataset_name(ctx: JobContext, digest: str) -> str:
    """The name a Dataset version is registered under, found by its digest through the lineage API."""
    try:
        graph = ctx.client.lineage(f"dataset:{digest}", direction="upstream", max_nodes=1)
    except ModelPlaneError as error:
        if error.status in (400, 404):
            raise InvalidSpec(f"the training Dataset version {digest} is not in the control plane") from error
        raise
    root = next((n for n in graph.get("nodes", []) if n.get("id") == graph.get("root")), None)
    versions = (root or {}).get("attributes", {}).get("versions") or []
    if not versions:
        raise InvalidSpec(f"the training Dataset version {digest} is not registered; set evaluation.datasetRef")
    return str(versions[0]["name"])


def feature_order(data: EvaluationData, metadata: Mapping[str, str]) -> list[str]:
    """The features in the model's order: its ``modelplane.features`` metadata when every name is a column."""
    raw = metadata.get(FEATURES_METADATA)
    if raw:
        try:
            names = json.loads(raw)
        except ValueError:
            names = None
        if isinstance(names, list) and names and all(isinstance(n, str) and n in data.columns for n in names):
            return list(names)
    return list(data.columns)


def model_inputs(
    data: EvaluationData, signature: Signature, features: Sequence[str], rows: int | None = None
) -> dict[str, npt.NDArray[Any]]:
    """The split's columns as the model's inputs (the first ``rows`` rows, or all)."""
    table = data.table if rows is None else data.table.slice(0, rows)
    inputs = signature.inputs
    if len(inputs) == 1 and len(inputs[0].shape) == 2 and inputs[0].name not in data.columns:
        tensor = inputs[0]
        width = tensor.shape[1]
        if width not in (-1, len(features)):
            raise InvalidSpec(
                f"input {tensor.name!r} takes {width} features, but the {data.split} split of dataset "
                f"{data.dataset} has {len(features)} besides the target {data.target!r}: {', '.join(features)}"
            )
        columns = [_column(table, name, tensor) for name in features]
        stacked = np.column_stack(columns) if columns else np.zeros((table.num_rows, 0))
        return {tensor.name: stacked.astype(NUMPY_DTYPES[tensor.datatype.value])}
    missing = [t.name for t in inputs if t.name not in table.column_names]
    if missing:
        raise InvalidSpec(
            f"cannot feed the {data.split} split of dataset {data.dataset} to the model: input(s) "
            f"{', '.join(missing)} are not columns, and the model does not take one [N, features] input "
            f"(columns: {', '.join(data.columns)})"
        )
    fed: dict[str, npt.NDArray[Any]] = {}
    for tensor in inputs:
        values = _column(table, tensor.name, tensor)
        if len(tensor.shape) == 2:
            values = values.reshape(-1, 1)
        elif len(tensor.shape) != 1:
            raise InvalidSpec(f"input {tensor.name!r} of shape {tensor.shape} cannot take one column")
        fed[tensor.name] = values.astype(NUMPY_DTYPES[tensor.datatype.value])
    return fed


def _column(table: pa.Table, name: str, tensor: TensorSpec) -> npt.NDArray[Any]:
    column = table.column(name)
    if tensor.datatype.value == "BYTES":
        return np.asarray(["" if v is None else str(v) for v in column.to_pylist()], dtype=object)
    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
        raise InvalidSpec(
            f"column {name!r} is {kind}, which input {tensor.name!r} ({tensor.datatype.value}) cannot take"
        )
    if column.null_count and tensor.datatype.value not in ("FP16", "FP32", "FP64"):
        raise InvalidSpec(f"column {name!r} has missing values, which input {tensor.name!r} cannot take")
    return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def target_values(data: EvaluationData) -> npt.NDArray[Any]:
    """The target column (missing values are an InvalidSpec: they cannot be scored)."""
    column = data.table.column(data.target)
    if column.null_count:
        raise InvalidSpec(
            f"target column {data.target!r} has {column.null_count} missing values in the {data.split} split"
        )
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_dictionary(kind):
        return np.asarray([str(v) for v in column.to_pylist()], dtype=object)
    if pa.types.is_boolean(kind):
        return np.asarray(column.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return np.asarray(column.to_numpy(zero_copy_only=False))
    raise InvalidSpec(f"target column {data.target!r} is {kind}, which cannot be scored")
