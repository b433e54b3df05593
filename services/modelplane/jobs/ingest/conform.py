"""Column types: inferring a column's logical type, and converting a column to its declared type.

:func:`conform` returns the column as its canonical Arrow type (Integer → int64, Float → float64,
String/Categorical → string, Boolean → bool, Timestamp → timestamp[us], UTC when any value had a zone)
and a mask of the values that are not of the type; those become missing in the converted column and are
reported as the ``<column>.type`` rule. Text is parsed once per distinct value, so a low-cardinality
column of millions of rows costs a handful of Python calls. NaN in a Float column is a missing value.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from modelplane.apis.v1alpha1.dataset import ColumnType
from modelplane.jobs.errors import InvalidData

Mask = npt.NDArray[np.bool_]
INTEGER_TEXT = re.compile(r"^\s*[+-]?[0-9]+\s*$", re.ASCII)
FLOAT_TEXT = re.compile(r"^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$", re.ASCII)
BOOLEAN_TEXT = {"true": True, "t": True, "yes": True, "y": True, "1": True,
                "false": False, "f": False, "no": False, "n": False, "0": False}  # fmt: skip
INT64_BOUND = 2.0**63
_INVALID = object()


def normalize(array: pa.Array | pa.ChunkedArray, name: str) -> pa.Array:
    """One contiguous array of a plain (non-dictionary, non-large) type; nested columns are refused."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks else pa.array([], type=array.type)
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_large_string(array.type) or pa.types.is_string_view(array.type):
        array = array.cast(pa.string())
    kind = array.type
    if pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        raise InvalidData(f"column {name!r} has type {kind}; only flat columns of scalars are supported")
    return array


def infer_type(array: pa.Array, *, max_categories: int, is_target: bool) -> ColumnType:
    """The logical type of a column without a declaration; text with few distinct values is Categorical."""
    kind = array.type
    if pa.types.is_boolean(kind):
        return ColumnType.BOOLEAN
    if pa.types.is_integer(kind):
        return ColumnType.INTEGER
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return ColumnType.FLOAT
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return ColumnType.TIMESTAMP
    if pa.types.is_string(kind):
        present = len(array) - array.null_count
        distinct = len(pc.unique(array.drop_null()))
        if is_target or (distinct <= max_categories and 2 * distinct <= present):
            return ColumnType.CATEGORICAL
    return ColumnType.STRING


