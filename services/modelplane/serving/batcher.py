"""Dynamic batching: concurrent requests for one model merged into one inference, then split back.

Where it sits: the dataplane submits each request's bound tensors to its model's :class:`Batcher` when
the model is batchable (every input and output has a leading dimension of any size) and batching is
configured; one loop task per model forms batches and runs them through the model's executor.

How a batch forms: the loop takes every request already queued with the same trailing shapes, up to
``maxBatchSize`` rows (a single larger request runs alone). If the batch is not full and other requests
for the model are still being received (their bodies are in flight), it waits for them, but never longer
than ``maxLatencyMs`` after the oldest queued request arrived. An idle server never delays a lone request;
under load, the requests that arrive while one batch runs form the next, so batches grow with concurrency.

Results are identical to unbatched runs: rows are stacked on the leading dimension and each request gets
back its own slice of every output. A lone 1-row request is padded with a copy of itself, because ONNX
Runtime's CPU GEMM takes a different code path at one row whose float rounding differs in the last bits;
with every inference at two rows or more, a row's result never depends on whether or with whom it was
batched. If the model answers with a leading dimension that is not the batch, the batcher turns itself off
for that model and runs requests one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from modelplane.serving.config import Batching
from modelplane.serving.executor import InferenceExecutor
from modelplane.serving.inference import Tensor
from modelplane.serving.metrics import ModelMetrics
from modelplane.serving.model import OnnxModel

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Item:
    feeds: dict[str, Tensor]
    rows: int
    key: tuple[tuple[int, ...], ...]
    enqueued: float
    future: asyncio.Future[list[Tensor]]


class Batcher:
    """Merges the concurrent requests of one model into batches and runs them one at a time."""

    def __init__(self, model: OnnxModel, executor: InferenceExecutor, metrics: ModelMetrics, config: Batching) -> None:
        self._model = model
        self._executor = executor
        self._metrics = metrics
        self._max_rows = config.max_batch_size
        self._max_latency = config.max_latency_ms / 1000
        self._input_names = [spec.name for spec in model.inputs]
        self._pending: deque[_Item] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.receiving = 0
        """Requests for this model whose bodies are still arriving (they may join the forming batch)."""
        self.enabled = True

    def start(self) -> None:
        """Start the loop task (on the running event loop)."""
        self._task = asyncio.create_task(self._loop(), name=f"modelplane-batcher-{self._model.name}")

    async def stop(self) -> None:
        """Serve what is queued, then stop the loop."""
        self._closing = True
        self._wake()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=30)
            except TimeoutError:
                logger.warning("Cancelled the batcher of %s with requests queued", self._model.label)

    def begin_receiving(self) -> None:
        """A request for this model started arriving."""
        self.receiving += 1

    def end_receiving(self) -> None:
        """A request for this model has arrived (or was abandoned)."""
        self.receiving -= 1
        if self.receiving == 0:
            self._wake()

    async def submit(self, feeds: dict[str, Tensor]) -> list[Tensor]:
        """Every output of the model (in signature order) for this request's rows."""
        names = self._input_names
        if len(names) == 1:  # the common case, without a generator per request
            shape = feeds[names[0]].shape
            rows = shape[0]
            key: tuple[tuple[int, ...], ...] = (shape[1:],)
            aligned = True
        else:
            rows = feeds[names[0]].shape[0]
            key = tuple(feeds[name].shape[1:] for name in names)
            aligned = all(feeds[name].shape[0] == rows for name in names)
        if not self.enabled or self._closing or not aligned:
            return await self._run_alone(feeds)
        future: asyncio.Future[list[Tensor]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Item(feeds, rows, key, time.perf_counter(), future))
        self._wake()
        return await future

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _sleep(self, timeout: float | None) -> None:
        self._wakeup = asyncio.get_running_loop().create_future()
        try:
            if timeout is None:
                await self._wakeup
            else:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wakeup
        finally:
            self._wakeup = None

    async def _loop(self) -> None:
        while True:
            if not self._pending:
                if self._closing:
                    return
                await self._sleep(None)
                continue
            batch: list[_Item] = []
            rows = self._take(batch, 0)
            if self._max_latency > 0:
                deadline = batch[0].enqueued + self._max_latency
                while rows < self._max_rows and self.receiving > 0 and not self._closing:
                    remaining = deadline - time.perf_counter()
                    if remaining <= 0:
                        break
                    await self._sleep(remaining)
                    rows = self._take(batch, rows)
            try:
                await self._execute(batch, rows)
            except Exception as exc:  # never let the loop die: fail this batch's requests instead
                logger.exception("Failed a batch of %s", self._model.label)
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)

    def _take(self, batch: list[_Item], rows: int) -> int:
        """Move queued requests that fit into ``batch``; the rows it then holds."""
        kept: deque[_Item] = deque()
        while self._pending and (not batch or rows < self._max_rows):
            item = self._pending.popleft()
            if not batch:
                batch.append(item)
                rows = item.rows
            elif item.key == batch[0].key and rows + item.rows <= self._max_rows:
                batch.append(item)
                rows += item.rows
            else:
                kept.append(item)
        if kept:
            kept.extend(self._pending)
            self._pending = kept
        return rows

    async def _execute(self, batch: list[_Item], rows: int) -> None:
        started = time.perf_counter()
        for item in batch:
            self._metrics.queue_seconds.observe(started - item.enqueued)
        if len(batch) == 1:
            feeds = batch[0].feeds
            if rows == 1:
                feeds = {name: np.concatenate((tensor, tensor)) for name, tensor in feeds.items()}
        else:
            feeds = {name: np.concatenate([item.feeds[name] for item in batch]) for name in self._input_names}
        try:
            outputs, _, seconds = await self._executor.run(self._model.run, feeds)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].future.set_exception(exc)
                return
            for item in batch:  # one request the model rejects must not fail the others
                await self._execute([item], item.rows)
            return
        self._metrics.inference_seconds.observe(seconds)
        self._metrics.batch_rows.observe(rows)
        self._metrics.batch_requests.observe(len(batch))
        stacked = max(rows, 2)
        if any(output.shape[:1] != (stacked,) for output in outputs):
            self.enabled = False
            logger.warning(
                "Turned off dynamic batching of %s: its outputs' leading dimension is not the batch",
                self._model.label,
            )
            for item in batch:
                self._deliver(item, await self._run_alone(item.feeds))
            return
        offset = 0
        for item in batch:
            end = offset + item.rows
            self._deliver(item, [output[offset:end] for output in outputs])
            offset = end

    @staticmethod
    def _deliver(item: _Item, outputs: list[Tensor]) -> None:
        if not item.future.done():
            item.future.set_result(outputs)

    async def _run_alone(self, feeds: dict[str, Tensor]) -> list[Tensor]:
        outputs, waited, seconds = await self._executor.run(self._model.run, feeds)
        self._metrics.queue_seconds.observe(waited)
        self._metrics.inference_seconds.observe(seconds)
        return outputs
