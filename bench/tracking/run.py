"""ModelPlane's control plane against MLflow's tracking server, side by side on the same backend.

    python bench/tracking/run.py            # full: SQLite and Postgres, writes docs/benchmarks.md (~15 min)
    python bench/tracking/run.py --quick    # SQLite only, fewer repetitions, prints the table (~3 min)

MLflow is installed by this script into a virtualenv of its own (never into the project's); both
servers and the throwaway Postgres are started and stopped here and listen on 127.0.0.1 only. Every
loop is a fixed count of requests. See bench/README.md for what each workload does.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from common.facts import REPO, cpu_count, cpu_model, git_revision, log, memory, package_version
from common.markdown import write_section
from common.venvs import VENVS
from tracking import report, servers, workloads
from tracking.clients import MlflowTracker, ModelPlaneTracker, Tracker
from tracking.report import BackendRun, SystemRun
from tracking.servers import RunData
from tracking.workloads import Result, Sample

DEFAULT_MLFLOW = "mlflow==3.17.*"
SEARCH_ROUND = 10  # searches per interleaved round


@dataclass(frozen=True)
class Plan:
    """How much of each workload to run."""

    reps: int
    metrics_total: int
    single_calls: int
    single_reps: int
    clients: int
    concurrent_batches: int
    concurrent_reps: int
    search_sizes: tuple[int, ...]
    http_runs: int  # the first runs are created over HTTP (and timed); the rest are bulk-loaded
    search_calls: int
    list_reps: dict[int, int]


FULL = Plan(
    reps=3,
    metrics_total=10_000,
    single_calls=500,
    single_reps=2,
    clients=8,
    concurrent_batches=5,
    concurrent_reps=2,
    search_sizes=(1_000, 10_000),
    http_runs=1_000,
    search_calls=50,
    list_reps={1_000: 5, 10_000: 3},
)
QUICK = Plan(
    reps=1,
    metrics_total=10_000,
    single_calls=200,
    single_reps=1,
    clients=8,
    concurrent_batches=2,
    concurrent_reps=1,
    search_sizes=(1_000,),
    http_runs=1_000,
    search_calls=20,
    list_reps={1_000: 2},
)


@dataclass
class Side:
    """One running system during a backend's benchmark."""

    tracker: Tracker
    client: httpx.Client
    run: SystemRun
    bulk: Callable[[str, list[RunData]], int]  # (experiment, runs) -> runs loaded
    logging: str = ""  # experiment ids
    search: str = ""


def interleave(sides: list[Side], rounds: int, key: str, unit: str, once: Callable[[Side], Sample]) -> None:
    """``rounds`` repetitions, alternating the systems (A B, B A, ...) so that a noisy neighbour on the
    machine hits both alike."""
    for number in range(rounds):
        for side in sides if number % 2 == 0 else sides[::-1]:
            side.run.results.setdefault(key, Result(unit=unit)).samples.append(once(side))
    for side in sides:
        result = side.run.results[key]
        extra = f", {result.errors} failed" if result.errors else ""
        log(
            f"    {side.run.system:>10}: {result.rate:>10,.1f} {unit}, p50 {result.p(50) * 1000:8.1f} ms, "
            f"p95 {result.p(95) * 1000:8.1f} ms{extra}"
        )


def warm_up(side: Side, tag: str) -> None:
    tracker, client = side.tracker, side.client
    warm = tracker.new_experiment(client, f"warm-up-{tag}")
    run_id = tracker.create_run(client, warm, "warm-up", [])
    for request in (
        tracker.encode_log_batch(run_id, [("loss", 1.0, 0, workloads.NOW_MS)], [("depth", "8")]),
        tracker.encode_log_metric(run_id, ("loss", 0.5, 1, workloads.NOW_MS)),
        tracker.encode_search(warm, workloads.SEARCH_FILTER, workloads.SEARCH_ORDER, 10, None),
    ):
        tracker.post(client, request)
    side.logging = tracker.new_experiment(client, f"logging-{tag}")
    side.search = tracker.new_experiment(client, f"search-{tag}")


