"""What the application holds for its lifetime: settings, the database engine, the artifact store, and the
process's caches (resolved principals, metric key ids).

Created by the lifespan in :mod:`modelplane.api.app`, reached by request dependencies through
``request.app.state.mp``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from modelplane.api.artifacts.store import ArtifactStore
from modelplane.api.auth.cache import PrincipalCache
from modelplane.api.runs.keys import MetricKeyIds
from modelplane.api.settings import Settings


@dataclass
class AppState:
    """The long-lived objects of one control-plane process."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    artifacts: ArtifactStore
    principals: PrincipalCache = field(default_factory=PrincipalCache)
    metric_keys: MetricKeyIds = field(default_factory=MetricKeyIds)
