"""What the operator's tests run: operator files for ``kopf run``, and the operator's environment against kmock.

Where it sits: the kmock wiring tests (``tests/operator/test_*_wiring.py``) set the operator's environment
with :func:`isolate_operator_env` and run an operator file with ``KmockCluster.run_operator``;
:data:`INFERENCE_OPERATOR` (the InferenceService controller alone) also runs on the cluster tier as a
subprocess (``run_cluster_operator``). This module imports nothing of the operator: operator files are only
ever executed by kopf.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.ports import free_port

INFERENCE_OPERATOR = Path(__file__).with_name("inference_operator.py")


def isolate_operator_env(
    monkeypatch: pytest.MonkeyPatch,
    kubeconfig: Path,
    *,
    retry_delay_seconds: float,
    resync_seconds: float | None = None,
) -> None:
    """The in-process operator's settings: only these ``MODELPLANE_OPERATOR_*``, none from the environment.

    Its own Kubernetes client reads ``kubeconfig`` (kopf logs in through the harness), and its control plane
    URL is a free port where nothing listens. ``retry_delay_seconds`` (and ``resync_seconds``) say whether a
    test's waits may be met by a retry (short) or must be met by an event (longer than the test waits).
    """
    for name in [n for n in os.environ if n.startswith("MODELPLANE_OPERATOR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("MODELPLANE_OPERATOR_API_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("MODELPLANE_OPERATOR_RETRY_DELAY_SECONDS", str(retry_delay_seconds))
    if resync_seconds is not None:
        monkeypatch.setenv("MODELPLANE_OPERATOR_RESYNC_SECONDS", str(resync_seconds))
