"""The operator's configuration: ``MODELPLANE_OPERATOR_*`` environment variables, read once at start-up.

What the reconcilers need to know about the installation: the jobs image, the control-plane URL for the
jobs and for the operator itself, the operator's own token, the per-namespace Secret holding the jobs'
token, the accelerator profiles (a YAML file, else the shipped defaults) and timings. Every field has a
default that fits the Helm chart's install, so an empty environment is a valid configuration.

The operator's own token is never logged (``SecretStr``) and a token *file* is re-read on every use, so
a rotated Secret volume takes effect without a restart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from modelplane.operator.accelerators import DEFAULT_PROFILES, AcceleratorProfile, parse_profiles

ENV_PREFIX = "MODELPLANE_OPERATOR_"
DEFAULT_JOBS_IMAGE = "ghcr.io/modelplane/modelplane-jobs:0.1.0"
DEFAULT_SERVING_IMAGE = "ghcr.io/modelplane/modelplane-serving:0.1.0"
DEFAULT_API_URL = "http://modelplane-api.modelplane-system.svc:8080"
JOB_TOKEN_KEY = "token"


class ConfigError(ValueError):
    """The environment holds an invalid operator setting."""


class OperatorConfig(BaseModel):
    """Settings of one operator process."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    jobs_image: str = Field(DEFAULT_JOBS_IMAGE, min_length=1, description="Image of the ingest and built-in jobs.")
    jobs_image_pull_policy: str = Field("IfNotPresent", pattern="^(Always|IfNotPresent|Never)$")
    jobs_service_account: str | None = Field(None, description="Service account of job pods (namespace default).")
    api_url: str = Field(
        DEFAULT_API_URL, pattern=r"^https?://", description="Control plane, as the operator reaches it."
    )
    jobs_api_url: str | None = Field(
        None, pattern=r"^https?://", description="Control plane as job pods reach it (api_url when unset)."
    )
    api_token: SecretStr | None = Field(None, description="The operator's own control-plane token.")
    api_token_file: Path | None = Field(None, description="A file holding it (re-read on every use).")
    job_token_secret: str = Field(
        "modelplane-job-token", min_length=1, description="Secret (in each namespace) whose key 'token' jobs use."
    )
    accelerator_profiles: dict[str, AcceleratorProfile] = Field(default_factory=lambda: dict(DEFAULT_PROFILES))
    resync_seconds: float = Field(60.0, gt=0, description="Timer interval re-checking unfinished objects.")
    retry_delay_seconds: float = Field(15.0, gt=0, description="Delay before retrying a blocked reconcile.")
    ingest_backoff_limit: int = Field(2, ge=0, le=10, description="Pod retries of an ingest Job.")
    source_s3_endpoint: str | None = Field(
        None,
        pattern=r"^https?://",
        description="S3 endpoint of Dataset sources whose spec names none (AWS when unset).",
    )
    ingest_cpu: str = Field("500m", description="CPU request of an ingest pod.")
    ingest_memory: str = Field("1Gi", description="Memory request (and limit) of an ingest pod.")
    serving_image: str = Field(
        DEFAULT_SERVING_IMAGE, min_length=1, description="Image of InferenceService pods (modelplane.serving)."
    )
    serving_image_pull_policy: str = Field("IfNotPresent", pattern="^(Always|IfNotPresent|Never)$")
    serving_cpu: str = Field("500m", description="CPU request of a model server pod whose spec names none.")
    serving_memory: str = Field("1Gi", description="Memory request (and limit) of a model server pod by default.")
    artifact_s3_endpoint: str | None = Field(
        None,
        pattern=r"^https?://",
        description="S3 endpoint of the artifact store as model server pods reach it (AWS when unset).",
    )
    artifact_credentials_secret: str | None = Field(
        None,
        description=(
            "Secret (in each namespace) with keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY that model server "
            "pods read the artifact store with (none: the pods' ambient credentials)."
        ),
    )
    payload_sink_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Where model servers send logged payloads; a JSON-lines file in the pod when unset.",
    )
    model_validation_cpu: str = Field("1", description="CPU request of a model validation pod.")
    model_validation_memory: str = Field("2Gi", description="Memory request (and limit) of a model validation pod.")
    model_validation_backoff_limit: int = Field(2, ge=0, le=10, description="Pod retries of a model validation Job.")
    control_plane_timeout_seconds: float = Field(10.0, gt=0)
    metrics_port: int | None = Field(None, ge=1, le=65535, description="Serve Prometheus metrics on this port.")

    @model_validator(mode="after")
    def _one_token_source(self) -> OperatorConfig:
        if self.api_token is not None and self.api_token_file is not None:
            raise ValueError("set MODELPLANE_OPERATOR_API_TOKEN or MODELPLANE_OPERATOR_API_TOKEN_FILE, not both")
        return self

    @property
    def effective_jobs_api_url(self) -> str:
        return self.jobs_api_url or self.api_url

    def operator_token(self) -> str | None:
        """The operator's control-plane token, from the variable or (re-read now) from the file."""
        if self.api_token is not None:
            return self.api_token.get_secret_value()
        if self.api_token_file is not None:
            return self.api_token_file.read_text(encoding="utf-8").strip() or None
        return None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OperatorConfig:
        """Read ``MODELPLANE_OPERATOR_<FIELD>`` for every field; unknown such variables are an error."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for key, raw in env.items():
            if not key.startswith(ENV_PREFIX):
                continue
            name = key.removeprefix(ENV_PREFIX).lower()
            if name == "accelerator_profiles":
                values[name] = load_profiles(Path(raw))
            elif name in cls.model_fields:
                values[name] = raw if raw != "" else None
            else:
                raise ConfigError(f"unknown operator setting {key}")
        try:
            return cls.model_validate(values)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc


def load_profiles(path: Path) -> dict[str, AcceleratorProfile]:
    """The accelerator profiles of a YAML file; it replaces the shipped defaults."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read accelerator profiles {path}: {exc}") from exc
    try:
        return parse_profiles(document)
    except ValueError as exc:
        raise ConfigError(f"invalid accelerator profiles {path}: {exc}") from exc
