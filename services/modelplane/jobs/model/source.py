"""The artifact a ModelVersion validates: resolved, fetched into the workdir, its sha256 verified.

Where it sits: the first step of :func:`~modelplane.jobs.model.job.run_model_validation`. The operator
resolves the source (``MODELPLANE_MODEL_SOURCE``); in local use :func:`resolve_source` does it from the
resource: an external source as written, a TrainingRun's model from the control plane (the run named by
the operator's ``modelplane.io/run-id`` annotation, else the TrainingRun's runs: the trial asked for, the
best trial of a sweep, or the newest succeeded run).

A TrainingRun's model is in the platform store and is downloaded through the artifact API by its sha256;
an external artifact is read from its S3 bucket (the spec's endpoint, the source credentials) or its
HTTP(S) URL and, once it has passed every check, published into the platform store (:func:`publish`) so
serving finds it there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from modelplane.apis.v1alpha1.model_version import ModelVersion
from modelplane.jobs import files
from modelplane.jobs.context import JobContext, ModelSourceInput
from modelplane.jobs.errors import DigestMismatch, InvalidSpec, SourceUnavailable
from modelplane.sdk.client import ModelPlaneError, artifact_sha256

logger = logging.getLogger(__name__)
CHUNK = files.CHUNK
ANNOTATION_RUN_ID = "modelplane.io/run-id"
ANNOTATION_ARTIFACT_SHA256 = "modelplane.io/artifact-sha256"
ANNOTATION_DATASET_DIGEST = "modelplane.io/dataset-digest"
BEST_TRIAL_TAG = "modelplane.best_trial"
ACTUAL_DIGEST = re.compile(r"content digest ([0-9a-f]{64})")


@dataclass(frozen=True)
class FetchedArtifact:
    """The verified artifact on local disk."""

    path: Path
    sha256: str
    size: int


def is_external(model_version: ModelVersion) -> bool:
    """Whether the artifact comes from outside the platform store (and must be published into it)."""
    return model_version.spec.source.external is not None


def resolve_source(model_version: ModelVersion, ctx: JobContext) -> ModelSourceInput:
    """The source of a ModelVersion when the operator did not resolve it (local use)."""
    source = model_version.spec.source
    if source.external is not None:
        return ModelSourceInput(uri=source.external.uri, sha256=source.external.sha256)
    if source.training_run_ref is None:
        raise InvalidSpec("spec.source must set trainingRunRef or external")
    name, trial = source.training_run_ref.name, source.training_run_ref.trial
    annotations = model_version.metadata.annotations
    run_id = annotations.get(ANNOTATION_RUN_ID)
    run = _get_run(ctx, run_id) if run_id else _find_run(ctx, name, trial)
    uri = run.get("artifact_uri")
    if not uri:
        raise SourceUnavailable(f"run {run['run_id']} of TrainingRun {name} has no model artifact yet")
    sha256 = annotations.get(ANNOTATION_ARTIFACT_SHA256) or _content_address(uri)
    if sha256 is None:
        raise InvalidSpec(f"the artifact {uri} of run {run['run_id']} is not content-addressed; its sha256 is unknown")
    return ModelSourceInput(
        uri=uri,
        sha256=sha256,
        run_id=run["run_id"],
        training_run=name,
        dataset_digest=run.get("dataset_digest") or annotations.get(ANNOTATION_DATASET_DIGEST),
    )


def _get_run(ctx: JobContext, run_id: str) -> dict[str, Any]:
    try:
        return ctx.client.get_run(run_id)
    except ModelPlaneError as error:
        if error.status == 404:
            raise SourceUnavailable(f"run {run_id} is not in the control plane") from error
        raise


def _find_run(ctx: JobContext, training_run: str, trial: int | None) -> dict[str, Any]:
    """The run holding a TrainingRun's model: the trial asked for, a sweep's best trial, or the newest run."""

    def succeeded(name: str) -> list[dict[str, Any]]:
        query = f"attributes.name = '{name}' and attributes.status = 'Succeeded'"
        return list(ctx.client.search_runs(query, experiment=training_run, page_size=10))

    wanted = trial
    if wanted is None:
        parents = [r for r in succeeded(training_run) if BEST_TRIAL_TAG in r.get("tags", {})]
        if parents:
            best = parents[0]["tags"][BEST_TRIAL_TAG]
            wanted = int(best) if best.isdigit() else None
    name = training_run if wanted is None else f"{training_run}-trial-{wanted}"
    runs = [r for r in succeeded(name) if r.get("artifact_uri")]
    if not runs:
        raise SourceUnavailable(f"TrainingRun {training_run} has no succeeded run named {name} with a model")
    return runs[0]


def _content_address(uri: str) -> str | None:
    try:
        return artifact_sha256(uri)
    except ValueError:
        return None


def fetch_artifact(
    model_version: ModelVersion, source: ModelSourceInput, ctx: JobContext, into: Path
) -> FetchedArtifact:
    """Fetch the artifact into the directory ``into`` and check its sha256 against ``source.sha256``."""
    into.mkdir(parents=True, exist_ok=True)
    path = into / "model.onnx"
    if is_external(model_version):
        fetched = _fetch_external(model_version, source.uri, ctx, path)
    else:
        fetched = _fetch_platform(source, ctx, path)
    if fetched.sha256 != source.sha256:
        raise DigestMismatch(
            f"artifact {source.uri} has sha256 {fetched.sha256}, but {source.sha256} is expected "
            "(the artifact changed, or the declared sha256 is wrong)"
        )
    logger.info("Fetched model artifact %s (%d bytes).", source.uri, fetched.size, extra={"sha256": fetched.sha256})
    return fetched


def _fetch_platform(source: ModelSourceInput, ctx: JobContext, path: Path) -> FetchedArtifact:
    """Download from the platform store through the artifact API; the SDK checks the content address."""
    address = _content_address(source.uri) or source.sha256
    try:
        ctx.client.download_artifact(address, path)
    except ModelPlaneError as error:
        if error.code == "DigestMismatch":
            found = ACTUAL_DIGEST.search(error.message)
            actual = found.group(1) if found else f"another digest ({error.message})"
            raise DigestMismatch(
                f"artifact {source.uri} is corrupt in the store: expected sha256 {address}, got {actual}"
            ) from error
        if error.status == 409:  # the store found the stored bytes do not match their address
            raise DigestMismatch(f"artifact {source.uri} is corrupt in the store: {error.message}") from error
        if error.status == 404:
            raise SourceUnavailable(f"artifact {source.uri} is not in the platform store: {error.message}") from error
        raise
    except httpx.TransportError as error:
        raise SourceUnavailable(f"artifact {source.uri} could not be downloaded: {error}") from error
    return hash_file(path)


def _fetch_external(model_version: ModelVersion, uri: str, ctx: JobContext, path: Path) -> FetchedArtifact:
    scheme = urlsplit(uri).scheme
    if scheme == "s3":
        external = model_version.spec.source.external
        endpoint = external.endpoint if external is not None else None
        return _fetch_s3(uri, endpoint, ctx, path)
    if scheme in ("http", "https"):
        return _fetch_http(uri, path)
    raise InvalidSpec(f"an external model source must be an s3:// or http(s):// URI, not {uri!r}")


def _fetch_s3(uri: str, endpoint: str | None, ctx: JobContext, path: Path) -> FetchedArtifact:
    import urllib3
    from minio.error import MinioException, S3Error

    parts = urlsplit(uri)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if not bucket or not key or key.endswith("/"):
        raise InvalidSpec(f"an s3 model source names one object (s3://bucket/key.onnx), not {uri!r}")
    client, host = ctx.source_s3_client(endpoint, what="an S3 model source")
    try:
        response = client.get_object(bucket, key)
        try:
            return _write(path, response.stream(CHUNK))
        finally:
            response.close()
            response.release_conn()
    except (MinioException, urllib3.exceptions.HTTPError, OSError) as error:
        detail = f"{error.code}: {error.message}" if isinstance(error, S3Error) else str(error)
        raise SourceUnavailable(f"cannot read {uri} from {host}: {detail}") from error


def _fetch_http(url: str, path: Path) -> FetchedArtifact:
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response:
            if not response.is_success:
                raise SourceUnavailable(f"GET {url} answered {response.status_code} {response.reason_phrase}")
            return _write(path, response.iter_bytes(CHUNK))
    except httpx.HTTPError as error:
        raise SourceUnavailable(f"GET {url} failed: {error}") from error


def _write(path: Path, chunks: Iterable[bytes]) -> FetchedArtifact:
    return FetchedArtifact(path, *files.write_hashed(path, chunks))


def hash_file(path: Path) -> FetchedArtifact:
    return FetchedArtifact(path, *files.hash_file(path))


def publish(artifact: FetchedArtifact, ctx: JobContext) -> str:
    """Upload a verified artifact into the platform store (idempotent by content); its URI there."""
    stored = ctx.client.upload_artifact(artifact.path)
    return str(stored["uri"])
