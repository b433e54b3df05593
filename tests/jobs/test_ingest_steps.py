"""The ingest steps without a control plane: reading, validation rules and inference, manifest digests,
splits and profiles."""

from __future__ import annotations

import datetime
import hashlib
import json

import numpy as np
import pyarrow as pa
import pytest

from modelplane.apis.v1alpha1.dataset import DataFormat, DatasetSchema, ProfileSpec, SplitSpec
from modelplane.jobs.errors import InvalidData, InvalidSpec
from modelplane.jobs.ingest.manifest import build_manifest, manifest_digest
from modelplane.jobs.ingest.profile import build_profile
from modelplane.jobs.ingest.source import SourceFile
from modelplane.jobs.ingest.split import split_rows
from modelplane.jobs.ingest.table import read_table
from modelplane.jobs.ingest.validation import validate

pytestmark = pytest.mark.unit


def schema(columns=(), **fields) -> DatasetSchema:
    return DatasetSchema.model_validate({"columns": list(columns), **fields})


def source_file(path) -> SourceFile:
    body = path.read_bytes()
    return SourceFile(path.name, path, hashlib.sha256(body).hexdigest(), len(body))


def csv_table(tmp_path, text: str, declared: DatasetSchema | None = None) -> pa.Table:
    path = tmp_path / "t.csv"
    path.write_text(text)
    return read_table([source_file(path)], DataFormat.CSV, declared or schema())


# --- validation -----------------------------------------------------------------------------------------


def test_inferred_schema_types_and_nullability(tmp_path):
    raw = csv_table(
        tmp_path,
        "id,score,ok,when,city,name\n"
        "1,0.5,true,2024-01-01T00:00:00,paris,ann\n"
        "2,,false,2024-01-02T00:00:00,paris,bob\n"
        "3,1.5,true,2024-01-03T00:00:00,rome,cy\n"
        "4,2.5,true,2024-01-04T00:00:00,paris,dee\n",
    )
    checked = validate(raw, schema(targetColumn="city"), max_categories=50)
    assert checked.passed
    columns = {c.name: (c.type.value, c.nullable) for c in checked.schema.columns}
    assert columns == {
        "id": ("Integer", False),
        "score": ("Float", True),
        "ok": ("Boolean", False),
        "when": ("Timestamp", False),
        "city": ("Categorical", False),  # the target, and few distinct values
        "name": ("String", False),  # every value distinct
    }
    assert checked.schema.target_column == "city"


def test_every_rule_is_counted_with_sample_rows(tmp_path):
    declared = schema(
        [
            {"name": "age", "type": "Integer", "nullable": False, "minimum": 0, "maximum": 120},
            {"name": "zip", "type": "String", "pattern": "^[0-9]{5}$"},
            {"name": "plan", "type": "Categorical", "allowedValues": ["free", "pro"]},
            {"name": "missing", "type": "Float"},
        ],
        allowExtraColumns=False,
    )
    raw = csv_table(
        tmp_path,
        "age,zip,plan,extra\n"
        "30,01234,free,x\n"  # zip stays text: declared String
        ",99999,pro,x\n"  # age missing
        "-4,1234,gold,x\n"  # below minimum, bad zip, bad plan
        "200,12345,free,x\n"  # above maximum
        "abc,12345,pro,x\n"  # not an integer
        "7.5,12345,pro,x\n",  # not an integer
        declared,
    )
    checked = validate(raw, declared, max_categories=50)
    rules = {r.rule: r for r in checked.rules}
    assert set(rules) == {
        "age.type",
        "age.nullable",
        "age.minimum",
        "age.maximum",
        "zip.pattern",
        "plan.allowedValues",
        "missing.present",
        "extra.declared",
    }
    assert rules["age.type"].violations == 2
    assert [s["row"] for s in rules["age.type"].samples] == [4, 5]
    assert rules["age.type"].samples[0]["values"] == {"age": "abc", "zip": "12345", "plan": "pro", "extra": "x"}
    assert rules["age.nullable"].violations == 1  # the missing one; type failures are not counted twice
    assert rules["age.minimum"].samples[0]["row"] == 2
    assert rules["zip.pattern"].violations == 1
    assert checked.violations == sum(r.violations for r in checked.rules)
    # declared columns first, a missing one as all-missing, the undeclared one dropped
    assert checked.table.column_names == ["age", "zip", "plan", "missing"]
    assert checked.table.column("age").to_pylist() == [30, None, -4, 200, None, None]
    assert checked.table.column("zip").to_pylist()[0] == "01234"
    report = checked.report()
    assert report["failed_rules"] == checked.failed_rules
    assert not report["passed"]
    json.dumps(report, allow_nan=False)


def test_text_values_are_converted_to_the_declared_types(tmp_path):
    declared = schema(
        [
            {"name": "n", "type": "Float"},
            {"name": "flag", "type": "Boolean"},
            {"name": "at", "type": "Timestamp"},
            {"name": "code", "type": "Integer", "allowedValues": ["1", "2"]},
        ]
    )
    rows = [
        {"n": "1.5", "flag": "yes", "at": "2024-05-01T10:00:00+02:00", "code": 1},
        {"n": "2", "flag": "F", "at": "2024-05-01", "code": 2},
        {"n": "x", "flag": "maybe", "at": "soon", "code": 3},
    ]
    checked = validate(pa.Table.from_pylist(rows), declared, max_categories=50)
    assert checked.table.column("n").to_pylist() == [1.5, 2.0, None]
    assert checked.table.column("flag").to_pylist() == [True, False, None]
    assert checked.table.column("at").type == pa.timestamp("us", tz="UTC")
    assert checked.table.column("at").to_pylist()[0] == datetime.datetime(2024, 5, 1, 8, tzinfo=datetime.UTC)
    assert sorted(checked.failed_rules) == ["at.type", "code.allowedValues", "flag.type", "n.type"]


