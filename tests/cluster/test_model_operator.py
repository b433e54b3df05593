"""The ModelVersion controller end to end on a real API server: the real operator as its restricted identity, a
live control plane, and the test playing the Job controller and the validation job (it registers the version the
job would register and writes the job's result as the pod's termination message, then marks the Job finished).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from cluster.operator_support import (
    DATASET_DIGEST,
    OperatorFactory,
    artifact_uri,
    complete_job,
    env_of,
    job_exited,
    jobs_path,
    make_dataset_ready,
    manifest,
    path,
    record_training_run,
    wait_condition,
    wait_jobs,
)
from harness.conditions import condition, has_condition
from harness.control_plane import LiveApi
from harness.kubeapi import KubeClient
from harness.manifests import validate_manifest
from harness.operator_process import OperatorProcess

pytestmark = pytest.mark.cluster

FINALIZER = "modelplane.io/artifact-retention"
SIGNATURE = {
    "inputs": [{"name": "float_input", "datatype": "FP32", "shape": [-1, 4]}],
    "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1]}],
}


def external_version(name: str, sha256: str, **spec: Any) -> dict[str, Any]:
    source = {
        "external": {
            "uri": "s3://vendor-models/iris/model.onnx",
            "sha256": sha256,
            "endpoint": "https://s3.vendor.example.com",
            "accessKeyIdRef": {"name": "vendor-s3", "key": "id"},
            "secretAccessKeyRef": {"name": "vendor-s3", "key": "secret"},
        }
    }
    return manifest("ModelVersion", name, {"modelName": "iris", "source": source, **spec})


def validation_job(kube: KubeClient, ns: str, name: str, operator: OperatorProcess) -> dict[str, Any]:
    (listed,) = wait_jobs(kube, ns, f"modelplane.io/model-version={name}", operator)
    return dict(kube.get(jobs_path(ns, listed["metadata"]["name"])))


def register(cp: httpx.Client, ns: str, sha256: str, *, source: str, run_id: str | None = None) -> dict[str, Any]:
    """What the validation job records in the registry."""
    body: dict[str, Any] = {
        "artifact_uri": artifact_uri(ns, sha256),
        "sha256": sha256,
        "size_bytes": 4096,
        "signature": SIGNATURE,
        "metrics": {"accuracy": 0.96},
        "source": source,
    }
    if run_id is not None:
        body.update(run_id=run_id, dataset_digest=DATASET_DIGEST)
    response = cp.post(f"/api/v1/namespaces/{ns}/models/iris/versions", json=body)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def result(job: dict[str, Any], *, succeeded: bool = True, reason: str = "Validated", **fields: Any) -> str:
    """The validation job's result line (docs/jobs.md) for the ModelVersion of ``job``."""
    resource = json.loads(env_of(job)["MODELPLANE_RESOURCE"])
    document = {
        "kind": "ModelVersion",
        "name": resource["metadata"]["name"],
        "uid": resource["metadata"]["uid"],
        "observedGeneration": resource["metadata"]["generation"],
        "succeeded": succeeded,
        "reason": reason,
        "message": fields.pop("message", "The artifact is valid."),
        "registeredVersion": None,
        "artifact": None,
        "optimizedArtifact": None,
        "signature": SIGNATURE,
        "metrics": {},
        "gates": [],
        "baseline": None,
        "singleInferenceMicroseconds": 120,
        "runId": None,
        "trainingRun": None,
        "datasetDigest": None,
        **fields,
    }
    return json.dumps(document, separators=(",", ":"))


def validate(kube: KubeClient, cp: httpx.Client, ns: str, name: str, sha256: str, operator: OperatorProcess) -> int:
    """Play a successful validation of ModelVersion ``name``: register, report, complete; its registry version."""
    job = validation_job(kube, ns, name, operator)
    version = register(cp, ns, sha256, source=name)
    artifact = {"uri": version["artifact_uri"], "sha256": sha256, "sizeBytes": 4096}
    message = result(job, registeredVersion=version["version"], artifact=artifact, metrics={"accuracy": 0.96})
    job_exited(kube, ns, job["metadata"]["name"], message=message, exit_code=0)
    wait_condition(kube, path("modelversions", ns, name), operator, "Ready", "True")
    return int(version["version"])


