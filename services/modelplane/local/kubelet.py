"""The local kubelet and workload controllers: Jobs and Deployments run as local processes.

Where it sits: in the daemon, beside the reconcilers. The operator creates Jobs and Deployments in the
local store exactly as it does on a cluster; this module plays the parts Kubernetes plays there —
the Job controller (pods per attempt or per completion index, ``backoffLimit``, ``podFailurePolicy``,
``activeDeadlineSeconds``, ``suspend``), the Deployment controller (``spec.replicas`` processes, each on a
local port of its own; a new template's pods start beside the old ones, which leave the Service's rotation
and stop once every new pod is ready), kube-proxy (the Deployment's stable port, :mod:`.proxy`, spreads
connections over its ready pods), the kubelet (start the container's command through :mod:`.containers`,
readiness from the ``httpGet`` probe, the termination message) and Kueue's admission (a Job waiting in a
queue is admitted at once: there is one machine).

It writes what those controllers write — Pod objects with ``containerStatuses``, Job and Deployment
``status`` with their conditions — so the reconcilers read the same fields they read on a cluster.
Pods that were running when the daemon stopped (or died) are failed as a disruption (``reason:
Interrupted``, exit code 137, a ``DisruptionTarget`` condition, like an evicted pod): a Job whose
``podFailurePolicy`` ignores disruptions — every ModelPlane Job — starts the pod again (the run resumes),
any other Job counts it against ``backoffLimit``. A run never stays "running" forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from modelplane.local import containers
from modelplane.local.paths import LocalHome
from modelplane.local.proxy import ProxyThread
from modelplane.local.store import ObjectStore, StoreError, now_iso

logger = logging.getLogger(__name__)

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
PORT_ANNOTATION = "local.modelplane.io/port"
URL_ANNOTATION = "local.modelplane.io/url"
TEMPLATE_HASH = "pod-template-hash"
PASS_THROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "SYSTEMROOT", "TZ")
INTERRUPTED_EXIT = 137


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def template_hash(template: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


@dataclass
class Running:
    """A pod's process."""

    pod: str
    namespace: str
    owner_kind: str
    owner: str
    process: asyncio.subprocess.Process
    spec: containers.ProcessSpec
    started: float = field(default_factory=time.monotonic)
    template: str = ""
    ready: bool = False
    stopping: bool = False
    interrupted: bool = False


