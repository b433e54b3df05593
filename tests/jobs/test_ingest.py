"""Ingest end to end against a control plane over HTTP (SQLite and PostgreSQL): every format and source
kind, content-addressed versions, validation policies, splits and the profile read back as artifacts."""

from __future__ import annotations

import hashlib
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelplane.jobs.errors import SourceUnavailable
from modelplane.jobs.ingest.job import run_ingest

pytestmark = pytest.mark.db


def read_artifact(client, uri: str, tmp_path) -> bytes:
    path = client.download_artifact(uri, tmp_path / "download" / uri.rsplit("/", 1)[-1])
    return path.read_bytes()


def read_split(client, uri: str, tmp_path) -> pa.Table:
    return pq.read_table(io.BytesIO(read_artifact(client, uri, tmp_path)))


@pytest.mark.parametrize("data_format", ["Csv", "Parquet", "JsonLines"])
def test_each_format_is_ingested_and_registered(client, ctx, make_dataset, data, iris, tmp_path, data_format):
    path = data.write(iris, tmp_path / "data" / f"iris.{data_format.lower()}", data_format)
    dataset = make_dataset({"source": data.pvc(path), "format": data_format, "schema": {"targetColumn": "target"}})
    result = run_ingest(dataset, ctx)
    assert result.succeeded
    assert result.version == "1"
    assert (result.rows, result.columns) == (150, 5)
    stored = client.get_dataset_version("iris", result.digest)
    assert stored["artifacts"] == result.artifacts
    assert set(stored["artifacts"]) == {"manifest", "train", "validation", "test", "profile", "report"}
    assert stored["profile_uri"] == result.artifacts["profile"]
    assert stored["schema"]["targetColumn"] == "target"
    assert stored["source"]["uid"] == dataset.metadata.uid
    assert stored["source"]["generation"] == 1
    assert stored["source"]["files"][0]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    manifest = read_artifact(client, result.artifacts["manifest"], tmp_path)
    assert "sha256:" + hashlib.sha256(manifest).hexdigest() == result.digest  # the manifest is the digest
    splits = {name: read_split(client, result.artifacts[name], tmp_path) for name in ("train", "validation", "test")}
    assert [t.num_rows for t in splits.values()] == [120, 15, 15]
    assert splits["train"].column_names == iris.column_names
    assert splits["train"].schema.field("target").type == pa.string()


def test_same_content_same_digest_and_changed_content_a_new_version(
    client, ctx, make_dataset, data, iris, tmp_path, http_files
):
    base_url, www = http_files
    local = data.write(iris, tmp_path / "data" / "iris.csv")
    data.write(iris, www / "elsewhere.csv")
    first = run_ingest(make_dataset({"source": data.pvc(local)}), ctx)
    again = run_ingest(make_dataset({"source": data.pvc(local)}, generation=2), ctx)
    over_http = run_ingest(make_dataset({"source": {"http": {"url": f"{base_url}/elsewhere.csv"}}}), ctx)
    assert first.digest == again.digest == over_http.digest
    assert first.version == again.version == over_http.version == "1"
    assert first.artifacts == again.artifacts == over_http.artifacts
    data.write(iris.slice(0, 149), local)  # one row less
    changed = run_ingest(make_dataset({"source": data.pvc(local)}), ctx)
    assert changed.digest != first.digest
    assert changed.version == "2"
    assert changed.rows == 149
    resplit = run_ingest(make_dataset({"source": data.pvc(local), "split": {"seed": 7}}), ctx)
    assert resplit.digest not in (first.digest, changed.digest)
    assert resplit.version == "3"


def test_http_source_checks_the_pinned_sha256(ctx, make_dataset, data, iris, http_files):
    base_url, www = http_files
    path = data.write(iris, www / "iris.csv")
    good = hashlib.sha256(path.read_bytes()).hexdigest()
    result = run_ingest(make_dataset({"source": {"http": {"url": f"{base_url}/iris.csv", "sha256": good}}}), ctx)
    assert result.succeeded
    with pytest.raises(SourceUnavailable, match="pins"):
        run_ingest(make_dataset({"source": {"http": {"url": f"{base_url}/iris.csv", "sha256": "0" * 64}}}), ctx)
    with pytest.raises(SourceUnavailable, match="404"):
        run_ingest(make_dataset({"source": {"http": {"url": f"{base_url}/missing.csv"}}}), ctx)


