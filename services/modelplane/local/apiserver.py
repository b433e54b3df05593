"""The Kubernetes REST API over the local object store, as an ``httpx`` transport.

Where it sits: between the operator's unchanged :class:`~modelplane.kube.client.KubeClient` and
:class:`~.store.ObjectStore`. The reconcilers issue the same requests they send a real API server (GET and
list with ``labelSelector``, server-side apply ``PATCH``, merge ``PATCH``, the ``status`` subresource,
``DELETE``) and get the same answers, errors included (``Status`` objects with 404/409/400), so the local
mode needs no second client and no second reconciler.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from modelplane.kube.client import KubeClient
from modelplane.kube.connection import Connection
from modelplane.kube.resources import KNOWN
from modelplane.local.store import ObjectStore, StoreError

LOCAL_SERVER = "http://modelplane.local"

BUILTIN: dict[str, tuple[str, str]] = {
    "secrets": ("v1", "Secret"),
    "configmaps": ("v1", "ConfigMap"),
    "persistentvolumeclaims": ("v1", "PersistentVolumeClaim"),
    "deployments": ("apps/v1", "Deployment"),
    "horizontalpodautoscalers": ("autoscaling/v2", "HorizontalPodAutoscaler"),
    "poddisruptionbudgets": ("policy/v1", "PodDisruptionBudget"),
}
"""Kinds the local mode stores besides those :mod:`modelplane.kube.resources` declares."""


def plurals() -> dict[tuple[str, str], str]:
    """(apiVersion, plural) -> kind for every kind the local API serves."""
    table = {(r.api_version, r.plural): r.kind for r in KNOWN.values()}
    table.update({(api_version, plural): kind for plural, (api_version, kind) in BUILTIN.items()})
    return table


def _status(code: int, reason: str, message: str) -> httpx.Response:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason}
    return httpx.Response(code, json={**body, "code": code})


class LocalApiTransport(httpx.AsyncBaseTransport):
    """Answers Kubernetes API requests from an :class:`ObjectStore`."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._plurals = plurals()

    def _route(self, path: str) -> tuple[str, str, str | None, str | None, str | None]:
        """(apiVersion, kind, namespace, name, subresource) of an API path."""
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"]:
            api_version, rest = parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            api_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            raise StoreError(404, "NotFound", f"the server could not find the requested resource ({path})")
        namespace: str | None = None
        if len(rest) >= 2 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest:
            raise StoreError(404, "NotFound", f"the server could not find the requested resource ({path})")
        kind = self._plurals.get((api_version, rest[0]))
        if kind is None:
            raise StoreError(404, "NotFound", f"the server could not find the requested resource ({path})")
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        return api_version, kind, namespace, name, subresource

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._handle(request)
        except StoreError as error:
            return _status(error.code, error.reason, error.message)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        api_version, kind, namespace, name, subresource = self._route(request.url.path)
        method = request.method
        body: Any = json.loads(request.content) if request.content else None
        ns = namespace or ""
        if method == "GET" and name is None:
            items = self.store.list(kind, namespace, request.url.params.get("labelSelector"))
            return httpx.Response(200, json={"kind": f"{kind}List", "apiVersion": api_version, "items": items})
        if name is None:
            if method == "POST":
                return httpx.Response(201, json=self.store.create(self._placed(body, ns)))
            raise StoreError(405, "MethodNotAllowed", f"{method} is not allowed on a collection")
        if method == "GET":
            found = self.store.get(kind, ns, name)
            if found is None:
                raise StoreError(404, "NotFound", f'{kind.lower()}s "{name}" not found')
            return httpx.Response(200, json=found)
        if method == "DELETE":
            if not self.store.delete(kind, ns, name):
                raise StoreError(404, "NotFound", f'{kind.lower()}s "{name}" not found')
            return httpx.Response(200, json={"kind": "Status", "apiVersion": "v1", "status": "Success"})
        if method == "PATCH":
            content_type = request.headers.get("content-type", "")
            if not isinstance(body, Mapping):
                raise StoreError(400, "BadRequest", "the patch body must be an object")
            if "apply-patch" in content_type:
                if subresource == "status":
                    return httpx.Response(200, json=self.store.apply_status(kind, ns, name, body.get("status") or {}))
                return httpx.Response(200, json=self.store.apply(self._placed(body, ns)))
            return httpx.Response(200, json=self.store.patch(kind, ns, name, body, subresource=subresource))
        raise StoreError(405, "MethodNotAllowed", f"{method} is not supported here")

    @staticmethod
    def _placed(body: Any, namespace: str) -> dict[str, Any]:
        if not isinstance(body, Mapping) or not isinstance(body.get("metadata"), Mapping):
            raise StoreError(400, "BadRequest", "the object has no metadata")
        if not body["metadata"].get("name"):
            raise StoreError(422, "Invalid", "metadata.name: Required value: name is required")
        placed = dict(body)
        if namespace:
            placed["metadata"] = {**body["metadata"], "namespace": namespace}
        return placed


def local_kube_client(store: ObjectStore) -> KubeClient:
    """The operator's Kubernetes client, talking to the local store."""
    connection = Connection(server=LOCAL_SERVER, tls=None)
    return KubeClient(connection, transport=LocalApiTransport(store))
