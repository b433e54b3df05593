"""Where the local mode keeps its state: one directory (``$MODELPLANE_HOME``, default ``~/.modelplane``).

Layout::

    objects.db          the resources (Datasets, Jobs, Pods, Events, ...) as the API server would hold them
    controlplane.db     the control plane's SQLite database (runs, registry, lineage, audit)
    artifacts/          the control plane's local artifact store
    pods/<ns>/<pod>/    one directory per local pod: its volumes, termination message and log
    daemon.json         the running daemon: pid, URLs (absent when it is down)
    daemon.log          the daemon's own log
    admin-token         the local admin token of the control plane (mode 0600)
    volumes.yaml        PersistentVolumeClaim name -> local directory
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "MODELPLANE_HOME"


def default_home() -> Path:
    """``$MODELPLANE_HOME``, else ``~/.modelplane``."""
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else Path.home() / ".modelplane"


@dataclass(frozen=True)
class LocalHome:
    """The paths of one local installation."""

    root: Path

    @classmethod
    def default(cls) -> LocalHome:
        return cls(default_home())

    def ensure(self) -> LocalHome:
        self.root.mkdir(parents=True, exist_ok=True)
        return self

    @property
    def objects_db(self) -> Path:
        return self.root / "objects.db"

    @property
    def control_plane_db(self) -> Path:
        return self.root / "controlplane.db"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def pods(self) -> Path:
        return self.root / "pods"

    @property
    def daemon_file(self) -> Path:
        return self.root / "daemon.json"

    @property
    def daemon_log(self) -> Path:
        return self.root / "daemon.log"

    @property
    def admin_token_file(self) -> Path:
        return self.root / "admin-token"

    @property
    def volumes_file(self) -> Path:
        return self.root / "volumes.yaml"

    def pod_dir(self, namespace: str, pod: str) -> Path:
        return self.pods / namespace / pod
