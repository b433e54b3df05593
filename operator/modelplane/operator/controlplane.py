"""A tiny client of the control plane's HTTP API: what the operator reads and writes there.

The jobs record dataset versions and runs; when their Job completes the operator reads those records
back to fill in status (digest, counts, artifacts; metrics, artifact URI, lineage). For a sweep the
operator itself owns the parent run (created when the sweep starts, finished when it ends). For a
ModelVersion it reads the registered version back, moves the aliases its spec claims and, on deletion with
``retentionPolicy: Delete``, deletes the artifact. It uses its
own token (``MODELPLANE_OPERATOR_API_TOKEN[_FILE]``) and never imports the control plane or the SDK (the
import-linter independence contract): the few response fields it needs are parsed here, tolerantly.

Connection failures, timeouts, 5xx and 429 raise :class:`ControlPlaneUnavailable` (the reconciler sets
``ControlPlaneUnavailable`` and retries); other failures raise :class:`ControlPlaneError`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from modelplane.operator.config import OperatorConfig
from modelplane.operator.model.records import ModelVersionRecord, RegisteredModel
from modelplane.operator.records import DatasetVersion, Run


class ControlPlaneError(Exception):
    """The control plane answered, but not as expected (auth, validation, a conflict)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ControlPlaneUnavailable(ControlPlaneError):
    """The control plane could not be reached or answered 5xx/429: retry later."""


class ArtifactDeletionUnsupported(ControlPlaneError):
    """The control plane (one older than this operator) cannot delete artifacts: ``DELETE .../artifacts/{sha256}``
    answered 405."""


