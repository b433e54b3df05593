"""The profile of a dataset version: per-column statistics, the drift monitor's reference.

Numeric columns (Integer, Float): count, missing, mean, std (population), min, max, quantile bin edges
(``bins`` + 1 quantiles, repeated edges merged) and the histogram of the values over those edges; the
statistics are over the finite values, and ``infinite`` counts the others when there are any.
Text, Categorical and Boolean columns: count, missing, distinct and the ``maxCategories`` most frequent
values (ties by value), the rest summed as ``other``. Timestamp columns: count, missing, min, max.

Sums use ``math.fsum`` (exactly rounded), so the profile is the same bytes on every machine.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelplane.apis.v1alpha1.dataset import ColumnType, DatasetSchema, ProfileSpec
from modelplane.jobs.encoding import json_safe

NUMERIC = frozenset({ColumnType.INTEGER, ColumnType.FLOAT})


def build_profile(table: pa.Table, schema: DatasetSchema, spec: ProfileSpec) -> dict[str, Any]:
    """The profile artifact (JSON) of ``table``."""
    columns: dict[str, Any] = {}
    for column in schema.columns:
        array = table.column(column.name).combine_chunks()
        stats: dict[str, Any] = {"type": column.type.value, "count": len(array) - array.null_count}
        stats["missing"] = array.null_count
        if column.type in NUMERIC:
            stats.update(_numeric(array, spec.bins))
        elif column.type == ColumnType.TIMESTAMP:
            stats.update(_extremes(array))
        else:
            stats.update(_categories(array, spec.max_categories))
        columns[column.name] = stats
    return {"rows": table.num_rows, "target_column": schema.target_column, "bins": spec.bins, "columns": columns}


def _numeric(array: pa.Array, bins: int) -> dict[str, Any]:
    present = array.drop_null().cast(pa.float64()).to_numpy(zero_copy_only=False)
    values = present[np.isfinite(present)]
    infinite = {"infinite": len(present) - len(values)} if len(values) < len(present) else {}
    if len(values) == 0:
        return {"mean": None, "std": None, "min": None, "max": None, "bin_edges": [], "histogram": [], **infinite}
    mean = math.fsum(values) / len(values)
    std = math.sqrt(math.fsum((values - mean) ** 2) / len(values))
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, bins + 1)))
    if len(edges) == 1:  # a constant column: one bin holding everything
        edges, counts = np.array([edges[0], edges[0]]), np.array([len(values)])
    else:
        counts, _ = np.histogram(values, bins=edges)
    return {
        "mean": mean,
        "std": std,
        "min": float(values.min()),
        "max": float(values.max()),
        "bin_edges": [float(e) for e in edges],
        "histogram": [int(c) for c in counts],
        **infinite,
    }


def _extremes(array: pa.Array) -> dict[str, Any]:
    bounds = pc.min_max(array)
    return {"min": json_safe(bounds["min"].as_py()), "max": json_safe(bounds["max"].as_py())}


def _categories(array: pa.Array, top: int) -> dict[str, Any]:
    text = pc.if_else(array, "true", "false") if pa.types.is_boolean(array.type) else array
    counts = pc.value_counts(text.drop_null()).to_pylist()
    ranked = sorted(((c["counts"], c["values"]) for c in counts), key=lambda item: (-item[0], item[1]))
    kept = ranked[:top]
    return {
        "distinct": len(ranked),
        "frequencies": [{"value": value, "count": count} for count, value in kept],
        "other": sum(count for count, _ in ranked[top:]),
    }
