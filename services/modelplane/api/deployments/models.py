"""Tables of deployments and rollout events: which version served where, when, with what share."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from modelplane.api.db.base import Base, BigId, utcnow


class Deployment(Base):
    """A model version served by an InferenceService with a traffic share, over a period."""

    __tablename__ = "deployments"
    __table_args__ = (Index("ix_deployments_namespace_service_id", "namespace", "service", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(253))
    service: Mapped[str] = mapped_column(String(253))
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="RESTRICT"), index=True)
    traffic_percent: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[str] = mapped_column(String(253))


class RolloutEvent(Base):
    """One step of a Rollout: started, weight changed, analysis result, promoted, rolled back."""

    __tablename__ = "rollout_events"
    __table_args__ = (Index("ix_rollout_events_namespace_rollout_id", "namespace", "rollout", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(253))
    rollout: Mapped[str] = mapped_column(String(253))
    service: Mapped[str] = mapped_column(String(253))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id", ondelete="SET NULL"), default=None)
    event: Mapped[str] = mapped_column(String(64))
    weight: Mapped[int | None] = mapped_column(default=None)
    message: Mapped[str] = mapped_column(String(4096), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(253))
