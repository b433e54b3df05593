"""Operator benchmark: apply -> child Job latency, steady state for many TrainingRuns, finishing them, memory.

On the real API-server tier of the tests (envtest: etcd + kube-apiserver on 127.0.0.1, from
``make test-bin``), with the real operator as its own process under its restricted identity and a live
control plane (SQLite, served in this process). envtest has no Job controller and no kubelet: Jobs are
created and never run unless the benchmark plays the Job controller, as the cluster tests do.

Phases (one namespace, one Dataset made Ready first, as the cluster tests do):

1. latency: ``--latency-runs`` TrainingRuns applied one at a time; for each, the time from the create
   call to the moment a watch on Jobs sees its Job (p50/p95/max); then finish them: for each, record its
   run in the control plane (Succeeded) and mark its Job complete (the Job controller's status patch);
   wait until every run is ``Succeeded=True``; settle; RSS "N finished";
2. waves: ``--waves`` more waves of ``--wave-size`` runs, each created at once and finished before the
   next, so finished runs pile up while unfinished ones never do; settle; RSS "N + W x S finished" (the
   memory of finished runs, without the peak of many unfinished ones in between);
3. steady state: ``--steady-runs`` more TrainingRuns created by 8 threads as fast as the API server takes
   them; the time from the first create until every one has its Job; then finish them the same way.

Every phase reports the operator's CPU seconds (``/proc/<pid>/stat``) and the API server's requests by
verb and resource (its ``apiserver_request_total``, less the benchmark's own). Every loop is bounded;
envtest, the control plane and the operator are always stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from probes import Requests, Watch, cpu_seconds, machine_facts, percentile, rss_kib  # noqa: E402

from cluster.operator_support import (  # noqa: E402
    DATASET_DIGEST,
    OPERATOR_MODULE,
    WATCHING,
    has_condition,
    jobs_path,
    make_dataset_ready,
    now,
    path,
    training_run,
)
from harness.cluster import (  # noqa: E402
    OPERATOR_CLUSTER_ROLE,
    TEST_FIELD_MANAGER,
    crd_documents,
    install_crds,
    operator_identity,
    temporary_namespace,
)
from harness.control_plane import ADMIN_TOKEN, make_settings, serve  # noqa: E402
from harness.envtest import envtest  # noqa: E402
from harness.kubeapi import KubeClient  # noqa: E402
from harness.operator_process import run_operator  # noqa: E402

RUN_LABEL = "modelplane.io/training-run"
RUN_ID = "modelplane.io/run-id"
THREADS = 8


CHART_RBAC = REPO / "helm" / "modelplane" / "files" / "operator-rbac.yaml"


def grant_chart_rbac(kube: KubeClient) -> None:
    """Give the operator's identity the Helm chart's rules: the permissions it ships with, every kind's included."""
    import yaml

    document = yaml.safe_load(CHART_RBAC.read_text(encoding="utf-8"))
    rules = [
        {k: v for k, v in rule.items() if k != "why"}
        for rule in [*document.get("clusterRules", []), *document.get("namespacedRules", [])]
    ]
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": OPERATOR_CLUSTER_ROLE},
        "rules": rules,
    }
    path_ = f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{OPERATOR_CLUSTER_ROLE}"
    kube.apply(path_, role, field_manager=TEST_FIELD_MANAGER, force=True)


