"""Prometheus metrics of the operator: reconcile duration and errors per kind, children created, child events.

Labels are bounded (kind, outcome, error class); never an object's name or uid. Served on
``MODELPLANE_OPERATOR_METRICS_PORT`` when set (``serve``), from the default registry.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from prometheus_client import Counter, Histogram, start_http_server

RECONCILE_SECONDS = Histogram(
    "modelplane_operator_reconcile_duration_seconds",
    "Duration of one reconcile pass.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RECONCILE_ERRORS = Counter(
    "modelplane_operator_reconcile_errors_total",
    "Reconcile passes that ended in an error or a retry, by kind and error class.",
    ["kind", "error"],
)
CHILD_EVENTS = Counter(
    "modelplane_operator_child_events_total",
    "Events of the operator's children: those that ran their owner's pass, and those skipped because a pass "
    "had already seen that version of the child (e.g. the ADDED event of a Job the pass created).",
    ["outcome"],
)
CHILDREN_CREATED = Counter(
    "modelplane_operator_children_created_total",
    "Child objects (Jobs, Services, ModelVersions) created by reconcile passes.",
    ["kind"],
)


@contextlib.contextmanager
def timed(kind: str) -> Iterator[None]:
    """Observe the duration of the block as one pass of ``kind``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        RECONCILE_SECONDS.labels(kind=kind).observe(time.perf_counter() - start)


def serve(port: int) -> None:
    """Serve ``/metrics`` on all interfaces of ``port`` from a daemon thread."""
    start_http_server(port)
