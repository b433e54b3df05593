"""Deterministic train/validation/test split by ratio and seed, optionally stratified on the target.

Rows are grouped by stratum (one stratum without ``stratify``; one per target value with it, in a fixed
order), shuffled inside each stratum by one ``numpy.random.default_rng(seed)``, and cut by the ratios:
the cut points are rounded from the running total over strata, so the split sizes match the ratios
overall (within one row) and inside each stratum (within one row). Each split keeps the source order of
its rows. The same rows, ratios and seed always give the same splits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from modelplane.apis.v1alpha1.dataset import SplitSpec
from modelplane.jobs.errors import InvalidSpec

Indices = npt.NDArray[np.int64]
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Split:
    """Row indices of each split, ascending."""

    train: Indices
    validation: Indices
    test: Indices

    def items(self) -> list[tuple[str, Indices]]:
        return [("train", self.train), ("validation", self.validation), ("test", self.test)]


def split_rows(table: pa.Table, spec: SplitSpec, target: str | None) -> Split:
    """The split of ``table``'s rows that ``spec`` describes."""
    if spec.stratify and target is None:
        raise InvalidSpec("split.stratify needs schema.targetColumn")
    strata = _strata(table.column(target), table.num_rows) if spec.stratify and target else [np.arange(table.num_rows)]
    rng = np.random.default_rng(spec.seed)
    parts: dict[str, list[Indices]] = {name: [] for name in SPLITS}
    seen = validation_cut = test_cut = 0
    for rows in strata:
        shuffled = rng.permutation(rows)
        seen += len(rows)
        # cumulative cut points: rounding the running totals keeps the overall sizes exact
        new_validation = round(seen * spec.validation)
        new_test = round(seen * spec.test)
        n_validation = min(new_validation - validation_cut, len(rows))
        n_test = min(new_test - test_cut, len(rows) - n_validation)
        validation_cut += n_validation
        test_cut += n_test
        n_train = len(rows) - n_validation - n_test
        parts["train"].append(shuffled[:n_train])
        parts["validation"].append(shuffled[n_train : n_train + n_validation])
        parts["test"].append(shuffled[n_train + n_validation :])
    joined = {name: np.sort(np.concatenate(chunks)).astype(np.int64) for name, chunks in parts.items()}
    return Split(joined["train"], joined["validation"], joined["test"])


def _strata(column: pa.ChunkedArray, rows: int) -> list[Indices]:
    """Row indices per distinct target value (missing last), values in a type-stable sorted order."""
    values = column.combine_chunks() if column.num_chunks else pa.array([], type=column.type)
    distinct = pc.unique(values.drop_null())
    order = pc.sort_indices(distinct)
    index = pc.fill_null(pc.index_in(values, value_set=distinct), len(distinct)).to_numpy(zero_copy_only=False)
    rank = np.empty(len(distinct) + 1, dtype=np.int64)
    rank[order.to_numpy()] = np.arange(len(distinct))
    rank[len(distinct)] = len(distinct)
    keys = rank[index]
    by_key = np.argsort(keys, kind="stable").astype(np.int64)
    return list(np.split(by_key, np.flatnonzero(np.diff(keys[by_key])) + 1)) if rows else []
