"""Fixtures of the model validation tests: a control plane on PostgreSQL whose artifact store is the S3
server (the platform store), Dataset versions ingested and models trained in the test, and ONNX files made
from scikit-learn models fitted here."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from harness.control_plane import make_settings
from modelplane.apis.v1alpha1.model_version import ModelVersion
from modelplane.jobs.ingest.job import IngestResult, run_ingest
from modelplane.jobs.training.export import to_onnx

PLATFORM_PREFIX = "platform"


@pytest.fixture
def api_db_url(postgres_api_url):
    """PostgreSQL only: the registry's SQLite behaviour is covered by tests/api/registry."""
    return postgres_api_url


@pytest.fixture
def api_settings(api_db_url, s3_server, s3_bucket, tmp_path):
    """The control plane's artifact store is the S3 server (bucket ``s3_bucket``, prefix ``platform``)."""
    from pydantic import SecretStr

    from modelplane.api.settings import ArtifactBackend, ArtifactSettings, S3Settings

    settings = make_settings(api_db_url, tmp_path / "artifacts")
    s3 = S3Settings(
        endpoint=s3_server.endpoint,
        access_key=SecretStr(s3_server.access_key),
        secret_key=SecretStr(s3_server.secret_key),
        region=s3_server.region,
        bucket=s3_bucket,
        prefix=PLATFORM_PREFIX,
    )
    return settings.model_copy(update={"s3": s3, "artifacts": ArtifactSettings(backend=ArtifactBackend.S3)})


@pytest.fixture
def ingest(ctx, make_dataset, data, tmp_path) -> Callable[..., IngestResult]:
    """Ingest a bundled scikit-learn dataset under its short name (iris, breast-cancer, diabetes)."""

    def run(loader: str, **spec: Any) -> IngestResult:
        name = loader.removeprefix("load_").replace("_", "-")
        path = data.write(data.sklearn(loader), tmp_path / "data" / f"{name}.csv")
        body = {"source": data.pvc(path), "schema": {"targetColumn": "target"}, "split": {"stratify": True}, **spec}
        if loader == "load_diabetes":
            body["split"] = {"seed": 7}
        return run_ingest(make_dataset(body, name=name), ctx)

    return run


@pytest.fixture
def make_model_version() -> Callable[..., ModelVersion]:
    def make(spec: dict[str, Any], name: str = "mv", annotations: dict[str, str] | None = None) -> ModelVersion:
        body = {
            "apiVersion": "modelplane.io/v1alpha1",
            "kind": "ModelVersion",
            "metadata": {
                "name": name,
                "namespace": "ml",
                "uid": str(uuid.uuid4()),
                "generation": 2,
                "annotations": annotations or {},
            },
            "spec": spec,
        }
        return ModelVersion.from_wire(body)

    return make


class Models:
    """Helpers around models fitted in the test (a fixture: test modules cannot import this conftest)."""

    @staticmethod
    def split(client: Any, dataset: IngestResult, split: str, tmp_path: Path) -> tuple[np.ndarray, np.ndarray]:
        """Features (float32, schema order) and target of a split of an ingested dataset."""
        uri = dataset.artifacts[split]
        path = client.download_artifact(uri, tmp_path / "splits" / f"{uuid.uuid4().hex}.parquet")
        table = pq.read_table(io.BytesIO(path.read_bytes()))
        x = np.column_stack([table.column(c).to_numpy() for c in table.column_names if c != "target"])
        return x.astype(np.float32), np.asarray(table.column("target").to_pylist())

    @staticmethod
    def onnx(model: Any, n_features: int, *, classifier: bool = True) -> bytes:
        """The model as ONNX (the built-in trainer's export: input ``input`` [N, F], ZipMap off)."""
        return to_onnx(model, n_features, classifier=classifier, metadata={})

    @staticmethod
    def sha256(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()


@pytest.fixture
def models() -> type[Models]:
    return Models
