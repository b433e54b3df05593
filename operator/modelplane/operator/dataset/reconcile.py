"""One reconcile pass over a Dataset: the only impure part of the Dataset controller.

Observe the Dataset's ingest Jobs, apply the one the current ingest key names if it is missing, read the
version the control plane recorded once that Job completed, compute the status and apply it (only when it
changed), and remove superseded ingest Jobs once a newer one has completed. A Dataset without a valid
version asks to be checked again after ``resync_seconds``, one with a refresh interval at its next round.
Level-triggered: called from the Dataset's own handlers, its Jobs' events and those re-checks, always
with the same result for the same world.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from modelplane.apis.v1alpha1 import Dataset, DatasetStatus
from modelplane.apis.v1alpha1.conditions import ConditionStatus, find_condition
from modelplane.kube.resources import JOBS
from modelplane.operator.controlplane import ControlPlaneError, ControlPlaneUnavailable
from modelplane.operator.dataset import builders, reasons
from modelplane.operator.dataset.status import (
    ANNOTATION_RECORDED_DIGEST,
    DatasetObservation,
    compute_dataset_status,
    version_recorded,
)
from modelplane.operator.jobstate import JobState, PodOutcome, job_state
from modelplane.operator.outcome import Outcome, transition_events
from modelplane.operator.passes import deletion_requested, job_pods, write_status
from modelplane.operator.records import DatasetVersion
from modelplane.operator.runtime import Runtime, resync_delay

logger = logging.getLogger(__name__)


async def reconcile_dataset(runtime: Runtime, body: dict[str, Any]) -> Outcome:
    """Reconcile one Dataset (the caller holds its lock)."""
    dataset = Dataset.from_wire(body)
    meta = dataset.metadata
    if deletion_requested(body):
        return Outcome()
    namespace, uid = meta.namespace or "", meta.uid or ""
    now = runtime.clock()
    key = builders.ingest_key(dataset, now)
    job_name = builders.ingest_job_name(dataset, key)

    jobs = await _observe_jobs(runtime, dataset)
    current = next((j for j in jobs if j.name == job_name), None)
    created: tuple[str, ...] = ()
    if current is not None and uid not in current.owner_uids:
        # A Job of a deleted Dataset of the same name (garbage collection has not caught up): replace it.
        await runtime.kube.delete(JOBS, namespace, job_name)
        return Outcome(
            retry_after=1.0, retry_message=f"Replacing Job {job_name} left by an earlier Dataset {meta.name}."
        )
    if current is None:
        stored = await runtime.kube.apply(builders.build_ingest_job(dataset, runtime.config, key=key))
        if stored:
            runtime.jobs.saw(namespace, job_state(stored))
        created = (job_name,)
        logger.info("Created ingest Job %s for Dataset %s/%s.", job_name, namespace, meta.name)

    pods = PodOutcome()
    if current is not None and current.finished:
        pods = await job_pods(
            runtime, namespace, job_name, want_success=current.complete, forbidden="failure details are limited"
        )
    version: DatasetVersion | None = None
    cp_error: str | None = None
    if current is not None and current.complete and not version_recorded(dataset.status, current):
        try:
            version = await _recorded_version(runtime, dataset, pods)
        except ControlPlaneUnavailable as exc:
            cp_error = str(exc)
        except ControlPlaneError as exc:
            cp_error = str(exc)

    observed = DatasetObservation(
        job_name=job_name, job=current, pods=pods, version=version, control_plane_error=cp_error
    )
    status = compute_dataset_status(dataset, observed, now)
    written = await write_status(runtime, dataset, status, note_version=True)

    if current is not None and current.complete and version is not None:
        await runtime.kube.merge_patch(
            JOBS, namespace, job_name, {"metadata": {"annotations": {ANNOTATION_RECORDED_DIGEST: version.digest}}}
        )
    if current is not None and current.complete and (version is not None or version_recorded(dataset.status, current)):
        await _delete_superseded(runtime, namespace, uid, jobs, keep=job_name)

    events = transition_events(dataset.status.conditions if dataset.status else [], status.conditions, reasons.EVENTS)
    if cp_error is not None:
        return Outcome(
            events=events,
            retry_after=runtime.config.retry_delay_seconds,
            retry_message=cp_error,
            status_written=written,
            children_created=created,
        )
    return Outcome(
        events=events,
        status_written=written,
        children_created=created,
        resync_after=_resync_after(runtime, dataset, status, now),
    )


def _resync_after(runtime: Runtime, dataset: Dataset, status: DatasetStatus, now: datetime) -> float | None:
    """When to check again with nothing changed: at the next refresh round, or while no version is valid."""
    delay: float | None = None
    if find_condition(status.conditions, reasons.READY) is None or not _ready_now(dataset, status):
        delay = resync_delay(runtime.config.resync_seconds, dataset.metadata.uid)
    next_round = builders.seconds_to_next_round(dataset, now)
    if next_round is not None:
        delay = min(delay, next_round + 1.0) if delay is not None else next_round + 1.0
    return delay


def _ready_now(dataset: Dataset, status: DatasetStatus) -> bool:
    ready = find_condition(status.conditions, reasons.READY)
    return (
        ready is not None
        and ready.status is ConditionStatus.TRUE
        and ready.observed_generation == dataset.metadata.generation
    )


async def _observe_jobs(runtime: Runtime, dataset: Dataset) -> list[JobState]:
    """The Dataset's ingest Jobs, from kopf's index of the Job watch (a LIST only when run outside kopf)."""
    namespace, uid = dataset.metadata.namespace or "", dataset.metadata.uid or ""
    jobs = runtime.jobs.jobs_of(uid)
    if jobs is None:
        listed = await runtime.kube.list(JOBS, namespace, label_selector=builders.dataset_selector(dataset))
        jobs = [job_state(j) for j in listed]
    for job in jobs:
        runtime.jobs.saw(namespace, job)
    return jobs


async def _recorded_version(runtime: Runtime, dataset: Dataset, pods: PodOutcome) -> DatasetVersion | None:
    """The version the Job recorded: by the digest of its result when it reported one, else the newest."""
    namespace, name = dataset.metadata.namespace or "", dataset.metadata.name
    digest = pods.result.get("digest")
    if isinstance(digest, str) and digest.startswith("sha256:"):
        version = await runtime.control_plane.dataset_version(namespace, name, digest)
        if version is not None:
            return version
    return await runtime.control_plane.latest_dataset_version(namespace, name)


async def _delete_superseded(runtime: Runtime, namespace: str, uid: str, jobs: list[JobState], *, keep: str) -> None:
    for job in jobs:
        if job.name != keep and uid in job.owner_uids and not job.deleting:
            await runtime.kube.delete(JOBS, namespace, job.name)
            logger.info("Deleted superseded ingest Job %s/%s.", namespace, job.name)
