"""The FastAPI routes: health, server and model metadata, readiness, repository index, metrics, inference.

Where it sits: thin typed handlers over the dataplane, registered on the FastAPI application by
:func:`modelplane.serving.rest.app.build_app`. Errors are raised as serving exceptions and mapped once by
the application's exception handlers. The inference routes are here for the OpenAPI document and for
callers that mount the FastAPI application alone; the server's outer ASGI layer answers them on its lean
path before FastAPI is reached, with the same :class:`~modelplane.serving.rest.handlers.InferenceHandler`.
"""

from __future__ import annotations

import time
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from modelplane.serving.dataplane import EXTENSIONS, SERVER_NAME, DataPlane
from modelplane.serving.errors import InvalidInput, PayloadTooLarge
from modelplane.serving.model import PLATFORM, TensorSpec
from modelplane.serving.repository import ModelState
from modelplane.serving.rest.handlers import ClientDisconnected, InferenceHandler, Protocol, RequestHeaders
from modelplane.serving.rest.schemas import (
    ErrorResponse,
    InferenceRequestSchema,
    InferenceResponseSchema,
    LiveResponse,
    ModelMetadataResponse,
    ModelReadyResponse,
    ModelStatus,
    PredictRequestSchema,
    PredictResponseSchema,
    ReadyResponse,
    RepositoryIndexEntry,
    RepositoryIndexRequest,
    ServerMetadataResponse,
    TensorMetadata,
    inline_schema,
)


def get_dataplane(request: Request) -> DataPlane:
    """The application's dataplane."""
    return cast("DataPlane", request.app.state.dataplane)


def get_handler(request: Request) -> InferenceHandler:
    """The application's inference handler."""
    return cast("InferenceHandler", request.app.state.inference_handler)


DataPlaneDep = Annotated[DataPlane, Depends(get_dataplane)]
HandlerDep = Annotated[InferenceHandler, Depends(get_handler)]

_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorResponse, "description": "Bad request: the message names the problem."},
    404: {"model": ErrorResponse, "description": "Unknown model or version."},
    503: {"model": ErrorResponse, "description": "The model is not ready: the message says why."},
}

router = APIRouter()


@router.get("/v2/health/live", tags=["health"])
async def live() -> LiveResponse:
    """200 while the process serves HTTP."""
    return LiveResponse(live=True)


@router.get(
    "/v2/health/ready", tags=["health"], response_model=ReadyResponse, responses={503: {"model": ReadyResponse}}
)
async def ready(dataplane: DataPlaneDep) -> JSONResponse:
    """200 when every configured model is loaded; 503 with each model's state and reason otherwise."""
    repository = dataplane.repository
    models = [
        ModelStatus(name=s.name, version=s.version, state=s.state.value, reason=s.reason) for s in repository.models()
    ]
    body = ReadyResponse(ready=repository.ready, models=models)
    return JSONResponse(body.model_dump(), status_code=200 if repository.ready else 503)


@router.get("/v2", tags=["metadata"])
async def server_metadata(dataplane: DataPlaneDep) -> ServerMetadataResponse:
    """Server name, version and protocol extensions."""
    return ServerMetadataResponse(name=SERVER_NAME, version=dataplane.version, extensions=list(EXTENSIONS))


@router.get("/v2/models/{model_name}", tags=["metadata"], responses=_ERRORS)
async def model_metadata(dataplane: DataPlaneDep, model_name: str) -> ModelMetadataResponse:
    """Inputs and outputs of the model's default version."""
    return _metadata(dataplane, model_name, None)


@router.get("/v2/models/{model_name}/versions/{model_version}", tags=["metadata"], responses=_ERRORS)
async def model_version_metadata(dataplane: DataPlaneDep, model_name: str, model_version: str) -> ModelMetadataResponse:
    """Inputs and outputs of one version."""
    return _metadata(dataplane, model_name, model_version)


@router.get("/v2/models/{model_name}/ready", tags=["health"], responses=_ERRORS)
async def model_ready(dataplane: DataPlaneDep, model_name: str) -> ModelReadyResponse:
    """200 when the model's default version is loaded; 503 with the reason otherwise."""
    return _ready(dataplane, model_name, None)


@router.get("/v2/models/{model_name}/versions/{model_version}/ready", tags=["health"], responses=_ERRORS)
async def model_version_ready(dataplane: DataPlaneDep, model_name: str, model_version: str) -> ModelReadyResponse:
    """200 when the version is loaded; 503 with the reason otherwise."""
    return _ready(dataplane, model_name, model_version)


