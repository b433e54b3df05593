"""An active run in training code: params, tags and metrics buffered and sent in batches.

``log_metric`` only appends to an in-memory buffer under a lock, so it is safe to call in a hot training
loop; a background thread sends the buffer every ``flush_interval`` seconds or as soon as it holds a full
batch (1000 points). Points carry their own timestamp, so a retried batch is stored once. Leaving the
``with`` block flushes and finishes the run: Succeeded, or Failed when an exception escaped.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from modelplane.sdk.client import ModelPlaneClient
from modelplane.sdk.config import ClientConfig

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100


class ActiveRun:
    """A run being logged to; use :func:`start_run` to create one."""

    def __init__(self, client: ModelPlaneClient, run_id: str, *, flush_interval: float = 2.0) -> None:
        self.client = client
        self.run_id = run_id
        self._lock = threading.Lock()
        self._metrics: list[dict[str, Any]] = []
        self._params: dict[str, str] = {}
        self._tags: dict[str, str] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._flush_interval = flush_interval
        self._thread = threading.Thread(target=self._loop, name=f"modelplane-run-{run_id[:8]}", daemon=True)
        self._thread.start()

    # logging (cheap, thread-safe)

    def log_metric(self, key: str, value: float, step: int = 0, timestamp_ms: int | None = None) -> None:
        point = {
            "key": key,
            "value": float(value),
            "step": step,
            "timestamp": timestamp_ms or time.time_ns() // 1_000_000,
        }
        with self._lock:
            self._metrics.append(point)
            full = len(self._metrics) >= MAX_METRICS_PER_BATCH
        if full:
            self._wake.set()

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        now = time.time_ns() // 1_000_000
        for key, value in metrics.items():
            self.log_metric(key, value, step, now)

    def log_param(self, key: str, value: Any) -> None:
        with self._lock:
            self._params[key] = str(value)

    def log_params(self, params: Mapping[str, Any]) -> None:
        with self._lock:
            self._params.update({k: str(v) for k, v in params.items()})

    def set_tag(self, key: str, value: Any) -> None:
        with self._lock:
            self._tags[key] = str(value)

    # sending

    def flush(self) -> None:
        """Send everything buffered so far; raises the error of a failed background send."""
        while True:
            with self._lock:
                metrics, self._metrics = self._metrics[:MAX_METRICS_PER_BATCH], self._metrics[MAX_METRICS_PER_BATCH:]
                params = dict(list(self._params.items())[:MAX_PARAMS_PER_BATCH])
                for key in params:
                    del self._params[key]
                tags = dict(list(self._tags.items())[:MAX_PARAMS_PER_BATCH])
                for key in tags:
                    del self._tags[key]
            if not (metrics or params or tags):
                break
            try:
                self.client.log_batch(self.run_id, metrics=metrics, params=params, tags=tags)
            except BaseException:
                with self._lock:  # put them back: nothing acknowledged is dropped
                    self._metrics[:0] = metrics
                    self._params = {**params, **self._params}
                    self._tags = {**tags, **self._tags}
                raise
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception as error:
                self._error = error

    def finish(self, status: str = "Succeeded", artifact_uri: str | None = None, **fields: Any) -> None:
        """Flush, stop the background sender and set the final status (with lineage ``fields``, if any)."""
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self.flush()
        self.client.update_run(self.run_id, status=status, artifact_uri=artifact_uri, **fields)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.finish("Failed" if kind is not None else "Succeeded")


def start_run(
    experiment: str | None = None,
    *,
    run_id: str | None = None,
    params: Mapping[str, Any] | None = None,
    client: ModelPlaneClient | None = None,
    flush_interval: float = 2.0,
    **fields: Any,
) -> ActiveRun:
    """Create (or, with the operator's ``MODELPLANE_RUN_ID``, resume) a run and return it active."""
    client = client or ModelPlaneClient(ClientConfig.from_env())
    experiment = experiment or client.config.experiment or "default"
    run_id = run_id or client.config.run_id or uuid.uuid4().hex
    initial = [{"key": k, "value": str(v)} for k, v in (params or {}).items()]
    run = client.create_run(experiment, run_id=run_id, params=initial or None, **fields)
    return ActiveRun(client, run["run_id"], flush_interval=flush_interval)
