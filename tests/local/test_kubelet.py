"""The local kubelet runs Jobs and Deployments as real processes and reports like Kubernetes does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelplane.local.kubelet import URL_ANNOTATION, Kubelet
from modelplane.local.paths import LocalHome
from modelplane.local.store import ObjectStore

pytestmark = pytest.mark.local

SUCCEED = "import os; open(os.environ['MODELPLANE_RESULT_FILE'], 'w').write('{\"succeeded\": true}')"


def job(name: str, code: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "ml", "labels": spec.pop("labels", {})},
        "spec": {
            "backoffLimit": spec.pop("backoffLimit", 0),
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "main",
                            "image": "unused",
                            "command": ["python", "-c", code],
                            "env": [{"name": "MODELPLANE_RESULT_FILE", "value": "/dev/termination-log"}],
                        }
                    ],
                }
            },
            **spec,
        },
    }


@pytest.fixture
def home(tmp_path: Path) -> LocalHome:
    return LocalHome(tmp_path).ensure()


@pytest.fixture
def store(home: LocalHome) -> ObjectStore:
    return ObjectStore(home.objects_db)


async def until(kubelet: Kubelet, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await kubelet.sync()
        await asyncio.sleep(0.1)


def conditions(store: ObjectStore, kind: str, name: str) -> dict[str, str]:
    obj = store.get(kind, "ml", name) or {}
    return {
        c["type"]: c.get("reason", "")
        for c in (obj.get("status") or {}).get("conditions") or []
        if c.get("status") == "True"
    }


def pods(store: ObjectStore, job_name: str) -> list[dict[str, Any]]:
    return store.list("Pod", "ml", f"batch.kubernetes.io/job-name={job_name}")


async def test_a_job_completes_with_its_termination_message(home: LocalHome, store: ObjectStore) -> None:
    kubelet = Kubelet(home, store)
    store.apply(job("ok", SUCCEED))
    await until(kubelet, lambda: "Complete" in conditions(store, "Job", "ok"))
    (pod,) = pods(store, "ok")
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert pod["status"]["phase"] == "Succeeded"
    assert terminated["exitCode"] == 0
    assert json.loads(terminated["message"]) == {"succeeded": True}
    assert (store.get("Job", "ml", "ok") or {})["status"]["succeeded"] == 1


async def test_backoff_limit_retries_then_fails(home: LocalHome, store: ObjectStore) -> None:
    kubelet = Kubelet(home, store)
    store.apply(job("flaky", "raise SystemExit(1)", backoffLimit=1))
    await until(kubelet, lambda: "Failed" in conditions(store, "Job", "flaky"))
    assert conditions(store, "Job", "flaky")["Failed"] == "BackoffLimitExceeded"
    assert len(pods(store, "flaky")) == 2


async def test_pod_failure_policy_fails_at_once_on_a_permanent_exit_code(home: LocalHome, store: ObjectStore) -> None:
    kubelet = Kubelet(home, store)
    policy = {
        "rules": [{"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [2, 3]}}]
    }
    store.apply(job("bad", "raise SystemExit(3)", backoffLimit=5, podFailurePolicy=policy))
    await until(kubelet, lambda: "Failed" in conditions(store, "Job", "bad"))
    assert conditions(store, "Job", "bad")["Failed"] == "PodFailurePolicy"
    assert len(pods(store, "bad")) == 1


async def test_deadline_and_suspend(home: LocalHome, store: ObjectStore) -> None:
    kubelet = Kubelet(home, store)
    store.apply(job("slow", "import time; time.sleep(60)", activeDeadlineSeconds=1))
    store.apply(job("held", SUCCEED, suspend=True))
    await until(kubelet, lambda: "Failed" in conditions(store, "Job", "slow"))
    assert conditions(store, "Job", "slow")["Failed"] == "DeadlineExceeded"
    assert pods(store, "held") == []
    assert "Suspended" in conditions(store, "Job", "held")
    store.patch("Job", "ml", "held", {"spec": {"suspend": False}})
    await until(kubelet, lambda: "Complete" in conditions(store, "Job", "held"))
    await kubelet.shutdown()


async def test_a_queued_job_is_admitted_locally(home: LocalHome, store: ObjectStore) -> None:
    kubelet = Kubelet(home, store)
    store.apply(job("queued", SUCCEED, suspend=True, labels={"kueue.x-k8s.io/queue-name": "gpu"}))
    await until(kubelet, lambda: "Complete" in conditions(store, "Job", "queued"))


async def test_indexed_jobs_run_every_index(home: LocalHome, store: ObjectStore) -> None:
    kubelet = Kubelet(home, store)
    code = "import os; assert os.environ['JOB_COMPLETION_INDEX'] in ('0', '1')"
    store.apply(job("ranks", code, completionMode="Indexed", completions=2, parallelism=2))
    await until(kubelet, lambda: "Complete" in conditions(store, "Job", "ranks"))
    assert len(pods(store, "ranks")) == 2


IGNORE_DISRUPTIONS = {
    "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]
}


async def interrupt(home: LocalHome, store: ObjectStore, name: str) -> Kubelet:
    """Start the Job's pod, stop the kubelet (the daemon goes down), start a new one that recovers."""
    first = Kubelet(home, store)

    def running() -> bool:
        found = pods(store, name)
        return bool(found) and found[0]["status"]["phase"] == "Running"

    await until(first, running)
    await first.shutdown()
    second = Kubelet(home, store)
    await second.recover()
    return second