@router.post(
    "/v2/repository/index",
    tags=["metadata"],
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": inline_schema(RepositoryIndexRequest)}},
        }
    },
)
async def repository_index(dataplane: DataPlaneDep, request: Request) -> list[RepositoryIndexEntry]:
    """Every configured model version with its state and reason (OIP v2 model repository extension)."""
    body = await request.body()
    options = RepositoryIndexRequest()
    if body.strip():
        try:
            options = RepositoryIndexRequest.model_validate_json(body)
        except ValidationError as exc:
            raise InvalidInput(f"invalid repository index request: {exc}") from exc
    return [
        RepositoryIndexEntry(name=s.name, version=s.version, state=s.state.value, reason=s.reason or "")
        for s in dataplane.repository.models()
        if s.state is ModelState.READY or not options.ready
    ]


@router.get("/metrics", include_in_schema=False)
async def metrics(dataplane: DataPlaneDep) -> Response:
    """Prometheus exposition of the server's metrics."""
    return Response(generate_latest(dataplane.metrics.registry), media_type=CONTENT_TYPE_LATEST)


_INFER = {
    "tags": ["inference"],
    "response_model": InferenceResponseSchema,
    "responses": {**_ERRORS, 413: {"model": ErrorResponse, "description": "The body is too large."}},
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(InferenceRequestSchema)}},
        }
    },
}


@router.post("/v2/models/{model_name}/infer", **_INFER)  # type: ignore[arg-type]
async def infer(handler: HandlerDep, request: Request, model_name: str) -> Response:
    """Run an inference on the model's default version (JSON, or JSON header + binary tensors)."""
    return await _serve(handler, request, Protocol.V2, model_name, None)


@router.post("/v2/models/{model_name}/versions/{model_version}/infer", **_INFER)  # type: ignore[arg-type]
async def infer_version(handler: HandlerDep, request: Request, model_name: str, model_version: str) -> Response:
    """Run an inference on one version."""
    return await _serve(handler, request, Protocol.V2, model_name, model_version)


@router.post(
    "/v1/models/{model_name}:predict",
    tags=["inference"],
    response_model=PredictResponseSchema,
    responses=_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(PredictRequestSchema)}},
        }
    },
)
async def predict(handler: HandlerDep, request: Request, model_name: str) -> Response:
    """Predict rows of a tabular model: ``{"instances": [...]}`` → ``{"predictions": [...]}``."""
    return await _serve(handler, request, Protocol.V1, model_name, None)


def _metadata(dataplane: DataPlane, name: str, version: str | None) -> ModelMetadataResponse:
    served = dataplane.repository.find(name, version)
    model, _ = served.ready_model()
    return ModelMetadataResponse(
        name=served.name,
        versions=dataplane.repository.versions(name),
        platform=PLATFORM,
        inputs=[_tensor(spec) for spec in model.inputs],
        outputs=[_tensor(spec) for spec in model.outputs],
    )


def _ready(dataplane: DataPlane, name: str, version: str | None) -> ModelReadyResponse:
    served = dataplane.repository.find(name, version)
    served.ready_model()
    return ModelReadyResponse(name=served.name, version=served.version, ready=True)


def _tensor(spec: TensorSpec) -> TensorMetadata:
    return TensorMetadata(
        name=spec.name, datatype=spec.datatype, shape=list(spec.shape) if spec.shape is not None else [-1]
    )


async def _serve(
    handler: InferenceHandler, request: Request, protocol: Protocol, name: str, version: str | None
) -> Response:
    started = time.perf_counter()
    headers = RequestHeaders(
        header_length=_header(request, "inference-header-content-length"),
        content_encoding=_header(request, "content-encoding"),
        content_length=_header(request, "content-length"),
    )

    async def read_body(limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"the request body exceeds {limit} bytes")
                chunks.append(chunk)
        except ClientDisconnect as exc:
            raise ClientDisconnected from exc
        return b"".join(chunks)

    result = await handler.handle(protocol, name, version, headers, read_body, started)
    if result is None:
        return Response(status_code=400)
    extra = {} if result.header_length is None else {"Inference-Header-Content-Length": str(result.header_length)}
    return Response(result.body, status_code=result.status, media_type=result.content_type.decode(), headers=extra)


def _header(request: Request, name: str) -> bytes | None:
    value = request.headers.get(name)
    return None if value is None else value.encode("latin-1")
