"""HTTP routes of the artifact store: streaming upload with digest check, download, presigned URLs, deletion.

Uploads are spooled to a temporary file while hashed (memory stays bounded), rejected early when the
claimed ``X-Content-SHA256`` does not match, then handed to the store, which verifies again and publishes
at the content address. Deletion serves retention policies (the ModelVersion operator's
``retentionPolicy: Delete``): its audit row is flushed before the object goes, so a database that cannot
record it stops the deletion. Store errors map to HTTP once, here.
"""

from __future__ import annotations

import datetime
import hashlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Header, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from modelplane.api.artifacts import store as artifact_errors
from modelplane.api.artifacts.store import ArtifactStore
from modelplane.api.audit.service import record
from modelplane.api.auth.models import Role
from modelplane.api.deps import Artifacts, Caller, Session
from modelplane.api.errors import ApiError, Conflict, InvalidRequest, NotFound, Unavailable
from modelplane.api.namespaces import Namespace

router = APIRouter(prefix="/api/v1", tags=["artifacts"])
T = TypeVar("T")
Sha256 = Annotated[str, Field(pattern=r"^[a-f0-9]{64}$", description="sha256 of the content, lowercase hex.")]
MAX_UPLOAD_BYTES = 64 * 1024**3


class ArtifactOut(BaseModel):
    uri: str = Field(description="Where the artifact is stored.")
    sha256: str = Field(description="sha256 of the content.")
    size: int = Field(description="Size in bytes.")


class PresignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["GET", "PUT"] = Field(description="GET to download, PUT to upload.")
    sha256: Sha256
    expires_seconds: int = Field(3600, ge=1, le=604_800, description="Lifetime of the URL.")


class PresignedOut(BaseModel):
    url: str = Field(description="The presigned URL.")
    expires_at: datetime.datetime
    upload_uri: str | None = Field(None, description="For PUT: pass to /artifacts/complete after uploading.")
    headers: dict[str, str] = Field(default_factory=dict, description="Headers the PUT must send.")


class CompleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    upload_uri: str = Field(max_length=2048, description="upload_uri from the presign answer.")
    sha256: Sha256
    size: int | None = Field(None, ge=0, description="Expected size in bytes.")


def as_api_error(error: artifact_errors.ArtifactError) -> ApiError:
    """The HTTP meaning of an artifact-store error."""
    if isinstance(error, artifact_errors.ArtifactNotFound):
        return NotFound(str(error))
    if isinstance(error, artifact_errors.ArtifactContentError | artifact_errors.InvalidArtifactReference):
        return InvalidRequest(str(error))
    if isinstance(error, artifact_errors.PresignNotSupported):
        return InvalidRequest(f"{error}; upload and download through /api/v1/namespaces/{{namespace}}/artifacts")
    if isinstance(error, artifact_errors.CorruptArtifactError):
        return Conflict(str(error))
    return Unavailable(f"the artifact store is unavailable: {error}")


