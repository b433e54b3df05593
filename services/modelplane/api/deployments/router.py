"""HTTP routes of deployments and rollout events: thin, typed; the service does the work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from modelplane.api.deployments import service as use_cases
from modelplane.api.deployments.schemas import (
    DeploymentOut,
    RolloutEventCreate,
    RolloutEventOut,
    TrafficOut,
    TrafficSplit,
)
from modelplane.api.deps import Caller, Session
from modelplane.api.namespaces import Namespace
from modelplane.api.pagination import Page, PageParams, page_params
from modelplane.apis.v1alpha1.common import DNS_SUBDOMAIN_PATTERN

router = APIRouter(prefix="/api/v1", tags=["deployments"])
ServicePath = Annotated[
    str, Path(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="InferenceService name.")
]
RolloutPath = Annotated[
    str, Path(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="Rollout name.")
]
Paging = Annotated[PageParams, Depends(page_params)]
SERVICE = "/namespaces/{namespace}/services/{service}"
ROLLOUT = "/namespaces/{namespace}/rollouts/{rollout}"


@router.post(f"{SERVICE}/traffic", response_model=TrafficOut)
async def set_traffic(
    namespace: Namespace, service: ServicePath, body: TrafficSplit, session: Session, caller: Caller
) -> TrafficOut:
    """Record the service's traffic split as it is now (percents sum to 100); the same split again is a no-op."""
    return await use_cases.set_traffic(session, caller, namespace, service, body)


@router.delete(f"{SERVICE}/traffic", status_code=status.HTTP_204_NO_CONTENT)
async def end_traffic(namespace: Namespace, service: ServicePath, session: Session, caller: Caller) -> None:
    """Record that the service serves nothing any more: its open deployments end now."""
    await use_cases.end_traffic(session, caller, namespace, service)


@router.get(f"{SERVICE}/deployments", response_model=Page[DeploymentOut])
async def list_deployments(
    namespace: Namespace,
    service: ServicePath,
    session: Session,
    caller: Caller,
    page: Paging,
    active: Annotated[bool, Query(description="Only the deployments serving now.")] = False,
) -> Page[DeploymentOut]:
    """The service's deployment history, newest first."""
    return await use_cases.list_deployments(session, caller, namespace, service, active, page)


@router.post(f"{ROLLOUT}/events", status_code=status.HTTP_201_CREATED, response_model=RolloutEventOut)
async def create_event(
    namespace: Namespace, rollout: RolloutPath, body: RolloutEventCreate, session: Session, caller: Caller
) -> RolloutEventOut:
    """Append an event (Started, WeightChanged, AnalysisFailed, Promoted, RolledBack, ...) to a rollout."""
    return await use_cases.create_event(session, caller, namespace, rollout, body)


@router.get(f"{ROLLOUT}/events", response_model=Page[RolloutEventOut])
async def list_events(
    namespace: Namespace, rollout: RolloutPath, session: Session, caller: Caller, page: Paging
) -> Page[RolloutEventOut]:
    """A rollout's events, newest first."""
    return await use_cases.list_events(session, caller, namespace, rollout, page)
