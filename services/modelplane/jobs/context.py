"""What a job knows besides its resource: the control plane, the run, the dataset version, the trial.

In a pod the operator sets ``MODELPLANE_*`` variables and :func:`JobContext.from_env` reads them; the
local runtime builds a :class:`JobContext` directly and calls the job functions in-process. Either way
the job talks to the control plane only through the SDK client held here. The model validation job's
inputs (``MODELPLANE_MODEL_SOURCE``, ``MODELPLANE_EVAL_DATASET``) are read by :func:`model_source_from_env`
and :func:`eval_dataset_from_env` and passed to it as arguments.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import ValidationError

from modelplane.apis.v1alpha1.base import CustomResource
from modelplane.jobs.errors import InvalidSpec
from modelplane.sdk.client import ModelPlaneClient
from modelplane.sdk.config import ClientConfig

R = TypeVar("R", bound=CustomResource)
RUN_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")

RESOURCE_ENV = "MODELPLANE_RESOURCE"
RUN_ID_ENV = "MODELPLANE_RUN_ID"
EXPERIMENT_ENV = "MODELPLANE_EXPERIMENT"
DATASET_ENV = "MODELPLANE_DATASET"
TRIAL_INDEX_ENV = "MODELPLANE_TRIAL_INDEX"
TRIAL_PARAMS_ENV = "MODELPLANE_TRIAL_PARAMS"
PARENT_RUN_ID_ENV = "MODELPLANE_PARENT_RUN_ID"
SOURCE_ACCESS_KEY_ENV = "MODELPLANE_SOURCE_ACCESS_KEY_ID"
SOURCE_SECRET_KEY_ENV = "MODELPLANE_SOURCE_SECRET_ACCESS_KEY"
SOURCE_S3_ENDPOINT_ENV = "MODELPLANE_SOURCE_S3_ENDPOINT"
PVC_MOUNT_ENV = "MODELPLANE_PVC_MOUNT"
WORKDIR_ENV = "MODELPLANE_WORKDIR"
CODE_REF_ENV = "MODELPLANE_CODE_REF"
ACCELERATOR_ENV = "MODELPLANE_ACCELERATOR"
NODE_NAME_ENV = "NODE_NAME"
MODEL_SOURCE_ENV = "MODELPLANE_MODEL_SOURCE"
EVAL_DATASET_ENV = "MODELPLANE_EVAL_DATASET"
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
DIGEST_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class DatasetInput:
    """The resolved Dataset version a training run reads: its digest and split artifact URIs."""

    digest: str
    artifacts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSourceInput:
    """The resolved artifact a ModelVersion validates: where it is, the sha256 it must have, its lineage.

    ``uri`` is a platform-store URI (downloaded through the artifact API by its sha256) for a TrainingRun's
    model, or the external source's ``s3://``/``http(s)://`` URI.
    """

    uri: str
    sha256: str
    run_id: str | None = None
    training_run: str | None = None
    dataset_digest: str | None = None


@dataclass(frozen=True)
class Trial:
    """One trial of a sweep: its index, its values (merged over spec.hyperparameters) and the sweep's run."""

    index: int
    params: Mapping[str, Any] = field(default_factory=dict)
    parent_run_id: str | None = None


@dataclass(frozen=True)
class SourceCredentials:
    """Credentials of an S3 source, from the Secrets the Dataset names."""

    access_key_id: str | None = None
    secret_access_key: str | None = None


AWS_S3_ENDPOINT = "https://s3.amazonaws.com"


