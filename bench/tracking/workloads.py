"""The timed workloads. Each is bounded (a fixed count of requests) and identical for both systems.

Bodies are encoded before the clock starts; the clock covers the requests only. Every run's data comes
from a seeded generator, so both systems store exactly the same runs, params and metrics.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from tracking.clients import Metric, Pair, Request, RequestFailedError, Tracker

T = TypeVar("T")
METRIC_KEYS = 10  # log-batch workloads spread points over this many keys
NOW_MS = int(time.time() * 1000)
SEARCH_FILTER = "metrics.accuracy > 0.9 and params.depth = '8'"
SEARCH_ORDER = "metrics.accuracy DESC"
SEARCH_PAGE = 100
LIST_PAGE = 1000


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Sample:
    """One repetition of a workload: how much was done, in how long, and each request's latency."""

    items: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class Result:
    """The repetitions of one workload on one system; the headline numbers are medians across them."""

    unit: str
    samples: list[Sample] = field(default_factory=list)
    note: str = ""

    @property
    def rate(self) -> float:
        return statistics.median(s.rate for s in self.samples)

    @property
    def seconds(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def latencies(self) -> list[float]:
        return [latency for s in self.samples for latency in s.latencies]

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.samples)

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)

    def as_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "rate_median": self.rate,
            "seconds_median": self.seconds,
            "p50_ms": self.p(50) * 1000,
            "p95_ms": self.p(95) * 1000,
            "errors": self.errors,
            "note": self.note,
            "samples": [{"items": s.items, "seconds": s.seconds, "errors": s.errors} for s in self.samples],
        }


def _timed(tracker: Tracker, client: httpx.Client, requests: list[Request], items_per_request: int) -> Sample:
    latencies: list[float] = []
    started = time.perf_counter()
    for request in requests:
        begin = time.perf_counter()
        tracker.post(client, request)
        latencies.append(time.perf_counter() - begin)
    return Sample(items=items_per_request * len(requests), seconds=time.perf_counter() - started, latencies=latencies)


