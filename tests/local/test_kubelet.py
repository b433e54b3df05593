"""The local kubelet runs Jobs and Deployments as real processes and reports like Kubernetes does."""

from __future__ import annotations

import asyncio
import json
import sys
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


async def test_a_deployment_serves_becomes_ready_and_rolls_on_a_new_template(
    home: LocalHome, store: ObjectStore
) -> None:
    kubelet = Kubelet(home, store)

    def deployment(version: str) -> dict[str, Any]:
        container = {
            "name": "server",
            "image": "unused",
            "command": ["python", "-m", "http.server", "--bind", "127.0.0.1"],
            "args": ["8080"],
            "ports": [{"containerPort": 8080}],
            "readinessProbe": {"httpGet": {"path": "/", "port": 8080}},
            "env": [{"name": "VERSION", "value": version}],
        }
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ml"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}},
            },
        }

    store.apply(deployment("1"))
    store.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "ml"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        }
    )

    # http.server takes its port as a positional argument: the kubelet maps `--port N` only, so give it the
    # local port through the annotation it assigns and re-apply (what the serving image's --port does).
    await kubelet.sync()
    port = (store.get("Deployment", "ml", "web") or {})["metadata"]["annotations"]["local.modelplane.io/port"]
    await kubelet.shutdown()
    fixed = deployment("1")
    fixed["spec"]["template"]["spec"]["containers"][0]["args"] = [port]
    fixed["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": int(port)}]
    fixed["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = int(port)
    store.apply(fixed)
    kubelet = Kubelet(home, store)

    def ready() -> bool:
        status = (store.get("Deployment", "ml", "web") or {}).get("status") or {}
        return status.get("readyReplicas") == 1 and status.get("updatedReplicas") == 1

    await until(kubelet, ready)
    assert conditions(store, "Deployment", "web")["Available"] == "MinimumReplicasAvailable"
    url = (store.get("Service", "ml", "web") or {})["metadata"]["annotations"][URL_ANNOTATION]
    async with httpx.AsyncClient() as client:
        assert (await client.get(url + "/")).status_code == 200
    first_pod = {p["metadata"]["name"] for p in store.list("Pod", "ml")}
    rolled = json.loads(json.dumps(fixed))
    rolled["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "2"
    store.apply(rolled)
    await until(kubelet, lambda: ready() and len(store.list("Pod", "ml")) == 2)
    running = [p for p in store.list("Pod", "ml") if p["metadata"]["name"] not in first_pod]
    assert running
    assert running[0]["spec"]["containers"][0]["env"][0]["value"] == "2"
    store.delete("Deployment", "ml", "web")
    await kubelet.sync()
    await kubelet.shutdown()
    assert kubelet.running == {}
    assert sys.executable  # the server ran on this interpreter