def wait_gone(kube: KubeClient, resource_path: str, operator: OperatorProcess, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while kube.exists(resource_path):
        operator.check_running()
        assert time.monotonic() < deadline, f"{resource_path} still exists: {kube.get(resource_path)}"
        time.sleep(0.1)


def aliases(cp: httpx.Client, ns: str) -> dict[str, int]:
    response = cp.get(f"/api/v1/namespaces/{ns}/models/iris")
    assert response.status_code == 200, response.text
    return dict(response.json()["aliases"])


def settled_aliases(
    cp: httpx.Client, ns: str, expected: dict[str, int], operator: OperatorProcess, timeout: float = 30.0
) -> dict[str, int]:
    """The registry's aliases once they equal ``expected`` (or the last seen at the deadline).

    Alias ownership converges rather than being atomic: two versions' passes may overlap (one still sees the
    other as not yet Ready and moves the alias back), and the next pass of the rightful holder corrects it.
    """
    deadline = time.monotonic() + timeout
    while True:
        operator.check_running()
        seen = aliases(cp, ns)
        if seen == expected or time.monotonic() >= deadline:
            return seen
        time.sleep(0.1)


def test_an_external_model_is_validated_registered_and_takes_its_alias(
    kube_client: KubeClient,
    kube_namespace: str,
    modelplane_operator: OperatorFactory,
    control_plane_client: httpx.Client,
) -> None:
    ns, sha256 = kube_namespace, "a7" * 32
    with modelplane_operator() as operator:
        kube_client.create(path("modelversions", ns), external_version("iris-ext", sha256, aliases=["champion"]))
        job = validation_job(kube_client, ns, "iris-ext", operator)
        created = wait_condition(
            kube_client, path("modelversions", ns, "iris-ext"), operator, "Validated", "Unknown", "JobCreated"
        )
        validate_manifest({k: v for k, v in job.items() if k != "status"})
        env = env_of(job)
        assert job["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "validate-model"
        assert json.loads(env["MODELPLANE_MODEL_SOURCE"]) == {
            "uri": "s3://vendor-models/iris/model.onnx",
            "sha256": sha256,
            "runId": None,
            "trainingRun": None,
            "datasetDigest": None,
        }
        assert env["MODELPLANE_SOURCE_ACCESS_KEY_ID"] == {"secretKeyRef": {"name": "vendor-s3", "key": "id"}}
        assert "MODELPLANE_EVAL_DATASET" not in env
        assert FINALIZER in created["metadata"]["finalizers"]
        assert condition(created, "AliasesAssigned")["reason"] == "AliasesPending"

        version = validate(kube_client, control_plane_client, ns, "iris-ext", sha256, operator)
        ready = wait_condition(
            kube_client, path("modelversions", ns, "iris-ext"), operator, "AliasesAssigned", "True", "AliasesHeld"
        )
        held = aliases(control_plane_client, ns)
        table = kube_client.table(path("modelversions", ns))
    status = ready["status"]
    assert status["registeredVersion"] == version == 1
    assert status["artifact"] == {
        "uri": f"s3://modelplane/{ns}/sha256/a7/{sha256}",
        "sha256": sha256,
        "sizeBytes": 4096,
    }
    assert status["signature"] == SIGNATURE
    assert status["metrics"] == {"accuracy": 0.96}
    assert status["singleInferenceMicroseconds"] == 120
    assert status["aliases"] == ["champion"]
    assert condition(ready, "Evaluated")["reason"] == "NoGates"
    assert condition(ready, "Ready")["message"] == "Version 1 of model iris is registered and may be served."
    assert all(c["observedGeneration"] == ready["metadata"]["generation"] for c in status["conditions"])
    assert held == {"champion": 1}
    row = next(r for r in table["rows"] if r["object"]["metadata"]["name"] == "iris-ext")
    assert [str(c) for c in row["cells"][:4]] == ["iris-ext", "True", "iris", "1"]


def test_failure_reasons_reach_status_and_gates_report_measured_values(
    kube_client: KubeClient,
    kube_namespace: str,
    modelplane_operator: OperatorFactory,
    control_plane_client: httpx.Client,
) -> None:
    ns = kube_namespace
    evaluation = {"datasetRef": {"name": "holdout"}, "thresholds": [{"metric": "accuracy", "min": 0.9}]}
    with modelplane_operator() as operator:
        kube_client.create(path("modelversions", ns), external_version("bad-digest", "b1" * 32))
        kube_client.create(path("modelversions", ns), external_version("gated", "b2" * 32, evaluation=evaluation))
        waiting = wait_condition(
            kube_client, path("modelversions", ns, "gated"), operator, "Ready", "False", "DatasetNotFound"
        )
        make_dataset_ready(kube_client, control_plane_client, ns, operator, "holdout")

        job = validation_job(kube_client, ns, "bad-digest", operator)
        mismatch = f"sha256 mismatch: expected {'b1' * 32}, got {'ff' * 32}"
        message = result(job, succeeded=False, reason="DigestMismatch", message=mismatch)
        job_exited(kube_client, ns, job["metadata"]["name"], message=message, exit_code=2)
        invalid = wait_condition(
            kube_client, path("modelversions", ns, "bad-digest"), operator, "Validated", "False", "DigestMismatch"
        )

        gated_job = validation_job(kube_client, ns, "gated", operator)
        gates = [{"metric": "accuracy", "value": 0.81, "min": 0.9, "max": None, "passed": False}]
        artifact = {"uri": "s3://modelplane/x", "sha256": "b2" * 32, "sizeBytes": 4096}
        message = result(
            gated_job,
            succeeded=False,
            reason="GateFailed",
            message="accuracy 0.81 < min 0.9",
            artifact=artifact,
            metrics={"accuracy": 0.81},
            gates=gates,
        )
        job_exited(kube_client, ns, gated_job["metadata"]["name"], message=message, exit_code=3)
        failed_gate = wait_condition(
            kube_client, path("modelversions", ns, "gated"), operator, "Evaluated", "False", "GateFailed"
        )
    assert condition(waiting, "Validated")["status"] == "Unknown"
    evaluated_on = json.loads(env_of(gated_job)["MODELPLANE_EVAL_DATASET"])
    assert (evaluated_on["name"], evaluated_on["digest"]) == ("holdout", DATASET_DIGEST)
    assert mismatch in condition(invalid, "Validated")["message"]
    assert condition(invalid, "Ready")["reason"] == "DigestMismatch"
    assert condition(failed_gate, "Validated")["status"] == "True"
    assert condition(failed_gate, "Ready") | {"lastTransitionTime": None} == {
        "type": "Ready",
        "status": "False",
        "reason": "GateFailed",
        "message": "Gates failed: accuracy 0.81 < min 0.9.",
        "lastTransitionTime": None,
        "observedGeneration": 1,
    }
    assert failed_gate["status"]["metrics"] == {"accuracy": 0.81}
    assert "registeredVersion" not in failed_gate["status"]


def test_two_versions_claiming_an_alias_leave_one_holder_and_it_moves_back_on_deletion(
    kube_client: KubeClient,
    kube_namespace: str,
    modelplane_operator: OperatorFactory,
    control_plane_client: httpx.Client,
) -> None:
    ns = kube_namespace
    with modelplane_operator() as operator:
        kube_client.create(path("modelversions", ns), external_version("iris-old", "c1" * 32, aliases=["champion"]))
        old = validate(kube_client, control_plane_client, ns, "iris-old", "c1" * 32, operator)
        kube_client.wait_for(
            path("modelversions", ns, "iris-old"), lambda o: o["status"].get("aliases") == ["champion"]
        )
        time.sleep(1.1)  # creationTimestamp has a resolution of one second: the newer one is newer
        kube_client.create(path("modelversions", ns), external_version("iris-new", "c2" * 32, aliases=["champion"]))
        new = validate(kube_client, control_plane_client, ns, "iris-new", "c2" * 32, operator)
        holder = kube_client.wait_for(
            path("modelversions", ns, "iris-new"),
            lambda o: o["status"].get("aliases") == ["champion"],
            alive=operator.check_running,
        )
        moved = settled_aliases(control_plane_client, ns, {"champion": 2}, operator)
        loser = kube_client.wait_for(
            path("modelversions", ns, "iris-old"),
            lambda o: has_condition("AliasesAssigned", "False", "AliasConflict")(o) and not o["status"].get("aliases"),
            alive=operator.check_running,
        )

        kube_client.delete(path("modelversions", ns, "iris-new"))
        wait_gone(kube_client, path("modelversions", ns, "iris-new"), operator)
        back = wait_condition(
            kube_client, path("modelversions", ns, "iris-old"), operator, "AliasesAssigned", "True", "AliasesHeld"
        )
        final = settled_aliases(control_plane_client, ns, {"champion": 1}, operator)
    assert (old, new) == (1, 2)
    assert moved == {"champion": 2}
    assert condition(holder, "AliasesAssigned")["reason"] == "AliasesHeld"
    assert loser["status"].get("aliases", []) == []
    assert condition(loser, "Ready")["status"] == "True"  # the loser stays Ready
    assert condition(loser, "AliasesAssigned")["message"].startswith(
        "Alias champion is held by ModelVersion iris-new (version 2)"
    )
    assert back["status"]["aliases"] == ["champion"]
    assert final == {"champion": 1}


def upload(cp: httpx.Client, ns: str, content: bytes) -> str:
    """Store an artifact in the control plane (what the validation job does for a platform copy); its sha256."""
    response = cp.post(f"/api/v1/namespaces/{ns}/artifacts", content=content)
    assert response.status_code == 201, response.text
    return str(response.json()["sha256"])


def test_a_version_in_use_is_not_deleted_and_a_delete_policy_deletes_the_artifact(
    kube_client: KubeClient,
    kube_namespace: str,
    modelplane_operator: OperatorFactory,
    control_plane: LiveApi,
    control_plane_client: httpx.Client,
) -> None:
    ns = kube_namespace
    service = manifest("InferenceService", "iris-svc", {"modelRef": {"name": "iris", "alias": "champion"}})
    served_digest = upload(control_plane_client, ns, b"served model " * 256)
    scratch_digest = upload(control_plane_client, ns, b"scratch model " * 256)
    with modelplane_operator() as operator:
        kube_client.create(path("modelversions", ns), external_version("served", served_digest, aliases=["champion"]))
        validate(kube_client, control_plane_client, ns, "served", served_digest, operator)
        wait_condition(kube_client, path("modelversions", ns, "served"), operator, "AliasesAssigned", "True")
        kube_client.create(path("inferenceservices", ns), service)
        kube_client.delete(path("modelversions", ns, "served"))
        blocked = wait_condition(
            kube_client, path("modelversions", ns, "served"), operator, "Deleting", "True", "InUse"
        )
        time.sleep(2)  # longer than a resync: still there
        still = kube_client.get(path("modelversions", ns, "served"))
        kube_client.delete(path("inferenceservices", ns, "iris-svc"))
        wait_gone(kube_client, path("modelversions", ns, "served"), operator)
        released = aliases(control_plane_client, ns)
        retained = control_plane_client.get(f"/api/v1/namespaces/{ns}/artifacts/{served_digest}")

        kube_client.create(
            path("modelversions", ns), external_version("scratch", scratch_digest, retentionPolicy="Delete")
        )
        validate(kube_client, control_plane_client, ns, "scratch", scratch_digest, operator)
        kube_client.delete(path("modelversions", ns, "scratch"))
        wait_gone(kube_client, path("modelversions", ns, "scratch"), operator)
    deleted = control_plane_client.get(f"/api/v1/namespaces/{ns}/artifacts/{scratch_digest}")
    audit = control_plane_client.get(f"/api/v1/namespaces/{ns}/audit").json()["items"]
    assert condition(blocked, "Deleting")["message"] == (
        "Deletion waits: InferenceService iris-svc (modelRef iris@champion) uses this version."
    )
    assert condition(blocked, "Ready")["status"] == "True"  # still served
    assert FINALIZER in still["metadata"]["finalizers"]
    assert released == {}  # the deleted holder's alias, claimed by nobody else, was removed
    assert retained.status_code == 200  # retentionPolicy Retain (the default) kept the artifact
    assert deleted.status_code == 404  # retentionPolicy Delete deleted it from the store
    assert not list(control_plane.settings.artifacts.local_root.rglob(scratch_digest))
    assert [e["action"] for e in audit if e["object_id"] == scratch_digest] == ["artifact.delete", "artifact.upload"]
    assert [e["action"] for e in audit if e["object_id"] == served_digest] == ["artifact.upload"]


def test_a_training_runs_model_and_a_version_waiting_for_it_are_validated_from_its_status(
    kube_client: KubeClient,
    kube_namespace: str,
    modelplane_operator: OperatorFactory,
    control_plane_client: httpx.Client,
) -> None:
    ns, artifact = kube_namespace, "e4" * 32
    run = manifest(
        "TrainingRun",
        "iris-rf",
        {
            "datasetRef": {"name": "iris"},
            "trainer": {"builtin": {"estimator": "RandomForestClassifier"}},
            "output": {"modelName": "iris"},
        },
    )
    mine = manifest(
        "ModelVersion",
        "iris-gated",
        {
            "modelName": "iris",
            "source": {"trainingRunRef": {"name": "iris-rf"}},
            "evaluation": {"thresholds": [{"metric": "accuracy", "min": 0.9}]},
        },
    )
    with modelplane_operator() as operator:
        kube_client.create(path("modelversions", ns), mine)
        wait_condition(
            kube_client, path("modelversions", ns, "iris-gated"), operator, "Ready", "False", "SourceNotFound"
        )
        kube_client.create(path("trainingruns", ns), run)
        make_dataset_ready(kube_client, control_plane_client, ns, operator)
        (train,) = wait_jobs(kube_client, ns, "modelplane.io/training-run=iris-rf", operator)
        waiting = kube_client.get(path("modelversions", ns, "iris-gated"))
        run_id = env_of(train)["MODELPLANE_RUN_ID"]
        recorded = {"experiment": "iris-rf", "run_id": run_id, "dataset_digest": DATASET_DIGEST, "seed": 42}
        record_training_run(control_plane_client, ns, recorded, {"accuracy": 0.95}, artifact)
        complete_job(kube_client, ns, train["metadata"]["name"])
        wait_condition(kube_client, path("trainingruns", ns, "iris-rf"), operator, "Succeeded", "True")
        created = validation_job(kube_client, ns, f"iris-rf-{artifact[:8]}", operator)
        gated = validation_job(kube_client, ns, "iris-gated", operator)
    source = json.loads(env_of(created)["MODELPLANE_MODEL_SOURCE"])
    assert source == {
        "uri": artifact_uri(ns, artifact),
        "sha256": artifact,
        "runId": run_id,
        "trainingRun": "iris-rf",
        "datasetDigest": DATASET_DIGEST,
    }
    assert "MODELPLANE_EVAL_DATASET" not in env_of(created)  # the run's own version has no gates
    assert json.loads(env_of(gated)["MODELPLANE_MODEL_SOURCE"]) == source
    evaluated_on = json.loads(env_of(gated)["MODELPLANE_EVAL_DATASET"])
    assert (evaluated_on["name"], evaluated_on["digest"]) == ("iris", DATASET_DIGEST)
    assert evaluated_on["artifacts"]["test"] == "s3://mp/test.parquet"
    assert condition(waiting, "Validated")["reason"] in ("SourceNotReady", "SourceNotFound")
