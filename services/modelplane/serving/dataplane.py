"""The protocol-agnostic dataplane: health, metadata, model lookup, inference, and per-request accounting.

Where it sits: between the protocol adapters (``modelplane.serving.rest``; a gRPC adapter would sit
beside it) and the repository, batchers and executors. Adapters decode the wire format into an
:class:`~modelplane.serving.inference.InferenceRequest`, call :meth:`DataPlane.infer`, encode the
:class:`~modelplane.serving.inference.InferenceResponse`, and report every request once through
:meth:`DataPlane.record` (metrics and payload logging), whatever its outcome. Errors are raised as the
classes of :mod:`modelplane.serving.errors`; adapters map them to their protocol's status codes.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.metadata
import logging
from collections.abc import Iterable

from modelplane.apis.v1alpha1.inference_service import LoggerMode
from modelplane.serving.config import ServingConfig
from modelplane.serving.inference import InferenceRequest, InferenceResponse, RequestedOutput, ResponseOutput, Tensor
from modelplane.serving.metrics import ModelMetrics, ServingMetrics
from modelplane.serving.payload_log import PayloadLogger
from modelplane.serving.repository import ModelRepository, ServedModel
from modelplane.serving.sinks import build_sink

logger = logging.getLogger(__name__)

SERVER_NAME = "modelplane"
EXTENSIONS = ("binary_tensor_data", "model_repository")
"""OIP v2 extensions this server speaks (the repository extension: its read-only index)."""


def server_version() -> str:
    """The installed ModelPlane version."""
    try:
        return importlib.metadata.version("modelplane")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0+unknown"


class DataPlane:
    """Everything the adapters need, independent of HTTP."""

    def __init__(self, config: ServingConfig, metrics: ServingMetrics | None = None, *, freeze_gc: bool = True) -> None:
        self.config = config
        self._freeze_gc = freeze_gc
        self.metrics = metrics if metrics is not None else ServingMetrics()
        self.repository = ModelRepository(config, self.metrics)
        self.version = server_version()
        logging_config = config.payload_logging
        self.payload_logger: PayloadLogger | None = None
        if logging_config.mode is not LoggerMode.NONE and logging_config.sink is not None:
            self.payload_logger = PayloadLogger(logging_config, build_sink(logging_config.sink), self.metrics)
        self._loading: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start loading the models in the background, and the payload logger."""
        if self.payload_logger is not None:
            self.payload_logger.start()
        self._loading = asyncio.create_task(self._load_models(), name="modelplane-model-loading")

    async def _load_models(self) -> None:
        await self.repository.load_all()
        if self._freeze_gc:
            # Everything alive now (the web stack, ONNX Runtime's bindings, the models) lives as long as the
            # process: move it out of the collector's reach. Otherwise every full collection walks those
            # ~85k objects, a 50-65 ms pause of the event loop about once a second under load (the p99
            # of every request in flight); afterwards a full collection walks the requests' objects only.
            gc.collect()
            gc.freeze()

    async def stop(self) -> None:
        """Stop loading, drain the batchers, flush the payload log."""
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
            await asyncio.gather(self._loading, return_exceptions=True)
        await self.repository.close()
        if self.payload_logger is not None:
            await asyncio.to_thread(self.payload_logger.stop)
        logger.info("Stopped serving", extra={"models": len(self.config.models)})

    async def wait_loaded(self) -> None:
        """Return once every model finished loading (successfully or not)."""
        if self._loading is not None:
            await asyncio.shield(self._loading)

    def get_model(self, name: str, version: str | None) -> ServedModel:
        """The served version a request names; :class:`ModelNotFound` if it is not configured."""
        return self.repository.find(name, version)

    async def infer(self, served: ServedModel, request: InferenceRequest) -> InferenceResponse:
        """Check the request against the model, run it (batched when the model batches) and answer."""
        model, executor = served.ready_model()
        feeds = model.bind(request.inputs)
        requested = model.select_outputs(request.outputs, request.binary_outputs)
        datatypes = model.output_datatypes
        if served.batcher is not None:
            every = await served.batcher.submit(feeds)
            produced: Iterable[tuple[RequestedOutput, Tensor]]
            if request.outputs is None:
                produced = zip(requested, every, strict=True)
            else:
                by_name = dict(zip(model.output_names, every, strict=True))
                produced = ((item, by_name[item.name]) for item in requested)
        else:
            names = None if request.outputs is None else [item.name for item in requested]
            outputs, waited, ran = await executor.run(model.run, feeds, names)
            served.metrics.queue_seconds.observe(waited)
            served.metrics.inference_seconds.observe(ran)
            produced = zip(requested, outputs, strict=True)
        return InferenceResponse(
            model_name=served.name,
            model_version=served.version,
            id=request.id,
            outputs=[ResponseOutput(item.name, datatypes[item.name], data, item.binary) for item, data in produced],
        )

    def record(
        self,
        served: ServedModel | None,
        *,
        name: str,
        outcome: str,
        status: int,
        seconds: float,
        request: InferenceRequest | None = None,
        response: InferenceResponse | None = None,
        error: str | None = None,
    ) -> None:
        """Account for one finished request: count, latency, and a payload record when sampled."""
        metrics: ModelMetrics = served.metrics if served is not None else self.metrics.unknown
        metrics.outcomes[outcome].inc()
        metrics.request_seconds.observe(seconds)
        payload_logger = self.payload_logger
        if payload_logger is not None and served is not None and payload_logger.sampled(status < 400):
            payload_logger.offer(
                model_name=name,
                model_version=served.version,
                outcome=outcome,
                status=status,
                seconds=seconds,
                request=request,
                response=response,
                error=error,
            )
