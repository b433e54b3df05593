"""What every kind's pass shares: the status write (only when it changed, the version noted when asked), the
pods of a Job (and RBAC refusing them), the pass's state and the outcome it hands back. Against the local
store's Kubernetes API (the operator's own client, unchanged) and, for a refusal, an API server answering 403."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelplane.apis.v1alpha1 import Dataset, DatasetStatus
from modelplane.apis.v1alpha1.conditions import Condition, ConditionStatus
from modelplane.kube.client import KubeClient
from modelplane.kube.connection import Connection
from modelplane.kube.resources import DATASETS, PODS
from modelplane.local.apiserver import local_kube_client
from modelplane.local.store import ObjectStore
from modelplane.operator.config import OperatorConfig
from modelplane.operator.controlplane import ControlPlaneClient, ControlPlaneError
from modelplane.operator.outcome import Event
from modelplane.operator.passes import PassState, deletion_requested, job_pods, write_status
from modelplane.operator.runtime import Runtime

pytestmark = pytest.mark.unit

CONFIG = OperatorConfig.from_env({"MODELPLANE_OPERATOR_RETRY_DELAY_SECONDS": "7"})
NOW = "2026-01-02T03:04:05Z"


def runtime_over(kube: KubeClient) -> Runtime:
    return Runtime(config=CONFIG, kube=kube, control_plane=ControlPlaneClient(CONFIG))


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = runtime_over(local_kube_client(ObjectStore(tmp_path / "objects.db")))
    yield runtime
    await runtime.aclose()


def dataset_body(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": name, "namespace": "ml"},
        "spec": {"source": {"inline": {"rows": [{"a": 1}]}}},
    }


def ready(reason: str) -> DatasetStatus:
    condition = Condition(type="Ready", status=ConditionStatus.TRUE, reason=reason, last_transition_time=NOW)
    return DatasetStatus(observed_generation=1, conditions=[condition])


async def test_the_status_is_written_only_when_it_changed_and_its_version_noted_when_asked(runtime: Runtime):
    kube = runtime.kube
    stored = await kube.apply(dataset_body("credit"))
    dataset = Dataset.from_wire(stored)

    assert await write_status(runtime, dataset, ready("Ingested"), note_version=True) is True
    fresh = await kube.get(DATASETS, "ml", "credit") or {}
    assert fresh["status"] == ready("Ingested").to_wire()
    # The body read before the write is older than the operator's own write; the one after is current.
    assert not runtime.written.current("Dataset", "ml", "credit", stored)
    assert runtime.written.current("Dataset", "ml", "credit", fresh)

    # The same status again: no request (the object's version stays).
    assert await write_status(runtime, Dataset.from_wire(fresh), ready("Ingested"), note_version=True) is False
    assert (await kube.get(DATASETS, "ml", "credit") or {})["metadata"]["resourceVersion"] == (
        fresh["metadata"]["resourceVersion"]
    )

    # Without note_version the write happens and nothing is remembered.
    other = Dataset.from_wire(await kube.apply(dataset_body("churn")))
    assert await write_status(runtime, other, ready("Ingested")) is True
    assert (await kube.get(DATASETS, "ml", "churn") or {})["status"]["conditions"][0]["reason"] == "Ingested"
    assert runtime.written.current("Dataset", "ml", "churn", {"metadata": {"resourceVersion": "0"}})
    assert len(runtime.written) == 1


async def test_the_pods_of_a_job_give_its_result(runtime: Runtime):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ingest-1-x", "namespace": "ml", "labels": {"batch.kubernetes.io/job-name": "ingest-1"}},
        "spec": {"nodeName": "node-a", "containers": [{"name": "ingest", "image": "jobs"}]},
    }
    await runtime.kube.apply(pod)
    terminated = {"exitCode": 0, "reason": "Completed", "message": '{"digest": "sha256:00"}'}
    status = {"phase": "Succeeded", "containerStatuses": [{"name": "ingest", "state": {"terminated": terminated}}]}
    await runtime.kube.apply_status({**pod, "status": status})
    assert [p["metadata"]["name"] for p in await runtime.kube.list(PODS, "ml")] == ["ingest-1-x"]

    outcome = await job_pods(runtime, "ml", "ingest-1", want_success=True)
    assert (outcome.result, outcome.exit_code, outcome.node_name) == ({"digest": "sha256:00"}, 0, "node-a")
    assert await job_pods(runtime, "ml", "ingest-2", want_success=True) == type(outcome)()


async def test_pods_rbac_refuses_give_an_empty_outcome_logged_when_asked(caplog: pytest.LogCaptureFixture):
    def forbid(request: httpx.Request) -> httpx.Response:
        body = {"kind": "Status", "status": "Failure", "reason": "Forbidden", "message": "pods is forbidden"}
        return httpx.Response(403, json=body)

    kube = KubeClient(Connection(server="https://kube.example", tls=None), transport=httpx.MockTransport(forbid))
    runtime = runtime_over(kube)
    with caplog.at_level(logging.WARNING, logger="modelplane.operator.passes"):
        quiet = await job_pods(runtime, "ml", "train-0", want_success=False)
        assert caplog.messages == []
        told = await job_pods(runtime, "ml", "ingest-1", want_success=False, forbidden="failure details are limited")
    await runtime.aclose()
    assert quiet == told == type(quiet)()
    assert caplog.messages == ["Cannot read the pods of Job ml/ingest-1 (RBAC): failure details are limited."]


async def test_a_pass_keeps_its_first_control_plane_error_and_hands_back_its_outcome(runtime: Runtime):
    dataset = Dataset.from_wire({**dataset_body("credit"), "metadata": {"name": "credit", "namespace": "ml"}})
    state = PassState(runtime, dataset)
    assert (state.namespace, state.uid, state.control_plane_error) == ("ml", "", None)
    assert state.note_control_plane(ControlPlaneError("first")) == "first"
    assert state.note_control_plane(ControlPlaneError("second")) == "second"
    assert state.control_plane_error == "first"

    state.created.append("credit-ingest-1")
    events = (Event("Normal", "JobCreated", "Created."),)
    retry = state.outcome(events, written=True, retry="Waiting.", resync_after=30.0)
    assert (retry.retry_after, retry.retry_message, retry.children_created) == (7.0, "Waiting.", ("credit-ingest-1",))
    assert (retry.events, retry.status_written, retry.resync_after, retry.permanent) == (events, True, 30.0, None)
    settled = state.outcome((), written=False, retry="", permanent="Invalid spec.")
    assert (settled.retry_after, settled.retry_message, settled.permanent) == (None, "", "Invalid spec.")


def test_deletion_requested_reads_the_deletion_timestamp():
    assert deletion_requested({"metadata": {"deletionTimestamp": NOW}})
    assert not deletion_requested({"metadata": {"name": "a"}})
    assert not deletion_requested({"metadata": None})
