from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelplane.apis.v1alpha1 import Dataset
from modelplane.operator.config import OperatorConfig
from modelplane.operator.dataset.builders import (
    build_ingest_job,
    ingest_job_name,
    ingest_key,
    refresh_round,
    seconds_to_next_round,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CONFIG = OperatorConfig.from_env({"MODELPLANE_OPERATOR_API_URL": "http://modelplane-api.mp-system.svc:8080"})


def dataset(source: dict[str, Any], *, annotations: dict[str, str] | None = None, **spec: Any) -> Dataset:
    return Dataset.from_wire(
        {
            "apiVersion": "modelplane.io/v1alpha1",
            "kind": "Dataset",
            "metadata": {
                "name": "credit",
                "namespace": "risk",
                "uid": "0b8e3c52-4d5e-4f7a-9c1b-2a3d4e5f6071",
                "generation": 3,
                "annotations": annotations or {},
            },
            "spec": {"source": source, **spec},
        }
    )


S3 = {
    "s3": {
        "uri": "s3://ml-data/credit/",
        "accessKeyIdRef": {"name": "reader", "key": "accessKeyId"},
        "secretAccessKeyRef": {"name": "reader", "key": "secretAccessKey"},
    }
}
PVC = {"pvc": {"claimName": "lake", "path": "/exports/credit.parquet"}}
INLINE = {"inline": {"rows": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]}}


@pytest.mark.parametrize(
    ("name", "source", "config"),
    [
        ("dataset-s3", S3, OperatorConfig.from_env({"MODELPLANE_OPERATOR_SOURCE_S3_ENDPOINT": "http://minio:9000"})),
        ("dataset-pvc", PVC, CONFIG),
        ("dataset-inline", INLINE, CONFIG),
    ],
)
def test_ingest_jobs_match_their_golden_files(golden, name: str, source: dict[str, Any], config: OperatorConfig):
    obj = dataset(source, format="Parquet")
    golden(name, build_ingest_job(obj, config, key=ingest_key(obj, NOW)))


def test_the_ingest_key_changes_with_generation_refresh_annotation_and_round():
    base = dataset(INLINE)
    key = ingest_key(base, NOW)
    assert ingest_key(base, NOW + timedelta(days=300)) == key  # no interval: no rounds
    assert ingest_key(dataset(INLINE, annotations={"modelplane.io/refresh": "2026-01-02"}), NOW) != key
    newer = base.model_copy(update={"metadata": base.metadata.model_copy(update={"generation": 4})})
    assert ingest_key(newer, NOW) != key
    assert ingest_job_name(base, key) == f"credit-ingest-{key}"

    hourly = dataset(INLINE, refreshIntervalSeconds=3600)
    wait = seconds_to_next_round(hourly, NOW)
    assert wait is not None
    assert 0 < wait <= 3600
    assert refresh_round(hourly, NOW + timedelta(seconds=wait - 1)) == refresh_round(hourly, NOW)
    assert refresh_round(hourly, NOW + timedelta(seconds=wait + 1)) == refresh_round(hourly, NOW) + 1
    assert ingest_key(hourly, NOW + timedelta(seconds=wait + 1)) != ingest_key(hourly, NOW)
    assert seconds_to_next_round(base, NOW) is None


def test_the_job_contract_of_an_ingest_job():
    job = build_ingest_job(dataset(S3), CONFIG, key="k")
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert container["command"] == ["python", "-m", "modelplane.jobs", "ingest"]
    assert env["MODELPLANE_API_URL"] == "http://modelplane-api.mp-system.svc:8080"
    assert env["MODELPLANE_TOKEN_FILE"] == "/var/run/modelplane/token"
    assert env["MODELPLANE_RESULT_FILE"] == "/dev/termination-log"
    assert env["MODELPLANE_NAMESPACE"] == "risk"
    assert '"uid":"0b8e3c52-4d5e-4f7a-9c1b-2a3d4e5f6071"' in env["MODELPLANE_RESOURCE"]
    assert env["MODELPLANE_SOURCE_SECRET_ACCESS_KEY"] == {"secretKeyRef": {"name": "reader", "key": "secretAccessKey"}}
    assert "MODELPLANE_SOURCE_S3_ENDPOINT" not in env  # no platform default configured
    assert job["metadata"]["ownerReferences"][0]["controller"] is True
    assert {v["name"] for v in pod["volumes"]} == {"modelplane-token", "modelplane-work"}
    assert job["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [2, 3, 4]
