"""The local controller loop: the operator's own reconcilers, driven by the local store's change log.

Where it sits: in the daemon, in place of kopf. kopf's part on a cluster is to call a reconcile pass when
an object or one of its children changes, on a timer, and again after a requested delay; here
:class:`Controllers` does the same from :meth:`~.store.ObjectStore.changes_since`, a resync tick and the
:class:`~modelplane.operator.outcome.Outcome` of each pass. The passes themselves are the operator's
(``reconcile_dataset``, ``reconcile_training_run``, ...), with the same
:class:`~modelplane.operator.runtime.Runtime` shape: configuration, Kubernetes client (over the local
store), control-plane client, per-object locks. Events become ``Event`` objects in the store, shown by
``modelplane describe``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from modelplane.kube import errors as kube_errors
from modelplane.kube.resources import MODELPLANE, ResourceType
from modelplane.local.store import ObjectStore, StoreError, now_iso
from modelplane.operator.controlplane import ControlPlaneError
from modelplane.operator.dataset.reconcile import reconcile_dataset
from modelplane.operator.inference.reconcile import reconcile_inference_service
from modelplane.operator.model.reconcile import reconcile_model_version
from modelplane.operator.outcome import Outcome
from modelplane.operator.runtime import Runtime
from modelplane.operator.training.reconcile import reconcile_training_run

logger = logging.getLogger(__name__)

Reconcile = Callable[[Runtime, dict[str, Any]], Awaitable[Outcome]]
CHILD_KINDS = ("Job", "Pod", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget")
RETRY_CAP_SECONDS = 5.0
"""A laptop has no API server to spare: retries come sooner than the operator's default delays."""


@dataclass(frozen=True)
class Kind:
    """A reconciled kind: its resource type and its pass."""

    resource: ResourceType
    reconcile: Reconcile


def reconciled_kinds() -> dict[str, Kind]:
    """Every kind the operator reconciles (the same passes as ``modelplane.operator.registration``)."""
    return {
        "Dataset": Kind(MODELPLANE["Dataset"], reconcile_dataset),
        "TrainingRun": Kind(MODELPLANE["TrainingRun"], reconcile_training_run),
        "ModelVersion": Kind(MODELPLANE["ModelVersion"], reconcile_model_version),
        "InferenceService": Kind(MODELPLANE["InferenceService"], reconcile_inference_service),
    }


DEPENDENTS: dict[str, tuple[str, ...]] = {
    "Dataset": ("TrainingRun", "ModelVersion"),
    "TrainingRun": ("ModelVersion",),
    "ModelVersion": ("ModelVersion", "InferenceService"),
    "InferenceService": ("ModelVersion",),
}
"""A change of one kind wakes the objects of these kinds in its namespace: what the operator's kopf indices
do (a TrainingRun waiting for its Dataset, a version sharing an alias, a service following an alias, a
deletion waiting for a service to let go). Locally a namespace is small, so all of them are woken."""


class Controllers:
    """Queues and runs reconcile passes."""

    def __init__(self, runtime: Runtime, store: ObjectStore, *, workers: int = 4, resync_seconds: float = 5.0) -> None:
        self.runtime = runtime
        self.store = store
        self.kinds = reconciled_kinds()
        self.workers = workers
        self.resync_seconds = resync_seconds
        self._queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
        self._queued: set[tuple[str, str, str]] = set()
        self._revision = 0
        self.passes = 0

    def enqueue(self, kind: str, namespace: str, name: str) -> None:
        key = (kind, namespace, name)
        if kind in self.kinds and key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def enqueue_all(self) -> None:
        for kind in self.kinds:
            for obj in self.store.list(kind):
                self.enqueue(kind, obj["metadata"]["namespace"], obj["metadata"]["name"])

    def observe_changes(self) -> bool:
        """Enqueue the owners of everything written since the last call; True when anything changed."""
        changes = self.store.changes_since(self._revision)
        for change in changes:
            self._revision = change.revision
            if change.kind in self.kinds:
                self.enqueue(change.kind, change.namespace, change.name)
                for dependent in DEPENDENTS.get(change.kind, ()):
                    for obj in self.store.list(dependent, change.namespace):
                        if (dependent, obj["metadata"]["name"]) != (change.kind, change.name):
                            self.enqueue(dependent, change.namespace, obj["metadata"]["name"])
            elif change.kind in CHILD_KINDS and not change.deleted:
                self._enqueue_owner(change.kind, change.namespace, change.name)
        return bool(changes)

    def _enqueue_owner(self, kind: str, namespace: str, name: str) -> None:
        child = self.store.get(kind, namespace, name)
        for owner in ((child or {}).get("metadata") or {}).get("ownerReferences") or []:
            if not owner.get("controller"):
                continue
            if owner.get("kind") in self.kinds:
                self.enqueue(str(owner["kind"]), namespace, str(owner["name"]))
            elif owner.get("kind") in CHILD_KINDS:  # a Pod of a Job: its Job's owner
                self._enqueue_owner(str(owner["kind"]), namespace, str(owner["name"]))

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set."""
        self._revision = self.store.revision()
        self.enqueue_all()
        workers = [asyncio.create_task(self._work(), name=f"reconcile-{i}") for i in range(self.workers)]
        try:
            while not stop.is_set():
                ticks = int(self.resync_seconds / 0.25)
                for _ in range(ticks):
                    self.observe_changes()
                    try:
                        await asyncio.wait_for(stop.wait(), 0.25)
                    except TimeoutError:
                        continue
                    return
                self.enqueue_all()
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            try:
                await self.reconcile(*key)
            except Exception:
                logger.exception("Reconciling %s %s/%s failed", *key)

    async def reconcile(self, kind: str, namespace: str, name: str) -> Outcome | None:
        """One pass over one object (what ``modelplane.operator.handling.run_pass`` does under kopf)."""
        entry = self.kinds[kind]
        async with self.runtime.locks.hold(kind, namespace, name):
            body = await self.runtime.kube.get(entry.resource, namespace, name)
            if body is None:
                return None
            self.passes += 1
            try:
                outcome = await entry.reconcile(self.runtime, body)
            except (kube_errors.KubeError, ControlPlaneError) as error:
                logger.warning("Reconciling %s %s/%s: %s", kind, namespace, name, error)
                self._later(kind, namespace, name, RETRY_CAP_SECONDS)
                return None
        for event in outcome.events:
            self.record_event(body, event.type, event.reason, event.message)
        if outcome.permanent is None and outcome.retry_after is not None:
            self._later(kind, namespace, name, min(outcome.retry_after, RETRY_CAP_SECONDS))
        return outcome

    def _later(self, kind: str, namespace: str, name: str, delay: float) -> None:
        async def again() -> None:
            self.enqueue(kind, namespace, name)

        self.runtime.requeues.schedule((kind, namespace, name), delay, again)

    def record_event(self, involved: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """An ``Event`` on ``involved``, as kopf posts one."""
        meta = involved["metadata"]
        now = now_iso()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{os.urandom(8).hex()}", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
            },
            "type": type_,
            "reason": reason,
            "message": message,
            "source": {"component": "modelplane-local"},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self.store.create(event)
        except StoreError as error:  # pragma: no cover - a random name collided
            logger.debug("Event not recorded: %s", error.message)
