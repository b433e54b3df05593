"""Tables of dataset versions: immutable, content-addressed, with parent versions for lineage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from modelplane.api.db.base import Base, BigId, utcnow

dataset_version_parents = Table(
    "dataset_version_parents",
    Base.metadata,
    Column("child_id", BigId, ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("parent_id", BigId, ForeignKey("dataset_versions.id", ondelete="RESTRICT"), primary_key=True),
    Index("ix_dataset_version_parents_parent_id", "parent_id"),
)


class DatasetVersion(Base):
    """One immutable version of a Dataset, identified by its content digest."""

    __tablename__ = "dataset_versions"
    __table_args__ = (
        UniqueConstraint("namespace", "name", "version"),
        UniqueConstraint("namespace", "name", "digest"),
        Index("ix_dataset_versions_digest", "digest"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(253))
    name: Mapped[str] = mapped_column(String(253))
    version: Mapped[int]
    digest: Mapped[str] = mapped_column(String(71))
    data_schema: Mapped[dict[str, Any]] = mapped_column("schema", default=dict)
    rows: Mapped[int | None] = mapped_column(BigInteger, default=None)
    columns: Mapped[int | None] = mapped_column(default=None)
    source: Mapped[dict[str, Any]] = mapped_column(default=dict)
    artifacts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    profile_uri: Mapped[str | None] = mapped_column(String(2048), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(253))

    parents: Mapped[list[DatasetVersion]] = relationship(
        secondary=dataset_version_parents,
        primaryjoin=lambda: DatasetVersion.id == dataset_version_parents.c.child_id,
        secondaryjoin=lambda: DatasetVersion.id == dataset_version_parents.c.parent_id,
        lazy="raise",
    )
