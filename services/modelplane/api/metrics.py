"""Prometheus metrics of the control plane: request latency by route and status, DB pool, artifact bytes.

Labels are bounded: the route *template* (``/api/v1/runs/{run_id}``), never the concrete path.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

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

    async def middleware(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Time every request and label it with its route template."""
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            self.requests.labels(route=_route_template(request), method=request.method, status=str(status)).observe(
                time.perf_counter() - started
            )


def _route_template(request: Request) -> str:
    """The template of the route that served the request (set in the scope by the router)."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))
