"""What every kind's reconcile pass shares: its state, the pods of its Jobs, its one status write. Impure.

Each ``<kind>/reconcile.py`` keeps its own steps and a small ``_Pass`` that extends :class:`PassState` with the
parsed object under its own name (``state.run``, ``state.model``, ``state.service``). What the steps have in
common lives here once: the object's namespace and uid, the children the pass created (``Outcome``'s
``children_created``), the first control-plane error of the pass (a retry), reading a finished Job's pods
(its result and failure details; RBAC may forbid it), applying the status through the status
subresource (once per pass and only when it changed) and the :class:`Outcome` it hands its handler.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from modelplane.apis.v1alpha1.base import ApiModel, CustomResource, ObjectMeta
from modelplane.kube import errors as kube_errors
from modelplane.kube.resources import PODS
from modelplane.operator import podspec
from modelplane.operator.controlplane import ControlPlaneError
from modelplane.operator.jobstate import PodOutcome, pod_outcome
from modelplane.operator.outcome import Event, Outcome
from modelplane.operator.runtime import Runtime

logger = logging.getLogger(__name__)


class PassState:
    """The state of one pass over ``resource`` (kept together so the steps stay small)."""

    def __init__(self, runtime: Runtime, resource: CustomResource) -> None:
        self.runtime = runtime
        self.namespace = resource.metadata.namespace or ""
        self.uid = resource.metadata.uid or ""
        self.created: list[str] = []
        self.control_plane_error: str | None = None

    def note_control_plane(self, exc: ControlPlaneError) -> str:
        """Keep the pass's first control-plane error (the pass then asks for a retry); ``exc``'s message."""
        self.control_plane_error = self.control_plane_error or str(exc)
        return str(exc)

    def outcome(
        self,
        events: tuple[Event, ...],
        *,
        written: bool,
        permanent: str | None = None,
        retry: str | None = None,
        resync_after: float | None = None,
    ) -> Outcome:
        """What the pass hands back: its Events, a retry after ``retry_delay_seconds`` when ``retry`` says why
        (an empty message asks for none), ``permanent`` for an invalid spec, the children it created."""
        return Outcome(
            events=events,
            retry_after=self.runtime.config.retry_delay_seconds if retry else None,
            retry_message=retry or "",
            permanent=permanent,
            status_written=written,
            children_created=tuple(self.created),
            resync_after=resync_after,
        )


def deletion_requested(body: Mapping[str, Any]) -> bool:
    """Whether the object as stored is being deleted (``metadata.deletionTimestamp`` is set)."""
    return bool((body.get("metadata") or {}).get("deletionTimestamp"))


async def job_pods(
    runtime: Runtime, namespace: str, job_name: str, *, want_success: bool, forbidden: str | None = None
) -> PodOutcome:
    """The outcome of a Job's pods; an empty one when RBAC forbids reading pods (logged with ``forbidden``,
    what is lost then, when given)."""
    try:
        pods = await runtime.kube.list(PODS, namespace, label_selector=f"{podspec.JOB_NAME_LABEL}={job_name}")
    except kube_errors.ForbiddenError:
        if forbidden is not None:
            logger.warning("Cannot read the pods of Job %s/%s (RBAC): %s.", namespace, job_name, forbidden)
        return PodOutcome()
    return pod_outcome(pods, want_success=want_success)


Status = TypeVar("Status", bound=ApiModel)
Status_co = TypeVar("Status_co", bound=ApiModel, covariant=True)


class StatusOwner(Protocol[Status_co]):
    """An object of one of ModelPlane's kinds, as far as writing its status goes."""

    @property
    def api_version(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def metadata(self) -> ObjectMeta: ...

    @property
    def status(self) -> Status_co | None: ...


async def write_status(
    runtime: Runtime, resource: StatusOwner[Status], status: Status, *, note_version: bool = False
) -> bool:
    """Apply ``status`` when it differs from ``resource``'s stored one; True when written.

    ``note_version``: remember the object's version after the write (``runtime.written``), for kinds whose
    handlers reconcile kopf's body when it is at least that new.
    """
    if resource.status is not None and resource.status == status:
        return False
    stored = await runtime.kube.apply_status(
        {
            "apiVersion": resource.api_version,
            "kind": resource.kind,
            "metadata": {"name": resource.metadata.name, "namespace": resource.metadata.namespace},
            "status": status.to_wire(),
        }
    )
    if note_version:
        runtime.written.note(resource.kind, stored)
    return True
