"""Checking a table against the declared schema, or inferring one; the validation report.

Rules are named ``<column>.<rule>`` after the spec fields: ``type``, ``nullable``, ``minimum``,
``maximum``, ``allowedValues``, ``pattern``, plus ``present`` (a declared column or the target column is
missing) and ``declared`` (an undeclared column while ``allowExtraColumns`` is false). ``pattern`` is a
Python regular expression searched in the value (anchor it with ``^...$`` to match the whole value),
like JSON Schema's ``pattern``. The report counts violating values per rule and keeps up to
:data:`SAMPLE_ROWS` sample rows of each.

The checked table has the declared columns first (in declared order, a missing one as all-missing),
then the undeclared ones in source order (dropped when extra columns are not allowed); every column has
its canonical type (see :mod:`.conform`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelplane.apis.v1alpha1.dataset import ColumnSpec, ColumnType, DatasetSchema
from modelplane.jobs.encoding import json_safe
from modelplane.jobs.errors import InvalidData, InvalidSpec
from modelplane.jobs.ingest.conform import Mask, conform, infer_type, normalize

SAMPLE_ROWS = 5
NUMERIC = frozenset({ColumnType.INTEGER, ColumnType.FLOAT})


@dataclass(frozen=True)
class RuleResult:
    """One violated rule: how many values violate it and a few of their rows."""

    column: str
    check: str
    violations: int
    message: str
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rule(self) -> str:
        return f"{self.column}.{self.check}"


@dataclass(frozen=True)
class Validation:
    """The checked table, the effective schema and the violated rules."""

    table: pa.Table
    schema: DatasetSchema
    rules: list[RuleResult]

    @property
    def violations(self) -> int:
        return sum(r.violations for r in self.rules)

    @property
    def failed_rules(self) -> list[str]:
        return [r.rule for r in self.rules]

    @property
    def passed(self) -> bool:
        return not self.rules

    def report(self) -> dict[str, Any]:
        """The validation report artifact (JSON)."""
        return {
            "rows": self.table.num_rows,
            "passed": self.passed,
            "violations": self.violations,
            "failed_rules": self.failed_rules,
            "rules": [
                {
                    "rule": r.rule,
                    "column": r.column,
                    "check": r.check,
                    "violations": r.violations,
                    "message": r.message,
                    "samples": r.samples,
                }
                for r in self.rules
            ],
        }


def validate(raw: pa.Table, declared: DatasetSchema, *, max_categories: int) -> Validation:
    """Check ``raw`` against ``declared`` (infer the types of undeclared columns) and conform its columns."""
    if raw.num_rows == 0:
        raise InvalidData("the source holds no rows")
    rules: list[RuleResult] = []
    names: list[str] = []
    arrays: list[pa.Array] = []
    specs: list[ColumnSpec] = []
    present = set(raw.column_names)
    for spec in declared.columns:
        if spec.name not in present:
            rules.append(RuleResult(spec.name, "present", 1, f"declared column {spec.name!r} is not in the data"))
            array = pa.nulls(raw.num_rows, type=conform(pa.nulls(0), spec.type)[0].type)
        else:
            array, bad = conform(normalize(raw.column(spec.name), spec.name), spec.type)
            rules.extend(_check(raw, spec, array, bad))
        names.append(spec.name)
        arrays.append(array)
        specs.append(spec)
    declared_names = {spec.name for spec in declared.columns}
    for name in raw.column_names:
        if name in declared_names:
            continue
        if declared.columns and not declared.allow_extra_columns:
            rules.append(RuleResult(name, "declared", 1, f"column {name!r} is not declared (allowExtraColumns: false)"))
            continue
        column = normalize(raw.column(name), name)
        kind = infer_type(column, max_categories=max_categories, is_target=name == declared.target_column)
        array, bad = conform(column, kind)
        if bad.any():
            rules.append(_rule(raw, name, "type", bad, f"values of {name!r} are not {kind.value}"))
        names.append(name)
        arrays.append(array)
        specs.append(ColumnSpec(name=name, type=kind, nullable=array.null_count > 0))
    target = declared.target_column
    if target is not None and target not in present and target not in declared_names:
        rules.append(RuleResult(target, "present", 1, f"target column {target!r} is not in the data"))
    schema = DatasetSchema(
        columns=specs,
        target_column=target if target in names else None,
        allow_extra_columns=declared.allow_extra_columns,
    )
    return Validation(pa.table(arrays, names=names), schema, rules)


def _check(raw: pa.Table, spec: ColumnSpec, array: pa.Array, bad: Mask) -> list[RuleResult]:
    name = spec.name
    found: list[RuleResult] = []
    if bad.any():
        found.append(_rule(raw, name, "type", bad, f"values of {name!r} are not {spec.type.value}"))
    missing = ~array.is_valid().to_numpy(zero_copy_only=False) & ~bad
    if not spec.nullable and missing.any():
        found.append(_rule(raw, name, "nullable", missing, f"{name!r} is missing but not nullable"))
    if spec.type in NUMERIC:
        for check, bound, compare in (("minimum", spec.minimum, pc.less), ("maximum", spec.maximum, pc.greater)):
            if bound is not None:
                mask = _mask(compare(array, bound))
                if mask.any():
                    word = "below the minimum" if check == "minimum" else "above the maximum"
                    found.append(_rule(raw, name, check, mask, f"values of {name!r} are {word} {bound:g}"))
    if spec.allowed_values is not None:
        text = array if pa.types.is_string(array.type) else array.cast(pa.string())
        mask = _mask(pc.invert(pc.is_in(text, value_set=pa.array(spec.allowed_values, type=pa.string()))))
        if mask.any():
            found.append(_rule(raw, name, "allowedValues", mask, f"values of {name!r} are not among the allowed ones"))
    if spec.pattern is not None and pa.types.is_string(array.type):
        try:
            pattern = re.compile(spec.pattern)
        except re.error as error:
            raise InvalidSpec(f"schema column {name!r}: pattern {spec.pattern!r} is invalid: {error}") from error
        distinct = pc.unique(array.drop_null())
        matches = pa.array([pattern.search(v) is not None for v in distinct.to_pylist()], type=pa.bool_())
        index = pc.index_in(array, value_set=distinct)
        mask = _mask(pc.invert(matches.take(index)))
        if mask.any():
            found.append(_rule(raw, name, "pattern", mask, f"values of {name!r} do not match {spec.pattern!r}"))
    return found


def _mask(condition: pa.Array) -> Mask:
    """A boolean Arrow array as a mask; missing values are not violations."""
    result: Mask = pc.fill_null(condition, False).to_numpy(zero_copy_only=False).astype(bool)
    return result


def _rule(raw: pa.Table, column: str, check: str, mask: Mask, message: str) -> RuleResult:
    rows = np.flatnonzero(mask)
    samples = [
        {"row": int(row), "values": json_safe(raw.slice(int(row), 1).to_pylist()[0])} for row in rows[:SAMPLE_ROWS]
    ]
    return RuleResult(column, check, len(rows), message, samples)