def _points(count: int, first_step: int = 0) -> list[Metric]:
    """``count`` points over METRIC_KEYS keys, steps increasing, values deterministic."""
    return [
        (f"m{i % METRIC_KEYS}", (i * 7919 % 1000) / 1000, first_step + i // METRIC_KEYS, NOW_MS) for i in range(count)
    ]


def _chunks(points: list[Metric], size: int) -> list[list[Metric]]:
    return [points[i : i + size] for i in range(0, len(points), size)]


def log_batch(tracker: Tracker, client: httpx.Client, experiment: str, total: int, per_request: int) -> Sample:
    """``total`` metric points into a fresh run, ``per_request`` per log-batch call."""
    run_id = tracker.create_run(client, experiment, f"log-batch-{per_request}", [])
    requests = [tracker.encode_log_batch(run_id, chunk, []) for chunk in _chunks(_points(total), per_request)]
    return _timed(tracker, client, requests, per_request)


def single_metric(tracker: Tracker, client: httpx.Client, experiment: str, calls: int) -> Sample:
    """``calls`` requests of one metric each (MLflow: log-metric; ModelPlane: log-batch of one)."""
    run_id = tracker.create_run(client, experiment, "single", [])
    requests = [tracker.encode_log_metric(run_id, point) for point in _points(calls)]
    return _timed(tracker, client, requests, 1)


def _in_threads(workers: int, job: Callable[[int, threading.Barrier], T]) -> list[T]:
    """Run ``job(index, barrier)`` in ``workers`` threads; their results in index order (errors re-raised)."""
    barrier = threading.Barrier(workers)
    results: list[T | None] = [None] * workers
    failures: list[BaseException] = []

    def target(index: int) -> None:
        try:
            results[index] = job(index, barrier)
        except BaseException as error:
            failures.append(error)
            barrier.abort()

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return [r for r in results if r is not None]


def concurrent_log_batch(tracker: Tracker, experiment: str, clients: int, batches: int, per_request: int) -> Sample:
    """``clients`` threads, each with its own connection and run, each making ``batches`` log-batch calls.

    A failed request (e.g. SQLite's "database is locked") is counted, not retried; throughput counts
    the accepted points over the wall time from the common start to the last client's end.
    """
    starts: list[float] = []

    def job(index: int, barrier: threading.Barrier) -> Sample:
        with tracker.session() as client:
            run_id = tracker.create_run(client, experiment, f"concurrent-{index}", [])
            points = _points(batches * per_request)
            requests = [tracker.encode_log_batch(run_id, chunk, []) for chunk in _chunks(points, per_request)]
            tracker.post(client, tracker.encode_log_batch(run_id, [("warm-up", 0.0, 0, NOW_MS)], []))
            barrier.wait()
            starts.append(time.perf_counter())
            sample = Sample(items=0, seconds=0.0)
            for request in requests:
                begin = time.perf_counter()
                try:
                    tracker.post(client, request)
                    sample.items += per_request
                except (RequestFailedError, httpx.HTTPError):
                    sample.errors += 1
                sample.latencies.append(time.perf_counter() - begin)
            sample.seconds = time.perf_counter()  # the end time, made a duration below
            return sample

    parts = _in_threads(clients, job)
    return Sample(
        items=sum(p.items for p in parts),
        seconds=max(p.seconds for p in parts) - min(starts),
        latencies=[latency for p in parts for latency in p.latencies],
        errors=sum(p.errors for p in parts),
    )


def run_data(index: int) -> tuple[list[Pair], list[Pair], list[Metric]]:
    """Tags, params and metrics of the ``index``-th search run (the same for both systems)."""
    rng = random.Random(index)
    tags = [("team", "ab"[index % 2])]
    params = [
        ("depth", str((2, 4, 8, 16)[index % 4])),
        ("lr", f"{0.001 * (1 + index % 10):.3f}"),
        ("optimizer", ("adam", "sgd")[index % 2]),
    ]
    metrics = [(key, round(rng.random(), 6), 10, NOW_MS) for key in ("accuracy", "loss", "f1")]
    return tags, params, metrics


def seed_runs(tracker: Tracker, experiment: str, first: int, count: int, clients: int) -> Sample:
    """Create runs ``first .. first+count-1`` from ``clients`` threads: start a run, then one log-batch
    with its params and metrics (two requests per run on both systems)."""

    def job(index: int, barrier: threading.Barrier) -> Sample:
        sample = Sample(items=0, seconds=0.0)
        with tracker.session() as client:
            barrier.wait()
            for number in range(first + index, first + count, clients):
                tags, params, metrics = run_data(number)
                begin = time.perf_counter()
                run_id = tracker.create_run(client, experiment, f"run-{number:05d}", tags)
                tracker.post(client, tracker.encode_log_batch(run_id, metrics, params))
                sample.latencies.append(time.perf_counter() - begin)
                sample.items += 1
        return sample

    started = time.perf_counter()
    parts = _in_threads(clients, job)
    return Sample(
        items=sum(p.items for p in parts),
        seconds=time.perf_counter() - started,
        latencies=[latency for p in parts for latency in p.latencies],
    )


def expected_matches(count: int) -> int:
    """How many of the first ``count`` runs SEARCH_FILTER matches (computed from the generator)."""
    matches = 0
    for index in range(count):
        _, params, metrics = run_data(index)
        if dict(params)["depth"] == "8" and metrics[0][1] > 0.9:
            matches += 1
    return matches


def _all_pages(
    tracker: Tracker, client: httpx.Client, experiment: str, filter_: str, order: str | None, size: int
) -> tuple[int, int, list[float]]:
    """Follow the page tokens to the end: runs seen, pages, and each page's latency."""
    token: str | None = None
    runs = pages = 0
    latencies: list[float] = []
    while True:
        request = tracker.encode_search(experiment, filter_, order, size, token)
        begin = time.perf_counter()
        answer = tracker.post(client, request)
        latencies.append(time.perf_counter() - begin)
        items, token = tracker.page(answer)
        runs += len(items)
        pages += 1
        if not token or not items or pages > 1000:
            return runs, pages, latencies


def filtered_search(tracker: Tracker, client: httpx.Client, experiment: str, calls: int) -> Sample:
    """``calls`` identical filtered, ordered searches (the first page, SEARCH_PAGE runs)."""
    request = tracker.encode_search(experiment, SEARCH_FILTER, SEARCH_ORDER, SEARCH_PAGE, None)
    return _timed(tracker, client, [request] * calls, 1)


def count_matches(tracker: Tracker, client: httpx.Client, experiment: str) -> int:
    """All runs SEARCH_FILTER matches, following the page tokens (a correctness check, also a warm-up)."""
    matched, _, _ = _all_pages(tracker, client, experiment, SEARCH_FILTER, SEARCH_ORDER, SEARCH_PAGE)
    return matched


def list_all(tracker: Tracker, client: httpx.Client, experiment: str) -> tuple[Sample, int]:
    """List every run of the experiment, unfiltered, LIST_PAGE per page; and how many runs came back."""
    started = time.perf_counter()
    seen, _, latencies = _all_pages(tracker, client, experiment, "", None, LIST_PAGE)
    return Sample(items=1, seconds=time.perf_counter() - started, latencies=latencies), seen
