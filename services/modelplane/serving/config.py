"""The server's configuration: which model versions to serve, from where, and how.

Where it sits: read once at start-up by ``python -m modelplane.serving`` (a YAML or JSON file, or
environment variables) and handed to the repository, the batchers and the payload logger. Field names
and defaults follow the InferenceService spec (``batching``, ``runtime``, ``logger``), camelCase on the
wire, so the operator can copy spec sections into the server's ConfigMap as they are; unknown fields are
errors here (a typo must not silently turn a feature off).

Example::

    models:
      - name: iris
        version: "3"
        uri: s3://modelplane/team-a/sha256/4f/4f3c...e1
        sha256: 4f3c...e1
        batching: {maxBatchSize: 32, maxLatencyMs: 5}
        runtime: {intraOpThreads: 1, graphOptimizationLevel: All}
    payloadLogging:
      mode: All
      sampleRate: 0.1
      sink: {url: http://control-plane:8000/api/v1/payloads}
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

# The runtime and logger enums are the InferenceService's own: a spec section copies over unchanged.
from modelplane.apis.v1alpha1.inference_service import GraphOptimizationLevel, LoggerMode

CONFIG_ENV = "MODELPLANE_SERVING_CONFIG"
"""Path of the config file when ``--config`` is not given."""
CONFIG_JSON_ENV = "MODELPLANE_SERVING_CONFIG_JSON"
"""The whole config as one JSON document, instead of a file (what the operator sets in an InferenceService's pods)."""
MODEL_ENV_PREFIX = "MODELPLANE_SERVING_MODEL_"
"""Single-model configuration from ``..._NAME``, ``..._VERSION``, ``..._URI`` and ``..._SHA256``."""

_SHA256_RE = re.compile(r"(?:sha256:)?([0-9a-fA-F]{64})")


class ConfigModel(BaseModel):
    """camelCase on the wire, population by Python name too, unknown fields rejected."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class Batching(ConfigModel):
    """Dynamic batching of concurrent requests to one model version."""

    max_batch_size: int = Field(32, ge=1, le=4096, description="Most rows merged into one inference.")
    max_latency_ms: int = Field(
        5,
        ge=0,
        le=1000,
        description=(
            "Longest the oldest queued request waits for others to join its batch, while more requests for the "
            "model are still being received; a lone request on an idle server is never delayed."
        ),
    )


class Runtime(ConfigModel):
    """ONNX Runtime session options."""

    intra_op_threads: int | None = Field(
        None, ge=1, le=256, description="Threads inside one operator; cores when unset."
    )
    inter_op_threads: int | None = Field(
        None, ge=1, le=256, description="Threads across operators (parallel execution mode when above 1)."
    )
    graph_optimization_level: GraphOptimizationLevel = Field(
        GraphOptimizationLevel.ALL, description="Graph optimizations."
    )
    allow_spinning: bool = Field(
        False,
        description="Let idle intra-op threads spin (lower latency on dedicated cores, wasted CPU on shared ones).",
    )
    providers: tuple[str, ...] = Field(("CPUExecutionProvider",), min_length=1, description="Execution providers.")


class ModelConfig(ConfigModel):
    """One model version to serve."""

    name: str = Field(pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]{0,252}$", description="Model name in the v2 URLs.")
    version: str = Field("1", pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]{0,252}$", description="Version in the v2 URLs.")
    uri: str = Field(min_length=1, description="ONNX artifact: a local path, file:// or s3://bucket/key URI.")
    sha256: str = Field(description="Expected sha256 of the artifact (hex, optionally prefixed by 'sha256:').")
    batching: Batching | None = Field(None, description="Dynamic batching; off when unset.")
    runtime: Runtime = Field(default_factory=Runtime, description="ONNX Runtime session options.")

    @field_validator("sha256")
    @classmethod
    def _normalize_sha256(cls, value: str) -> str:
        match = _SHA256_RE.fullmatch(value.strip())
        if match is None:
            raise ValueError("expected 64 hex digits, optionally prefixed by 'sha256:'")
        return match[1].lower()


class SinkConfig(ConfigModel):
    """Where payload records go: exactly one of ``url`` (HTTP POST of JSON lines) or ``path`` (a JSONL file)."""

    url: str | None = Field(None, pattern=r"^https?://", description="Endpoint receiving batches of JSON lines.")
    path: Path | None = Field(None, description="File the records are appended to, one JSON object a line.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers (e.g. Authorization).")
    timeout_seconds: float = Field(5.0, gt=0, le=300, description="HTTP timeout of one batch.")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.url is None) == (self.path is None):
            raise ValueError("set exactly one of url or path")
        return self


class PayloadLogging(ConfigModel):
    """Sampled, asynchronous, bounded logging of requests and responses (the drift monitor's input)."""

    mode: LoggerMode = Field(LoggerMode.NONE, description="None, Request, Response or All.")
    sample_rate: float = Field(0.1, ge=0, le=1, description="Fraction of requests logged.")
    include_errors: bool = Field(True, description="Also log requests that failed.")
    sink: SinkConfig | None = Field(None, description="Destination; required unless mode is None.")
    buffer_size: int = Field(10_000, ge=1, le=10_000_000, description="Records held in memory; more are dropped.")
    batch_size: int = Field(500, ge=1, le=100_000, description="Most records written to the sink at once.")
    flush_interval_ms: int = Field(1000, ge=1, le=600_000, description="Longest a record waits before a write.")

    @model_validator(mode="after")
    def _sink_when_enabled(self) -> Self:
        if self.mode is not LoggerMode.NONE and self.sink is None:
            raise ValueError(f"mode {self.mode.value} needs a sink (url or path)")
        return self


class S3Config(ConfigModel):
    """The S3-compatible server holding ``s3://`` artifacts. Credentials come from the environment only."""

    endpoint: str | None = Field(
        None,
        description=(
            "http(s)://host:port or host:port (HTTPS); AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or AWS S3 when unset."
        ),
    )
    region: str | None = Field(None, description="Region; AWS_REGION or AWS_DEFAULT_REGION when unset.")


class ServingConfig(ConfigModel):
    """Everything the server reads at start-up."""

    models: tuple[ModelConfig, ...] = Field(min_length=1, description="Model versions to serve.")
    cache_dir: Path = Field(
        Path(tempfile.gettempdir()) / "modelplane-artifacts",
        description="Content-addressed local cache of downloaded artifacts.",
    )
    s3: S3Config = Field(default_factory=S3Config, description="Object storage of s3:// artifacts.")
    payload_logging: PayloadLogging = Field(default_factory=PayloadLogging, description="Payload logging.")
    max_request_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Largest request body accepted (413 above); JSON tensors included."
    )

    @model_validator(mode="after")
    def _unique_versions(self) -> Self:
        seen: set[tuple[str, str]] = set()
        for model in self.models:
            key = (model.name, model.version)
            if key in seen:
                raise ValueError(f"model {model.name!r} version {model.version!r} is listed twice")
            seen.add(key)
        return self


class ConfigError(Exception):
    """The configuration is missing or invalid; the message says where and what."""


def read_config(path: Path) -> ServingConfig:
    """Parse a YAML or JSON config file."""
    try:
        document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path} is not valid YAML or JSON: {exc}") from exc
    return parse_config(document, source=str(path))


