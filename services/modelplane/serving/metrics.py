"""Prometheus metrics of the inference server, all named ``modelplane_serving_*``.

Where it sits: one :class:`ServingMetrics` per server (its own registry, exposed at ``/metrics``); each
loaded model gets a :class:`ModelMetrics` whose label children are bound once, so the request path pays
an observation, not a label lookup. Labels are bounded: configured model names and versions, outcomes
from a fixed set, and ``model="_unknown"`` for requests naming a model that is not configured.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

OUTCOMES = ("success", "invalid_input", "model_not_found", "model_not_ready", "payload_too_large", "error")
"""The values of the ``outcome`` label."""
UNKNOWN_MODEL = "_unknown"

LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


class ServingMetrics:
    """Every metric of one server, in one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        labels = ("model", "version")
        reg = self.registry
        self.requests = Counter(
            "modelplane_serving_requests", "Inference requests by outcome.", (*labels, "outcome"), registry=reg
        )
        self.request_seconds = Histogram(
            "modelplane_serving_request_duration_seconds",
            "Time from a request's body to its response, decoding and encoding included.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.queue_seconds = Histogram(
            "modelplane_serving_queue_duration_seconds",
            "Time a request waited for its inference to start (batch forming, a busy worker).",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.inference_seconds = Histogram(
            "modelplane_serving_inference_duration_seconds",
            "Time of one ONNX Runtime inference (one per batch).",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.batch_rows = Histogram(
            "modelplane_serving_batch_rows",
            "Rows per inference (more than one request's rows when dynamic batching merged them).",
            labels,
            buckets=ROW_BUCKETS,
            registry=reg,
        )
        self.batch_requests = Histogram(
            "modelplane_serving_batch_requests",
            "Requests merged into one inference.",
            labels,
            buckets=ROW_BUCKETS,
            registry=reg,
        )
        self.models_loaded = Gauge(
            "modelplane_serving_models_loaded", "Configured model versions that are loaded and ready.", registry=reg
        )
        self.models_configured = Gauge(
            "modelplane_serving_models_configured", "Model versions in the configuration.", registry=reg
        )
        self.model_ready = Gauge(
            "modelplane_serving_model_ready",
            "1 when the model version is loaded and ready, else 0.",
            labels,
            registry=reg,
        )
        self.inflight_requests = Gauge(
            "modelplane_serving_inflight_requests",
            "Inference requests received and not answered yet (the Concurrency autoscaling metric of an "
            "InferenceService, averaged over its pods).",
            registry=reg,
        )
        self.payload_records = Counter(
            "modelplane_serving_payload_records",
            "Payload records by result: written to the sink, dropped (buffer full), failed (sink error).",
            ("result",),
            registry=reg,
        )
        for result in ("written", "dropped", "failed"):
            self.payload_records.labels(result)
        self.unknown = ModelMetrics(self, UNKNOWN_MODEL, "")

    def for_model(self, name: str, version: str) -> ModelMetrics:
        """The bound metrics of one model version."""
        return ModelMetrics(self, name, version)


class ModelMetrics:
    """The label children of one model version, bound once."""

    def __init__(self, metrics: ServingMetrics, name: str, version: str) -> None:
        self.outcomes = {outcome: metrics.requests.labels(name, version, outcome) for outcome in OUTCOMES}
        self.request_seconds = metrics.request_seconds.labels(name, version)
        self.queue_seconds = metrics.queue_seconds.labels(name, version)
        self.inference_seconds = metrics.inference_seconds.labels(name, version)
        self.batch_rows = metrics.batch_rows.labels(name, version)
        self.batch_requests = metrics.batch_requests.labels(name, version)
        self.ready = metrics.model_ready.labels(name, version) if name != UNKNOWN_MODEL else None