def test_s3_prefix_reads_every_object_in_key_order(
    client, ctx, make_dataset, data, iris, tmp_path, s3_server, s3_client, s3_bucket
):
    for index, (start, stop) in enumerate([(0, 50), (50, 100), (100, 150)]):
        path = data.write(iris.slice(start, stop - start), tmp_path / "parts" / f"part-{index}.parquet", "Parquet")
        s3_client.fput_object(s3_bucket, f"iris/part-{index}.parquet", str(path))
    s3_client.put_object(s3_bucket, "iris/_SUCCESS", io.BytesIO(b""), 0)
    ctx.source_credentials = type(ctx.source_credentials)(s3_server.access_key, s3_server.secret_key)
    source = {"s3": {"uri": f"s3://{s3_bucket}/iris/", "endpoint": s3_server.url, "region": s3_server.region}}
    result = run_ingest(
        make_dataset({"source": source, "format": "Parquet", "split": {"train": 1, "validation": 0, "test": 0}}), ctx
    )
    assert result.rows == 150
    stored = client.get_dataset_version("iris", result.digest)
    assert [f["name"] for f in stored["source"]["files"]] == ["part-0.parquet", "part-1.parquet", "part-2.parquet"]
    assert set(result.artifacts) == {"manifest", "train", "profile", "report"}  # no empty splits
    assert read_split(client, result.artifacts["train"], tmp_path).to_pylist() == iris.to_pylist()
    single = {"s3": {**source["s3"], "uri": f"s3://{s3_bucket}/iris/part-1.parquet"}}
    assert run_ingest(make_dataset({"source": single, "format": "Parquet"}, name="part"), ctx).rows == 50
    with pytest.raises(SourceUnavailable, match="no objects"):
        run_ingest(make_dataset({"source": {"s3": {**source["s3"], "uri": f"s3://{s3_bucket}/nothing/"}}}), ctx)


def test_inline_rows_and_a_directory(ctx, make_dataset, data, iris, tmp_path):
    rows = [{"x": i, "label": "ab"[i % 2]} for i in range(10)]
    inline = run_ingest(make_dataset({"source": {"inline": {"rows": rows}}}, name="tiny"), ctx)
    assert (inline.rows, inline.columns) == (10, 2)
    folder = tmp_path / "folder"
    data.write(iris.slice(0, 100), folder / "a.csv")
    data.write(iris.slice(100), folder / "b" / "c.csv")
    (folder / ".hidden").write_text("ignored")
    assert run_ingest(make_dataset({"source": data.pvc(folder)}, name="folder"), ctx).rows == 150


def test_failing_validation_is_reported_not_registered(client, ctx, make_dataset, data, iris, tmp_path):
    path = data.write(iris, tmp_path / "data" / "iris.csv")
    columns = [
        {"name": "sepal_length", "type": "Float", "maximum": 7.0},
        {"name": "target", "type": "Categorical", "allowedValues": ["setosa", "versicolor"]},
    ]
    spec = {"source": data.pvc(path), "schema": {"columns": columns, "targetColumn": "target"}}
    failed = run_ingest(make_dataset({**spec, "validation": "Fail"}), ctx)
    assert not failed.succeeded
    assert failed.version is None
    assert failed.failed_rules == ["sepal_length.maximum", "target.allowedValues"]
    assert failed.violations == 12 + 50
    result = failed.to_result()
    assert result["reason"] == "ValidationFailed"
    assert "target.allowedValues" in result["message"]
    report = json.loads(read_artifact(client, failed.artifacts["report"], tmp_path))
    rule = next(r for r in report["rules"] if r["rule"] == "target.allowedValues")
    assert rule["violations"] == 50
    assert len(rule["samples"]) == 5
    assert rule["samples"][0]["values"]["target"] == "virginica"
    assert list(client.request("GET", f"/api/v1/namespaces/{client.namespace}/datasets")["items"]) == []

    warned = run_ingest(make_dataset({**spec, "validation": "Warn"}), ctx)
    assert warned.succeeded
    assert warned.version == "1"
    assert warned.digest == failed.digest
    assert warned.to_result()["validation"] == {
        "policy": "Warn",
        "passed": False,
        "violations": 62,
        "failedRules": ["sepal_length.maximum", "target.allowedValues"],
    }
    assert warned.artifacts["report"] == failed.artifacts["report"]


def test_stratified_splits_and_profile_artifact(client, ctx, make_dataset, data, iris_csv, tmp_path):
    spec = {
        "source": data.pvc(iris_csv),
        "schema": {"targetColumn": "target"},
        "split": {"train": 0.6, "validation": 0.2, "test": 0.2, "stratify": True, "seed": 5},
        "profile": {"bins": 5, "maxCategories": 2},
    }
    result = run_ingest(make_dataset(spec), ctx)
    for name in ("train", "validation", "test"):
        labels = read_split(client, result.artifacts[name], tmp_path).column("target").to_pylist()
        expected = 30 if name == "train" else 10
        assert {label: labels.count(label) for label in set(labels)} == dict.fromkeys(
            ["setosa", "versicolor", "virginica"], expected
        )
    profile = json.loads(read_artifact(client, result.artifacts["profile"], tmp_path))
    petal = profile["columns"]["petal_length"]
    assert (petal["count"], petal["missing"], petal["min"], petal["max"]) == (150, 0, 1.0, 6.9)
    assert len(petal["bin_edges"]) == 6
    assert sum(petal["histogram"]) == 150
    target = profile["columns"]["target"]
    assert target["type"] == "Categorical"
    assert len(target["frequencies"]) == 2
    assert target["other"] == 50