class ControlPlaneClient:
    """Calls of the control plane API the operator makes; use ``async with`` or :meth:`aclose`."""

    def __init__(self, config: OperatorConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._config = config
        self._http = httpx.AsyncClient(
            base_url=config.api_url.rstrip("/"),
            timeout=config.control_plane_timeout_seconds,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "modelplane-operator/0.1"},
        )

    async def __aenter__(self) -> ControlPlaneClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {}
        try:
            token = self._config.operator_token()
        except OSError as exc:
            raise ControlPlaneError(f"cannot read the operator's control-plane token: {exc}") from exc
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = await self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise ControlPlaneUnavailable(f"control plane at {self._config.api_url} unreachable: {exc!r}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise ControlPlaneUnavailable(
                f"control plane answered {response.status_code} to {method} {path}: {_detail(response)}",
                response.status_code,
            )
        return response

    def _fail(self, method: str, path: str, response: httpx.Response) -> ControlPlaneError:
        return ControlPlaneError(
            f"control plane answered {response.status_code} to {method} {path}: {_detail(response)}",
            response.status_code,
        )

    async def _get_or_none(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = await self._request("GET", path, params=params)
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise self._fail("GET", path, response)
        return response.json()

    # --- datasets ----------------------------------------------------------------------------------------

    def _versions_path(self, namespace: str, name: str) -> str:
        return f"/api/v1/namespaces/{quote(namespace, safe='')}/datasets/{quote(name, safe='')}/versions"

    async def latest_dataset_version(self, namespace: str, name: str) -> DatasetVersion | None:
        """The newest version of a dataset, or None when it has none."""
        page = await self._get_or_none(self._versions_path(namespace, name), {"page_size": 1})
        items = (page or {}).get("items") or []
        return DatasetVersion.model_validate(items[0]) if items else None

    async def dataset_version(self, namespace: str, name: str, ref: str) -> DatasetVersion | None:
        """One version by number or digest, or None."""
        body = await self._get_or_none(f"{self._versions_path(namespace, name)}/{quote(ref, safe=':')}")
        return DatasetVersion.model_validate(body) if body else None

    # --- runs --------------------------------------------------------------------------------------------

    async def get_run(self, run_id: str) -> Run | None:
        """A run with its params, tags and latest metrics, or None when it was never recorded."""
        body = await self._get_or_none(f"/api/v1/runs/{run_id}")
        return Run.model_validate(body) if body else None

    async def ensure_run(self, namespace: str, body: dict[str, Any]) -> Run:
        """Create a run with a client-chosen ``run_id`` (creating it again returns it)."""
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/runs"
        response = await self._request("POST", path, json=body)
        if not response.is_success:
            raise self._fail("POST", path, response)
        return Run.model_validate(response.json())

    async def fail_run(self, run_id: str) -> None:
        """Set a run ``Failed`` (a run never created, or already final, is left as is)."""
        path = f"/api/v1/runs/{run_id}"
        response = await self._request("PATCH", path, json={"status": "Failed"})
        if not response.is_success and response.status_code not in (404, 409):
            raise self._fail("PATCH", path, response)

    async def finish_run(self, run_id: str, status: str, *, metrics: dict[str, float], tags: dict[str, str]) -> None:
        """Log final metrics and tags, then set a terminal status (a run already final is left as is)."""
        now_ms = int(datetime.now().timestamp() * 1000)
        batch = {
            "metrics": [{"key": k, "value": v, "step": 0, "timestamp": now_ms} for k, v in sorted(metrics.items())],
            "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())],
        }
        path = f"/api/v1/runs/{run_id}"
        response = await self._request("POST", f"{path}/log-batch", json=batch)
        if not response.is_success and response.status_code != 409:
            raise self._fail("POST", f"{path}/log-batch", response)
        response = await self._request("PATCH", path, json={"status": status})
        if not response.is_success and response.status_code != 409:
            raise self._fail("PATCH", path, response)

    # --- registry (ModelVersion) -------------------------------------------------------------------------

    def _model_path(self, namespace: str, model: str) -> str:
        return f"/api/v1/namespaces/{quote(namespace, safe='')}/models/{quote(model, safe='')}"

    async def get_model(self, namespace: str, model: str) -> RegisteredModel | None:
        """A registered model with its aliases, or None when it has no version yet."""
        body = await self._get_or_none(self._model_path(namespace, model))
        return RegisteredModel.model_validate(body) if body else None

    async def get_model_version(self, namespace: str, model: str, version: int) -> ModelVersionRecord | None:
        """One registered version, or None."""
        body = await self._get_or_none(f"{self._model_path(namespace, model)}/versions/{int(version)}")
        return ModelVersionRecord.model_validate(body) if body else None

    async def find_model_version(
        self, namespace: str, model: str, sha256: str, *, max_pages: int = 20
    ) -> ModelVersionRecord | None:
        """The registered version of the artifact ``sha256`` (versions newest first, 100 a page), or None."""
        path = f"{self._model_path(namespace, model)}/versions"
        params: dict[str, Any] = {"page_size": 100}
        for _ in range(max_pages):
            page = await self._get_or_none(path, params) or {}
            for item in page.get("items") or []:
                if item.get("sha256") == sha256:
                    return ModelVersionRecord.model_validate(item)
            token = page.get("next_page_token")
            if not token:
                return None
            params["page_token"] = token
        return None

    async def set_model_alias(self, namespace: str, model: str, alias: str, version: int) -> None:
        """Point ``alias`` at ``version`` (the control plane moves it atomically: one holder per alias)."""
        path = f"{self._model_path(namespace, model)}/aliases/{quote(alias, safe='')}"
        response = await self._request("PUT", path, json={"version": int(version)})
        if not response.is_success:
            raise self._fail("PUT", path, response)

    async def delete_model_alias(self, namespace: str, model: str, alias: str) -> bool:
        """Remove ``alias``; False when it did not exist."""
        path = f"{self._model_path(namespace, model)}/aliases/{quote(alias, safe='')}"
        response = await self._request("DELETE", path)
        if response.status_code == 404:
            return False
        if not response.is_success:
            raise self._fail("DELETE", path, response)
        return True

    async def delete_artifact(self, namespace: str, sha256: str) -> bool:
        """Delete the stored artifact ``sha256`` of ``namespace``; False when it was already gone.

        Raises :class:`ArtifactDeletionUnsupported` when the control plane has no such endpoint (405: an older one).
        """
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/artifacts/{quote(sha256, safe='')}"
        response = await self._request("DELETE", path)
        if response.status_code == 404:
            return False
        if response.status_code == 405:
            raise ArtifactDeletionUnsupported(
                f"the control plane cannot delete artifacts (DELETE {path} answered 405)", response.status_code
            )
        if not response.is_success:
            raise self._fail("DELETE", path, response)
        return True

    # --- deployments -------------------------------------------------------------------------------------

    def _traffic_path(self, namespace: str, service: str) -> str:
        return f"/api/v1/namespaces/{quote(namespace, safe='')}/services/{quote(service, safe='')}/traffic"

    async def set_traffic(self, namespace: str, service: str, traffic: list[dict[str, Any]]) -> bool:
        """Record which registered versions an InferenceService serves now (``{model, version, percent}``,
        percents summing to 100); True when that changed the record (the same split again is a no-op)."""
        path = self._traffic_path(namespace, service)
        response = await self._request("POST", path, json={"traffic": traffic})
        if not response.is_success:
            raise self._fail("POST", path, response)
        return bool(response.json().get("changed"))

    async def end_traffic(self, namespace: str, service: str) -> None:
        """Record that an InferenceService serves nothing any more (it was deleted)."""
        path = self._traffic_path(namespace, service)
        response = await self._request("DELETE", path)
        if not response.is_success and response.status_code != 404:
            raise self._fail("DELETE", path, response)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:500]
    return str(body)[:200]
