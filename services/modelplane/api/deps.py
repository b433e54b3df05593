"""FastAPI dependencies: the request's database session, settings, artifact store, principal and the
process's caches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from modelplane.api.artifacts.store import ArtifactStore
from modelplane.api.auth.cache import PrincipalCache
from modelplane.api.auth.principal import Principal, anonymous
from modelplane.api.auth.tokens import resolve_token
from modelplane.api.runs.keys import MetricKeyIds
from modelplane.api.settings import Settings
from modelplane.api.state import AppState

_bearer = HTTPBearer(auto_error=False, description="A ModelPlane API token.")


async def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.mp
    return state


async def db_session(state: Annotated[AppState, Depends(app_state)]) -> AsyncIterator[AsyncSession]:
    """One session per request; uncommitted work is rolled back when the request ends."""
    async with state.sessions() as session:
        yield session


async def settings(state: Annotated[AppState, Depends(app_state)]) -> Settings:
    return state.settings


async def artifact_store(state: Annotated[AppState, Depends(app_state)]) -> ArtifactStore:
    return state.artifacts


async def principal(
    state: Annotated[AppState, Depends(app_state)],
    session: Annotated[AsyncSession, Depends(db_session)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller: resolved from the bearer token, or anonymous when there is none."""
    auth = state.settings.auth
    if credentials is None:
        return anonymous(auth.anonymous_read)
    admin = auth.admin_token.get_secret_value() if auth.admin_token else None
    return await resolve_token(session, credentials.credentials, admin, state.principals)


async def principal_cache(state: Annotated[AppState, Depends(app_state)]) -> PrincipalCache:
    """The process's resolved principals (auth routes invalidate it when tokens or bindings change)."""
    return state.principals


async def metric_key_ids(state: Annotated[AppState, Depends(app_state)]) -> MetricKeyIds:
    return state.metric_keys


Session = Annotated[AsyncSession, Depends(db_session)]
Caller = Annotated[Principal, Depends(principal)]
CurrentSettings = Annotated[Settings, Depends(settings)]
Artifacts = Annotated[ArtifactStore, Depends(artifact_store)]
Principals = Annotated[PrincipalCache, Depends(principal_cache)]
MetricKeys = Annotated[MetricKeyIds, Depends(metric_key_ids)]
