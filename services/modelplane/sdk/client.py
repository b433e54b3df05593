"""A typed, retrying HTTP client of the control plane API.

Retries only what is safe to repeat: connection errors and 503 answers, for requests the API makes
idempotent (log-batch, creating a run with a client-chosen id, registering a version by digest, moving
an alias). Errors carry the API's status, code and message.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from modelplane.sdk.config import ClientConfig

RETRYABLE_STATUS = frozenset({502, 503, 504})
CHUNK = 1024 * 1024
SHA256_SUFFIX = re.compile(r"(?:^|/)([a-f0-9]{64})$")


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

    def download_artifact(self, ref: str, path: Path) -> Path:
        """Stream an artifact to ``path``, by its sha256 or its URI in the store; the digest is verified here.

        The file appears at ``path`` only once complete and verified (written next to it, then renamed).
        """
        sha256 = artifact_sha256(ref)
        url = f"/api/v1/namespaces/{self.namespace}/artifacts/{sha256}"
        delay = 0.2
        for attempt in range(self.config.max_retries + 1):
            try:
                return self._download(url, sha256, path)
            except httpx.TransportError:
                if attempt == self.config.max_retries:
                    raise
            except ModelPlaneError as error:
                if error.status not in RETRYABLE_STATUS or attempt == self.config.max_retries:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")  # pragma: no cover

    def _download(self, url: str, sha256: str, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._http.stream("GET", url) as response:
            if not response.is_success:
                response.read()
                _decode(response)
            digest = hashlib.sha256()
            fd, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as file:
                    for chunk in response.iter_bytes(CHUNK):
                        digest.update(chunk)
                        file.write(chunk)
                if digest.hexdigest() != sha256:
                    raise ModelPlaneError(
                        response.status_code,
                        "DigestMismatch",
                        f"artifact {sha256} arrived with content digest {digest.hexdigest()}",
                    )
                os.replace(partial, path)
            finally:
                if os.path.exists(partial):
                    os.unlink(partial)
        return path

    def register_dataset_version(self, name: str, *, digest: str, **fields: Any) -> dict[str, Any]:
        """Register what an ingest produced; the same digest again returns the stored version."""
        body = {"digest": digest, **fields}
        path = f"/api/v1/namespaces/{self.namespace}/datasets/{name}/versions"
        return dict(self.request("POST", path, json=_compact(body)))

    def get_dataset_version(self, name: str, ref: str | int | None = None) -> dict[str, Any]:
        """A dataset version by number or digest (``sha256:...``); the latest one when ``ref`` is None."""
        path = f"/api/v1/namespaces/{self.namespace}/datasets/{name}/versions"
        if ref is not None:
            return dict(self.request("GET", f"{path}/{ref}"))
        return dict(self.request("GET", path, params={"page_size": 1})["items"][0])

    def register_model_version(
        self, model: str, *, artifact_uri: str, sha256: str, size_bytes: int, **fields: Any
    ) -> dict[str, Any]:
        body = {"artifact_uri": artifact_uri, "sha256": sha256, "size_bytes": size_bytes, **fields}
        path = f"/api/v1/namespaces/{self.namespace}/models/{model}/versions"
        return dict(self.request("POST", path, json=_compact(body)))

    def set_alias(self, model: str, alias: str, version: int) -> dict[str, Any]:
        path = f"/api/v1/namespaces/{self.namespace}/models/{model}/aliases/{alias}"
        return dict(self.request("PUT", path, json={"version": version}))

    def get_model_version(self, model: str, version: int) -> dict[str, Any]:
        """One registered version of a model (artifact, signature, metrics, lineage, aliases)."""
        path = f"/api/v1/namespaces/{self.namespace}/models/{model}/versions/{version}"
        return dict(self.request("GET", path))

    def get_alias(self, model: str, alias: str) -> dict[str, Any]:
        """The version an alias of a model points at (a 404 ``ModelPlaneError`` when nothing holds it)."""
        path = f"/api/v1/namespaces/{self.namespace}/models/{model}/aliases/{alias}"
        return dict(self.request("GET", path))

    def lineage(self, node: str, *, direction: str = "both", max_nodes: int = 100) -> dict[str, Any]:
        """The lineage graph around ``node`` (``dataset:sha256:...``, ``run:<id>``, ``model:<name>:<version>``)."""
        params = {"node": node, "direction": direction, "max_nodes": max_nodes}
        return dict(self.request("GET", f"/api/v1/namespaces/{self.namespace}/lineage", params=params))


def artifact_sha256(ref: str) -> str:
    """The sha256 of an artifact given by its digest (``<hex>``, ``sha256:<hex>``) or its content-addressed URI."""
    match = SHA256_SUFFIX.search(ref.removeprefix("sha256:"))
    if match is None:
        raise ValueError(f"{ref!r} is neither a sha256 nor a content-addressed artifact URI")
    return match.group(1)


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
