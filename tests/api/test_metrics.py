"""The request metrics middleware: every request observed once, labelled by route template, method and the
status the client got, including unmatched paths, errors mapped to 4xx and unhandled exceptions (500)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from prometheus_client import CollectorRegistry

FAMILY = "modelplane_api_request_duration_seconds"


def count(registry: CollectorRegistry, route: str, method: str, status: str) -> float:
    value = registry.get_sample_value(f"{FAMILY}_count", {"route": route, "method": method, "status": status})
    return value or 0.0


@pytest.mark.db
async def test_requests_are_counted_by_route_template_method_and_status(api, namespace):
    registry = api.app.state.metrics.registry
    run = (await api.post(f"/api/v1/namespaces/{namespace}/runs", json={"experiment": "e"})).json()
    for _ in range(3):
        assert (await api.get(f"/api/v1/runs/{run['run_id']}")).status_code == 200
    missing = uuid.uuid4().hex
    assert (await api.get(f"/api/v1/runs/{missing}")).status_code == 404
    assert (await api.get("/no/such/path")).status_code == 404
    assert (await api.post(f"/api/v1/namespaces/{namespace}/runs", json={"nope": 1})).status_code == 422

    template = "/api/v1/runs/{run_id}"
    assert count(registry, template, "GET", "200") == 3
    assert count(registry, template, "GET", "404") == 1
    assert count(registry, "unmatched", "GET", "404") == 1
    assert count(registry, "/api/v1/namespaces/{namespace}/runs", "POST", "201") == 1
    assert count(registry, "/api/v1/namespaces/{namespace}/runs", "POST", "422") == 1
    # the concrete path never becomes a label
    exposition = (await api.get("/metrics")).text
    assert run["run_id"] not in exposition
    assert registry.get_sample_value(f"{FAMILY}_sum", {"route": template, "method": "GET", "status": "200"}) > 0


@pytest.mark.db
async def test_an_unhandled_exception_is_observed_as_500(api):
    app = api.app

    async def broken() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/test-only/broken", broken, methods=["GET"])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://control-plane") as client:
        response = await client.get("/test-only/broken")
    assert response.status_code == 500
    assert count(app.state.metrics.registry, "/test-only/broken", "GET", "500") == 1


@pytest.mark.unit
async def test_other_scopes_pass_through_unobserved():
    from modelplane.api.metrics import ApiMetrics, RequestMetrics

    seen = []

    async def inner(scope, receive, send):
        seen.append(scope["type"])

    metrics = ApiMetrics()
    middleware = RequestMetrics(inner, metrics)
    await middleware({"type": "lifespan"}, None, None)
    await middleware({"type": "websocket", "path": "/x"}, None, None)
    assert seen == ["lifespan", "websocket"]
    assert not [s for m in metrics.registry.collect() if m.name == FAMILY for s in m.samples]
