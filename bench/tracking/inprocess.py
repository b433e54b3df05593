"""ModelPlane's request cost in process: the app called over ASGI, no HTTP, no second server, no peer.

    python bench/tracking/inprocess.py                       # Postgres (throwaway cluster), 10,000 runs
    python bench/tracking/inprocess.py --backend sqlite --runs 1000 --calls 100
    python bench/tracking/inprocess.py --only search --explain   # each statement of a search, and its plan
    python bench/tracking/inprocess.py --freeze-gc               # gc.freeze() before the timed calls

Where it sits: beside ``run.py`` (the side-by-side benchmark over HTTP), for the figures that HTTP and the
shared machine make noisy. One process, one event loop: the application (``create_app``) with its
lifespan, an editor token as the benchmark's client uses, ``runs`` runs bulk-loaded through
``bulk_modelplane`` (the same seeded runs as ``run.py``) and ``ANALYZE``d, then, interleaved in rounds so
that a noisy neighbour hits every workload alike:

- ``search``: the benchmark's filtered + ordered search, first page of 100, full view;
- ``single``: a log-batch of one metric (the fixed cost of a write request);
- ``batch``: a log-batch of 1000 metrics over 10 keys;
- ``create``: ``POST /runs`` with 3 params (what ``seed_runs`` does first);
- ``whoami``: the cheapest authenticated request (token lookup, routing, middleware).

Each line gives p50 / p95 / mean of the wall time per call and the process's CPU time per call
(``time.process_time``: this process runs the app and the client; Postgres runs elsewhere), and a line
says how many garbage collections of each generation ran during the timed calls and how long they took.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from common.facts import REPO
from tracking import servers, workloads

sys.path.insert(0, str(REPO / "tests"))


@contextlib.contextmanager
def backend(name: str, workdir: Path) -> Iterator[servers.Backend]:
    if name == "sqlite":
        yield servers.sqlite_backend(workdir)
    else:
        with servers.postgres_backend() as pg:
            yield pg


class GcPauses:
    """A ``gc.callbacks`` entry: how many collections of each generation ran, and their time."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count[info["generation"]] += 1
            self.seconds[info["generation"]] += time.perf_counter() - self._started

    def __str__(self) -> str:
        parts = [f"gen{g} x{self.count[g]} {self.seconds[g] * 1000:.0f} ms" for g in range(3)]
        return "GC during the timed calls: " + ", ".join(parts)


KINDS = ("search", "single", "batch", "create", "whoami")


def line(name: str, walls: list[float], cpu: float) -> str:
    p50, p95 = workloads.percentile(walls, 50), workloads.percentile(walls, 95)
    mean = statistics.fmean(walls)
    return (
        f"{name:>8}: p50 {p50 * 1000:7.2f} ms  p95 {p95 * 1000:7.2f} ms  mean {mean * 1000:7.2f} ms  "
        f"cpu/call {cpu / len(walls) * 1000:6.2f} ms  (n={len(walls)})"
    )


async def bench(
    db: servers.Backend, runs: int, calls: int, rounds: int, kinds: tuple[str, ...], explain: bool, freeze_gc: bool
) -> None:
    from harness.control_plane import ADMIN_TOKEN, make_settings  # type: ignore[import-not-found,unused-ignore]
    from modelplane.api.app import create_app
    from modelplane.api.db.migrate import upgrade

    url = db.modelplane_url
    await asyncio.to_thread(upgrade, url)
    with tempfile.TemporaryDirectory() as artifacts:
        settings = make_settings(url, Path(artifacts))
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            base = "http://control-plane"
            async with httpx.AsyncClient(transport=transport, base_url=base) as admin:
                admin.headers["authorization"] = f"Bearer {ADMIN_TOKEN}"
                answer = await admin.post(
                    "/api/v1/tokens",
                    json={"principal": servers.CLIENT_PRINCIPAL, "roles": {servers.NAMESPACE: "editor"}},
                )
                answer.raise_for_status()
                token = answer.json()["token"]
            experiment = f"search-{uuid.uuid4().hex[:6]}"
            data = [(f"run-{i:05d}", *workloads.run_data(i)) for i in range(runs)]
            started = time.monotonic()
            await asyncio.to_thread(servers.bulk_load_modelplane, db, experiment, data)
            del data  # not the server's: keep the heap (and so the GC's work) a server's
            print(f"bulk-loaded {runs:,} runs in {time.monotonic() - started:.1f} s", file=sys.stderr)
            await asyncio.to_thread(servers.analyze, db)
            async with httpx.AsyncClient(
                transport=transport, base_url=base, headers={"authorization": f"Bearer {token}"}
            ) as client:
                if explain:
                    await _explain(app.state.mp.engine, client, experiment)
                await _bench_client(client, experiment, runs, calls, rounds, kinds, freeze_gc)


