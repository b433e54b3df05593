"""Typed OIP v2 datamodels of the REST endpoints.

Where it sits: the FastAPI routes answer with these models (health, metadata, repository index, errors).
The inference request and response models describe the wire format in the OpenAPI document; inference
bodies themselves are decoded by :mod:`modelplane.serving.rest.codec`, which checks the same structure
without walking every tensor element through a validator.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorResponse(BaseModel):
    """Every error: the message names the problem."""

    error: str = Field(description="What went wrong.")


class LiveResponse(BaseModel):
    """``GET /v2/health/live``."""

    live: bool


class ModelStatus(BaseModel):
    """Load state of one configured model version."""

    name: str
    version: str
    state: str = Field(description="LOADING, READY or UNAVAILABLE.")
    reason: str | None = Field(None, description="Why the version is not ready.")


class ReadyResponse(BaseModel):
    """``GET /v2/health/ready``: 200 when every model is loaded, 503 otherwise."""

    ready: bool
    models: list[ModelStatus] = Field(description="Every configured model version and its state.")


class ServerMetadataResponse(BaseModel):
    """``GET /v2``."""

    name: str
    version: str
    extensions: list[str]


class TensorMetadata(BaseModel):
    """An input or output of a model."""

    name: str
    datatype: str = Field(description="OIP v2 datatype: BOOL, INT8..INT64, UINT8..UINT64, FP16, FP32, FP64, BYTES.")
    shape: list[int] = Field(description="Dimensions; -1 for a dimension of any size.")


class ModelMetadataResponse(BaseModel):
    """``GET /v2/models/{name}[/versions/{version}]``."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class ModelReadyResponse(BaseModel):
    """``GET /v2/models/{name}[/versions/{version}]/ready`` (503 with the reason when not ready)."""

    name: str
    version: str
    ready: bool


class RepositoryIndexRequest(BaseModel):
    """``POST /v2/repository/index`` body (optional)."""

    ready: bool = Field(False, description="Only list versions that are ready.")


class RepositoryIndexEntry(BaseModel):
    """One model version in the repository index."""

    name: str
    version: str
    state: str
    reason: str = ""


class RequestInputSchema(BaseModel):
    """An input tensor: ``data`` row-major (flat or nested), or ``parameters.binary_data_size`` bytes after
    the JSON header (binary tensor extension)."""

    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = None


class RequestOutputSchema(BaseModel):
    """A requested output; ``parameters.binary_data`` asks for it as binary data."""

    name: str
    parameters: dict[str, Any] | None = None


class InferenceRequestSchema(BaseModel):
    """``POST /v2/models/{name}[/versions/{version}]/infer``; ``parameters.binary_data_output`` makes every
    output binary."""

    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInputSchema]
    outputs: list[RequestOutputSchema] | None = None


class ResponseOutputSchema(BaseModel):
    """An output tensor: flat row-major ``data``, or ``parameters.binary_data_size`` bytes after the header."""

    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = None


class InferenceResponseSchema(BaseModel):
    """The answer to an inference request."""

    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[ResponseOutputSchema]


class PredictRequestSchema(BaseModel):
    """``POST /v1/models/{name}:predict``: one row (or one object keyed by input) per instance."""

    instances: list[Any]


class PredictResponseSchema(BaseModel):
    """One prediction per instance (an object keyed by output for multi-output models)."""

    predictions: list[Any]


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` inlined (for ``openapi_extra`` request bodies)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
