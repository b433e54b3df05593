"""HTTP routes of runs: thin, typed; the service does the work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from modelplane.api.deps import Caller, CurrentSettings, MetricKeys, Session
from modelplane.api.namespaces import Namespace
from modelplane.api.pagination import Page, PageParams, page_params
from modelplane.api.runs import service
from modelplane.api.runs.schemas import (
    LogBatch,
    LogBatchResult,
    MetricHistoryPoint,
    RunCreate,
    RunInfo,
    RunOut,
    RunSearch,
    RunUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["runs"])
RunIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Run id (32 hex characters).")]
MetricKeyPath = Annotated[str, Path(min_length=1, max_length=250, description="Metric name.")]


@router.post("/namespaces/{namespace}/runs", status_code=status.HTTP_201_CREATED, response_model=RunOut)
async def create_run(
    namespace: Namespace, body: RunCreate, session: Session, caller: Caller, response: Response
) -> RunOut:
    """Start a run; with a client-chosen ``run_id`` creating it again returns it (200)."""
    run, created = await service.create_run(session, caller, namespace, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return run


@router.get("/runs/{run_id}", response_model=RunOut)
async def get_run(run_id: RunIdPath, session: Session, caller: Caller) -> RunOut:
    """A run with its params, tags and latest metrics."""
    return await service.get_run(session, caller, run_id)


@router.patch("/runs/{run_id}", response_model=RunOut)
async def update_run(run_id: RunIdPath, body: RunUpdate, session: Session, caller: Caller) -> RunOut:
    """Change status (terminal statuses are final), end time, artifact URI or lineage."""
    return await service.update_run(session, caller, run_id, body)


@router.post("/runs/{run_id}/log-batch", response_model=LogBatchResult)
async def log_batch(
    run_id: RunIdPath, body: LogBatch, session: Session, caller: Caller, settings: CurrentSettings, keys: MetricKeys
) -> LogBatchResult:
    """Log up to 1000 metrics, 100 params and 100 tags in one transaction; retrying is safe."""
    return await service.log_batch(session, caller, settings, keys, run_id, body)


@router.get("/runs/{run_id}/metrics/{key}", response_model=Page[MetricHistoryPoint])
async def metric_history(
    run_id: RunIdPath,
    key: MetricKeyPath,
    session: Session,
    caller: Caller,
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[MetricHistoryPoint]:
    """The series of one metric, by step then timestamp."""
    return await service.metric_history(session, caller, run_id, key, page.page_size, page.page_token)


@router.post("/namespaces/{namespace}/runs/search", response_model=Page[RunOut] | Page[RunInfo])
async def search_runs(
    namespace: Namespace, body: RunSearch, session: Session, caller: Caller, keys: MetricKeys
) -> Page[RunOut] | Page[RunInfo]:
    """Filter, order and page runs (MLflow's filter syntax); ``view=info`` returns run fields only."""
    return await service.search(session, caller, keys, namespace, body)