def parse_config(document: Any, *, source: str = "config") -> ServingConfig:
    """Validate a decoded config document."""
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: expected a mapping with a 'models' list")
    try:
        return ServingConfig.model_validate(document)
    except ValueError as exc:
        raise ConfigError(f"{source} is invalid: {exc}") from exc


def config_from_env(env: Mapping[str, str] = os.environ) -> ServingConfig:
    """The config in ``MODELPLANE_SERVING_CONFIG_JSON``, else the file named by ``MODELPLANE_SERVING_CONFIG``, else
    one model from ``MODELPLANE_SERVING_MODEL_*``."""
    inline = env.get(CONFIG_JSON_ENV)
    path = env.get(CONFIG_ENV)
    if inline and path:
        raise ConfigError(f"set {CONFIG_JSON_ENV} or {CONFIG_ENV}, not both")
    if inline:
        try:
            document = json.loads(inline)
        except ValueError as exc:
            raise ConfigError(f"{CONFIG_JSON_ENV} is not valid JSON: {exc}") from exc
        return parse_config(document, source=CONFIG_JSON_ENV)
    if path:
        return read_config(Path(path))
    uri = env.get(f"{MODEL_ENV_PREFIX}URI")
    if not uri:
        raise ConfigError(
            f"no configuration: pass --config, set {CONFIG_JSON_ENV} or {CONFIG_ENV}, or set {MODEL_ENV_PREFIX}NAME, "
            f"{MODEL_ENV_PREFIX}URI and {MODEL_ENV_PREFIX}SHA256"
        )
    model = {
        "name": env.get(f"{MODEL_ENV_PREFIX}NAME", ""),
        "version": env.get(f"{MODEL_ENV_PREFIX}VERSION", "1"),
        "uri": uri,
        "sha256": env.get(f"{MODEL_ENV_PREFIX}SHA256", ""),
    }
    return parse_config({"models": [model]}, source=f"{MODEL_ENV_PREFIX}* environment")