def test_empty_sources_and_bad_patterns_are_errors(tmp_path):
    with pytest.raises(InvalidData, match="no rows"):
        validate(csv_table(tmp_path, "a,b\n"), schema(), max_categories=5)
    bad = schema([{"name": "a", "type": "String", "pattern": "("}])
    with pytest.raises(InvalidSpec, match="pattern"):
        validate(pa.table({"a": ["x"]}), bad, max_categories=5)


def test_unreadable_files_are_invalid_data(tmp_path):
    path = tmp_path / "t.parquet"
    path.write_text("not parquet")
    with pytest.raises(InvalidData, match="not readable as Parquet"):
        read_table([source_file(path)], DataFormat.PARQUET, schema())


# --- manifest -------------------------------------------------------------------------------------------


def test_digest_depends_on_content_not_names(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x\n1\n")
    b.write_text("x\n1\n")
    effective = schema([{"name": "x", "type": "Integer"}])

    def digest(path, **changes):
        fields = {"rows": 1, "split": SplitSpec(), "profile": ProfileSpec(), **changes}
        return manifest_digest(build_manifest([source_file(path)], DataFormat.CSV, effective, **fields))

    assert digest(a) == digest(b)
    assert digest(a) != digest(a, split=SplitSpec(seed=1))  # the splits would differ
    b.write_text("x\n2\n")
    assert digest(a) != digest(b)


# --- split ----------------------------------------------------------------------------------------------


def labelled(n: int) -> pa.Table:
    labels = np.array(["a"] * (n * 7 // 10) + ["b"] * (n * 2 // 10) + ["c"] * (n - n * 9 // 10))
    return pa.table({"x": np.arange(n), "y": labels})


def test_split_sizes_follow_the_ratios_exactly_and_cover_every_row():
    table = labelled(1001)
    split = split_rows(table, SplitSpec(train=0.7, validation=0.2, test=0.1, seed=3), None)
    assert (len(split.train), len(split.validation), len(split.test)) == (701, 200, 100)
    everything = np.concatenate([split.train, split.validation, split.test])
    assert sorted(everything.tolist()) == list(range(1001))
    assert all((np.diff(rows) > 0).all() for _, rows in split.items())  # source order kept


def test_split_is_deterministic_per_seed():
    table = labelled(500)
    first = split_rows(table, SplitSpec(seed=11), None)
    again = split_rows(table, SplitSpec(seed=11), None)
    other = split_rows(table, SplitSpec(seed=12), None)
    assert all((x == y).all() for (_, x), (_, y) in zip(first.items(), again.items(), strict=True))
    assert not (first.test == other.test).all()


def test_stratified_split_keeps_class_proportions():
    table = labelled(1000)
    labels = np.array(table.column("y").to_pylist())
    split = split_rows(table, SplitSpec(train=0.6, validation=0.2, test=0.2, stratify=True, seed=1), "y")
    assert (len(split.train), len(split.validation), len(split.test)) == (600, 200, 200)
    for _, rows in split.items():
        shares = {c: float(np.mean(labels[rows] == c)) for c in "abc"}
        assert shares == pytest.approx({"a": 0.7, "b": 0.2, "c": 0.1}, abs=0.006)
    with pytest.raises(InvalidSpec, match="targetColumn"):
        split_rows(table, SplitSpec(stratify=True), None)


# --- profile --------------------------------------------------------------------------------------------


def test_profile_numeric_and_categorical_columns():
    rng = np.random.default_rng(0)
    values = rng.normal(10, 2, 1000)
    cities = np.array(["paris"] * 500 + ["rome"] * 300 + ["oslo"] * 150 + ["bern"] * 50)
    table = pa.table(
        {
            "v": pa.array(np.append(values, np.nan), from_pandas=True),
            "city": np.append(cities, None),
            "ok": [True] * 600 + [False] * 401,
            "const": [3] * 1001,
        }
    )
    checked = validate(table, schema(), max_categories=50)
    profile = build_profile(checked.table, checked.schema, ProfileSpec(bins=4, maxCategories=2))
    v = profile["columns"]["v"]
    assert (v["type"], v["count"], v["missing"]) == ("Float", 1000, 1)
    assert v["mean"] == pytest.approx(values.mean())
    assert v["std"] == pytest.approx(values.std())
    assert (v["min"], v["max"]) == (values.min(), values.max())
    assert v["bin_edges"] == pytest.approx(np.quantile(values, [0, 0.25, 0.5, 0.75, 1]).tolist())
    assert v["histogram"] == [250, 250, 250, 250]
    city = profile["columns"]["city"]
    assert (city["type"], city["count"], city["missing"], city["distinct"]) == ("Categorical", 1000, 1, 4)
    assert city["frequencies"] == [{"value": "paris", "count": 500}, {"value": "rome", "count": 300}]
    assert city["other"] == 200
    assert profile["columns"]["ok"]["frequencies"][0] == {"value": "true", "count": 600}
    assert profile["columns"]["const"]["histogram"] == [1001]
    with_inf = validate(pa.table({"v": [1.0, float("inf"), 3.0]}), schema(), max_categories=5)
    stats = build_profile(with_inf.table, with_inf.schema, ProfileSpec())["columns"]["v"]
    assert (stats["count"], stats["infinite"], stats["mean"], stats["max"]) == (3, 1, 2.0, 3.0)
    assert profile["rows"] == 1001
