"""Operator benchmark: apply -> child Job latency, steady state for many TrainingRuns, operator memory.

On the real API-server tier of the tests (envtest: etcd + kube-apiserver on 127.0.0.1, from
``make test-bin``), with the real operator as its own process under its restricted identity and a live
control plane (SQLite, served in this process). envtest has no Job controller, so Jobs are created and
never run: what is measured is the operator's reconcile path up to the child Job.

Phases (one namespace, one Dataset made Ready first, as the cluster tests do):

1. latency: ``--latency-runs`` TrainingRuns applied one at a time; for each, the time from the create
   call to the moment a watch on Jobs sees its Job (p50/p95/max);
2. steady state: ``--steady-runs`` more TrainingRuns created by 8 threads as fast as the API server
   takes them; the time from the first create until every one has its Job;
3. memory: the operator's VmRSS (``/proc/<pid>/status``) after start, after each phase, and after a
   settle period.

Every loop is bounded; envtest, the control plane and the operator are always stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from cluster.operator_support import complete_job, has_condition, jobs_path, path  # noqa: E402
from harness.cluster import crd_documents, install_crds, operator_identity, temporary_namespace  # noqa: E402
from harness.control_plane import ADMIN_TOKEN, make_settings, serve  # noqa: E402
from harness.envtest import envtest  # noqa: E402
from harness.kubeapi import KubeClient, _http_client  # noqa: E402
from harness.operator_process import run_operator  # noqa: E402

OPERATOR_MODULE = "modelplane.operator.main"
WATCHING = ("datasets.v1alpha1.modelplane.io", "trainingruns.v1alpha1.modelplane.io", "jobs.v1.batch")
RUN_LABEL = "modelplane.io/training-run"
DATASET_DIGEST = "sha256:" + "5e" * 32


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class JobWatch:
    """A watch on the namespace's Jobs: the first time each TrainingRun's Job is seen."""

    def __init__(self, client: KubeClient, namespace: str) -> None:
        self._http = _http_client(client.connection, timeout=None)  # type: ignore[arg-type]
        self.namespace = namespace
        self.seen: dict[str, float] = {}
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        listed = client.get(jobs_path(namespace))
        self._rv = listed["metadata"]["resourceVersion"]
        self._thread = threading.Thread(target=self._loop, name="job-watch", daemon=True)
        self._thread.start()

    def event(self, run: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(run, threading.Event())

    def count(self) -> int:
        with self._lock:
            return len(self.seen)

    def _loop(self) -> None:
        while not self._stop.is_set():
            params = {"watch": "1", "resourceVersion": self._rv, "allowWatchBookmarks": "true", "timeoutSeconds": "30"}
            try:
                with self._http.stream("GET", jobs_path(self.namespace), params=params) as response:
                    for line in response.iter_lines():
                        if self._stop.is_set():
                            return
                        if not line:
                            continue
                        now = time.perf_counter()
                        event = json.loads(line)
                        obj = event.get("object") or {}
                        self._rv = (obj.get("metadata") or {}).get("resourceVersion", self._rv)
                        if event.get("type") != "ADDED":
                            continue
                        run = ((obj.get("metadata") or {}).get("labels") or {}).get(RUN_LABEL)
                        if run is None:
                            continue
                        with self._lock:
                            self.seen.setdefault(run, now)
                            self._events.setdefault(run, threading.Event()).set()
            except Exception:  # a dropped watch is re-opened from the last resourceVersion
                if not self._stop.is_set():
                    time.sleep(0.1)

    def close(self) -> None:
        self._stop.set()
        self._http.close()
        self._thread.join(timeout=5)


def training_run(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": name},
        "spec": {
            "datasetRef": {"name": "iris"},
            "trainer": {"builtin": {"estimator": "RandomForestClassifier"}},
            "hyperparameters": {"n_estimators": 20},
            "seed": 7,
        },
    }


def make_dataset_ready(kube: KubeClient, cp: Any, ns: str, alive: Any) -> None:
    """Apply the Dataset, play its ingest job (record a version, complete the Job), wait until Ready."""
    body = {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "iris"},
        "spec": {"source": {"http": {"url": "https://example.com/iris.csv"}}, "schema": {"targetColumn": "species"}},
    }
    kube.create(path("datasets", ns), body)
    jobs = kube.wait_for(
        jobs_path(ns) + "?labelSelector=modelplane.io/dataset=iris",
        lambda listed: len(listed["items"]) == 1,
        alive=alive,
        timeout=60,
    )
    version = {
        "digest": DATASET_DIGEST,
        "rows": 150,
        "columns": 5,
        "artifacts": {"train": "s3://mp/train.parquet", "validation": "s3://mp/val.parquet"},
        "profile_uri": "s3://mp/profile.json",
    }
    response = cp.post(f"/api/v1/namespaces/{ns}/datasets/iris/versions", json=version)
    response.raise_for_status()
    complete_job(kube, ns, jobs["items"][0]["metadata"]["name"])
    kube.wait_for(path("datasets", ns, "iris"), has_condition("Ready", "True"), alive=alive, timeout=60)


def machine_facts() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def measure(
    args: argparse.Namespace,
    kube: KubeClient,
    ns: str,
    watch: JobWatch,
    pid: int,
    alive: Any,
    results: dict[str, Any],
    rss: dict[str, int],
) -> None:
    """The two timed phases and the memory readings around them."""
    # 1. latency: one TrainingRun at a time.
    latencies: list[float] = []
    for i in range(args.latency_runs):
        name = f"lat-{i:05d}"
        done = watch.event(name)
        start = time.perf_counter()
        kube.create(path("trainingruns", ns), training_run(name))
        if not done.wait(timeout=30):
            alive()
            raise TimeoutError(f"no Job for {name} in 30 s")
        latencies.append((watch.seen[name] - start) * 1000)
    rss[f"after_{args.latency_runs}"] = rss_kib(pid)
    results["latency_ms"] = {
        "p50": round(statistics.median(latencies), 1),
        "p95": round(percentile(latencies, 0.95), 1),
        "max": round(max(latencies), 1),
        "mean": round(statistics.fmean(latencies), 1),
    }
    print("latency (ms):", results["latency_ms"], flush=True)

    # 2. steady state: many at once, by 8 threads.
    names = [f"ss-{i:05d}" for i in range(args.steady_runs)]
    before = watch.count()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: kube.create(path("trainingruns", ns), training_run(n)), names))
    created = time.perf_counter() - start
    deadline = time.monotonic() + args.steady_timeout
    while watch.count() < before + len(names) and time.monotonic() < deadline:
        alive()
        time.sleep(0.05)
    have = sum(1 for n in names if n in watch.seen)
    last = max((watch.seen[n] for n in names if n in watch.seen), default=start)
    results["steady_state"] = {
        "runs": len(names),
        "with_job": have,
        "create_s": round(created, 2),
        "all_jobs_s": round(last - start, 2) if have == len(names) else None,
    }
    print("steady state:", results["steady_state"], flush=True)
    total = args.latency_runs + args.steady_runs
    rss[f"after_{total}"] = rss_kib(pid)
    time.sleep(args.settle)
    rss[f"after_{total}_settled_{args.settle:.0f}s"] = rss_kib(pid)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    from modelplane.api.db.migrate import upgrade

    results: dict[str, Any] = {"machine": machine_facts(), "latency_runs": args.latency_runs}
    results["steady_runs"] = args.steady_runs
    rss: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="mp-bench-operator-") as tmp:
        work = Path(tmp)
        db_url = f"sqlite+aiosqlite:///{work / 'modelplane.db'}"
        upgrade(db_url)
        with envtest() as env, KubeClient(str(env.kubeconfig)) as kube:
            results["kube_apiserver"] = kube.get("/version").get("gitVersion")
            install_crds(kube, crd_documents())
            identity = operator_identity(kube, work)
            with (
                temporary_namespace(kube, prefix="mp-bench") as ns,
                serve(make_settings(db_url, work / "artifacts")) as live,
                httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10) as cp,
            ):
                os.environ.update(
                    MODELPLANE_OPERATOR_API_URL=live.url,
                    MODELPLANE_OPERATOR_JOBS_API_URL="http://modelplane-api.modelplane-system.svc:8080",
                    MODELPLANE_OPERATOR_API_TOKEN=ADMIN_TOKEN,
                )
                with run_operator(
                    OPERATOR_MODULE,
                    module=True,
                    kubeconfig=identity.kubeconfig,
                    log_path=work / "operator.log",
                    namespaces=[ns],
                    watching=WATCHING,
                ) as operator:
                    pid = operator.process.pid
                    alive = operator.check_running
                    make_dataset_ready(kube, cp, ns, alive)
                    rss["started"] = rss_kib(pid)
                    watch = JobWatch(kube, ns)
                    try:
                        measure(args, kube, ns, watch, pid, alive, results, rss)
                        jobs = kube.get(jobs_path(ns), labelSelector=RUN_LABEL)["items"]
                        results["jobs_total"] = len(jobs)
                        runs = {j["metadata"]["labels"][RUN_LABEL] for j in jobs}
                        results["duplicate_jobs"] = len(jobs) - len(runs)
                        results["operator_errors"] = operator.output().count("Traceback")
                    finally:
                        watch.close()
                        if args.operator_log:
                            args.operator_log.write_text(operator.output())
    results["rss_kib"] = rss
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="50 latency runs, 200 for steady state")
    parser.add_argument("--latency-runs", type=int, default=None, help="default 200 (--quick 50)")
    parser.add_argument("--steady-runs", type=int, default=None, help="default 1000 (--quick 200)")
    parser.add_argument("--steady-timeout", type=float, default=180.0, help="give up after this many seconds")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before the last RSS reading")
    parser.add_argument("--operator-log", type=Path, default=None, help="copy the operator's log here")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    if args.latency_runs is None:
        args.latency_runs = 50 if args.quick else 200
    if args.steady_runs is None:
        args.steady_runs = 200 if args.quick else 1000
    results = run(args)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
