"""The Dataset version a run trains on, and its splits as feature matrices and target vectors.

The version comes from ``MODELPLANE_DATASET`` (the operator resolved it) or, in local mode, from the
control plane (``datasetRef.digest``, else the latest version); its schema, read from the control
plane, names the target column. Features are every other column, in schema order; the built-in trainer
takes numeric and boolean features (as float32, missing values as NaN), so the ONNX model has one float
input of shape ``[N, features]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from modelplane.apis.v1alpha1.dataset import ColumnType, DatasetSchema
from modelplane.apis.v1alpha1.training_run import Task, TrainingRun
from modelplane.jobs.context import JobContext
from modelplane.jobs.errors import InvalidSpec, TrainingFailed
from modelplane.sdk.client import ModelPlaneError

FEATURE_TYPES = frozenset({ColumnType.INTEGER, ColumnType.FLOAT, ColumnType.BOOLEAN})


@dataclass(frozen=True)
class DatasetVersion:
    """A registered dataset version: digest, split artifact URIs, schema."""

    name: str
    digest: str
    artifacts: dict[str, str]
    schema: DatasetSchema

    @property
    def target(self) -> str:
        if self.schema.target_column is None:
            raise InvalidSpec(f"dataset {self.name} {self.digest} has no schema.targetColumn to train on")
        return self.schema.target_column

    @property
    def features(self) -> list[str]:
        return [c.name for c in self.schema.columns if c.name != self.target]


@dataclass(frozen=True)
class Frame:
    """One split: float32 features and the target."""

    x: npt.NDArray[np.float32]
    y: npt.NDArray[Any]

    def __len__(self) -> int:
        return len(self.y)


def resolve_dataset(run: TrainingRun, ctx: JobContext) -> DatasetVersion:
    """The dataset version of this run (see the module docstring)."""
    ref = run.spec.dataset_ref
    if ctx.dataset is not None and ref.digest is not None and ctx.dataset.digest != ref.digest:
        raise InvalidSpec(f"datasetRef pins {ref.digest}, but the job was given {ctx.dataset.digest}")
    digest = ctx.dataset.digest if ctx.dataset is not None else ref.digest
    try:
        stored = ctx.client.get_dataset_version(ref.name, digest)
    except ModelPlaneError as error:
        if error.status == 404:
            raise InvalidSpec(f"dataset {ref.name} has no version {digest or ''} in the control plane") from error
        raise
    artifacts = dict(stored["artifacts"])
    if ctx.dataset is not None:
        artifacts.update(ctx.dataset.artifacts)
    schema = DatasetSchema.model_validate(stored["schema"])
    version = DatasetVersion(ref.name, stored["digest"], artifacts, schema)
    unusable = [c.name for c in schema.columns if c.name != version.target and c.type not in FEATURE_TYPES]
    if unusable:
        raise InvalidSpec(
            f"the built-in trainer takes Integer, Float and Boolean features; dataset {ref.name} also has "
            f"{', '.join(unusable)} (declare the schema without them, or use a custom trainer)"
        )
    return version


def load_split(ctx: JobContext, version: DatasetVersion, split: str, workdir: Path) -> pa.Table | None:
    """The split's table, or None when the version has no such split."""
    uri = version.artifacts.get(split)
    if uri is None:
        return None
    path = ctx.client.download_artifact(uri, workdir / f"{split}.parquet")
    return pq.read_table(path)


def to_frame(table: pa.Table, version: DatasetVersion, task: Task, split: str) -> Frame:
    """Features and target of a split table."""
    columns = [table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False) for name in version.features]
    x = np.column_stack(columns).astype(np.float32) if columns else np.zeros((table.num_rows, 0), np.float32)
    target = table.column(version.target)
    if target.null_count:
        raise TrainingFailed(f"target column {version.target!r} has {target.null_count} missing values in {split}")
    return Frame(x, _target(target, task, version.target))


def _target(column: pa.ChunkedArray, task: Task, name: str) -> npt.NDArray[Any]:
    kind = column.type
    if task == Task.REGRESSION:
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            raise InvalidSpec(f"a Regression target must be numeric; {name!r} is {kind}")
        return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    if pa.types.is_string(kind):
        return np.asarray(column.to_pylist(), dtype=object)
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind):
        return np.asarray(column.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    if pa.types.is_floating(kind):
        values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
        if np.all(np.floor(values) == values):
            return values.astype(np.int64)
    raise InvalidSpec(f"a Classification target must hold labels (text, integers or booleans); {name!r} is {kind}")