@dataclass
class JobContext:
    """Everything a job needs besides its resource."""

    client: ModelPlaneClient
    workdir: Path | None = None
    """Scratch directory for downloads and outputs; a temporary directory per job when None."""
    run_id: str | None = None
    experiment: str | None = None
    dataset: DatasetInput | None = None
    trial: Trial | None = None
    source_credentials: SourceCredentials = field(default_factory=SourceCredentials)
    source_s3_endpoint: str | None = None
    """S3 endpoint of sources whose spec names none (the platform's choice); AWS when None."""
    pvc_mount: Path | None = None
    """Where the operator mounted the PVC of a pvc source; the path is used as is when None (local mode)."""
    node_name: str | None = None
    code_ref: str | None = None
    accelerator: str | None = None
    """The accelerator profile the operator placed the pod with (lineage only)."""

    @property
    def namespace(self) -> str:
        return self.client.namespace

    def source_s3_client(self, endpoint: str | None, *, region: str | None = None, what: str) -> tuple[Any, str]:
        """A minio client of a source's S3 endpoint (the spec's, else the platform's, else AWS) with the source
        credentials, and the endpoint's host; both keys or neither (``what`` names the source in the error)."""
        import minio

        url = urlsplit(endpoint or self.source_s3_endpoint or AWS_S3_ENDPOINT)
        creds = self.source_credentials
        if (creds.access_key_id is None) != (creds.secret_access_key is None):
            raise InvalidSpec(f"{what} needs both the access key id and the secret access key, or neither")
        client = minio.Minio(
            url.netloc,
            access_key=creds.access_key_id,
            secret_key=creds.secret_access_key,
            secure=url.scheme == "https",
            region=region,
        )
        return client, url.netloc

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, client: ModelPlaneClient | None = None) -> JobContext:
        """The context the operator's environment describes (see ``docs/jobs.md``)."""
        env = os.environ if env is None else env
        try:
            config = ClientConfig.from_env(env)
        except OSError as error:
            raise InvalidSpec(f"MODELPLANE_TOKEN_FILE cannot be read: {error}") from error
        run_id = env.get(RUN_ID_ENV) or None
        if run_id is not None and not RUN_ID_PATTERN.match(run_id):
            raise InvalidSpec(f"{RUN_ID_ENV} must be 32 lowercase hex digits, not {run_id!r}")
        return cls(
            client=client or ModelPlaneClient(config),
            workdir=_path(env.get(WORKDIR_ENV)),
            run_id=run_id,
            experiment=env.get(EXPERIMENT_ENV) or None,
            dataset=_dataset(env.get(DATASET_ENV), DATASET_ENV),
            trial=_trial(env),
            source_credentials=SourceCredentials(
                env.get(SOURCE_ACCESS_KEY_ENV) or None, env.get(SOURCE_SECRET_KEY_ENV) or None
            ),
            source_s3_endpoint=env.get(SOURCE_S3_ENDPOINT_ENV) or None,
            pvc_mount=_path(env.get(PVC_MOUNT_ENV)),
            node_name=env.get(NODE_NAME_ENV) or None,
            code_ref=env.get(CODE_REF_ENV) or None,
            accelerator=env.get(ACCELERATOR_ENV) or None,
        )


def load_resource(kind: type[R], env: Mapping[str, str] | None = None) -> R:
    """The resource in ``MODELPLANE_RESOURCE`` (the object as the API server returns it), parsed as ``kind``."""
    env = os.environ if env is None else env
    raw = env.get(RESOURCE_ENV)
    if not raw:
        raise InvalidSpec(f"{RESOURCE_ENV} is not set: it must hold the {kind.kind_info.kind} as JSON")
    body = _json(RESOURCE_ENV, raw)
    if not isinstance(body, dict):
        raise InvalidSpec(f"{RESOURCE_ENV} must be a JSON object")
    if body.get("kind", kind.kind_info.kind) != kind.kind_info.kind:
        raise InvalidSpec(f"{RESOURCE_ENV} holds a {body.get('kind')}, not a {kind.kind_info.kind}")
    try:
        return kind.from_wire(body)
    except ValidationError as error:
        raise InvalidSpec(f"{RESOURCE_ENV} is not a valid {kind.kind_info.kind}: {error}") from error


