"""Payload logging: a sample of requests and responses written to a sink in batches, off the request path.

Where it sits: the dataplane offers a record for each finished request (:meth:`PayloadLogger.offer`);
the logger samples it (``sampleRate``; failed requests only with ``includeErrors``) and puts it in a
bounded in-memory buffer. A background thread takes records from the buffer, serializes them as JSON
lines and writes them to the sink (:mod:`modelplane.serving.sinks`) in batches of up to ``batchSize``
records, at least every ``flushIntervalMs``. A full buffer drops the record and counts it
(``modelplane_serving_payload_records_total{result="dropped"}``): logging never blocks or slows an
inference beyond building one small dict. The drift monitor reads these records.

One record (one JSON line)::

    {"timestamp": "2025-11-22T20:31:05.123456Z", "modelName": "iris", "modelVersion": "3",
     "requestId": "42", "outcome": "success", "status": 200, "error": null, "latencySeconds": 0.00041,
     "inputs": [{"name": "X", "datatype": "FP32", "shape": [1, 4], "data": [5.1, 3.5, 1.4, 0.2]}],
     "outputs": [{"name": "label", "datatype": "INT64", "shape": [1], "data": [0]}]}

Tensors are v2 tensors with row-major flattened ``data`` whatever the request's encoding (JSON, nested
JSON or binary). ``inputs`` is left out in ``Response`` mode and ``outputs`` in ``Request`` mode; a request
that failed before its tensors were decoded has neither, and its ``error`` says why.
"""

from __future__ import annotations

import datetime
import logging
import queue
import random
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from modelplane.apis.v1alpha1.inference_service import LoggerMode
from modelplane.serving.config import PayloadLogging
from modelplane.serving.inference import InferenceRequest, InferenceResponse, RequestInput, ResponseOutput
from modelplane.serving.metrics import ServingMetrics
from modelplane.serving.sinks import PayloadSink

logger = logging.getLogger(__name__)

Record = dict[str, Any]


class PayloadLogger:
    """Samples finished requests into a bounded buffer that a background thread drains into a sink."""

    def __init__(self, config: PayloadLogging, sink: PayloadSink, metrics: ServingMetrics) -> None:
        self._mode = config.mode
        self._rate = config.sample_rate
        self._include_errors = config.include_errors
        self._batch_size = config.batch_size
        self._flush_interval = config.flush_interval_ms / 1000
        self._sink = sink
        self._buffer: queue.Queue[Record] = queue.Queue(maxsize=config.buffer_size)
        self._random = random.Random()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="modelplane-payload-logger", daemon=True)
        self._written = metrics.payload_records.labels("written")
        self._dropped = metrics.payload_records.labels("dropped")
        self._failed = metrics.payload_records.labels("failed")

    def start(self) -> None:
        """Start the background writer."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is buffered, then stop the writer and close the sink."""
        self._stopping.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("Stopped the payload logger with records still buffered")
        self._sink.close()

    def sampled(self, ok: bool) -> bool:
        """Whether this request is logged; call before building a record, which costs more than this."""
        if not ok and not self._include_errors:
            return False
        return self._rate >= 1.0 or self._random.random() < self._rate

    def offer(
        self,
        *,
        model_name: str,
        model_version: str,
        outcome: str,
        status: int,
        seconds: float,
        request: InferenceRequest | None,
        response: InferenceResponse | None,
        error: str | None,
    ) -> None:
        """Queue a record of a sampled request; drop it (and count it) if the buffer is full."""
        record: Record = {
            "timestamp": time.time(),
            "modelName": model_name,
            "modelVersion": model_version,
            "requestId": request.id if request is not None else None,
            "outcome": outcome,
            "status": status,
            "error": error,
            "latencySeconds": seconds,
        }
        if request is not None and self._mode is not LoggerMode.RESPONSE:
            record["inputs"] = request.inputs
        if response is not None and self._mode is not LoggerMode.REQUEST:
            record["outputs"] = response.outputs
        try:
            self._buffer.put_nowait(record)
        except queue.Full:
            self._dropped.inc()

    def _drain(self) -> None:
        while not (self._stopping.is_set() and self._buffer.empty()):
            batch = self._next_batch()
            if batch:
                self._write(batch)

    def _next_batch(self) -> list[Record]:
        try:
            batch = [self._buffer.get(timeout=0.05 if self._stopping.is_set() else self._flush_interval)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self._flush_interval
        while len(batch) < self._batch_size:
            remaining = deadline - time.monotonic()
            try:
                batch.append(
                    self._buffer.get(timeout=max(remaining, 0)) if remaining > 0 else self._buffer.get_nowait()
                )
            except queue.Empty:
                break
        return batch

    def _write(self, batch: Sequence[Record]) -> None:
        try:
            lines = b"".join(encode_record(record) for record in batch)
            self._sink.write(lines, len(batch))
        except Exception as exc:  # a sink failure loses this batch, never the server
            self._failed.inc(len(batch))
            logger.warning("Failed to write %d payload records: %s", len(batch), exc, extra={"records": len(batch)})
        else:
            self._written.inc(len(batch))


def encode_record(record: Record) -> bytes:
    """One record as a JSON line (tensors flattened, timestamp in RFC 3339 UTC)."""
    document = dict(record)
    document["timestamp"] = (
        datetime.datetime.fromtimestamp(record["timestamp"], tz=datetime.UTC).isoformat().replace("+00:00", "Z")
    )
    for field in ("inputs", "outputs"):
        if field in document:
            document[field] = [_tensor(item) for item in document[field]]
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE)


def _tensor(item: RequestInput | ResponseOutput) -> dict[str, Any]:
    data = item.data
    flat: Any
    if data.dtype == np.object_:
        flat = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in data.reshape(-1).tolist()]
    else:
        flat = np.ascontiguousarray(data).reshape(-1)
    return {"name": item.name, "datatype": item.datatype, "shape": list(data.shape), "data": flat}
