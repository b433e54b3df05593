"""Destinations of payload records: anything with ``write(lines, count)`` and ``close()``.

Where it sits: the payload logger's background thread calls :meth:`PayloadSink.write` with a batch of
JSON lines; sinks are synchronous (they run on that thread, never on the event loop). Two ship here:

* :class:`HttpSink` POSTs each batch as ``application/x-ndjson`` to a URL (the control plane's payload
  endpoint once it exists, or any collector); a failed POST is retried once, then the batch is dropped
  and counted as failed;
* :class:`FileSink` appends each batch to a local JSONL file (development, tests, a sidecar shipper).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Protocol

import httpx

from modelplane.serving.config import SinkConfig

logger = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"


class PayloadSink(Protocol):
    """Where batches of payload records go."""

    def write(self, lines: bytes, count: int) -> None:
        """Write ``count`` records, one JSON object a line; raise on failure."""

    def close(self) -> None:
        """Release connections and files."""


class HttpSink:
    """POSTs batches of JSON lines to an HTTP endpoint."""

    def __init__(self, url: str, *, headers: dict[str, str] | None = None, timeout_seconds: float = 5.0) -> None:
        self._url = url
        self._client = httpx.Client(timeout=timeout_seconds, headers={"Content-Type": NDJSON, **(headers or {})})

    def write(self, lines: bytes, count: int) -> None:
        """POST the batch; retry once after a connection error or a 5xx answer."""
        for attempt in (1, 2):
            try:
                response = self._client.post(self._url, content=lines, headers={"X-Record-Count": str(count)})
            except httpx.TransportError:
                if attempt == 2:
                    raise
            else:
                if response.status_code < 500 or attempt == 2:
                    response.raise_for_status()
                    return
            time.sleep(0.2)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


class FileSink:
    """Appends batches of JSON lines to a file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        self._lock = threading.Lock()

    def write(self, lines: bytes, count: int) -> None:
        """Append and flush the batch."""
        with self._lock:
            self._file.write(lines)
            self._file.flush()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._file.close()


def build_sink(config: SinkConfig) -> PayloadSink:
    """The sink a config names."""
    if config.url is not None:
        return HttpSink(config.url, headers=config.headers, timeout_seconds=config.timeout_seconds)
    assert config.path is not None  # the config validates exactly one of url and path
    return FileSink(config.path)