async def _explain(engine: Any, client: httpx.AsyncClient, experiment: str) -> None:
    """Each statement of one search request, with its plan (``EXPLAIN ANALYZE`` / ``EXPLAIN QUERY PLAN``)."""
    from sqlalchemy import event

    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    body = {"filter": workloads.SEARCH_FILTER, "order_by": workloads.SEARCH_ORDER, "experiment": experiment}
    path = f"/api/v1/namespaces/{servers.NAMESPACE}/runs/search"
    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        (await client.post(path, json=body | {"page_size": workloads.SEARCH_PAGE})).raise_for_status()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    async with engine.connect() as conn:
        for statement, parameters in statements:
            print(f"--- {statement[:800]}\n--- parameters: {str(parameters)[:300]}")
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            rows = await conn.exec_driver_sql(prefix + statement, parameters)
            print("\n".join(" | ".join(str(v) for v in row) for row in rows))


async def _bench_client(
    client: httpx.AsyncClient,
    experiment: str,
    runs: int,
    calls: int,
    rounds: int,
    kinds: tuple[str, ...],
    freeze_gc: bool,
) -> None:
    ns = servers.NAMESPACE
    answer = await client.post(f"/api/v1/namespaces/{ns}/runs", json={"experiment": "logging"})
    answer.raise_for_status()
    logging_run = answer.json()["run_id"]
    search = {
        "filter": workloads.SEARCH_FILTER,
        "order_by": workloads.SEARCH_ORDER,
        "experiment": experiment,
        "page_size": workloads.SEARCH_PAGE,
    }
    expected = min(workloads.SEARCH_PAGE, workloads.expected_matches(runs))
    step = iter(range(10**9))

    def requests(kind: str) -> tuple[str, str, dict[str, object] | None]:
        if kind == "search":
            return "POST", f"/api/v1/namespaces/{ns}/runs/search", search
        if kind == "single":
            metric = {"key": "loss", "value": 0.5, "step": next(step), "timestamp": workloads.NOW_MS}
            return "POST", f"/api/v1/runs/{logging_run}/log-batch", {"metrics": [metric]}
        if kind == "batch":
            first = next(step) * 100
            keys = [f"m{i}" for i in range(workloads.METRIC_KEYS)]
            metrics = [
                {
                    "key": keys[i % len(keys)],
                    "value": 0.5,
                    "step": first + i // len(keys),
                    "timestamp": workloads.NOW_MS,
                }
                for i in range(1000)
            ]
            return "POST", f"/api/v1/runs/{logging_run}/log-batch", {"metrics": metrics}
        if kind == "create":
            params = [{"key": k, "value": v} for k, v in (("depth", "8"), ("lr", "0.01"), ("optimizer", "adam"))]
            return "POST", f"/api/v1/namespaces/{ns}/runs", {"experiment": "created", "params": params}
        return "GET", "/api/v1/whoami", None

    walls: dict[str, list[float]] = {k: [] for k in kinds}
    cpu: dict[str, float] = dict.fromkeys(kinds, 0.0)
    for warm in range(3):  # warm-up: statement caches, pools, the first page's plan
        for kind in kinds:
            method, path, body = requests(kind)
            (await client.request(method, path, json=body)).raise_for_status()
        del warm
    if freeze_gc:
        gc.collect()
        gc.freeze()  # what a server could do after start-up: collections then walk the requests' objects only
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    for number in range(rounds):
        for kind in kinds if number % 2 == 0 else kinds[::-1]:
            for _ in range(max(1, calls // rounds)):
                method, path, body = requests(kind)
                cpu_start, begin = time.process_time(), time.perf_counter()
                answer = await client.request(method, path, json=body)
                walls[kind].append(time.perf_counter() - begin)
                cpu[kind] += time.process_time() - cpu_start
                answer.raise_for_status()
                if kind == "search" and len(answer.json()["items"]) != expected:
                    raise SystemExit(f"search returned {len(answer.json()['items'])} runs, expected {expected}")
    gc.callbacks.remove(pauses)
    load = os.getloadavg()[0]
    print(f"{runs:,} runs; 1-min load average after: {load:.2f}; {pauses}")
    for kind in kinds:
        print(line(kind, walls[kind], cpu[kind]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the searched experiment")
    parser.add_argument("--calls", type=int, default=200, help="calls per workload")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    parser.add_argument("--freeze-gc", action="store_true", help="gc.collect() + gc.freeze() before the timed calls")
    parser.add_argument("--explain", action="store_true", help="print each statement of a search and its plan")
    parser.add_argument("--only", default=",".join(KINDS), help=f"comma-separated workloads ({','.join(KINDS)})")
    args = parser.parse_args()
    print(f"1-min load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as workdir, backend(args.backend, Path(workdir)) as db:
        kinds = tuple(k for k in KINDS if k in args.only.split(","))
        asyncio.run(bench(db, args.runs, args.calls, args.rounds, kinds, args.explain, args.freeze_gc))


if __name__ == "__main__":
    main()
