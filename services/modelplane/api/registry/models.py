"""Tables of the model registry: models, immutable versions, aliases (unique per model) and tags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from modelplane.api.db.base import Base, BigId, utcnow


class RegisteredModel(Base):
    """A named model in a namespace; its versions carry the artifacts."""

    __tablename__ = "registered_models"
    __table_args__ = (UniqueConstraint("namespace", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(253))
    name: Mapped[str] = mapped_column(String(253))
    description: Mapped[str] = mapped_column(String(4096), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelVersionRow(Base):
    """One immutable version of a model: its artifact, signature, metrics and lineage.

    ``optimized_artifact`` is the derived (e.g. dynamically quantized) artifact the validation job kept:
    ``{"uri", "sha256", "size_bytes", "quantization", "accuracy_delta", "single_inference_microseconds"}``.
    """

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version"),
        UniqueConstraint("model_id", "sha256"),
        Index("ix_model_versions_dataset_digest", "dataset_digest"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"))
    version: Mapped[int]
    artifact_uri: Mapped[str] = mapped_column(String(2048))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(32), default="Onnx")
    signature: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True, default=None)
    dataset_digest: Mapped[str | None] = mapped_column(String(71), default=None)
    source: Mapped[str | None] = mapped_column(String(253), default=None)
    training_run: Mapped[str | None] = mapped_column(String(253), default=None)
    optimized_artifact: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    single_inference_microseconds: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(253))


class ModelAlias(Base):
    """An alias (champion, staging, ...) pointing at one version; unique per model."""

    __tablename__ = "model_aliases"

    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(63), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelVersionTag(Base):
    """A mutable key/value label of a model version."""

    __tablename__ = "model_version_tags"

    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(String(8000))
