"""The exceptions of Kubernetes access, mapped once from the API server's answers.

A reconciler needs to tell three things apart: the object is not there (:class:`NotFoundError`), the
request was wrong and retrying it cannot help (:class:`InvalidError`, :class:`ForbiddenError`,
:class:`ConflictError`), or the server could not answer now (:class:`UnavailableError`: connection
failures, timeouts, 429 and 5xx). :func:`error_from_response` builds them from a ``Status`` body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class KubeError(Exception):
    """A failed request to the Kubernetes API; ``status`` is the HTTP status (0 when there was no answer)."""

    def __init__(
        self, message: str, *, status: int = 0, reason: str = "", causes: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.causes = causes or []


class NotFoundError(KubeError):
    """404: the object (or its namespace, or the resource) does not exist."""


class ConflictError(KubeError):
    """409: the object exists already, a field is owned by another manager, or a resourceVersion is stale."""


class InvalidError(KubeError):
    """400/422: the server rejected the object; ``causes`` name the fields."""


class ForbiddenError(KubeError):
    """401/403: the operator's identity may not do this (RBAC) or is not authenticated."""


class UnavailableError(KubeError):
    """No usable answer now: connection failure, timeout, 429 or 5xx. Retrying later may succeed."""


def _status_message(body: Any) -> tuple[str, str, list[dict[str, Any]]]:
    if isinstance(body, Mapping):
        details = body.get("details") or {}
        causes = list(details.get("causes") or []) if isinstance(details, Mapping) else []
        return str(body.get("message") or body), str(body.get("reason") or ""), causes
    return str(body), "", []


def error_from_response(method: str, path: str, status: int, body: Any) -> KubeError:
    """The exception for a non-2xx answer of the API server."""
    message, reason, causes = _status_message(body)
    text = f"{method} {path}: HTTP {status}: {message}"
    kind: type[KubeError]
    if status == 404:
        kind = NotFoundError
    elif status == 409:
        kind = ConflictError
    elif status in (400, 422):
        kind = InvalidError
    elif status in (401, 403):
        kind = ForbiddenError
    elif status == 429 or status >= 500:
        kind = UnavailableError
    else:
        kind = KubeError
    return kind(text, status=status, reason=reason, causes=causes)
