"""Liveness, readiness and Prometheus metrics endpoints.

``/healthz`` answers while the process serves; ``/readyz`` only when the database answers a query and the
artifact store is reachable, so Kubernetes stops routing to a replica that lost either.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from modelplane.api.metrics import ApiMetrics
from modelplane.api.state import AppState

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)
READY_TIMEOUT_SECONDS = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The database and the artifact store both answer."""
    state: AppState = request.app.state.mp
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS), state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"unavailable: {type(error).__name__}"
    try:
        await asyncio.wait_for(asyncio.to_thread(state.artifacts.check), READY_TIMEOUT_SECONDS)
        checks["artifacts"] = "ok"
    except Exception as error:
        checks["artifacts"] = f"unavailable: {type(error).__name__}: {error}"
    ready = all(v == "ok" for v in checks.values())
    if not ready:
        log.warning("Not ready: %s", checks)
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus exposition of this process's metrics."""
    state: AppState = request.app.state.mp
    api_metrics: ApiMetrics = request.app.state.metrics
    api_metrics.observe_pool(state.engine)
    return Response(generate_latest(api_metrics.registry), media_type=CONTENT_TYPE_LATEST)
