"""The local daemon: control plane, controllers and kubelet in one background process.

Where it sits: started by ``modelplane up`` (``python -m modelplane.local --home DIR --port N``), stopped by
``modelplane down`` (SIGTERM). It serves the control plane (the same FastAPI app as in a cluster) on
SQLite with the local artifact store, runs the operator's reconcilers over the local object store
(:mod:`.controllers`) and the local kubelet (:mod:`.kubelet`), and writes ``daemon.json`` with its pid
and URLs once everything is up. State lives in the home directory, so a restarted daemon carries on:
finished work stays finished, interrupted pods are failed and retried by their Jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Generator
from pathlib import Path

import httpx
import uvicorn
from pydantic import SecretStr

from modelplane.api.app import create_app
from modelplane.api.settings import ArtifactBackend, ArtifactSettings, AuthSettings, DatabaseSettings, Settings
from modelplane.local.apiserver import local_kube_client
from modelplane.local.controllers import Controllers
from modelplane.local.kubelet import Kubelet
from modelplane.local.paths import LocalHome
from modelplane.local.state import admin_token
from modelplane.local.store import ObjectStore
from modelplane.operator.config import JOB_TOKEN_KEY, OperatorConfig
from modelplane.operator.controlplane import ControlPlaneClient
from modelplane.operator.runtime import Runtime

logger = logging.getLogger(__name__)
KUBELET_TICK_SECONDS = 0.5
API_HOST = "modelplane-api.local"
"""The control plane's name in pod specs: the local kubelet resolves it to the port it serves on now."""


def control_plane_settings(home: LocalHome, token: str) -> Settings:
    """The embedded control plane: SQLite, local artifacts, migrations at start-up, anonymous reads."""
    return Settings(
        db=DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{home.control_plane_db}"), migrate_on_start=True),
        artifacts=ArtifactSettings(backend=ArtifactBackend.LOCAL, local_root=home.artifacts),
        auth=AuthSettings(admin_token=SecretStr(token), anonymous_read=True),
        gc_freeze=True,  # the daemon serves this one app for its lifetime
    )


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon stops it in order, after the kubelet."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class Daemon:
    """One local installation, running."""

    def __init__(self, home: LocalHome, port: int) -> None:
        self.home = home.ensure()
        self.port = port
        self.api_url = f"http://127.0.0.1:{port}"
        self.token = admin_token(home)
        self.store = ObjectStore(home.objects_db)
        self.kubelet = Kubelet(home, self.store, hosts={API_HOST: f"127.0.0.1:{port}"})
        self.stop = asyncio.Event()
        self._provisioned: set[str] = set()

    async def _ensure_job_tokens(self, client: httpx.AsyncClient) -> None:
        """Every namespace with ModelPlane objects gets the jobs' token Secret (an install step on a cluster)."""
        namespaces = {
            obj["metadata"]["namespace"]
            for kind in ("Dataset", "TrainingRun", "ModelVersion", "InferenceService", "Rollout")
            for obj in self.store.list(kind)
        }
        for namespace in sorted(namespaces - self._provisioned):
            if self.store.get("Secret", namespace, "modelplane-job-token") is None:
                response = await client.post(
                    "/api/v1/tokens",
                    json={
                        "principal": f"system:local:jobs:{namespace}",
                        "roles": {namespace: "editor"},
                        "description": "local mode: jobs' token",
                    },
                )
                response.raise_for_status()
                self.store.apply(
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": "modelplane-job-token", "namespace": namespace},
                        "type": "Opaque",
                        "stringData": {JOB_TOKEN_KEY: response.json()["token"]},
                    }
                )
            self._provisioned.add(namespace)

    def _write_state(self) -> None:
        state = {"pid": os.getpid(), "apiUrl": self.api_url, "home": str(self.home.root), "started": time.time()}
        tmp = self.home.daemon_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        tmp.replace(self.home.daemon_file)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        server = _Server(
            uvicorn.Config(
                create_app(control_plane_settings(self.home, self.token)),
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="on",
                access_log=False,
            )
        )
        serving = asyncio.create_task(server.serve(), name="control-plane")
        while not server.started:
            if serving.done():
                serving.result()
                raise RuntimeError("the control plane stopped during start-up")
            await asyncio.sleep(0.05)
        config = OperatorConfig(
            api_url=self.api_url,
            jobs_api_url=f"http://{API_HOST}",
            api_token=SecretStr(self.token),
            resync_seconds=5.0,
            retry_delay_seconds=2.0,
            jobs_image="local",
            jobs_image_pull_policy="Never",
        )
        runtime = Runtime(config=config, kube=local_kube_client(self.store), control_plane=ControlPlaneClient(config))
        controllers = Controllers(runtime, self.store)
        await self.kubelet.recover()
        admin = httpx.AsyncClient(base_url=self.api_url, headers={"Authorization": f"Bearer {self.token}"})
        reconciling = asyncio.create_task(controllers.run(self.stop), name="controllers")
        self._write_state()
        logger.info("ModelPlane local mode is up: control plane %s, state %s", self.api_url, self.home.root)
        try:
            while not self.stop.is_set():
                try:
                    await self._ensure_job_tokens(admin)
                except httpx.HTTPError as error:
                    logger.warning("Cannot provision the jobs' token: %s", error)
                await self.kubelet.sync()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), KUBELET_TICK_SECONDS)
        finally:
            self.stop.set()
            await reconciling
            await self.kubelet.shutdown()
            await admin.aclose()
            await runtime.aclose()
            server.should_exit = True
            await serving
            self.home.daemon_file.unlink(missing_ok=True)
            logger.info("ModelPlane local mode stopped.")


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m modelplane.local", description=__doc__)
    parser.add_argument("--home", type=Path, default=None, help="state directory (default $MODELPLANE_HOME)")
    parser.add_argument("--port", type=int, default=8765, help="control-plane port on 127.0.0.1")
    args = parser.parse_args(argv)
    home = LocalHome(args.home) if args.home else LocalHome.default()
    home.ensure()
    logging.basicConfig(
        level=os.environ.get("MODELPLANE_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpcore", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    asyncio.run(Daemon(home, args.port).run())
