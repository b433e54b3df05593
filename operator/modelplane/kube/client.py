"""An asyncio client of the Kubernetes API: get, list, server-side apply, patch, delete.

kopf runs on asyncio and brings its own client for its watch streams and bookkeeping; reconcilers need
to read and write *other* objects (Jobs, Services, Pods, ModelVersions) and their parents' status. This
client does that over httpx with the credentials of :mod:`modelplane.kube.connection`.

Writes are server-side apply (``application/apply-patch+yaml``, field manager ``modelplane-operator``,
``force=true``): the operator states the fields it owns and the API server merges, so applying the same
desired object twice is a no-op and two passes that race cannot duplicate a child with a deterministic
name. Status is applied through the ``status`` subresource with the same manager. Every failure is one
of :mod:`modelplane.kube.errors`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import httpx

from modelplane.kube import errors
from modelplane.kube.connection import Connection
from modelplane.kube.resources import ResourceType, resource_of

FIELD_MANAGER = "modelplane-operator"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON = "application/json"

logger = logging.getLogger(__name__)


class KubeClient:
    """Reads and writes objects of the declared :class:`ResourceType`; use ``async with`` or :meth:`aclose`."""

    def __init__(
        self,
        connection: Connection,
        *,
        field_manager: str = FIELD_MANAGER,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.connection = connection
        self.field_manager = field_manager
        auth = httpx.BasicAuth(*connection.basic_auth) if connection.basic_auth else None
        self._http = httpx.AsyncClient(
            base_url=connection.server,
            verify=connection.tls if connection.tls is not None else True,
            timeout=timeout,
            auth=auth,
            transport=transport,
            headers={"Accept": JSON, "User-Agent": f"{field_manager}/0.1"},
        )

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- transport -------------------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = JSON,
    ) -> Any:
        headers = {}
        authorization = self.connection.authorization()
        if authorization:
            headers["Authorization"] = authorization
        content = None
        if body is not None:
            headers["Content-Type"] = content_type
            content = json.dumps(body, separators=(",", ":")).encode()
        try:
            response = await self._http.request(method, path, params=params, content=content, headers=headers)
        except httpx.TransportError as exc:
            raise errors.UnavailableError(f"{method} {path}: {exc!r}") from exc
        if response.is_success:
            return response.json() if response.content else None
        try:
            payload: Any = response.json()
        except ValueError:
            payload = response.text
        raise errors.error_from_response(method, path, response.status_code, payload)

    # --- reads -----------------------------------------------------------------------------------------

    async def get(self, resource: ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            obj: dict[str, Any] = await self._request("GET", resource.path(namespace, name))
        except errors.NotFoundError:
            return None
        return obj

    async def list(
        self, resource: ResourceType, namespace: str | None, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Every object of the namespace (all namespaces with None) matching the label selector."""
        items: list[dict[str, Any]] = []
        params: dict[str, str] = {"limit": "500"}
        if label_selector:
            params["labelSelector"] = label_selector
        while True:
            page = await self._request("GET", resource.path(namespace), params=params)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            params["continue"] = token

    # --- writes ----------------------------------------------------------------------------------------

    def _apply_params(self, force: bool) -> dict[str, str]:
        params = {"fieldManager": self.field_manager}
        if force:
            params["force"] = "true"
        return params

    async def apply(self, obj: Mapping[str, Any], *, force: bool = True) -> dict[str, Any]:
        """Server-side apply ``obj`` (creating it if missing); returns the object as stored.

        A 404 answer to an apply (an API server that does not create on apply, such as kopf's kmock)
        falls back to a create of the same object, which then fails the same way on a real server.
        """
        resource = resource_of(obj)
        meta = obj.get("metadata") or {}
        namespace, name = meta.get("namespace"), meta["name"]
        path = resource.path(namespace, name)
        try:
            result: dict[str, Any] = await self._request(
                "PATCH", path, params=self._apply_params(force), body=dict(obj), content_type=APPLY_PATCH
            )
        except errors.NotFoundError:
            created: dict[str, Any] = await self._request(
                "POST", resource.path(namespace), params={"fieldManager": self.field_manager}, body=dict(obj)
            )
            return created
        return result

    async def apply_status(self, obj: Mapping[str, Any], *, force: bool = True) -> dict[str, Any]:
        """Server-side apply ``obj``'s ``status`` through the status subresource."""
        resource = resource_of(obj)
        meta = obj.get("metadata") or {}
        body = {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "metadata": {"name": meta["name"], **({"namespace": meta["namespace"]} if meta.get("namespace") else {})},
            "status": obj.get("status") or {},
        }
        path = resource.path(meta.get("namespace"), meta["name"], "status")
        result: dict[str, Any] = await self._request(
            "PATCH", path, params=self._apply_params(force), body=body, content_type=APPLY_PATCH
        )
        return result

    async def merge_patch(
        self,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        patch: Mapping[str, Any],
        *,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """A JSON merge patch (for single mutable fields of objects the operator applied, e.g. a Job's suspend)."""
        result: dict[str, Any] = await self._request(
            "PATCH",
            resource.path(namespace, name, subresource),
            params={"fieldManager": self.field_manager},
            body=dict(patch),
            content_type=MERGE_PATCH,
        )
        return result

    async def delete(
        self, resource: ResourceType, namespace: str | None, name: str, *, propagation: str = "Background"
    ) -> bool:
        """Delete the object (its dependents by ``propagation``); False when it was already gone."""
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        try:
            await self._request("DELETE", resource.path(namespace, name), body=body)
        except errors.NotFoundError:
            return False
        return True
