"""HTTP inference handling shared by the lean ASGI path and the FastAPI routes.

Where it sits: :class:`InferenceHandler` takes a model name and version, the request headers that
matter, and a way to read the body; it looks the model up, decodes (OIP v2 or v1 instances), runs the
dataplane, encodes, maps errors through :mod:`modelplane.serving.rest.errors`, and reports the request
to :meth:`DataPlane.record` exactly once. It returns an :class:`HttpResult`; the caller writes it in its
own framework. No exception escapes as a 500 except a bug, which is logged with its traceback.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from modelplane.serving.dataplane import DataPlane
from modelplane.serving.errors import InvalidInput, PayloadTooLarge, ServingError
from modelplane.serving.inference import InferenceRequest, InferenceResponse
from modelplane.serving.repository import ServedModel
from modelplane.serving.rest import codec, predict
from modelplane.serving.rest.errors import error_body, outcome_for, status_for

logger = logging.getLogger(__name__)

JSON = b"application/json"
OCTET_STREAM = b"application/octet-stream"


class Protocol(Enum):
    """Which body format an inference endpoint speaks."""

    V2 = "v2"
    V1 = "v1"


class ClientDisconnected(Exception):
    """The client went away before its body arrived; nothing is answered."""


@dataclass(slots=True)
class HttpResult:
    """What to send back: status, body, content type and the binary extension's header length."""

    status: int
    body: bytes
    content_type: bytes = JSON
    header_length: int | None = None


@dataclass(slots=True)
class RequestHeaders:
    """The request headers inference reads."""

    header_length: bytes | None = None
    content_encoding: bytes | None = None
    content_length: bytes | None = None


BodyReader = Callable[[int], Awaitable[bytes]]
"""Reads the whole body, raising :class:`PayloadTooLarge` past the given limit."""


class InferenceHandler:
    """Serves inference requests over HTTP against one dataplane."""

    def __init__(self, dataplane: DataPlane) -> None:
        self._dataplane = dataplane
        self._limit = dataplane.config.max_request_bytes

    async def handle(
        self,
        protocol: Protocol,
        name: str,
        version: str | None,
        headers: RequestHeaders,
        read_body: BodyReader,
        started: float,
    ) -> HttpResult | None:
        """Serve one request; None when the client disconnected before sending its body."""
        served: ServedModel | None = None
        request: InferenceRequest | None = None
        response: InferenceResponse | None = None
        error: str | None = None
        try:
            served = self._dataplane.get_model(name, version)
            body = await self._read(served, headers, read_body)
            if protocol is Protocol.V2:
                request = codec.decode_request(body, _header_length(headers.header_length))
                response = await self._dataplane.infer(served, request)
                payload, header_length = codec.encode_response(response)
            else:
                request = predict.decode_instances(body, served)
                response = await self._dataplane.infer(served, request)
                payload, header_length = predict.encode_predictions(response)
            result = HttpResult(200, payload, JSON if header_length is None else OCTET_STREAM, header_length)
            outcome = "success"
        except ClientDisconnected:
            return None
        except ServingError as exc:
            error = str(exc)
            result = HttpResult(status_for(exc), error_body(error))
            outcome = outcome_for(exc)
        except Exception as exc:
            logger.exception("Failed an inference request for model '%s'", name, extra={"model": name})
            error = f"internal error: {type(exc).__name__}: {exc}"
            result = HttpResult(500, error_body(error))
            outcome = "error"
        self._dataplane.record(
            served,
            name=name,
            outcome=outcome,
            status=result.status,
            seconds=time.perf_counter() - started,
            request=request,
            response=response,
            error=error,
        )
        return result

    async def _read(self, served: ServedModel, headers: RequestHeaders, read_body: BodyReader) -> bytes:
        declared = headers.content_length
        if declared is not None and declared.isdigit() and int(declared) > self._limit:
            raise PayloadTooLarge(f"the request body exceeds {self._limit} bytes")
        batcher = served.batcher
        if batcher is None:
            body = await read_body(self._limit)
        else:
            batcher.begin_receiving()
            try:
                body = await read_body(self._limit)
            finally:
                batcher.end_receiving()
        if headers.content_encoding is not None:
            body = _decompress(body, headers.content_encoding, self._limit)
        return body


def _header_length(raw: bytes | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit():
        raise InvalidInput(
            f"Inference-Header-Content-Length must be a non-negative integer, not {raw.decode(errors='replace')!r}"
        )
    return int(raw)


def _decompress(body: bytes, encoding: bytes, limit: int) -> bytes:
    name = encoding.strip().lower()
    if name in (b"", b"identity"):
        return body
    if name not in (b"gzip", b"deflate"):
        raise InvalidInput(f"unsupported Content-Encoding {name.decode(errors='replace')!r} (gzip, deflate)")
    decompressor = zlib.decompressobj(wbits=31 if name == b"gzip" else 15)
    try:
        data = decompressor.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidInput(f"the body is not valid {name.decode()} data: {exc}") from exc
    if len(data) > limit or decompressor.unconsumed_tail:
        raise PayloadTooLarge(f"the decompressed request body exceeds {limit} bytes")
    if not decompressor.eof:
        raise InvalidInput(f"the body is truncated {name.decode()} data")
    return data