class Kubelet:
    """Runs the store's Jobs and Deployments; call :meth:`sync` whenever something may have changed."""

    def __init__(self, home: LocalHome, store: ObjectStore, hosts: Mapping[str, str] | None = None) -> None:
        self.home = home
        self.store = store
        self.hosts = dict(hosts or {})
        self.running: dict[tuple[str, str], Running] = {}
        self._waiting: dict[tuple[str, str], str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._proxies: ProxyThread | None = None
        self._revision = -1  # of the store's change log; -1: nothing read yet, the first pass lists every Job
        self._active_jobs: set[tuple[str, str]] = set()

    # --- shared helpers --------------------------------------------------------------------------------

    def _claims(self, claim: str) -> Path:
        mapping: dict[str, str] = {}
        if self.home.volumes_file.exists():
            mapping = yaml.safe_load(self.home.volumes_file.read_text(encoding="utf-8")) or {}
        path = Path(mapping[claim]) if claim in mapping else self.home.root / "volumes" / claim
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _base_env(self) -> dict[str, str]:
        return {k: os.environ[k] for k in PASS_THROUGH_ENV if k in os.environ}

    async def _start(
        self, namespace: str, pod: Mapping[str, Any], owner_kind: str, owner: str, ports: Mapping[int, int]
    ) -> Running | None:
        """Start the pod's process; a pod that cannot start yet is left Pending with the reason."""
        name = pod["metadata"]["name"]
        pod_dir = self.home.pod_dir(namespace, name)
        fields = {
            "metadata.name": name,
            "metadata.namespace": namespace,
            "metadata.uid": pod["metadata"].get("uid", ""),
            "spec.nodeName": "local",
            "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
            "status.podIP": "127.0.0.1",
            "status.hostIP": "127.0.0.1",
        }
        annotations = pod["metadata"].get("annotations") or {}
        for key, value in annotations.items():
            fields[f"metadata.annotations['{key}']"] = value
        for key, value in (pod["metadata"].get("labels") or {}).items():
            fields[f"metadata.labels['{key}']"] = value

        def lookup(kind: str, ref: str) -> Mapping[str, Any] | None:
            return self.store.get(kind, namespace, ref)

        try:
            spec = containers.to_process(
                pod["spec"],
                pod_dir=pod_dir,
                pod_fields=fields,
                lookup=lookup,
                claims=self._claims,
                ports=ports,
                base_env=self._base_env(),
                hosts=self.hosts,
            )
        except containers.ContainerConfigError as error:
            self._set_pod_waiting(namespace, name, "CreateContainerConfigError", str(error))
            return None
        if COMPLETION_INDEX in annotations:
            spec.env.setdefault("JOB_COMPLETION_INDEX", annotations[COMPLETION_INDEX])
        pod_dir.mkdir(parents=True, exist_ok=True)
        for directory in spec.directories:
            directory.mkdir(parents=True, exist_ok=True)
        for path, content in spec.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            path.chmod(0o600)
        spec.termination_file.unlink(missing_ok=True)
        log = (pod_dir / "log").open("ab")
        try:
            process = await asyncio.create_subprocess_exec(
                *spec.argv,
                env=spec.env,
                cwd=spec.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            log.close()
            self._finish_pod(namespace, name, 127, "StartError", f"cannot start {spec.argv[0]}: {error}")
            return None
        log.close()
        self._patch_pod(
            namespace,
            name,
            {
                "phase": "Running",
                "startTime": now_iso(),
                "podIP": "127.0.0.1",
                "containerStatuses": [
                    {
                        "name": pod["spec"]["containers"][0]["name"],
                        "ready": False,
                        "restartCount": 0,
                        "image": pod["spec"]["containers"][0].get("image", ""),
                        "imageID": "local",
                        "state": {"running": {"startedAt": now_iso()}},
                    }
                ],
            },
        )
        running = Running(name, namespace, owner_kind, owner, process, spec)
        self.running[(namespace, name)] = running
        task = asyncio.get_running_loop().create_task(self._wait(running), name=f"pod {namespace}/{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        logger.info("Started pod %s/%s: %s", namespace, name, " ".join(spec.argv[:4]))
        return running

    async def _wait(self, running: Running) -> None:
        code = await running.process.wait()
        async with self._lock:
            self.running.pop((running.namespace, running.pod), None)
            message = ""
            with contextlib.suppress(OSError):
                message = running.spec.termination_file.read_text(encoding="utf-8", errors="replace")[-4096:]
            if code < 0:  # killed by a signal: the shell's convention, as a container runtime reports it
                code = 128 - code
            if running.interrupted:
                self._interrupt_pod(running.namespace, running.pod, "the local runtime stopped while this pod ran")
            else:
                self._finish_pod(running.namespace, running.pod, code, "Completed" if code == 0 else "Error", message)
            if running.owner_kind == "Job":
                self._sync_job_status(running.namespace, running.owner)
            else:
                self._route(running.namespace, running.owner)
                if running.stopping and not running.interrupted:  # scaled down or rolled away: the pod is gone
                    with contextlib.suppress(StoreError):
                        self.store.delete("Pod", running.namespace, running.pod)
                self._sync_deployment_status(running.namespace, running.owner)
        logger.info("Pod %s/%s exited with code %d", running.namespace, running.pod, code)

    def _patch_pod(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        with contextlib.suppress(StoreError):
            self.store.patch("Pod", namespace, name, {"status": dict(status)}, subresource="status")

    def _set_pod_waiting(self, namespace: str, name: str, reason: str, message: str) -> None:
        if self._waiting.get((namespace, name)) == message:
            return
        self._waiting[(namespace, name)] = message
        pod = self.store.get("Pod", namespace, name)
        if pod is None:
            return
        container = pod["spec"]["containers"][0]["name"]
        self._patch_pod(
            namespace,
            name,
            {
                "phase": "Pending",
                "containerStatuses": [
                    {
                        "name": container,
                        "ready": False,
                        "restartCount": 0,
                        "image": "",
                        "imageID": "",
                        "state": {"waiting": {"reason": reason, "message": message}},
                    }
                ],
            },
        )
        logger.warning("Pod %s/%s is waiting: %s", namespace, name, message)

    def _interrupt_pod(self, namespace: str, name: str, message: str) -> None:
        """A disruption (the daemon stopped): failed with ``DisruptionTarget``, like an evicted pod."""
        self._finish_pod(namespace, name, INTERRUPTED_EXIT, "Interrupted", message)
        disruption = {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "TerminationByKubelet",
            "message": message,
            "lastTransitionTime": now_iso(),
        }
        self._patch_pod(namespace, name, {"conditions": [disruption]})

    def _finish_pod(self, namespace: str, name: str, code: int, reason: str, message: str) -> None:
        pod = self.store.get("Pod", namespace, name)
        if pod is None:
            return
        container = pod["spec"]["containers"][0]
        terminated: dict[str, Any] = {"exitCode": code, "reason": reason, "finishedAt": now_iso()}
        if message:
            terminated["message"] = message
        self._patch_pod(
            namespace,
            name,
            {
                "phase": "Succeeded" if code == 0 else "Failed",
                "containerStatuses": [
                    {
                        "name": container["name"],
                        "ready": False,
                        "restartCount": 0,
                        "image": container.get("image", ""),
                        "imageID": "local",
                        "state": {"terminated": terminated},
                    }
                ],
            },
        )

    def _new_pod(
        self,
        owner: Mapping[str, Any],
        template: Mapping[str, Any],
        name: str,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> dict[str, Any]:
        meta = owner["metadata"]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "labels": {**(template.get("metadata") or {}).get("labels", {}), **labels},
                "annotations": {**(template.get("metadata") or {}).get("annotations", {}), **annotations},
                "ownerReferences": [
                    {
                        "apiVersion": owner["apiVersion"],
                        "kind": owner["kind"],
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {**template.get("spec", {}), "nodeName": "local"},
            "status": {"phase": "Pending"},
        }
        return self.store.create(pod)

    # --- the loop --------------------------------------------------------------------------------------

    async def recover(self) -> None:
        """After a restart: pods that were running have no process any more — fail them like a lost node."""
        async with self._lock:
            for pod in self.store.list("Pod"):
                phase = (pod.get("status") or {}).get("phase")
                meta = pod["metadata"]
                if phase in ("Running", "Pending") and (meta["namespace"], meta["name"]) not in self.running:
                    self._interrupt_pod(meta["namespace"], meta["name"], "the local runtime stopped while this pod ran")
                    owner = _controller(pod)
                    if owner is not None and owner[0] == "Job":
                        self._sync_job_status(meta["namespace"], owner[1])

    async def sync(self) -> None:
        """One pass over every unfinished Job and every Deployment."""
        async with self._lock:
            for job in self._unfinished_jobs():
                await self._sync_job(job)
            for deployment in self.store.list("Deployment"):
                await self._sync_deployment(deployment)
            for (namespace, _pod), running in list(self.running.items()):
                owner_kind = running.owner_kind
                if self.store.get(owner_kind, namespace, running.owner) is None:
                    await self._stop(running)
                elif owner_kind == "Deployment" and not running.ready and not running.stopping:
                    await self._probe(running)
            if self._proxies is not None:
                for namespace, name in list(self._proxies.proxies):
                    if self.store.get("Deployment", namespace, name) is None:
                        await self._proxies.remove((namespace, name))
            self._publish_services()

    async def _stop(self, running: Running, grace: float = 10.0) -> None:
        if running.stopping:
            return
        running.stopping = True
        if running.owner_kind == "Deployment":
            self._route(running.namespace, running.owner)  # out of the Service's rotation before SIGTERM
        with contextlib.suppress(ProcessLookupError):
            os.killpg(running.process.pid, signal.SIGTERM)

        async def reap() -> None:
            try:
                await asyncio.wait_for(asyncio.shield(running.process.wait()), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(running.process.pid, signal.SIGKILL)

        task = asyncio.get_running_loop().create_task(reap())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def shutdown(self) -> None:
        """Stop every process (the daemon is going down); their pods are failed on the next start."""
        async with self._lock:
            running = list(self.running.values())
            for item in running:
                item.interrupted = True
                await self._stop(item)
        if running:
            await asyncio.gather(*(r.process.wait() for r in running), return_exceptions=True)
        if self._proxies is not None:
            await self._proxies.close()
            self._proxies = None

    # --- Jobs ------------------------------------------------------------------------------------------

    def _unfinished_jobs(self) -> list[dict[str, Any]]:
        """The Jobs not Complete or Failed, followed through the store's change log: a finished Job costs
        nothing per pass (a laptop keeps every run's Job), a new or changed one is read again."""
        if self._revision < 0:
            self._revision = self.store.revision()  # before the list: a write in between is read again next pass
            self._active_jobs = {(j["metadata"]["namespace"], j["metadata"]["name"]) for j in self.store.list("Job")}
        else:
            for change in self.store.changes_since(self._revision):
                self._revision = change.revision
                if change.kind == "Job":
                    key = (change.namespace, change.name)
                    if change.deleted:
                        self._active_jobs.discard(key)
                    else:
                        self._active_jobs.add(key)
        jobs = []
        for namespace, name in sorted(self._active_jobs):
            job = self.store.get("Job", namespace, name)
            status = (job or {}).get("status") or {}
            if job is None or _has_condition(status, "Complete") or _has_condition(status, "Failed"):
                self._active_jobs.discard((namespace, name))
            else:
                jobs.append(job)
        return jobs

    def _job_pods(self, job: Mapping[str, Any]) -> list[dict[str, Any]]:
        meta = job["metadata"]
        return [
            p
            for p in self.store.list("Pod", meta["namespace"], f"{JOB_NAME_LABEL}={meta['name']}")
            if any(o.get("uid") == meta["uid"] for o in p["metadata"].get("ownerReferences") or [])
        ]

    async def _sync_job(self, job: dict[str, Any]) -> None:
        meta, spec = job["metadata"], job.get("spec") or {}
        namespace, name = meta["namespace"], meta["name"]
        status = job.get("status") or {}
        if _has_condition(status, "Complete") or _has_condition(status, "Failed"):
            return
        if spec.get("suspend") and KUEUE_QUEUE_LABEL in (meta.get("labels") or {}):
            self.store.patch("Job", namespace, name, {"spec": {"suspend": False}})  # local Kueue: admitted
            return
        pods = self._job_pods(job)
        running = [
            self.running[(namespace, p["metadata"]["name"])]
            for p in pods
            if (namespace, p["metadata"]["name"]) in self.running
        ]
        if spec.get("suspend"):
            for item in running:
                await self._stop(item)
            self._sync_job_status(namespace, name)
            return
        deadline = spec.get("activeDeadlineSeconds")
        started = status.get("startTime")
        if deadline and started and _age_seconds(started) > float(deadline):
            for item in running:
                await self._stop(item)
            self._job_condition(job, "Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
            return
        for index in self._indexes_to_start(job, pods):
            pod_name = f"{name}-{index if index is not None else 'x'}-{os.urandom(3).hex()}"[:63]
            labels = {JOB_NAME_LABEL: name, "job-name": name, "controller-uid": meta["uid"]}
            annotations = {COMPLETION_INDEX: str(index)} if index is not None else {}
            if index is not None:
                labels[COMPLETION_INDEX] = str(index)
            pod = self._new_pod(job, spec.get("template") or {}, pod_name, labels, annotations)
            await self._start(namespace, pod, "Job", name, {})
        for pod in pods:
            key = (namespace, pod["metadata"]["name"])
            if (pod.get("status") or {}).get("phase") == "Pending" and key not in self.running:
                await self._start(namespace, pod, "Job", name, {})
        self._sync_job_status(namespace, name)

    def _indexes_to_start(self, job: Mapping[str, Any], pods: list[dict[str, Any]]) -> list[int | None]:
        spec = job.get("spec") or {}
        status = job.get("status") or {}
        live = [p for p in pods if (p.get("status") or {}).get("phase") in ("Pending", "Running")]
        failed = len(_counted_failures(job, pods))
        if failed > int(spec.get("backoffLimit", 6)) or _fail_job_rule(job, pods) is not None:
            return []
        if spec.get("completionMode") == "Indexed":
            completions = int(spec.get("completions") or 1)
            done = {_index(p) for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"}
            busy = {_index(p) for p in live}
            return [i for i in range(completions) if i not in done and i not in busy]
        if (
            live
            or int(status.get("succeeded") or 0) >= 1
            or any((p.get("status") or {}).get("phase") == "Succeeded" for p in pods)
        ):
            return []
        return [None]

    def _sync_job_status(self, namespace: str, name: str) -> None:
        job = self.store.get("Job", namespace, name)
        if job is None:
            return
        spec = job.get("spec") or {}
        pods = self._job_pods(job)
        phases = [(p.get("status") or {}).get("phase") for p in pods]
        status = dict(job.get("status") or {})
        status["active"] = sum(1 for p in phases if p in ("Running", "Pending"))
        status["failed"] = phases.count("Failed")
        counted = len(_counted_failures(job, pods))
        status["succeeded"] = phases.count("Succeeded")
        if status["active"] and not status.get("startTime"):
            status["startTime"] = now_iso()
        for key in ("active", "failed", "succeeded"):
            if not status[key]:
                status.pop(key)
        status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "Suspended"]
        if spec.get("suspend"):
            status["conditions"].append(_condition("Suspended", "JobSuspended", "Job suspended"))
        completions = int(spec.get("completions") or 1)
        if spec.get("completionMode") == "Indexed":
            done = {_index(p) for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"}
            complete = len(done) >= completions
        else:
            complete = "Succeeded" in phases
        rule = _fail_job_rule(job, pods)
        if not any(c.get("type") in ("Complete", "Failed") for c in status["conditions"]):
            if complete and not status.get("active"):
                status["conditions"] += [
                    _condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
                    _condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
                ]
                status["completionTime"] = now_iso()
            elif rule is not None:
                status["conditions"] += [
                    _condition("FailureTarget", "PodFailurePolicy", rule),
                    _condition("Failed", "PodFailurePolicy", rule),
                ]
            elif counted > int(spec.get("backoffLimit", 6)) and not status.get("active"):
                message = "Job has reached the specified backoff limit"
                status["conditions"] += [
                    _condition("FailureTarget", "BackoffLimitExceeded", message),
                    _condition("Failed", "BackoffLimitExceeded", message),
                ]
        if status != (job.get("status") or {}):
            self.store.apply_status("Job", namespace, name, status)

    def _job_condition(self, job: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        meta = job["metadata"]
        status = dict(job.get("status") or {})
        status["conditions"] = [*(status.get("conditions") or []), _condition(type_, reason, message)]
        status.pop("active", None)
        self.store.apply_status("Job", meta["namespace"], meta["name"], status)

    # --- Deployments -----------------------------------------------------------------------------------

    def _deployment_port(self, deployment: dict[str, Any]) -> int:
        meta = deployment["metadata"]
        annotations = meta.get("annotations") or {}
        if annotations.get(PORT_ANNOTATION, "").isdigit():
            return int(annotations[PORT_ANNOTATION])
        port = free_port()
        self.store.patch(
            "Deployment", meta["namespace"], meta["name"], {"metadata": {"annotations": {PORT_ANNOTATION: str(port)}}}
        )
        return port

    def _pods_of(self, namespace: str, name: str) -> list[Running]:
        """The live (not stopping) pods of a Deployment."""
        return [
            r
            for r in self.running.values()
            if r.owner_kind == "Deployment" and r.namespace == namespace and r.owner == name and not r.stopping
        ]

    def _route(self, namespace: str, name: str) -> None:
        """Point the Deployment's stable port at its ready pods."""
        if self._proxies is not None:
            ready = [
                next(iter(r.spec.ports.values())) for r in self._pods_of(namespace, name) if r.ready and r.spec.ports
            ]
            self._proxies.set_backends((namespace, name), ready)

    async def _sync_deployment(self, deployment: dict[str, Any]) -> None:
        """Rolling update with no unavailability: the pods of a new template start beside the old ones, each on
        a port of its own; the old ones leave the Service's rotation and stop once every new one is ready."""
        meta = deployment["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        template = (deployment.get("spec") or {}).get("template") or {}
        wanted = template_hash(template)
        if self._proxies is None:
            self._proxies = ProxyThread()
        try:
            await self._proxies.ensure((namespace, name), self._deployment_port(deployment))
        except OSError as error:  # the port of an earlier daemon run is taken now: move the Service
            logger.warning("Port of Deployment %s/%s is unavailable (%s): choosing another.", namespace, name, error)
            self.store.patch("Deployment", namespace, name, {"metadata": {"annotations": {PORT_ANNOTATION: None}}})
            return
        mine = self._pods_of(namespace, name)
        replicas = int((deployment.get("spec") or {}).get("replicas", 1))
        current = [r for r in mine if r.template == wanted]
        old = [r for r in mine if r.template != wanted]
        for extra in sorted(current, key=lambda r: r.ready)[: max(0, len(current) - replicas)]:
            await self._stop(extra)  # scaled down: the unready first
        current = [r for r in current if not r.stopping]
        if replicas == 0 or (len(current) >= replicas and all(r.ready for r in current)):
            for item in old:
                await self._stop(item)
        if len(current) < replicas:
            for stale in self.store.list("Pod", namespace):  # pods of earlier templates or daemon runs: gone
                stale_name = stale["metadata"]["name"]
                if _controller(stale) == ("Deployment", name) and (namespace, stale_name) not in self.running:
                    self.store.delete("Pod", namespace, stale_name)
            containers_ = (template.get("spec") or {}).get("containers") or [{}]
            for _ in range(replicas - len(current)):
                port = free_port()
                ports = {
                    int(p["containerPort"]): port for p in containers_[0].get("ports") or [] if "containerPort" in p
                }
                pod_name = f"{name}-{wanted[:8]}-{os.urandom(3).hex()}"[:63]
                pod = self._new_pod(deployment, template, pod_name, {TEMPLATE_HASH: wanted}, {})
                started = await self._start(namespace, pod, "Deployment", name, ports)
                if started is not None:
                    started.template = wanted
        self._route(namespace, name)
        self._sync_deployment_status(namespace, name)

    async def _probe(self, running: Running) -> None:
        pod = self.store.get("Pod", running.namespace, running.pod)
        if pod is None:
            return
        container = pod["spec"]["containers"][0]
        probe = (container.get("readinessProbe") or {}).get("httpGet")
        port = next(iter(running.spec.ports.values()), None)
        if probe is None or port is None:
            ok = running.process.returncode is None
        else:
            url = f"http://127.0.0.1:{port}{probe.get('path', '/')}"
            try:
                async with httpx.AsyncClient(timeout=2.0) as client:
                    ok = (await client.get(url)).status_code < 400
            except httpx.HTTPError:
                ok = False
        if ok:
            running.ready = True
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            for status in statuses:
                status["ready"] = True
            self._patch_pod(
                running.namespace,
                running.pod,
                {
                    "containerStatuses": statuses,
                    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now_iso()}],
                },
            )
            self._route(running.namespace, running.owner)
            self._sync_deployment_status(running.namespace, running.owner)

    def _sync_deployment_status(self, namespace: str, name: str) -> None:
        deployment = self.store.get("Deployment", namespace, name)
        if deployment is None:
            return
        wanted = template_hash((deployment.get("spec") or {}).get("template") or {})
        mine = self._pods_of(namespace, name)
        ready = [r for r in mine if r.ready]
        updated = [r for r in mine if r.template == wanted]
        available = bool(ready)
        old = deployment.get("status") or {}
        conditions = [
            _condition(
                "Available",
                "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
                "True" if available else "False",
            ),
            _condition(
                "Progressing",
                "NewReplicaSetAvailable" if updated and all(r.ready for r in updated) else "ReplicaSetUpdated",
                f'ReplicaSet "{name}-{wanted[:8]}" has successfully progressed.'
                if updated and all(r.ready for r in updated)
                else f'ReplicaSet "{name}-{wanted[:8]}" is progressing.',
            ),
        ]
        for condition in conditions:
            before = next((c for c in old.get("conditions") or [] if c.get("type") == condition["type"]), None)
            if before and before.get("status") == condition["status"] and before.get("reason") == condition["reason"]:
                condition["lastTransitionTime"] = before.get("lastTransitionTime")
                condition["lastUpdateTime"] = before.get("lastUpdateTime", before.get("lastTransitionTime"))
        status = {
            "observedGeneration": deployment["metadata"].get("generation", 1),
            "replicas": len(mine),
            "updatedReplicas": len(updated),
            "readyReplicas": len(ready),
            "availableReplicas": len(ready),
            "conditions": conditions,
        }
        if len(mine) - len(ready):
            status["unavailableReplicas"] = len(mine) - len(ready)
        status = {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"}
        if status != old:
            self.store.apply_status("Deployment", namespace, name, status)

    def _publish_services(self) -> None:
        """Give every Service in front of a local Deployment its local URL (annotation ``local.modelplane.io/url``)."""
        deployments = self.store.list("Deployment")
        for service in self.store.list("Service"):
            meta = service["metadata"]
            selector = (service.get("spec") or {}).get("selector") or {}
            if not selector:
                continue
            url = None
            for deployment in deployments:
                labels = ((deployment.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels", {})
                port = (deployment["metadata"].get("annotations") or {}).get(PORT_ANNOTATION)
                if (
                    deployment["metadata"]["namespace"] == meta["namespace"]
                    and port
                    and all(labels.get(k) == v for k, v in selector.items())
                ):
                    url = f"http://127.0.0.1:{port}"
                    break
            if url and (meta.get("annotations") or {}).get(URL_ANNOTATION) != url:
                self.store.patch(
                    "Service", meta["namespace"], meta["name"], {"metadata": {"annotations": {URL_ANNOTATION: url}}}
                )


def _controller(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    for owner in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if owner.get("controller"):
            return str(owner.get("kind")), str(owner.get("name"))
    return None


def _index(pod: Mapping[str, Any]) -> int:
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(COMPLETION_INDEX, "0")
    return int(value) if str(value).isdigit() else 0


def _has_condition(status: Mapping[str, Any], type_: str) -> bool:
    return any(c.get("type") == type_ and c.get("status") == "True" for c in status.get("conditions") or [])


def _condition(type_: str, reason: str, message: str, status: str = "True") -> dict[str, Any]:
    now = now_iso()
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now,
        "lastProbeTime": now,
    }


def _age_seconds(timestamp: str) -> float:
    started = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return (datetime.now(UTC) - started).total_seconds()


def _ignored(job: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """Whether a ``podFailurePolicy`` Ignore rule on a pod condition (``DisruptionTarget``) matches the pod."""
    rules = ((job.get("spec") or {}).get("podFailurePolicy") or {}).get("rules") or []
    held = {c.get("type") for c in (pod.get("status") or {}).get("conditions") or [] if c.get("status") == "True"}
    return any(
        rule.get("action") == "Ignore" and any(c.get("type") in held for c in rule.get("onPodConditions") or [])
        for rule in rules
    )


def _counted_failures(job: Mapping[str, Any], pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failed pods that count against ``backoffLimit`` (disruptions a policy ignores do not)."""
    return [p for p in pods if (p.get("status") or {}).get("phase") == "Failed" and not _ignored(job, p)]


def _fail_job_rule(job: Mapping[str, Any], pods: list[dict[str, Any]]) -> str | None:
    """The message of a ``podFailurePolicy`` FailJob rule a failed pod matched, if any."""
    rules = ((job.get("spec") or {}).get("podFailurePolicy") or {}).get("rules") or []
    for pod in pods:
        if (pod.get("status") or {}).get("phase") != "Failed":
            continue
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (status.get("state") or {}).get("terminated") or {}
            code = terminated.get("exitCode")
            if terminated.get("reason") == "Interrupted":
                continue  # a disruption: like DisruptionTarget, it never fails the Job by itself
            for rule in rules:
                on_codes = rule.get("onExitCodes")
                if rule.get("action") != "FailJob" or not on_codes or code is None:
                    continue
                if on_codes.get("containerName") not in (None, status.get("name")):
                    continue
                inside = code in (on_codes.get("values") or [])
                if inside == (on_codes.get("operator") == "In"):
                    return (
                        f"Container {status.get('name')} for pod {pod['metadata']['namespace']}/"
                        f"{pod['metadata']['name']} failed with exit code {code} matching FailJob rule at index "
                        f"{rules.index(rule)}"
                    )
    return None
