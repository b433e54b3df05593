"""Prometheus metrics of the control plane: request latency by route and status, DB pool, artifact bytes.

Labels are bounded: the route *template* (``/api/v1/runs/{run_id}``), never the concrete path. Requests
are timed by :class:`RequestMetrics`, a pure ASGI middleware around the application (no extra task or
response wrapper per request, as ``BaseHTTPMiddleware`` would add): from the request's arrival until its
response's last byte was handed to the server.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """The metric families of one app instance, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "modelplane_api_request_duration_seconds",
            "Time to answer a request, by route template, method and status code.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.pool_checked_out = Gauge(
            "modelplane_api_db_pool_connections_in_use", "Database connections in use.", registry=self.registry
        )
        self.pool_size = Gauge("modelplane_api_db_pool_size", "Database connections kept open.", registry=self.registry)
        self.artifact_bytes = Counter(
            "modelplane_api_artifact_bytes_total",
            "Bytes moved to and from the artifact store.",
            ["direction"],
            registry=self.registry,
        )

    def count_artifact_bytes(self, direction: str, size: int) -> None:
        self.artifact_bytes.labels(direction=direction).inc(size)

    def observe_pool(self, engine: AsyncEngine) -> None:
        pool = engine.sync_engine.pool
        checked_out = getattr(pool, "checkedout", None)
        size = getattr(pool, "size", None)
        if callable(checked_out):
            self.pool_checked_out.set(checked_out())
        if callable(size):
            self.pool_size.set(size())


class RequestMetrics:
    """ASGI middleware: observe every HTTP request's duration by route template, method and status code.

    The status is the one the response started with; 500 when the application raised before starting
    one (the server answers 500 then).
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            self.metrics.requests.labels(
                route=_route_template(scope), method=scope["method"], status=str(status)
            ).observe(time.perf_counter() - started)


def _route_template(scope: MutableMapping[str, Any]) -> str:
    """The template of the route that served the request (set in the scope by the router)."""
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))
