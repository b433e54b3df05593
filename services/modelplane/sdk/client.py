"""A typed, retrying HTTP client of the control plane API.

Retries only what is safe to repeat: connection errors and 503 answers, for requests the API makes
idempotent (log-batch, creating a run with a client-chosen id, registering a version by digest, moving
an alias). Errors carry the API's status, code and message.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from modelplane.sdk.config import ClientConfig

RETRYABLE_STATUS = frozenset({502, 503, 504})
CHUNK = 1024 * 1024


class ModelPlaneError(Exception):
    """An answer of the control plane that is not a success."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class ModelPlaneClient:
    """The control plane API for one namespace."""

    def __init__(self, config: ClientConfig | None = None, *, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config or ClientConfig.from_env()
        headers = {"Authorization": f"Bearer {self.config.token}"} if self.config.token else {}
        self._http = httpx.Client(
            base_url=self.config.api_url.rstrip("/"),
            headers=headers,
            timeout=self.config.timeout_seconds,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ModelPlaneClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def namespace(self) -> str:
        return self.config.namespace

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request, retrying connection failures and 503s with backoff; the decoded JSON answer."""
        delay = 0.2
        for attempt in range(self.config.max_retries + 1):
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError:
                if attempt == self.config.max_retries:
                    raise
            else:
                if response.status_code not in RETRYABLE_STATUS or attempt == self.config.max_retries:
                    return _decode(response)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")  # pragma: no cover

    # runs

    def create_run(self, experiment: str, *, run_id: str | None = None, **fields: Any) -> dict[str, Any]:
        body = {"experiment": experiment, "run_id": run_id, **fields}
        return dict(self.request("POST", f"/api/v1/namespaces/{self.namespace}/runs", json=_compact(body)))

    def get_run(self, run_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/api/v1/runs/{run_id}"))

    def update_run(self, run_id: str, **fields: Any) -> dict[str, Any]:
        return dict(self.request("PATCH", f"/api/v1/runs/{run_id}", json=_compact(fields)))

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: list[dict[str, Any]] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = {
            "metrics": metrics or [],
            "params": [{"key": k, "value": str(v)} for k, v in (params or {}).items()],
            "tags": [{"key": k, "value": str(v)} for k, v in (tags or {}).items()],
        }
        return dict(self.request("POST", f"/api/v1/runs/{run_id}/log-batch", json=body))

    def search_runs(
        self,
        filter: str = "",
        *,
        experiment: str | None = None,
        order_by: str | None = None,
        view: str = "full",
        page_size: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """Every matching run, page after page."""
        token: str | None = None
        while True:
            body = {
                "filter": filter,
                "experiment": experiment,
                "order_by": order_by,
                "view": view,
                "page_size": page_size,
                "page_token": token,
            }
            page = self.request("POST", f"/api/v1/namespaces/{self.namespace}/runs/search", json=_compact(body))
            yield from page["items"]
            token = page.get("next_page_token")
            if not token:
                return

    # artifacts and registry

    def upload_artifact(self, path: Path) -> dict[str, Any]:
        """Stream a file to the artifact store; the server verifies the digest computed here."""
        digest = hashlib.sha256()
        with path.open("rb") as file:
            for chunk in iter(lambda: file.read(CHUNK), b""):
                digest.update(chunk)

        def body() -> Iterator[bytes]:
            with path.open("rb") as file:
                yield from iter(lambda: file.read(CHUNK), b"")

        headers = {"X-Content-SHA256": digest.hexdigest(), "Content-Type": "application/octet-stream"}
        return dict(
            self.request("POST", f"/api/v1/namespaces/{self.namespace}/artifacts", content=body(), headers=headers)
        )

    def register_model_version(
        self, model: str, *, artifact_uri: str, sha256: str, size_bytes: int, **fields: Any
    ) -> dict[str, Any]:
        body = {"artifact_uri": artifact_uri, "sha256": sha256, "size_bytes": size_bytes, **fields}
        path = f"/api/v1/namespaces/{self.namespace}/models/{model}/versions"
        return dict(self.request("POST", path, json=_compact(body)))

    def set_alias(self, model: str, alias: str, version: int) -> dict[str, Any]:
        path = f"/api/v1/namespaces/{self.namespace}/models/{model}/aliases/{alias}"
        return dict(self.request("PUT", path, json={"version": version}))


def _compact(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def _decode(response: httpx.Response) -> Any:
    if response.is_success:
        return response.json() if response.content else None
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text}
    detail = body.get("detail", response.reason_phrase) if isinstance(body, dict) else body
    code = body.get("code", "Error") if isinstance(body, dict) else "Error"
    raise ModelPlaneError(response.status_code, str(code), detail if isinstance(detail, str) else str(detail))