def _json(name: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as error:
        raise InvalidSpec(f"{name} is not valid JSON: {error}") from error


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _dataset(raw: str | None, name: str) -> DatasetInput | None:
    if not raw:
        return None
    body = _json(name, raw)
    if not isinstance(body, dict) or not isinstance(body.get("digest"), str):
        raise InvalidSpec(f'{name} must be {{"digest": "sha256:...", "artifacts": {{...}}}}')
    artifacts = body.get("artifacts") or {}
    if not isinstance(artifacts, dict) or not all(isinstance(v, str) for v in artifacts.values()):
        raise InvalidSpec(f"{name}.artifacts must map split names to URIs")
    return DatasetInput(digest=body["digest"], artifacts=artifacts)


def eval_dataset_from_env(env: Mapping[str, str] | None = None) -> DatasetInput | None:
    """The evaluation Dataset version in ``MODELPLANE_EVAL_DATASET`` (same shape as ``MODELPLANE_DATASET``)."""
    env = os.environ if env is None else env
    return _dataset(env.get(EVAL_DATASET_ENV), EVAL_DATASET_ENV)


def model_source_from_env(env: Mapping[str, str] | None = None) -> ModelSourceInput | None:
    """The artifact in ``MODELPLANE_MODEL_SOURCE``; None when unset (local use resolves it from the resource)."""
    env = os.environ if env is None else env
    raw = env.get(MODEL_SOURCE_ENV)
    if not raw:
        return None
    body = _json(MODEL_SOURCE_ENV, raw)
    shape = '{"uri": ..., "sha256": "<64 hex>", "runId", "trainingRun", "datasetDigest"}'
    if not isinstance(body, dict) or not isinstance(body.get("uri"), str) or not body["uri"]:
        raise InvalidSpec(f"{MODEL_SOURCE_ENV} must be {shape}")
    sha256 = body.get("sha256")
    if not isinstance(sha256, str) or not SHA256_PATTERN.match(sha256.removeprefix("sha256:")):
        raise InvalidSpec(f"{MODEL_SOURCE_ENV}.sha256 must be 64 lowercase hex digits, not {sha256!r}")
    optional: dict[str, str | None] = {}
    for key in ("runId", "trainingRun", "datasetDigest"):
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidSpec(f"{MODEL_SOURCE_ENV}.{key} must be a string or null")
        optional[key] = value or None
    run_id, digest = optional["runId"], optional["datasetDigest"]
    if run_id is not None and not RUN_ID_PATTERN.match(run_id):
        raise InvalidSpec(f"{MODEL_SOURCE_ENV}.runId must be 32 lowercase hex digits, not {run_id!r}")
    if digest is not None and not DIGEST_PATTERN.match(digest):
        raise InvalidSpec(f"{MODEL_SOURCE_ENV}.datasetDigest must be sha256:<64 hex>, not {digest!r}")
    return ModelSourceInput(
        uri=body["uri"],
        sha256=sha256.removeprefix("sha256:"),
        run_id=run_id,
        training_run=optional["trainingRun"],
        dataset_digest=digest,
    )


def _trial(env: Mapping[str, str]) -> Trial | None:
    index = env.get(TRIAL_INDEX_ENV)
    if not index:
        return None
    if not index.isdigit():
        raise InvalidSpec(f"{TRIAL_INDEX_ENV} must be a non-negative integer, not {index!r}")
    params = _json(TRIAL_PARAMS_ENV, env.get(TRIAL_PARAMS_ENV) or "{}")
    if not isinstance(params, dict):
        raise InvalidSpec(f"{TRIAL_PARAMS_ENV} must be a JSON object of hyperparameter values")
    parent = env.get(PARENT_RUN_ID_ENV) or None
    if parent is not None and not RUN_ID_PATTERN.match(parent):
        raise InvalidSpec(f"{PARENT_RUN_ID_ENV} must be 32 lowercase hex digits, not {parent!r}")
    return Trial(index=int(index), params=params, parent_run_id=parent)
