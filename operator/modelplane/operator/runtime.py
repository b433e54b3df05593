"""The operator's long-lived collaborators, created at start-up and handed to every handler via kopf's memo.

One :class:`Runtime` per operator process: the configuration, the Kubernetes client, the control-plane
client, a clock (tests may replace it) and per-object locks. The locks serialise the passes over one
parent: kopf runs a parent's own handlers one at a time, but a child's event (a Job changed) reconciles
the parent from another task, and two passes over the same object must not interleave their reads and
writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelplane.kube.client import KubeClient
from modelplane.operator.config import OperatorConfig
from modelplane.operator.controlplane import ControlPlaneClient

MEMO_KEY = "runtime"


def utc_now() -> datetime:
    return datetime.now(UTC)


class KeyedLocks:
    """An asyncio lock per key, dropped once nobody holds or waits for it (memory flat in finished objects)."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[tuple[str, ...], asyncio.Lock] = weakref.WeakValueDictionary()

    @contextlib.asynccontextmanager
    async def hold(self, *key: str) -> AsyncIterator[None]:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        async with lock:
            yield

    def __len__(self) -> int:
        return len(self._locks)


class Requeues:
    """Passes scheduled to run again after a delay (at most one pending per key): controller-runtime's RequeueAfter.

    kopf retries its own handlers on ``TemporaryError``; a pass triggered by a child's event or a timer
    has nobody to retry it, so it asks for a requeue here instead.
    """

    def __init__(self) -> None:
        self._pending: dict[tuple[str, ...], asyncio.Task[None]] = {}

    def schedule(self, key: tuple[str, ...], delay: float, again: Callable[[], Awaitable[object]]) -> bool:
        """Run ``again()`` after ``delay`` seconds unless a requeue for ``key`` is already pending."""
        if key in self._pending:
            return False

        async def later() -> None:
            try:
                await asyncio.sleep(delay)
            finally:
                self._pending.pop(key, None)
            await again()

        self._pending[key] = asyncio.get_running_loop().create_task(later(), name=f"requeue {'/'.join(key)}")
        return True

    def cancel_all(self) -> None:
        for task in self._pending.values():
            task.cancel()
        self._pending.clear()

    def __len__(self) -> int:
        return len(self._pending)


@dataclass
class Runtime:
    """Everything a reconciler needs besides the object itself."""

    config: OperatorConfig
    kube: KubeClient
    control_plane: ControlPlaneClient
    clock: Callable[[], datetime] = utc_now
    locks: KeyedLocks = field(default_factory=KeyedLocks)
    requeues: Requeues = field(default_factory=Requeues)

    async def aclose(self) -> None:
        self.requeues.cancel_all()
        await self.kube.aclose()
        await self.control_plane.aclose()


def runtime_of(memo: Any) -> Runtime:
    """The runtime stored in kopf's memo by the start-up handler."""
    runtime = memo.get(MEMO_KEY) if hasattr(memo, "get") else getattr(memo, MEMO_KEY, None)
    if not isinstance(runtime, Runtime):
        raise RuntimeError("the ModelPlane operator runtime is not initialised (start-up handler not run)")
    return runtime
