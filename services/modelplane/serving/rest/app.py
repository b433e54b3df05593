"""The server's ASGI application: a lean inference path in front of a typed FastAPI application.

Where it sits: ``python -m modelplane.serving`` hands :func:`build_app`'s result to uvicorn. The outer
:class:`ServingApp` looks at each request's method and path with two string tests; inference requests
(``POST /v2/models/{name}[/versions/{v}]/infer`` and ``POST /v1/models/{name}:predict``) are read,
served by the :class:`~modelplane.serving.rest.handlers.InferenceHandler` and written as raw ASGI
messages. Everything else, and the lifespan events, go to the FastAPI application (typed routes, OpenAPI,
exception handlers).

Why the split: the HTTP and framework path is nearly all of the cost of serving a small model. Measured
on this project's 2-core machines with a 4-feature logistic regression, FastAPI's routing, dependency
solving and middleware stack cut the request rate to about a half or less of the same handler under raw
ASGI; metadata and health endpoints are not hot, so they keep FastAPI's typing and documentation, and
the inference routes are declared there too (same handler) so the OpenAPI document is complete.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from modelplane.serving.config import ServingConfig
from modelplane.serving.dataplane import DataPlane
from modelplane.serving.errors import PayloadTooLarge, ServingError
from modelplane.serving.metrics import ServingMetrics
from modelplane.serving.rest import routes
from modelplane.serving.rest.errors import status_for
from modelplane.serving.rest.handlers import ClientDisconnected, HttpResult, InferenceHandler, Protocol, RequestHeaders

_V2_PREFIX = "/v2/models/"
_V2_SUFFIX = "/infer"
_V1_PREFIX = "/v1/models/"
_V1_SUFFIX = ":predict"
_VERSIONS = "/versions/"


class ServingApp:
    """ASGI application: inference on the lean path, the rest through :attr:`api`."""

    def __init__(self, api: FastAPI, dataplane: DataPlane) -> None:
        self.api = api
        self.dataplane = dataplane
        self._handler: InferenceHandler = api.state.inference_handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path.startswith(_V2_PREFIX) and path.endswith(_V2_SUFFIX):
                target = _model_and_version(path[len(_V2_PREFIX) : -len(_V2_SUFFIX)])
                if target is not None:
                    await self._serve(scope, receive, send, Protocol.V2, *target)
                    return
            elif path.startswith(_V1_PREFIX) and path.endswith(_V1_SUFFIX):
                name = path[len(_V1_PREFIX) : -len(_V1_SUFFIX)]
                if name and "/" not in name:
                    await self._serve(scope, receive, send, Protocol.V1, name, None)
                    return
        await self.api(scope, receive, send)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, protocol: Protocol, name: str, version: str | None
    ) -> None:
        started = time.perf_counter()
        headers = RequestHeaders()
        for key, value in scope["headers"]:
            if key == b"inference-header-content-length":
                headers.header_length = value
            elif key == b"content-length":
                headers.content_length = value
            elif key == b"content-encoding":
                headers.content_encoding = value

        async def read_body(limit: int) -> bytes:
            message = await receive()
            body: bytes = message.get("body", b"")
            if not message.get("more_body", False):
                if len(body) > limit:
                    raise PayloadTooLarge(f"the request body exceeds {limit} bytes")
                return body
            chunks = [body]
            size = len(body)
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnected
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"the request body exceeds {limit} bytes")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)

        inflight = self.dataplane.metrics.inflight_requests  # what a Concurrency HPA scales on
        inflight.inc()
        try:
            result = await self._handler.handle(protocol, name, version, headers, read_body, started)
            if result is not None:
                await _send(send, result)
        finally:
            inflight.dec()


async def _send(send: Send, result: HttpResult) -> None:
    headers = [(b"content-type", result.content_type), (b"content-length", str(len(result.body)).encode())]
    if result.header_length is not None:
        headers.append((b"inference-header-content-length", str(result.header_length).encode()))
    await send({"type": "http.response.start", "status": result.status, "headers": headers})
    await send({"type": "http.response.body", "body": result.body})


def _model_and_version(rest: str) -> tuple[str, str | None] | None:
    """``name`` or ``name/versions/v`` from the middle of an infer path; None for anything else."""
    if "/" not in rest:
        return (rest, None) if rest else None
    name, separator, version = rest.partition(_VERSIONS)
    if not separator or not name or not version or "/" in name or "/" in version:
        return None
    return name, version


def build_app(config: ServingConfig, *, metrics: ServingMetrics | None = None, freeze_gc: bool = True) -> ServingApp:
    """The server's ASGI application for a config (models load when the lifespan starts).

    ``freeze_gc``: once the models are loaded, collect and :func:`gc.freeze` what is alive (see
    :class:`~modelplane.serving.dataplane.DataPlane`); turn it off when the application is not the
    process's own, e.g. embedded in a test process.
    """
    dataplane = DataPlane(config, metrics, freeze_gc=freeze_gc)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await dataplane.start()
        try:
            yield
        finally:
            await dataplane.stop()

    api = FastAPI(
        title="ModelPlane inference server",
        summary="ONNX Runtime models over the Open Inference Protocol v2.",
        version=dataplane.version,
        lifespan=lifespan,
    )
    api.state.dataplane = dataplane
    api.state.inference_handler = InferenceHandler(dataplane)
    api.include_router(routes.router)
    api.add_exception_handler(ServingError, _serving_error)
    api.add_exception_handler(RequestValidationError, _validation_error)
    api.add_exception_handler(StarletteHTTPException, _http_error)
    return ServingApp(api, dataplane)


async def _serving_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServingError)
    return JSONResponse({"error": str(exc)}, status_code=status_for(exc))


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return JSONResponse({"error": f"invalid request: {details}"}, status_code=400)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=dict(exc.headers or {}))
