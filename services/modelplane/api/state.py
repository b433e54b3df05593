"""What the application holds for its lifetime: settings, the database engine, the artifact store.

Created by the lifespan in :mod:`modelplane.api.app`, reached by request dependencies through
``request.app.state.mp``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from modelplane.api.artifacts.store import ArtifactStore
from modelplane.api.settings import Settings


@dataclass
class AppState:
    """The long-lived objects of one control-plane process."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    artifacts: ArtifactStore
