"""Fixtures of the operator's end-to-end tests on the cluster tier: a live control plane and the real operator.

``control_plane`` serves the control plane over HTTP on 127.0.0.1 (SQLite, local artifacts, admin token
``test-admin-token``); ``modelplane_operator`` runs ``kopf run -m modelplane.operator.main`` as the
operator's restricted identity, configured (``MODELPLANE_OPERATOR_*``) to talk to that control plane,
with short retry and resync delays so tests converge in seconds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cluster.operator_support import OPERATOR_MODULE, WATCHING, OperatorFactory
from harness.control_plane import ADMIN_TOKEN, LiveApi, make_settings, serve
from harness.operator_process import OperatorProcess


@pytest.fixture
def control_plane(sqlite_api_url: str, tmp_path: Path) -> Iterator[LiveApi]:
    """A control plane over HTTP (SQLite; tests are isolated by their random namespace)."""
    with serve(make_settings(sqlite_api_url, tmp_path / "cp-artifacts")) as live:
        yield live


@pytest.fixture
def control_plane_client(control_plane: LiveApi) -> Iterator[httpx.Client]:
    """An admin client of :func:`control_plane`, to record what the jobs would have recorded."""
    with httpx.Client(
        base_url=control_plane.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
    ) as client:
        yield client


@pytest.fixture
def operator_env(monkeypatch: pytest.MonkeyPatch, control_plane: LiveApi) -> dict[str, str]:
    """``MODELPLANE_OPERATOR_*`` for the operator process (it inherits the test's environment)."""
    env = {
        "MODELPLANE_OPERATOR_API_URL": control_plane.url,
        "MODELPLANE_OPERATOR_JOBS_API_URL": "http://modelplane-api.modelplane-system.svc:8080",
        "MODELPLANE_OPERATOR_API_TOKEN": ADMIN_TOKEN,
        "MODELPLANE_OPERATOR_RETRY_DELAY_SECONDS": "1",
        "MODELPLANE_OPERATOR_RESYNC_SECONDS": "3",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def modelplane_operator(
    run_cluster_operator: OperatorFactory, operator_env: dict[str, str], kube_namespace: str
) -> OperatorFactory:
    """``with modelplane_operator() as operator:`` runs the real operator on the test's namespace."""

    def start(**kwargs: Any) -> contextlib.AbstractContextManager[OperatorProcess]:
        kwargs.setdefault("namespaces", [kube_namespace])
        kwargs.setdefault("watching", list(WATCHING))
        return run_cluster_operator(OPERATOR_MODULE, module=True, **kwargs)

    return start
