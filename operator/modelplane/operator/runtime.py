"""The operator's long-lived collaborators, created at start-up and handed to every handler via kopf's memo.

One :class:`Runtime` per operator process: the configuration, the Kubernetes client, the control-plane
client, a clock (tests may replace it), per-object locks, each object's next pass (:class:`Requeues`:
retries and re-checks), a bound on concurrent passes, the views of kopf's indices and the versions that
let a pass skip a read or a child event. The locks serialise the passes over one parent: kopf runs a
parent's own handlers one at a time, but a child's event (a Job changed) reconciles the parent from
another task, and two passes over the same object must not interleave their reads and writes. The
bound keeps a burst (a thousand TrainingRuns applied at once) from opening a thousand requests at once:
passes queue for a slot instead, and the HTTP connection pool stays warm. :class:`Indices` and
:class:`JobView` let a pass read its Jobs and its Dataset from kopf's indices of their watches instead
of asking the API server.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelplane.kube.client import KubeClient
from modelplane.operator.config import OperatorConfig
from modelplane.operator.controlplane import ControlPlaneClient
from modelplane.operator.jobstate import JobState
from modelplane.operator.naming import short_hash

MEMO_KEY = "runtime"
JOBS_INDEX = "jobs_by_owner"
"""Id of kopf's index of the operator's Jobs by their controller's uid (kopf passes it to handlers by this name)."""
DATASETS_INDEX = "datasets_by_name"
"""Id of kopf's index of the Datasets by ``(namespace, name)``: what a TrainingRun's pass reads its Dataset from."""
RESYNC_SPREAD = 0.2
"""Re-checks of unfinished objects are spread over the last fifth of ``resync_seconds`` (see :func:`resync_delay`)."""
MAX_CONCURRENT_PASSES = 16
"""Passes running at once; the rest wait for a slot (below httpx's 20 kept-alive connections)."""


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
    """The next pass of each object that asked for one: controller-runtime's RequeueAfter.

    Two things schedule one: a blocked pass triggered by a child's event or another requeue (kopf retries
    only its own handlers' ``TemporaryError``), and the periodic re-check of an object that still needs
    time-based work (an unfinished TrainingRun, a Dataset without a valid version or with a refresh
    interval). The latest pass decides: scheduling replaces what is pending for the key, and a pass that
    needs nothing cancels it. A pending entry is a timer handle, not a sleeping task; finished objects
    have none, so memory is flat in them. This is instead of kopf timers, which keep the latest body of
    every object of their kind in memory for good and add a finalizer to each.
    """

    def __init__(self) -> None:
        self._pending: dict[tuple[str, ...], asyncio.TimerHandle] = {}
        self._running: set[asyncio.Task[object]] = set()

    def schedule(self, key: tuple[str, ...], delay: float, again: Callable[[], Awaitable[object]]) -> None:
        """Run ``again()`` in ``delay`` seconds, instead of whatever was pending for ``key``."""
        self.cancel(key)
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._pending.pop(key, None)
            task = loop.create_task(_awaited(again), name=f"requeue {'/'.join(key)}")
            self._running.add(task)  # the loop keeps only a weak reference to a task
            task.add_done_callback(self._running.discard)

        self._pending[key] = loop.call_later(max(delay, 0.0), fire)

    def due_in(self, key: tuple[str, ...]) -> float | None:
        """Seconds until the pending pass of ``key`` (None when nothing is pending)."""
        handle = self._pending.get(key)
        return None if handle is None else handle.when() - asyncio.get_running_loop().time()

    def cancel(self, key: tuple[str, ...]) -> None:
        handle = self._pending.pop(key, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for handle in self._pending.values():
            handle.cancel()
        self._pending.clear()
        for task in list(self._running):
            task.cancel()

    def __len__(self) -> int:
        return len(self._pending)


async def _awaited(again: Callable[[], Awaitable[object]]) -> object:
    return await again()


def resync_delay(seconds: float, uid: str | None) -> float:
    """The re-check delay of one object: ``seconds`` less up to a fifth, fixed per object (by uid).

    Objects created together (a thousand TrainingRuns applied at once) or resumed together at start-up
    would otherwise be re-checked in lockstep; spread by their uid they are re-checked at an even rate.
    """
    return seconds * (1.0 - RESYNC_SPREAD * int(short_hash(uid or ""), 16) / 16**8)


class Indices:
    """kopf's in-memory indices that passes read, taken from a handler's keyword arguments.

    kopf passes every index to every handler under its id, always the same live object, and fills each
    from its watch before it invokes any handler (the initial listing included). A pass started outside
    kopf (a unit test) finds none bound and reads the API server instead.
    """

    IDS = (JOBS_INDEX, DATASETS_INDEX)

    def __init__(self) -> None:
        self._bound: dict[str, Mapping[Any, Any]] = {}

    def bind(self, kwargs: Mapping[str, Any]) -> None:
        if len(self._bound) == len(self.IDS):
            return
        for index_id in self.IDS:
            if index_id not in self._bound and isinstance(kwargs.get(index_id), Mapping):
                self._bound[index_id] = kwargs[index_id]

    def get(self, index_id: str) -> Mapping[Any, Any] | None:
        return self._bound.get(index_id)

    def one(self, index_id: str, key: Any) -> Any | None:
        """The single value under ``key`` (None when absent). Only call when :meth:`get` is not None."""
        return next(iter(self._bound[index_id].get(key, ())), None)


class JobView:
    """The operator's Jobs as the Job watch delivered them, and the versions that passes already saw.

    kopf fills its index (``JOBS_INDEX``: controller uid → :class:`JobState`) from the Job watch before it
    invokes any handler, so a pass reading it sees every Job of its parent that the API server had when
    the event that triggered the pass was processed. A Job this pass or a racing one has just created may
    not be in it yet: applying it again is a no-op. :meth:`jobs_of` is None until the index is bound (a
    reconciler called outside kopf then lists).

    The versions noted by passes let a child event be skipped when a pass already saw that version of
    the Job (the ``ADDED`` event of a Job a pass created); entries are dropped when the Job goes away or
    its parent finished, so memory stays flat in the number of finished runs.
    """

    def __init__(self, indices: Indices) -> None:
        self._indices = indices
        self._seen: dict[tuple[str, str], str] = {}

    def jobs_of(self, owner_uid: str) -> list[JobState] | None:
        """The Jobs controlled by ``owner_uid`` (None without an index)."""
        index = self._indices.get(JOBS_INDEX)
        if index is None:
            return None
        return list(index.get(owner_uid, ()))

    def saw(self, namespace: str, job: JobState) -> None:
        """A pass observed this version of the Job."""
        if job.resource_version:
            self._seen[(namespace, job.name)] = job.resource_version

    def already_seen(self, namespace: str, name: str, resource_version: str | None) -> bool:
        return bool(resource_version) and self._seen.get((namespace, name)) == resource_version

    def forget(self, namespace: str, names: Collection[str]) -> None:
        for name in names:
            self._seen.pop((namespace, name), None)

    def __len__(self) -> int:
        return len(self._seen)


class StatusVersions:
    """The ``resourceVersion`` each object had right after this operator last applied its status.

    A handler's body from kopf is as fresh as kopf's last watch event, which may predate the operator's
    own status write (a child's pass raced it). A body whose version is the one recorded here, or of an
    object whose status this process never wrote, needs no fresh read. Versions are only compared for
    equality. Entries are dropped when the object is deleted or finished.
    """

    def __init__(self) -> None:
        self._versions: dict[tuple[str, str, str], str] = {}

    def note(self, kind: str, written: Mapping[str, Any]) -> None:
        meta = written.get("metadata") or {}
        if meta.get("resourceVersion"):
            self._versions[(kind, str(meta.get("namespace") or ""), str(meta.get("name")))] = meta["resourceVersion"]

    def current(self, kind: str, namespace: str, name: str, body: Mapping[str, Any]) -> bool:
        """Whether ``body`` is at least as new as the operator's last status write of the object."""
        written = self._versions.get((kind, namespace, name))
        return written is None or (body.get("metadata") or {}).get("resourceVersion") == written

    def forget(self, kind: str, namespace: str, name: str) -> None:
        self._versions.pop((kind, namespace, name), None)

    def __len__(self) -> int:
        return len(self._versions)


@dataclass
class Runtime:
    """Everything a reconciler needs besides the object itself."""

    config: OperatorConfig
    kube: KubeClient
    control_plane: ControlPlaneClient
    clock: Callable[[], datetime] = utc_now
    locks: KeyedLocks = field(default_factory=KeyedLocks)
    requeues: Requeues = field(default_factory=Requeues)
    indices: Indices = field(default_factory=Indices)
    written: StatusVersions = field(default_factory=StatusVersions)
    jobs: JobView = field(init=False)
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_CONCURRENT_PASSES))

    def __post_init__(self) -> None:
        self.jobs = JobView(self.indices)

    async def aclose(self) -> None:
        self.requeues.cancel_all()
        await self.kube.aclose()
        await self.control_plane.aclose()


def runtime_of(memo: Any, kwargs: Mapping[str, Any] | None = None) -> Runtime:
    """The runtime stored in kopf's memo by the start-up handler (a handler passes its kwargs: the Job index)."""
    runtime = memo.get(MEMO_KEY) if hasattr(memo, "get") else getattr(memo, MEMO_KEY, None)
    if not isinstance(runtime, Runtime):
        raise RuntimeError("the ModelPlane operator runtime is not initialised (start-up handler not run)")
    if kwargs is not None:
        runtime.indices.bind(kwargs)
    return runtime
