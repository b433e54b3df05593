"""Where an inference runs: inline on the event loop while the model is fast, on a worker thread once it is not.

Where it sits: each loaded model has one :class:`InferenceExecutor`; the batcher (or, without batching,
the dataplane) hands it a ready-to-run call. A thread hand-off costs tens of microseconds, more than a
small tabular model takes to run, so calls whose moving average stays under :data:`INLINE_BUDGET_SECONDS`
run inline; slower models run on the model's worker thread (ONNX Runtime releases the GIL), which keeps
the event loop free to parse the next requests. Runs on the worker are serialized: one inference per model
at a time, each using the session's intra-op threads.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

INLINE_BUDGET_SECONDS = 0.001
"""Average run time below which an inference runs on the event loop itself."""
_SMOOTHING = 0.1


class InferenceExecutor:
    """Runs the inferences of one model and measures them."""

    def __init__(self, name: str, expected_seconds: float | None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"modelplane-infer-{name}")
        self.average_seconds = INLINE_BUDGET_SECONDS if expected_seconds is None else expected_seconds
        """Moving average of the run time; unknown (a model that refused the warm-up) starts on the thread."""

    @property
    def inline(self) -> bool:
        """Whether the next run happens on the event loop."""
        return self.average_seconds < INLINE_BUDGET_SECONDS

    async def run(self, call: Callable[..., T], *args: Any) -> tuple[T, float, float]:
        """``call(*args)``'s result, the seconds it waited for the worker, and the seconds it ran."""
        if self.average_seconds < INLINE_BUDGET_SECONDS:
            started = time.perf_counter()
            result = call(*args)
            waited, ran = 0.0, time.perf_counter() - started
        else:
            submitted = time.perf_counter()
            loop = asyncio.get_running_loop()
            result, started, ran = await loop.run_in_executor(self._pool, _timed, call, args)
            waited = started - submitted
        self.average_seconds += _SMOOTHING * (ran - self.average_seconds)
        return result, waited, ran

    def close(self) -> None:
        """Wait for the worker to finish and release it."""
        self._pool.shutdown(wait=True)


def _timed(call: Callable[..., T], args: tuple[Any, ...]) -> tuple[T, float, float]:
    started = time.perf_counter()
    result = call(*args)
    return result, started, time.perf_counter() - started