def bench_backend(sides: list[Side], plan: Plan, backend: servers.Backend) -> None:
    """Every workload, in a fixed order, each interleaved across the systems."""
    tag = uuid.uuid4().hex[:8]
    for side in sides:
        warm_up(side, tag)
    total = plan.metrics_total
    for per_request in (1000, 100):
        log(f"  log-batch {total:,} metrics at {per_request}/request, x{plan.reps}")

        def batch(s: Side, n: int = per_request) -> Sample:
            return workloads.log_batch(s.tracker, s.client, s.logging, total, n)

        interleave(sides, plan.reps, f"batch_{per_request}", "metrics/s", batch)
    log(f"  {plan.single_calls} single-metric calls, x{plan.single_reps}")
    interleave(
        sides,
        plan.single_reps,
        "single",
        "calls/s",
        lambda s: workloads.single_metric(s.tracker, s.client, s.logging, plan.single_calls),
    )
    log(f"  {plan.clients} clients x {plan.concurrent_batches} log-batch calls of 1000, x{plan.concurrent_reps}")
    interleave(
        sides,
        plan.concurrent_reps,
        "concurrent",
        "metrics/s",
        lambda s: workloads.concurrent_log_batch(s.tracker, s.logging, plan.clients, plan.concurrent_batches, 1000),
    )
    have = 0
    for size in plan.search_sizes:
        http_until = min(size, plan.http_runs)
        if have < http_until:
            log(f"  create runs {have:,}..{http_until:,} over HTTP ({plan.clients} clients)")

            def seed(s: Side, first: int = have, count: int = http_until - have) -> Sample:
                return workloads.seed_runs(s.tracker, s.search, first, count, plan.clients)

            interleave(sides, 1, f"seed_{http_until}", "runs/s", seed)
            have = http_until
        if have < size:
            runs = [(f"run-{i:05d}", *workloads.run_data(i)) for i in range(have, size)]
            for side in sides:
                started = time.monotonic()
                loaded = side.bulk(side.search, runs)
                log(f"  {side.run.system}: bulk-loaded runs {have:,}..{size:,} in {time.monotonic() - started:.1f} s")
                side.run.checks[f"bulk-loaded runs {have:,}..{size:,}"] = loaded
            have = size
            servers.analyze(backend)
        for side in sides:
            expected = workloads.expected_matches(size)
            side.run.checks[f"filter matches at {size:,} runs (expected {expected:,})"] = workloads.count_matches(
                side.tracker, side.client, side.search
            )
        rounds = max(1, plan.search_calls // SEARCH_ROUND)
        log(f"  filtered search at {size:,} runs: {rounds} x {SEARCH_ROUND} calls")
        interleave(
            sides,
            rounds,
            f"search_{size}",
            "searches/s",
            lambda s: workloads.filtered_search(s.tracker, s.client, s.search, SEARCH_ROUND),
        )
        reps = plan.list_reps.get(size, 1)
        log(f"  unfiltered list of {size:,} runs, x{reps}")

        def listing(side: Side, size: int = size) -> Sample:
            sample, seen = workloads.list_all(side.tracker, side.client, side.search)
            side.run.checks[f"runs listed of {size:,}"] = seen
            return sample

        interleave(sides, reps, f"list_{size}", "listings/s", listing)


def machine_facts(
    mlflow_version: str, backends: list[BackendRun], workers: int, revision: str
) -> list[tuple[str, str]]:
    libs = ", ".join(f"{p} {package_version(p)}" for p in ("fastapi", "uvicorn", "sqlalchemy", "aiosqlite", "psycopg"))
    return [
        ("date", time.strftime("%Y-%m-%d %H:%M %Z")),
        ("CPU", f"{cpu_count()} cores (nproc), {cpu_model()}"),
        ("memory", memory()),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("ModelPlane", f"{package_version('modelplane')} at {revision}; {libs}"),
        ("MLflow", f"{mlflow_version} (own virtualenv; job execution off)"),
        ("backends", "; ".join(f"{b.backend}: {b.backend_version}" for b in backends)),
        ("server processes", f"{workers} uvicorn workers each; the client runs on the same machine"),
    ]


@contextlib.contextmanager
def backend_context(name: str, workdir: Path) -> Iterator[servers.Backend]:
    if name == "sqlite":
        yield servers.sqlite_backend(workdir)
    else:
        with servers.postgres_backend() as backend:
            yield backend


def start(
    system: str, backend: servers.Backend, workdir: Path, workers: int, mlflow_python: Path
) -> contextlib.AbstractContextManager[servers.Running]:
    if system == "modelplane":
        return servers.modelplane_server(backend, workdir, workers)
    if system == "mlflow":
        return servers.mlflow_server(backend, workdir, workers, mlflow_python)
    raise SystemExit(f"unknown system {system!r}: modelplane or mlflow")


def bulk_loader(
    system: str, backend: servers.Backend, workdir: Path, mlflow_python: Path
) -> Callable[[str, list[RunData]], int]:
    def load(experiment: str, runs: list[RunData]) -> int:
        if system == "modelplane":
            return servers.bulk_load_modelplane(backend, experiment, runs)
        return servers.bulk_load_mlflow(backend, workdir, mlflow_python, experiment, runs)

    return load


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="SQLite only, 1k runs, one repetition (~3 min)")
    parser.add_argument("--backends", help="comma-separated: sqlite,postgres (default: both; --quick: sqlite)")
    parser.add_argument("--systems", default="modelplane,mlflow", help="comma-separated: modelplane,mlflow")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="server worker processes")
    parser.add_argument("--mlflow", default=DEFAULT_MLFLOW, help=f"pip spec of the peer (default {DEFAULT_MLFLOW})")
    parser.add_argument("--venvs", type=Path, default=VENVS, help="where the peer's virtualenv is kept")
    parser.add_argument("--fresh-venv", action="store_true", help="reinstall the peer's virtualenv")
    parser.add_argument("--output", type=Path, help="markdown to update (default: docs/benchmarks.md; --quick: none)")
    parser.add_argument("--sizes", help="run counts to search at, e.g. 1000,10000 (default: 1000,10000; --quick: 1000)")
    parser.add_argument("--http-runs", type=int, help="runs created over HTTP before bulk loading (default 1000)")
    parser.add_argument("--json", type=Path, help="also write the raw results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (databases, server logs)")
    return parser.parse_args(argv)


