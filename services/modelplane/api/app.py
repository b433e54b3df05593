"""The FastAPI application: ``create_app(settings)`` wires settings, database, artifacts and routers.

``uvicorn --factory modelplane.api.app:create_app`` serves it with settings from the environment; tests
and the embedded mode call ``create_app`` with explicit settings (and optionally a ready artifact store).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from modelplane.api import health
from modelplane.api.artifacts.factory import build_store
from modelplane.api.artifacts.router import router as artifacts_router
from modelplane.api.artifacts.store import ArtifactStore
from modelplane.api.audit.router import router as audit_router
from modelplane.api.auth.cache import PrincipalCache
from modelplane.api.auth.router import router as auth_router
from modelplane.api.datasets.router import router as datasets_router
from modelplane.api.db.engine import create_engine, create_session_factory
from modelplane.api.db.migrate import upgrade
from modelplane.api.deployments.router import router as deployments_router
from modelplane.api.errors import install_error_handlers
from modelplane.api.lineage.router import router as lineage_router
from modelplane.api.metrics import ApiMetrics, RequestMetrics
from modelplane.api.registry.router import router as registry_router
from modelplane.api.runs.router import router as runs_router
from modelplane.api.settings import Settings
from modelplane.api.state import AppState

ROUTERS = (
    health.router,
    auth_router,
    runs_router,
    datasets_router,
    registry_router,
    deployments_router,
    lineage_router,
    artifacts_router,
    audit_router,
)
VERSION = "v1"


def create_app(settings: Settings | None = None, artifacts: ArtifactStore | None = None) -> FastAPI:
    """The control-plane application; settings from ``MODELPLANE_API_*`` when not given."""
    settings = settings or Settings()
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.db.migrate_on_start:
            await asyncio.to_thread(upgrade, settings.db.url.get_secret_value())
        engine = create_engine(settings.db)
        store = artifacts or build_store(settings, on_bytes=metrics.count_artifact_bytes)
        await asyncio.to_thread(store.ensure_ready)
        app.state.mp = AppState(
            settings=settings,
            engine=engine,
            sessions=create_session_factory(engine),
            artifacts=store,
            principals=PrincipalCache(settings.auth.token_cache_seconds),
        )
        if settings.gc_freeze:  # what start-up left alive (modules, the app, pools) is never walked again
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="ModelPlane control plane",
        version=VERSION,
        description="Runs, metrics, datasets, model registry, deployments, lineage, artifacts and audit.",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.add_middleware(RequestMetrics, metrics=metrics)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    return app