async def _call(function: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run a blocking store call in the threadpool, mapping its errors to HTTP."""
    try:
        return await run_in_threadpool(function, *args, **kwargs)
    except artifact_errors.ArtifactError as error:
        raise as_api_error(error) from error


@router.post("/namespaces/{namespace}/artifacts", status_code=status.HTTP_201_CREATED, response_model=ArtifactOut)
async def upload(
    namespace: Namespace,
    request: Request,
    session: Session,
    caller: Caller,
    artifacts: Artifacts,
    x_content_sha256: Annotated[str | None, Header(pattern=r"^[a-f0-9]{64}$")] = None,
) -> ArtifactOut:
    """Upload the request body; with ``X-Content-SHA256`` a different content is rejected (400)."""
    caller.require(namespace, Role.EDITOR)
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(prefix="modelplane-upload-") as spool:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise InvalidRequest(f"an artifact may be at most {MAX_UPLOAD_BYTES} bytes")
            digest.update(chunk)
            await run_in_threadpool(spool.write, chunk)
        await run_in_threadpool(spool.flush)
        actual = digest.hexdigest()
        if x_content_sha256 is not None and actual != x_content_sha256:
            raise InvalidRequest(
                f"content digest mismatch: X-Content-SHA256 is {x_content_sha256}, the body's is {actual}"
            )
        ref: artifact_errors.ArtifactRef = await _call(
            artifacts.put, namespace, Path(spool.name), expected_sha256=actual, size=size
        )
    record(session, caller, "artifact.upload", namespace, "artifact", ref.sha256, after={"size": ref.size})
    await session.commit()
    return ArtifactOut(uri=ref.uri, sha256=ref.sha256, size=ref.size)


@router.get("/namespaces/{namespace}/artifacts/{sha256}", response_class=StreamingResponse)
async def download(namespace: Namespace, sha256: str, caller: Caller, artifacts: Artifacts) -> StreamingResponse:
    """Stream an artifact; its digest is verified as it is read."""
    caller.require(namespace, Role.VIEWER)
    uri = _uri(artifacts, namespace, sha256)
    stream: artifact_errors.ArtifactStream = await _call(artifacts.get, uri)

    def chunks() -> Iterator[bytes]:
        with stream:
            yield from stream

    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={"Content-Length": str(stream.info.size), "X-Content-SHA256": stream.info.sha256},
    )


@router.post("/namespaces/{namespace}/artifacts/presign", response_model=PresignedOut)
async def presign(namespace: Namespace, body: PresignRequest, caller: Caller, artifacts: Artifacts) -> PresignedOut:
    """A presigned GET (viewer) or PUT (editor) URL; S3 backend only."""
    expires = datetime.timedelta(seconds=body.expires_seconds)
    if body.method == "GET":
        caller.require(namespace, Role.VIEWER)
        url: str = await _call(artifacts.presign_get, _uri(artifacts, namespace, body.sha256), expires)
        return PresignedOut(url=url, expires_at=datetime.datetime.now(datetime.UTC) + expires)
    caller.require(namespace, Role.EDITOR)
    upload: artifact_errors.PresignedUpload = await _call(artifacts.presign_put, namespace, body.sha256, expires)
    return PresignedOut(
        url=upload.url, expires_at=upload.expires_at, upload_uri=upload.upload_uri, headers=upload.headers
    )


@router.post("/namespaces/{namespace}/artifacts/complete", response_model=ArtifactOut)
async def complete(
    namespace: Namespace, body: CompleteRequest, session: Session, caller: Caller, artifacts: Artifacts
) -> ArtifactOut:
    """Verify a presigned upload and publish it at its content address."""
    caller.require(namespace, Role.EDITOR)
    ref: artifact_errors.ArtifactRef = await _call(
        artifacts.complete_upload, namespace, body.upload_uri, body.sha256, size=body.size
    )
    record(session, caller, "artifact.upload", namespace, "artifact", ref.sha256, after={"size": ref.size})
    await session.commit()
    return ArtifactOut(uri=ref.uri, sha256=ref.sha256, size=ref.size)


@router.delete(
    "/namespaces/{namespace}/artifacts/{sha256}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={404: {"description": "No artifact with this digest in the namespace."}},
)
async def delete(namespace: Namespace, sha256: str, session: Session, caller: Caller, artifacts: Artifacts) -> Response:
    """Delete an artifact (editor): 204, or 404 when the namespace holds none with this digest.

    Nothing checks whether a registered version or run still points at it: the caller decides (the
    operator keeps digests another ModelVersion has). Rows that name it stay, as history.
    """
    caller.require(namespace, Role.EDITOR)
    uri = _uri(artifacts, namespace, sha256)
    digest = artifacts.parse_uri(uri).sha256
    try:
        info: artifact_errors.ArtifactInfo = await _call(artifacts.stat, uri)
    except NotFound as error:
        raise NotFound(f"no artifact with sha256 {digest} in namespace {namespace!r}") from error
    record(session, caller, "artifact.delete", namespace, "artifact", info.sha256, before={"size": info.size})
    await session.flush()  # the audit row can be written: only then does the object go
    await _call(artifacts.delete, uri)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _uri(artifacts: ArtifactStore, namespace: str, sha256: str) -> str:
    try:
        return artifacts.uri_for(namespace, sha256)
    except (artifact_errors.ArtifactError, ValueError) as error:
        raise InvalidRequest(str(error)) from error
