"""Raw-HTTP clients of the two tracking servers, with the same shape so that the workloads treat them alike.

Both use one ``httpx.Client`` per thread (keep-alive), and both bodies are encoded by the same
:func:`json.dumps` *before* a timed loop starts (``encode_*``), so the timed part is only the request
round trip: send the bytes, read the answer, check the status.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

Metric = tuple[str, float, int, int]  # key, value, step, timestamp (ms)
Pair = tuple[str, str]  # key, value (params and tags)
TIMEOUT = httpx.Timeout(300.0, connect=10.0)


class RequestFailedError(RuntimeError):
    """A request answered with a status other than 2xx."""


@dataclass(frozen=True)
class Request:
    """A pre-encoded POST: path and JSON body bytes."""

    path: str
    body: bytes


def now_ms() -> int:
    return int(time.time() * 1000)


def _metrics(metrics: list[Metric]) -> list[dict[str, Any]]:
    return [{"key": k, "value": v, "step": s, "timestamp": t} for k, v, s, t in metrics]


def _pairs(pairs: list[Pair]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in pairs]


class Tracker(Protocol):
    """What a workload needs from a tracking server."""

    system: str

    def session(self) -> httpx.Client:
        """A new keep-alive client (one per thread)."""
        ...

    def post(self, client: httpx.Client, request: Request) -> dict[str, Any]:
        """Send a pre-encoded request; the decoded answer, or :class:`RequestFailedError`."""
        ...

    def new_experiment(self, client: httpx.Client, name: str) -> str:
        """Create an experiment; the id the other calls take."""
        ...

    def create_run(self, client: httpx.Client, experiment: str, name: str, tags: list[Pair]) -> str:
        """Start a run; its id."""
        ...

    def encode_log_batch(self, run_id: str, metrics: list[Metric], params: list[Pair]) -> Request:
        """A log-batch request."""
        ...

    def encode_log_metric(self, run_id: str, metric: Metric) -> Request:
        """The system's way of logging one metric per call."""
        ...

    def encode_search(
        self, experiment: str, filter_: str, order_by: str | None, page_size: int, page_token: str | None
    ) -> Request:
        """A run search (full runs: params, tags, latest metrics)."""
        ...

    def page(self, answer: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        """The runs of a search answer and the next page token."""
        ...


class _Base:
    system = "base"

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url
        self.headers = {"content-type": "application/json", **(headers or {})}

    def session(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=self.headers, timeout=TIMEOUT)

    def post(self, client: httpx.Client, request: Request) -> dict[str, Any]:
        response = client.post(request.path, content=request.body)
        if response.status_code >= 300:
            raise RequestFailedError(f"{self.system} {request.path}: {response.status_code} {response.text[:300]}")
        answer: dict[str, Any] = response.json() if response.content else {}
        return answer

    def _post_json(self, client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.post(client, Request(path, json.dumps(body).encode()))


class ModelPlaneTracker(_Base):
    """ModelPlane's REST API (``/api/v1``), authenticated with a namespace-scoped bearer token."""

    system = "modelplane"

    def __init__(self, base_url: str, token: str, namespace: str) -> None:
        super().__init__(base_url, {"authorization": f"Bearer {token}"})
        self.namespace = namespace

    def new_experiment(self, client: httpx.Client, name: str) -> str:
        return name  # experiments are a run field: nothing to create

    def create_run(self, client: httpx.Client, experiment: str, name: str, tags: list[Pair]) -> str:
        body = {"experiment": experiment, "name": name, "tags": _pairs(tags)}
        run_id: str = self._post_json(client, f"/api/v1/namespaces/{self.namespace}/runs", body)["run_id"]
        return run_id

    def encode_log_batch(self, run_id: str, metrics: list[Metric], params: list[Pair]) -> Request:
        body = {"metrics": _metrics(metrics), "params": _pairs(params), "tags": []}
        return Request(f"/api/v1/runs/{run_id}/log-batch", json.dumps(body).encode())

    def encode_log_metric(self, run_id: str, metric: Metric) -> Request:
        return self.encode_log_batch(run_id, [metric], [])  # ModelPlane has no single-metric route

    def encode_search(
        self, experiment: str, filter_: str, order_by: str | None, page_size: int, page_token: str | None
    ) -> Request:
        body: dict[str, Any] = {"experiment": experiment, "filter": filter_, "page_size": page_size, "view": "full"}
        if order_by:
            body["order_by"] = order_by
        if page_token:
            body["page_token"] = page_token
        return Request(f"/api/v1/namespaces/{self.namespace}/runs/search", json.dumps(body).encode())

    def page(self, answer: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        return list(answer.get("items", [])), answer.get("next_page_token")


class MlflowTracker(_Base):
    """MLflow's REST API (``/api/2.0/mlflow``), unauthenticated (its default)."""

    system = "mlflow"

    def new_experiment(self, client: httpx.Client, name: str) -> str:
        experiment_id: str = self._post_json(client, "/api/2.0/mlflow/experiments/create", {"name": name})[
            "experiment_id"
        ]
        return experiment_id

    def create_run(self, client: httpx.Client, experiment: str, name: str, tags: list[Pair]) -> str:
        body = {"experiment_id": experiment, "run_name": name, "start_time": now_ms(), "tags": _pairs(tags)}
        run_id: str = self._post_json(client, "/api/2.0/mlflow/runs/create", body)["run"]["info"]["run_id"]
        return run_id

    def encode_log_batch(self, run_id: str, metrics: list[Metric], params: list[Pair]) -> Request:
        body = {"run_id": run_id, "metrics": _metrics(metrics), "params": _pairs(params), "tags": []}
        return Request("/api/2.0/mlflow/runs/log-batch", json.dumps(body).encode())

    def encode_log_metric(self, run_id: str, metric: Metric) -> Request:
        key, value, step, timestamp = metric
        body = {"run_id": run_id, "key": key, "value": value, "step": step, "timestamp": timestamp}
        return Request("/api/2.0/mlflow/runs/log-metric", json.dumps(body).encode())

    def encode_search(
        self, experiment: str, filter_: str, order_by: str | None, page_size: int, page_token: str | None
    ) -> Request:
        body: dict[str, Any] = {"experiment_ids": [experiment], "filter": filter_, "max_results": page_size}
        if order_by:
            body["order_by"] = [order_by]
        if page_token:
            body["page_token"] = page_token
        return Request("/api/2.0/mlflow/runs/search", json.dumps(body).encode())

    def page(self, answer: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        return list(answer.get("runs", [])), answer.get("next_page_token") or None
