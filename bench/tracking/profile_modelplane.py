"""Where ModelPlane's server spends its time in one tracking workload, sampled with py-spy.

    python bench/tracking/profile_modelplane.py batch      # log-batch, 1000 metrics per request
    python bench/tracking/profile_modelplane.py single     # one metric per request
    python bench/tracking/profile_modelplane.py search --runs 10000

py-spy comes from PyPI into a throwaway virtualenv (``~/.cache/modelplane-bench/venvs/py-spy``). The
server runs with one uvicorn worker, so py-spy samples the process that does the work; the report
covers the event-loop thread (where FastAPI, pydantic and SQLAlchemy run) and names the share of its
samples under a few frames that matter (statement compilation, validation, auth, the driver). The
shares overlap (a frame and the frames under it); "idle" is the loop waiting (for the database or
the network).
Sampling slows the server down; compare shares, not absolute times.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from common.venvs import VENVS, virtualenv
from tracking import servers, workloads
from tracking.clients import ModelPlaneTracker

# (label, a frame substring): the share of event-loop samples with that frame on the stack
MARKERS = (
    ("FastAPI request handling (its SQLAlchemy calls run in greenlets, counted apart)", "get_request_handler"),
    ("body validation (pydantic, FastAPI)", "request_body_to_args"),
    ("dependencies: session, token lookup, sync deps in the threadpool", "solve_dependencies"),
    ("  token lookup (resolve_token; cached principals cost none)", "resolve_token"),
    ("  sync dependencies run in the threadpool", "run_in_threadpool"),
    ("service: log_batch", "log_batch (api/runs/service.py"),
    ("  metrics insert (insert_metrics)", "insert_metrics"),
    ("  building insert().values(rows)", "ValuesBase.values"),
    ("service: search", "search (api/runs/service.py"),
    ("  search query (search_runs)", "search_runs"),
    ("  params/tags/metrics of the page (_full_views)", "_full_views (api/runs/service.py"),
    ("  validating the page (TypeAdapter)", "TypeAdapter.validate_python"),
    ("SQLAlchemy statement compilation (cache misses)", "SQLCompiler.__init__"),
    ("SQLAlchemy ORM row loading", "loading.py"),
    ("driver calls (aiosqlite thread hand-off / psycopg)", "Connection._execute (aiosqlite"),
    ("response serialization", "serialize_response"),
    ("idle (event loop waiting)", "<idle>"),
)


def py_spy(venvs: Path) -> Path:
    binary = venvs / "py-spy" / "bin" / "py-spy"
    if not binary.exists():
        virtualenv(venvs, "py-spy", ["py-spy"])
    return binary


def _clean(frame: str) -> str:
    frame = re.sub(r" \(/[^)]*/(site-packages|python3\.\d+)/", " (", frame)
    frame = re.sub(r" \(/[^)]*/modelplane/", " (", frame)
    return re.sub(r":\d+\)$", ")", frame)


def summarize(raw: Path, top: int) -> str:
    """Shares of the event-loop thread's samples: the markers, then the heaviest frames."""
    inclusive: collections.Counter[str] = collections.Counter()
    marked: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = stack.split(";")
        if "MainThread" not in frames[0] or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        names = [_clean(f) for f in frames[1:]]
        if not names or names[-1].startswith(("Runner.run", "run_forever", "_run_once")):
            names.append("<idle>")
        for name in set(names):
            inclusive[name] += count
        for _, marker in MARKERS:
            if any(marker in name for name in names):
                marked[marker] += count
    if not total:
        return "no samples of the event-loop thread"
    lines = [f"event-loop thread: {total} samples", "", "| where | share |", "| --- | ---: |"]
    lines += [f"| {label} | {marked[marker] / total * 100:.0f}% |" for label, marker in MARKERS]
    lines += ["", "heaviest frames (inclusive):", ""]
    lines += [f"{count / total * 100:5.1f}%  {name[:140]}" for name, count in inclusive.most_common(top)]
    return "\n".join(lines)


def drive(tracker: ModelPlaneTracker, workload: str, requests: int, runs: int) -> str:
    with tracker.session() as client:
        experiment = f"profile-{int(time.time())}"
        if workload == "search":
            workloads.seed_runs(tracker, experiment, 0, min(runs, 200), 4)
            return experiment
        sample = (
            workloads.log_batch(tracker, client, experiment, requests * 1000, 1000)
            if workload == "batch"
            else workloads.single_metric(tracker, client, experiment, requests)
        )
        return f"{sample.rate:,.0f} {'metrics' if workload == 'batch' else 'calls'}/s while sampled"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=["batch", "single", "search"])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, help="requests to sample (default: batch 60, single 1500, search 200)")
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the database for `search`")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=40, help="heaviest frames to print")
    parser.add_argument("--venvs", type=Path, default=VENVS)
    args = parser.parse_args()
    requests = args.requests or {"batch": 60, "single": 1500, "search": 200}[args.workload]
    binary = py_spy(args.venvs)
    workdir = Path(tempfile.mkdtemp(prefix="modelplane-profile-"))
    try:
        with (
            servers.postgres_backend()
            if args.backend == "postgres"
            else contextlib.nullcontext(servers.sqlite_backend(workdir)) as backend,
            servers.modelplane_server(backend, workdir, workers=1) as running,
        ):
            tracker = ModelPlaneTracker(running.base_url, running.token, servers.NAMESPACE)
            experiment = ""
            if args.workload == "search":
                experiment = drive(tracker, "search", requests, args.runs)
                bulk = [(f"run-{i:05d}", *workloads.run_data(i)) for i in range(200, args.runs)]
                servers.bulk_load_modelplane(backend, experiment, bulk)
                servers.analyze(backend)
            raw = workdir / "py-spy.txt"
            argv = [str(binary), "record", "--pid", str(running.pid), "--rate", str(args.rate), "--threads"]
            spy = subprocess.Popen(
                [*argv, "--format", "raw", "--output", str(raw), "--nonblocking"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            time.sleep(2)
            try:
                if args.workload == "search":
                    with tracker.session() as client:
                        sample = workloads.filtered_search(tracker, client, experiment, requests)
                    outcome = f"search p50 {workloads.percentile(sample.latencies, 50) * 1000:.1f} ms while sampled"
                else:
                    outcome = drive(tracker, args.workload, requests, args.runs)
            finally:
                spy.send_signal(2)  # SIGINT: py-spy writes what it has and exits
                _, err = spy.communicate(timeout=60)
            if not raw.exists():
                print(err.decode(errors="replace"), file=sys.stderr)
                return 1
            print(f"{args.workload} on {args.backend}: {outcome}\n")
            print(summarize(raw, args.top))
    except httpx.HTTPError as error:
        print(f"request failed: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