async def test_a_disruption_fails_a_job_without_a_policy(home: LocalHome, store: ObjectStore) -> None:
    store.apply(job("long", "import time; time.sleep(60)", backoffLimit=0))
    kubelet = await interrupt(home, store, "long")
    await until(kubelet, lambda: "Failed" in conditions(store, "Job", "long"))
    (pod,) = pods(store, "long")
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == ("Interrupted", 137)
    assert conditions(store, "Pod", pod["metadata"]["name"]) == {"DisruptionTarget": "TerminationByKubelet"}
    assert conditions(store, "Job", "long")["Failed"] == "BackoffLimitExceeded"


async def test_a_job_that_ignores_disruptions_resumes_after_a_restart(home: LocalHome, store: ObjectStore) -> None:
    marker = home.root / "attempts"
    code = (
        "import os, time, pathlib; p = pathlib.Path(os.environ['MARKER']); n = len(p.read_text()) if p.exists() else 0;"
        " p.write_text('x' * (n + 1)); time.sleep(60 if n == 0 else 0)"
    )
    body = job("resumable", code, backoffLimit=0, podFailurePolicy=IGNORE_DISRUPTIONS)
    body["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "MARKER", "value": str(marker)})
    store.apply(body)
    kubelet = await interrupt(home, store, "resumable")
    await until(kubelet, lambda: "Complete" in conditions(store, "Job", "resumable"))
    assert marker.read_text() == "xx"
    assert sorted(p["status"]["phase"] for p in pods(store, "resumable")) == ["Failed", "Succeeded"]


SERVER = """
import argparse, http.server, os
parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int)
port = parser.parse_args().port

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = f"{os.environ['VERSION']} {os.getpid()}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


def web_deployment(version: str, replicas: int = 1) -> dict[str, Any]:
    container = {
        "name": "server",
        "image": "unused",
        "command": ["python", "-c", SERVER],
        "args": ["--port", "8080"],  # the kubelet gives each pod a local port of its own
        "ports": [{"containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/", "port": 8080}},
        "env": [{"name": "VERSION", "value": version}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ml"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}},
        },
    }


WEB_SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "ml"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
}


def deployment_ready(store: ObjectStore, replicas: int) -> Callable[[], bool]:
    def check() -> bool:
        status = (store.get("Deployment", "ml", "web") or {}).get("status") or {}
        return (
            status.get("readyReplicas") == replicas
            and status.get("updatedReplicas") == replicas
            and (status.get("replicas") == replicas)
        )

    return check


async def test_a_deployment_serves_behind_its_service_port_and_rolls_without_refusing_a_request(
    home: LocalHome, store: ObjectStore
) -> None:
    kubelet = Kubelet(home, store)
    store.apply(web_deployment("1"))
    store.apply(WEB_SERVICE)
    await until(kubelet, deployment_ready(store, 1))
    assert conditions(store, "Deployment", "web")["Available"] == "MinimumReplicasAvailable"
    url = (store.get("Service", "ml", "web") or {})["metadata"]["annotations"][URL_ANNOTATION]
    first_pods = {p["metadata"]["name"] for p in store.list("Pod", "ml")}

    answers: list[str] = []
    failures: list[str] = []
    stop = asyncio.Event()

    async def client_loop() -> None:  # a client that keeps its connection, as the CLI and SDKs do
        async with httpx.AsyncClient(timeout=10.0) as client:
            while not stop.is_set():
                try:
                    answers.append((await client.get(url + "/")).text)
                except httpx.HTTPError as error:
                    failures.append(repr(error))
                await asyncio.sleep(0.01)

    clients = [asyncio.create_task(client_loop()) for _ in range(3)]
    try:
        await until(kubelet, lambda: len(answers) > 20)
        store.apply(web_deployment("2"))
        both_ready: list[bool] = []  # seen between two passes: the new pod ready while the old one still serves

        def rolled() -> bool:
            both_ready.append(sum(r.ready and not r.stopping for r in kubelet.running.values()) == 2)
            versions = [r.spec.env.get("VERSION") for r in kubelet.running.values()]
            return deployment_ready(store, 1)() and versions == ["2"]

        await until(kubelet, rolled)
        served_by_new = len(answers)
        await until(kubelet, lambda: len(answers) > served_by_new + 20)
    finally:
        stop.set()
        await asyncio.gather(*clients)

    versions = [a.split()[0] for a in answers]
    assert failures == []  # the old pod served until the new one was ready, then drained
    assert any(both_ready)
    assert versions[0] == "1"
    assert versions[-1] == "2"
    assert versions.index("2") > 0
    assert "1" not in versions[versions.index("2") + 60 :]
    pods_now = {p["metadata"]["name"] for p in store.list("Pod", "ml")}
    assert len(pods_now) == 1
    assert not pods_now & first_pods
    (pod,) = store.list("Pod", "ml")
    assert pod["spec"]["containers"][0]["env"][0]["value"] == "2"

    store.delete("Deployment", "ml", "web")
    await kubelet.sync()
    await kubelet.shutdown()
    assert kubelet.running == {}


async def test_a_deployment_runs_its_replicas_and_the_service_port_spreads_connections(
    home: LocalHome, store: ObjectStore
) -> None:
    kubelet = Kubelet(home, store)
    store.apply(web_deployment("1", replicas=2))
    store.apply(WEB_SERVICE)
    await until(kubelet, deployment_ready(store, 2))
    url = (store.get("Service", "ml", "web") or {})["metadata"]["annotations"][URL_ANNOTATION]
    pids = set()
    for _ in range(8):
        async with httpx.AsyncClient() as client:  # a new connection each time: connections are spread
            pids.add((await client.get(url + "/")).text.split()[1])
    assert len(pids) == 2
    assert {r.process.pid for r in kubelet.running.values()} == {int(p) for p in pids}

    scaled = web_deployment("1", replicas=1)
    store.apply(scaled)
    await until(kubelet, lambda: deployment_ready(store, 1)() and len(store.list("Pod", "ml")) == 1)
    async with httpx.AsyncClient() as client:
        assert (await client.get(url + "/")).status_code == 200
    await kubelet.shutdown()