def run_backends(args: argparse.Namespace, plan: Plan, mlflow_python: Path, mlflow_version: str) -> list[BackendRun]:
    """Per backend: start every system on it, run the workloads interleaved, stop everything."""
    backends = (args.backends or ("sqlite" if args.quick else "sqlite,postgres")).split(",")
    workdir = Path(tempfile.mkdtemp(prefix="modelplane-bench-"))
    runs: list[BackendRun] = []
    try:
        for backend_name in backends:
            with backend_context(backend_name, workdir) as backend, contextlib.ExitStack() as stack:
                log(f"backend {backend.name}: {backend.version}")
                backend_run = BackendRun(backend.name, backend.version)
                runs.append(backend_run)
                sides: list[Side] = []
                for system in args.systems.split(","):
                    running = stack.enter_context(start(system, backend, workdir, args.workers, mlflow_python))
                    log(f"{system} on {backend.name}: ready in {running.startup_seconds:.1f} s")
                    tracker: Tracker = (
                        ModelPlaneTracker(running.base_url, running.token, servers.NAMESPACE)
                        if system == "modelplane"
                        else MlflowTracker(running.base_url)
                    )
                    version = package_version("modelplane") if system == "modelplane" else mlflow_version
                    system_run = SystemRun(system, version, running.startup_seconds)
                    backend_run.systems[system] = system_run
                    bulk = bulk_loader(system, backend, workdir, mlflow_python)
                    sides.append(Side(tracker, stack.enter_context(tracker.session()), system_run, bulk))
                bench_backend(sides, plan, backend)
    finally:
        if args.keep:
            log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return runs


def raw_results(runs: list[BackendRun]) -> dict[str, object]:
    return {
        b.backend: {
            name: {
                "version": s.version,
                "startup_seconds": s.startup_seconds,
                "checks": s.checks,
                "results": {k: r.as_json() for k, r in s.results.items()},
            }
            for name, s in b.systems.items()
        }
        for b in runs
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.sizes:
        plan = dataclasses.replace(plan, search_sizes=tuple(int(n) for n in args.sizes.split(",")))
    if args.http_runs is not None:
        plan = dataclasses.replace(plan, http_runs=args.http_runs)
    output = args.output or (None if args.quick else REPO / "docs" / "benchmarks.md")
    command = shlex.join(["python", "bench/tracking/run.py", *(argv if argv is not None else sys.argv[1:])])
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    revision = git_revision("services/")  # at the start: the servers run the code as it is now
    mlflow_python, mlflow_version = Path(), "not run"
    if "mlflow" in args.systems.split(","):
        log(f"peer virtualenv: {args.mlflow}")
        mlflow_python, mlflow_version = servers.mlflow_venv(args.venvs, args.mlflow, args.fresh_venv)
        log(f"  MLflow {mlflow_version} at {mlflow_python.parent.parent}")
    runs = run_backends(args, plan, mlflow_python, mlflow_version)
    notes = [
        f"Repetitions, alternating the systems (A B, B A, ...): log-batch x{plan.reps}, single-metric "
        f"x{plan.single_reps} (median throughput; latency percentiles over all requests), concurrent "
        f"x{plan.concurrent_reps}, "
        f"{plan.search_calls} searches per size in rounds of {SEARCH_ROUND}, full listings "
        + ", ".join(f"x{n} at {s:,}" for s, n in plan.list_reps.items())
        + ".",
        f"Concurrent: {plan.clients} threads, each with its own connection and run, {plan.concurrent_batches} "
        "log-batch calls of 1000 metrics each; throughput = accepted metrics / wall time.",
        "ModelPlane vs MLflow: how many times better ModelPlane is (throughput ModelPlane/MLflow, latency "
        "MLflow/ModelPlane).",
        f"Whole run: {(time.monotonic() - started) / 60:.1f} min; 1-min load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after (anything above the benchmark's own load is other work on the machine).",
    ]
    facts = machine_facts(mlflow_version, runs, args.workers, revision)
    text = report.section(runs, command, facts, plan.clients, list(plan.search_sizes), notes)
    print(text)
    if output is not None:
        write_section(output, text, report.BEGIN, report.END)
        log(f"wrote {output}")
    if args.json is not None:
        args.json.write_text(json.dumps(raw_results(runs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
