from __future__ import annotations

import httpx
import pytest

from modelplane.kube import errors
from modelplane.kube.client import KubeClient
from modelplane.kube.connection import Connection
from modelplane.kube.resources import JOBS, MODEL_VERSIONS, UnknownResourceError, resource_of


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (404, errors.NotFoundError),
        (409, errors.ConflictError),
        (422, errors.InvalidError),
        (400, errors.InvalidError),
        (403, errors.ForbiddenError),
        (401, errors.ForbiddenError),
        (429, errors.UnavailableError),
        (503, errors.UnavailableError),
        (418, errors.KubeError),
    ],
)
def test_statuses_map_to_one_exception_each(status: int, kind: type[errors.KubeError]):
    body = {"kind": "Status", "message": "m", "reason": "R", "details": {"causes": [{"field": "spec.x"}]}}
    error = errors.error_from_response("GET", "/x", status, body)
    assert type(error) is kind
    assert (error.status, error.reason, error.causes, error.message) == (
        status,
        "R",
        [{"field": "spec.x"}],
        "GET /x: HTTP " + str(status) + ": m",
    )


def test_resource_paths_and_lookup():
    assert JOBS.path("ns", "j", "status") == "/apis/batch/v1/namespaces/ns/jobs/j/status"
    assert MODEL_VERSIONS.path("ns") == "/apis/modelplane.io/v1alpha1/namespaces/ns/modelversions"
    assert resource_of({"apiVersion": "v1", "kind": "Service"}).plural == "services"
    with pytest.raises(UnknownResourceError, match="apps/v1 StatefulSet"):
        resource_of({"apiVersion": "apps/v1", "kind": "StatefulSet"})


async def test_a_server_that_does_not_answer_is_unavailable():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with KubeClient(
        Connection(server="http://127.0.0.1:1", tls=None), transport=httpx.MockTransport(refuse)
    ) as client:
        with pytest.raises(errors.UnavailableError, match="refused"):
            await client.get(JOBS, "ns", "j")


async def test_an_apply_answered_404_falls_back_to_a_create():
    seen: list[tuple[str, str]] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.headers.get("content-type", "")))
        if request.method == "PATCH":
            return httpx.Response(404, json={"kind": "Status", "reason": "NotFound", "message": "not found"})
        return httpx.Response(201, json={"metadata": {"name": "j"}})

    async with KubeClient(Connection(server="http://k", tls=None), transport=httpx.MockTransport(server)) as client:
        created = await client.apply(
            {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "n"}}
        )
    assert created == {"metadata": {"name": "j"}}
    assert seen == [("PATCH", "application/apply-patch+yaml"), ("POST", "application/json")]
