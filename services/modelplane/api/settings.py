"""Configuration of the control plane, read from ``MODELPLANE_API_*`` environment variables.

Nested groups use ``__`` (``MODELPLANE_API_DB__URL``, ``MODELPLANE_API_S3__SECRET_KEY``); secrets are
``SecretStr`` so they never show up in logs, reprs or the OpenAPI document.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ArtifactBackend(StrEnum):
    """Where artifacts are stored."""

    S3 = "s3"
    LOCAL = "local"


class DatabaseSettings(BaseModel):
    """The metadata store."""

    url: SecretStr = Field(
        SecretStr("sqlite+aiosqlite:///./modelplane.db"),
        description="SQLAlchemy async URL: postgresql+psycopg://... in production, sqlite+aiosqlite:///... locally.",
    )
    pool_size: int = Field(10, ge=1, le=200, description="Connections kept open (Postgres).")
    max_overflow: int = Field(10, ge=0, le=200, description="Extra connections under load (Postgres).")
    pool_timeout_seconds: float = Field(5.0, gt=0, description="Wait for a free connection before answering 503.")
    statement_timeout_ms: int = Field(30_000, ge=0, description="Postgres statement_timeout; 0 disables it.")
    migrate_on_start: bool = Field(False, description="Run Alembic migrations to head at start-up (embedded mode).")


class S3Settings(BaseModel):
    """An S3-compatible artifact store."""

    endpoint: str = Field("127.0.0.1:9000", description="host:port of the S3 endpoint.")
    access_key: SecretStr = Field(SecretStr(""), description="Access key id.")
    secret_key: SecretStr = Field(SecretStr(""), description="Secret access key.")
    secure: bool = Field(False, description="Use HTTPS.")
    region: str = Field("us-east-1", description="Bucket region.")
    bucket: str = Field("modelplane", description="Bucket holding every artifact; created at start-up.")
    prefix: str = Field("", description="Key prefix inside the bucket.")


class ArtifactSettings(BaseModel):
    """Artifact storage."""

    backend: ArtifactBackend = Field(ArtifactBackend.LOCAL, description="s3 or local.")
    local_root: Path = Field(Path("./artifacts"), description="Root directory of the local backend.")
    presign_expiry_seconds: int = Field(3600, ge=1, le=604_800, description="Lifetime of presigned URLs.")


class AuthSettings(BaseModel):
    """Bearer-token authentication."""

    admin_token: SecretStr | None = Field(
        None, description="Bootstrap token with the admin role on every namespace; create real tokens with it."
    )
    anonymous_read: bool = Field(False, description="Allow unauthenticated reads (embedded mode on a laptop).")
    token_cache_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description=(
            "How long a process reuses a resolved token (its principal and roles) before reading it again; 0 "
            "turns the cache off. A revocation or role change made through this process applies at once, "
            "through another process within this bound."
        ),
    )


class Settings(BaseSettings):
    """Everything the control plane reads at start-up."""

    model_config = SettingsConfigDict(env_prefix="MODELPLANE_API_", env_nested_delimiter="__", extra="ignore")

    db: DatabaseSettings = Field(default_factory=DatabaseSettings, description="Metadata store.")
    s3: S3Settings = Field(default_factory=S3Settings, description="S3 artifact store.")
    artifacts: ArtifactSettings = Field(default_factory=ArtifactSettings, description="Artifact storage.")
    auth: AuthSettings = Field(default_factory=AuthSettings, description="Authentication.")
    max_metrics_per_batch: int = Field(1000, ge=1, description="Most metrics in one log-batch request.")
    max_params_per_batch: int = Field(100, ge=1, description="Most params in one log-batch request.")
    max_tags_per_batch: int = Field(100, ge=1, description="Most tags in one log-batch request.")
    max_page_size: int = Field(1000, ge=1, description="Largest page any list endpoint returns.")
    gc_freeze: bool = Field(
        False,
        description=(
            "After start-up, collect garbage and freeze what is alive (gc.freeze), so that a full collection "
            "walks only the requests' objects: no 100 ms pauses under load. For a process that serves one app "
            "(the image sets it); leave it off where many apps share a process (tests)."
        ),
    )
