"""The one map from serving exceptions to HTTP status codes and metric outcomes.

Where it sits: used by the inference handlers and by the FastAPI exception handlers, so a given error
gets the same status and body (``{"error": "<message>"}``, as OIP v2 specifies) on every endpoint.
"""

from __future__ import annotations

import orjson

from modelplane.serving.errors import (
    InvalidInput,
    ModelNotFound,
    ModelNotReady,
    PayloadTooLarge,
    ServerNotReady,
    ServingError,
)

STATUS_CODES: dict[type[ServingError], int] = {
    InvalidInput: 400,
    ModelNotFound: 404,
    PayloadTooLarge: 413,
    ModelNotReady: 503,
    ServerNotReady: 503,
}
OUTCOMES: dict[type[ServingError], str] = {
    InvalidInput: "invalid_input",
    ModelNotFound: "model_not_found",
    PayloadTooLarge: "payload_too_large",
    ModelNotReady: "model_not_ready",
    ServerNotReady: "model_not_ready",
}


def status_for(error: ServingError) -> int:
    """The HTTP status of a serving error (500 for a class missing from the map)."""
    for cls in type(error).__mro__:
        status = STATUS_CODES.get(cls)
        if status is not None:
            return status
    return 500


def outcome_for(error: ServingError) -> str:
    """The ``outcome`` label of a serving error."""
    for cls in type(error).__mro__:
        outcome = OUTCOMES.get(cls)
        if outcome is not None:
            return outcome
    return "error"


def error_body(message: str) -> bytes:
    """``{"error": message}`` as JSON bytes."""
    return orjson.dumps({"error": message})