class Session:
    """One benchmark session: the clients, the operator's pid, the watches, and what was measured so far."""

    def __init__(self, args: argparse.Namespace, kube: KubeClient, cp: Any, ns: str, pid: int, alive: Any) -> None:
        self.args, self.kube, self.cp, self.ns, self.pid, self.alive = args, kube, cp, ns, pid, alive
        self.requests = Requests(kube)
        self.jobs = Watch(kube, jobs_path(ns), key=lambda o: _labels(o).get(RUN_LABEL), want=lambda o: True)
        self.done = Watch(kube, path("trainingruns", ns), key=_name, want=has_condition("Succeeded", "True"))
        self.results: dict[str, Any] = {}
        self.rss: dict[str, int] = {}

    def close(self) -> None:
        self.jobs.close()
        self.done.close()

    def wait(self, watch: Watch, names: list[str], timeout: float) -> float | None:
        """Seconds until every name is in ``watch`` (from its first create), None on timeout."""
        deadline = time.monotonic() + timeout
        wanted = set(names)
        while watch.count(wanted) < len(wanted) and time.monotonic() < deadline:
            self.alive()
            time.sleep(0.05)
        return None if watch.count(wanted) < len(wanted) else max(watch.seen[n] for n in names)

    def phase(self, label: str, objects: int, own: Counter[str], body: Callable[[], dict[str, Any]]) -> None:
        """Run ``body`` and record its figures with the operator's CPU and API requests per object."""
        before, cpu = self.requests.snapshot(), cpu_seconds(self.pid)
        figures = body()
        figures["operator_cpu_ms_per_run"] = round((cpu_seconds(self.pid) - cpu) * 1000 / max(objects, 1), 1)
        figures["api_requests_per_run"] = Requests.per_object(before, self.requests.snapshot(), own, max(objects, 1))
        self.results[label] = figures
        print(f"{label}:", json.dumps(figures), flush=True)

    def act_then_wait(
        self, act: Callable[[list[str]], None], names: list[str], watch: Watch
    ) -> tuple[float, float | None]:
        """``act(names)``, then wait until every name is in ``watch``: the seconds ``act`` took, and the seconds
        from its start until the last name was seen (None on timeout)."""
        start = time.perf_counter()
        act(names)
        acted = time.perf_counter() - start
        last = self.wait(watch, names, self.args.steady_timeout)
        return acted, (last - start if last is not None else None)

    def create(self, names: list[str]) -> None:
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            list(pool.map(lambda n: self.kube.create(path("trainingruns", self.ns), training_run(n)), names))

    def control_plane(self, method: str, url: str, body: dict[str, Any]) -> None:
        """One control-plane call; a 503 (SQLite busy under 8 writers) or a dropped keep-alive connection is retried."""
        import httpx

        for _ in range(20):
            try:
                response = self.cp.request(method, url, json=body)
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            if response.status_code != 503:
                response.raise_for_status()
                return
            time.sleep(min(float(response.headers.get("Retry-After") or 1), 1.0))
        raise RuntimeError(f"{method} {url}: the control plane did not answer in 20 attempts")

    def finish(self, names: list[str]) -> None:
        """Play each run's job: record it in the control plane, then the Job controller's completion."""

        def one(name: str) -> None:
            job = self.jobs.objects[name]
            run_id = job["metadata"]["annotations"][RUN_ID]
            body = {"experiment": name, "run_id": run_id, "dataset_digest": DATASET_DIGEST, "seed": 7}
            self.control_plane("POST", f"/api/v1/namespaces/{self.ns}/runs", body)
            done = {"status": "Succeeded", "artifact_uri": f"s3://mp/models/{run_id}"}
            self.control_plane("PATCH", f"/api/v1/runs/{run_id}", done)
            finished = now()
            conditions = [
                {"type": t, "status": "True", "reason": "CompletionsReached", "lastTransitionTime": finished}
                for t in ("SuccessCriteriaMet", "Complete")
            ]
            status = {"startTime": finished, "completionTime": finished, "active": 0, "succeeded": 1}
            self.kube.patch(
                jobs_path(self.ns, job["metadata"]["name"], "status"), {"status": {**status, "conditions": conditions}}
            )

        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            list(pool.map(one, names))


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _name(obj: dict[str, Any]) -> str | None:
    return (obj.get("metadata") or {}).get("name")


def latency_phase(session: Session, names: list[str]) -> dict[str, Any]:
    latencies: list[float] = []
    for name in names:
        seen = session.jobs.event(name)
        start = time.perf_counter()
        session.kube.create(path("trainingruns", session.ns), training_run(name))
        if not seen.wait(timeout=30):
            session.alive()
            raise TimeoutError(f"no Job for {name} in 30 s")
        latencies.append((session.jobs.seen[name] - start) * 1000)
    return {
        "runs": len(names),
        "apply_to_job_ms": {
            "p50": round(statistics.median(latencies), 1),
            "p95": round(percentile(latencies, 0.95), 1),
            "max": round(max(latencies), 1),
            "mean": round(statistics.fmean(latencies), 1),
        },
    }


def _rounded(seconds: float | None) -> float | None:
    return round(seconds, 2) if seconds is not None else None


def steady_phase(session: Session, names: list[str]) -> dict[str, Any]:
    created, all_jobs = session.act_then_wait(session.create, names, session.jobs)
    return {
        "runs": len(names),
        "with_job": session.jobs.count(set(names)),
        "create_s": _rounded(created),
        "all_jobs_s": _rounded(all_jobs),
    }


def finish_phase(session: Session, names: list[str]) -> dict[str, Any]:
    played, all_succeeded = session.act_then_wait(session.finish, names, session.done)
    return {
        "runs": len(names),
        "succeeded": session.done.count(set(names)),
        "jobs_completed_s": _rounded(played),
        "all_succeeded_s": _rounded(all_succeeded),
    }


def waves_phase(session: Session, waves: list[list[str]]) -> dict[str, Any]:
    """Runs created a wave at a time and finished before the next: finished runs pile up, unfinished ones do not."""
    rss: list[int] = []
    seconds: list[float] = []
    for names in waves:
        start = time.perf_counter()
        if session.act_then_wait(session.create, names, session.jobs)[1] is None:
            raise TimeoutError(f"a wave of {len(names)} runs did not get its Jobs")
        if session.act_then_wait(session.finish, names, session.done)[1] is None:
            raise TimeoutError(f"a wave of {len(names)} runs did not succeed")
        seconds.append(round(time.perf_counter() - start, 2))
        rss.append(rss_kib(session.pid))
    return {"waves": len(waves), "runs_per_wave": len(waves[0]) if waves else 0, "wave_s": seconds, "rss_kib": rss}


