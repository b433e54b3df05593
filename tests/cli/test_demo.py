"""The local lifecycle tier: `modelplane demo` end to end, as the README's first command runs it.

A real daemon (control plane on SQLite, the operator's reconcilers, jobs and the model server as local
processes) takes examples/quickstart/ from CSV to served predictions. The assertions are on the results
(`--summary-json`): digests, the sweep, the gates' metrics, the registry, real predictions. Then the demo runs
again (nothing is retrained: same digests), and once more after `modelplane down` (the server comes back).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.ports import free_port

pytestmark = [pytest.mark.local, pytest.mark.timeout(1800)]
ROOT = Path(__file__).resolve().parents[2]


def modelplane(home: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("modelplane", path=str(Path(sys.executable).parent))
    assert executable
    return subprocess.run(
        [executable, *args, "--home", str(home)], capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT
    )


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "home"
    modelplane(tmp_path / "home", "down", timeout=120)


def demo(home: Path, port: int, summary: Path) -> dict[str, Any]:
    result = modelplane(home, "demo", "--port", str(port), "--summary-json", str(summary), "--latency-requests", "50")
    log = home / "daemon.log"
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{log.read_text() if log.exists() else ''}"
    document: dict[str, Any] = json.loads(summary.read_text())
    return document


def test_the_demo_runs_the_lifecycle_twice_and_after_down(home: Path, tmp_path: Path) -> None:
    port = free_port()
    first = demo(home, port, tmp_path / "first.json")
    dataset, training, model, serving = first["dataset"], first["training"], first["model"], first["serving"]
    assert dataset["rows"] == 569
    assert dataset["digest"].startswith("sha256:")
    assert training["trials"] == 4
    assert training["bestTrial"] in range(4)
    assert training["bestParameters"]["max_depth"] in (3, 6)
    assert training["metrics"]["roc_auc"] >= 0.95
    assert model["registeredVersion"] == 1
    assert model["aliases"] == ["champion"]
    assert model["metrics"]["accuracy"] >= 0.9  # the gate passed on the test split
    assert len(model["digest"]) == 64
    predicted, labels = serving["samplePredictions"], serving["sampleLabels"]
    assert len(predicted) == len(labels) == 8
    assert set(labels) == {0, 1}
    assert sum(int(p) == label for p, label in zip(predicted, labels, strict=True)) >= 7
    assert serving["p50LatencyMs"] > 0
    assert serving["url"].endswith("/v2/models/breast-cancer")

    listed = modelplane(home, "get", "all")
    assert listed.returncode == 0
    assert "breast-cancer-v1" in listed.stdout
    predicted_file = modelplane(home, "predict", "breast-cancer", "-f", first["sampleFile"], "-o", "json")
    assert predicted_file.returncode == 0, predicted_file.stderr
    assert json.loads(predicted_file.stdout)["model_name"] == "breast-cancer"

    second = demo(home, port, tmp_path / "second.json")  # nothing changed: nothing is redone
    assert second["dataset"]["digest"] == dataset["digest"]
    assert second["model"]["registeredVersion"] == 1
    assert second["training"]["runId"] == training["runId"]

    stopped = modelplane(home, "down")
    assert stopped.returncode == 0
    assert modelplane(home, "status").returncode == 3
    third = demo(home, port, tmp_path / "third.json")
    assert third["model"]["digest"] == model["digest"]
    assert third["serving"]["samplePredictions"] == predicted
