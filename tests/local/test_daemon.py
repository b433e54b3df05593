"""The local daemon end to end: real control plane, the operator's reconcilers, jobs as processes, restarts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
import yaml

from harness.ports import free_port
from modelplane.cli.resources import apply_objects, condition
from modelplane.cli.session import Session

pytestmark = [pytest.mark.local, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    session = Session.open(tmp_path / "home")
    session.up(free_port())
    yield session
    session.down()


def eventually(check: Callable[[], Any], timeout: float = 240.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def ready(session: Session, kind: str, name: str, type_: str = "Ready") -> dict[str, Any] | None:
    obj = session.store.get(kind, "default", name)
    found = condition(obj or {}, type_)
    return obj if found and found.get("status") == "True" else None


def manifests(*paths: str) -> list[dict[str, Any]]:
    return [yaml.safe_load((ROOT / path).read_text()) for path in paths]


def test_dataset_and_training_run_to_success_with_status_and_events(session: Session) -> None:
    written, errors = apply_objects(
        session, manifests("examples/datasets/inline-tiny.yaml", "examples/training/builtin-cpu.yaml"), "default"
    )
    assert errors == []
    assert [w.action for w in written] == ["created", "created"]
    dataset = eventually(lambda: ready(session, "Dataset", "tiny-flowers"), what="the Dataset")
    assert dataset["status"]["rows"] == 6
    assert dataset["status"]["digest"].startswith("sha256:")
    run = eventually(lambda: ready(session, "TrainingRun", "flowers-logreg", "Succeeded"), what="the run")
    assert run["status"]["artifactDigest"].startswith("sha256:")
    assert run["status"]["lineage"]["node"] == "local"
    with session.client() as client:
        recorded = client.get(f"/api/v1/runs/{run['status']['runId']}").json()
    assert recorded["status"] == "Succeeded"
    reasons = {e["reason"] for e in session.store.list("Event", "default")}
    assert {"JobSucceeded", "DatasetReady"} <= reasons


def test_a_restart_in_the_middle_of_training_resumes_the_run(session: Session, tmp_path: Path) -> None:
    # A custom trainer that trains until the test lets it finish (the restart always lands mid-training),
    # then records its run under the operator's run id with the SDK, as a user's trainer does.
    release = tmp_path / "release"
    waits = (
        "import pathlib, time\n"
        f"while not pathlib.Path({str(release)!r}).exists(): time.sleep(0.05)\n"
        "from modelplane.sdk import start_run\n"
        "with start_run() as run: run.log_metric('accuracy', 1.0)\n"
    )
    run_manifest = {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": "flowers-custom"},
        "spec": {
            "datasetRef": {"name": "tiny-flowers"},
            "trainer": {"custom": {"image": "example/flowers-train:1", "command": ["python", "-c", waits]}},
            "maxRetries": 0,  # the interruption is a disruption: it must not count as a failed attempt
        },
    }
    apply_objects(session, [*manifests("examples/datasets/inline-tiny.yaml"), run_manifest], "default")

    def training_pods() -> list[dict[str, Any]]:
        return [p for p in session.store.list("Pod", "default") if p["metadata"]["name"].startswith("flowers-custom")]

    eventually(
        lambda: any((p.get("status") or {}).get("phase") == "Running" for p in training_pods()),
        what="the training pod to run",
    )
    session.down()  # SIGTERM: the daemon stops the training process and exits
    interrupted = training_pods()
    session.up(free_port())
    eventually(lambda: len(training_pods()) == 2, what="the training pod to start again")
    release.touch()
    run = eventually(lambda: ready(session, "TrainingRun", "flowers-custom", "Succeeded"), what="the resumed run")
    pods = training_pods()
    reasons = sorted(p["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] for p in pods)
    assert reasons == ["Completed", "Interrupted"], (interrupted, pods)
    stopped = [(p["status"]["phase"], p["status"]["containerStatuses"][0]["state"]["terminated"]) for p in interrupted]
    assert stopped == [("Failed", {"exitCode": 137, "reason": "Interrupted", "finishedAt": ANY, "message": ANY})]
    assert run["status"]["metrics"] == {"accuracy": 1.0}
    assert run["status"]["conditions"]