def measure(session: Session) -> None:
    args = session.args

    def record_rss(label: str, settle: bool = True) -> None:
        """The operator's RSS now, after ``--settle`` seconds unless ``settle`` is off."""
        if settle:
            time.sleep(args.settle)
        session.rss[label] = rss_kib(session.pid)

    record_rss("started", settle=False)
    first = [f"lat-{i:05d}" for i in range(args.latency_runs)]
    session.phase(
        "latency", len(first), Counter({"POST trainingruns": len(first)}), lambda: latency_phase(session, first)
    )
    finish_own = Counter({"PATCH jobs/status": len(first)})
    session.phase("finish_latency_runs", len(first), finish_own, lambda: finish_phase(session, first))
    finished = len(first)
    record_rss(f"{finished}_finished")

    waves = [[f"w{w:02d}-{i:05d}" for i in range(args.wave_size)] for w in range(1, args.waves + 1)]
    count = sum(len(w) for w in waves)
    own = Counter({"POST trainingruns": count, "PATCH jobs/status": count})
    session.phase("waves", count, own, lambda: waves_phase(session, waves))
    finished += count
    record_rss(f"{finished}_finished")

    many = [f"ss-{i:05d}" for i in range(args.steady_runs)]
    session.phase(
        "steady_state", len(many), Counter({"POST trainingruns": len(many)}), lambda: steady_phase(session, many)
    )
    record_rss(f"{finished}_finished_{len(many)}_unfinished", settle=False)
    if args.no_finish or session.jobs.count(set(many)) < len(many):
        return
    finish_own = Counter({"PATCH jobs/status": len(many)})
    session.phase("finish_steady_runs", len(many), finish_own, lambda: finish_phase(session, many))
    record_rss(f"{finished + len(many)}_finished")


def run(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    from modelplane.api.db.migrate import upgrade

    results: dict[str, Any] = {"machine": machine_facts(), "latency_runs": args.latency_runs}
    results["steady_runs"] = args.steady_runs
    with tempfile.TemporaryDirectory(prefix="mp-bench-operator-") as tmp:
        work = Path(tmp)
        db_url = f"sqlite+aiosqlite:///{work / 'modelplane.db'}"
        upgrade(db_url)
        with envtest() as env, KubeClient(str(env.kubeconfig)) as kube:
            results["kube_apiserver"] = kube.get("/version").get("gitVersion")
            install_crds(kube, crd_documents())
            identity = operator_identity(kube, work)
            grant_chart_rbac(kube)
            with (
                temporary_namespace(kube, prefix="mp-bench") as ns,
                serve(make_settings(db_url, work / "artifacts")) as live,
                httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30) as cp,
            ):
                os.environ.update(
                    MODELPLANE_OPERATOR_API_URL=live.url,
                    MODELPLANE_OPERATOR_JOBS_API_URL="http://modelplane-api.modelplane-system.svc:8080",
                    MODELPLANE_OPERATOR_API_TOKEN=ADMIN_TOKEN,
                )
                with run_operator(
                    args.operator_file or OPERATOR_MODULE,
                    module=args.operator_file is None,
                    kubeconfig=identity.kubeconfig,
                    log_path=work / "operator.log",
                    namespaces=[ns],
                    watching=WATCHING,
                ) as operator:
                    alive = operator.check_running
                    make_dataset_ready(kube, cp, ns, operator, timeout=60)
                    session = Session(args, kube, cp, ns, operator.process.pid, alive)
                    try:
                        measure(session)
                        jobs = kube.get(jobs_path(ns), labelSelector=RUN_LABEL)["items"]
                        results["jobs_total"] = len(jobs)
                        runs = {j["metadata"]["labels"][RUN_LABEL] for j in jobs}
                        results["duplicate_jobs"] = len(jobs) - len(runs)
                        results["operator_errors"] = operator.output().count("Traceback")
                    finally:
                        session.close()
                        results.update(session.results)
                        results["rss_kib"] = session.rss
                        if args.operator_log:
                            args.operator_log.write_text(operator.output())
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="50 latency runs, 3 waves of 50, 200 at once")
    parser.add_argument("--latency-runs", type=int, default=None, help="default 100 (--quick 50)")
    parser.add_argument("--waves", type=int, default=None, help="waves after the latency runs: default 9 (--quick 3)")
    parser.add_argument("--wave-size", type=int, default=None, help="runs per wave: default 100 (--quick 50)")
    parser.add_argument("--steady-runs", type=int, default=None, help="default 1000 (--quick 200)")
    parser.add_argument("--steady-timeout", type=float, default=180.0, help="give up a phase after this many seconds")
    parser.add_argument("--no-finish", action="store_true", help="leave the steady-state runs unfinished")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before each finished-runs RSS reading")
    parser.add_argument("--operator-log", type=Path, default=None, help="copy the operator's log here")
    parser.add_argument("--operator-file", type=Path, default=None, help="run this operator file (diagnostics)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    if args.latency_runs is None:
        args.latency_runs = 50 if args.quick else 100
    if args.steady_runs is None:
        args.steady_runs = 200 if args.quick else 1000
    if args.waves is None:
        args.waves = 3 if args.quick else 9
    if args.wave_size is None:
        args.wave_size = 50 if args.quick else 100
    results = run(args)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