def conform(array: pa.Array, target: ColumnType) -> tuple[pa.Array, Mask]:
    """``array`` as ``target``'s canonical type, and the mask of values that are not of that type."""
    kind = array.type
    if pa.types.is_null(kind):
        return pa.nulls(len(array), type=_arrow_type(target, aware=False)), np.zeros(len(array), dtype=bool)
    if target in (ColumnType.STRING, ColumnType.CATEGORICAL):
        return _to_text(array)
    if pa.types.is_string(kind):
        return _parse_text(array, target)
    if target == ColumnType.INTEGER:
        if pa.types.is_integer(kind):
            return _cast_checked(array, pa.int64())
        if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            values = _float_values(array)
            bad = np.isfinite(values) & ((np.floor(values) != values) | (np.abs(values) >= INT64_BOUND))
            good = np.where(bad | ~np.isfinite(values), np.nan, values)
            return pa.array(good, type=pa.float64(), from_pandas=True).cast(pa.int64()), bad
    elif target == ColumnType.FLOAT:
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            values = _float_values(array)
            return pa.array(values, type=pa.float64(), from_pandas=True), np.zeros(len(array), dtype=bool)
    elif target == ColumnType.BOOLEAN:
        if pa.types.is_boolean(kind):
            return array, np.zeros(len(array), dtype=bool)
        if pa.types.is_integer(kind):
            bad = _filled(pc.and_(pc.not_equal(array, 0), pc.not_equal(array, 1)), False)
            return _bool_from_int(array, bad), bad
    elif target == ColumnType.TIMESTAMP and (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
        aware = pa.types.is_timestamp(kind) and kind.tz is not None
        return array.cast(_arrow_type(target, aware=aware), safe=False), np.zeros(len(array), dtype=bool)
    return pa.nulls(len(array), type=_arrow_type(target, aware=False)), array.is_valid().to_numpy(zero_copy_only=False)


def _bool_from_int(array: pa.Array, bad: Mask) -> pa.Array:
    ones = _filled(pc.equal(array, 1), False)
    missing = ~array.is_valid().to_numpy(zero_copy_only=False) | bad
    return pa.array(ones, type=pa.bool_(), mask=missing)


def _arrow_type(target: ColumnType, *, aware: bool) -> pa.DataType:
    return {
        ColumnType.INTEGER: pa.int64(),
        ColumnType.FLOAT: pa.float64(),
        ColumnType.STRING: pa.string(),
        ColumnType.CATEGORICAL: pa.string(),
        ColumnType.BOOLEAN: pa.bool_(),
        ColumnType.TIMESTAMP: pa.timestamp("us", tz="UTC" if aware else None),
    }[target]


def _to_text(array: pa.Array) -> tuple[pa.Array, Mask]:
    if pa.types.is_boolean(array.type):
        text = pc.if_else(array, "true", "false")
    else:
        try:
            text = array.cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise InvalidData(f"values of type {array.type} cannot be read as text: {error}") from error
    return text, np.zeros(len(array), dtype=bool)


def _cast_checked(array: pa.Array, kind: pa.DataType) -> tuple[pa.Array, Mask]:
    try:
        return array.cast(kind), np.zeros(len(array), dtype=bool)
    except pa.ArrowInvalid:  # e.g. uint64 beyond int64: the out-of-range values are not of the type
        values = [v if v is None or -INT64_BOUND <= v < INT64_BOUND else _INVALID for v in array.to_pylist()]
        bad = np.array([v is _INVALID for v in values], dtype=bool)
        return pa.array([None if v is _INVALID else v for v in values], type=kind), bad


def _float_values(array: pa.Array) -> npt.NDArray[np.float64]:
    """The values as float64 with NaN for missing ones."""
    result: npt.NDArray[np.float64] = array.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    return result


def _filled(array: pa.Array, value: bool) -> Mask:
    result: Mask = pc.fill_null(array, value).to_numpy(zero_copy_only=False).astype(bool)
    return result


def _parse_text(array: pa.Array, target: ColumnType) -> tuple[pa.Array, Mask]:
    """Parse each distinct text value once; the column is rebuilt by index."""
    parser = _TEXT_PARSERS[target]
    distinct = pc.unique(array)
    parsed: list[Any] = []
    for value in distinct.to_pylist():
        if value is None:
            parsed.append(None)
            continue
        try:
            parsed.append(parser(value))
        except ValueError:
            parsed.append(_INVALID)
    invalid = np.array([v is _INVALID for v in parsed] + [False], dtype=bool)
    values = [None if v is _INVALID else v for v in parsed]
    aware = target == ColumnType.TIMESTAMP and any(isinstance(v, datetime.datetime) and v.tzinfo for v in values)
    if aware:
        values = [v if v is None or v.tzinfo else v.replace(tzinfo=datetime.UTC) for v in values]
    kind = _arrow_type(target, aware=aware)
    indices = pc.fill_null(pc.index_in(array, value_set=distinct), len(distinct)).to_numpy(zero_copy_only=False)
    converted = pa.array([*values, None], type=kind).take(pa.array(indices))
    return converted, invalid[indices]


def _integer(text: str) -> int:
    if not INTEGER_TEXT.match(text) or abs(value := int(text)) >= INT64_BOUND:
        raise ValueError(text)
    return value


def _float(text: str) -> float:
    if not FLOAT_TEXT.match(text):
        raise ValueError(text)
    return float(text)


def _boolean(text: str) -> bool:
    key = text.strip().lower()
    if key not in BOOLEAN_TEXT:
        raise ValueError(text)
    return BOOLEAN_TEXT[key]


def _timestamp(text: str) -> datetime.datetime:
    value = datetime.datetime.fromisoformat(text.strip())
    return value.astimezone(datetime.UTC) if value.tzinfo else value


_TEXT_PARSERS: dict[ColumnType, Callable[[str], Any]] = {
    ColumnType.INTEGER: _integer,
    ColumnType.FLOAT: _float,
    ColumnType.BOOLEAN: _boolean,
    ColumnType.TIMESTAMP: _timestamp,
}
