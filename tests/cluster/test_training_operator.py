"""The TrainingRun controller end to end on a real API server: the real operator as its restricted
identity, a live control plane, and the test playing the Job controller and the training job (it records
the run the job would record, then marks the Job complete).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from cluster.operator_support import (
    DATASET_DIGEST,
    OperatorFactory,
    complete_job,
    env_of,
    fail_job,
    job_exited,
    jobs_path,
    list_jobs,
    make_dataset_ready,
    path,
    record_training_run,
    start_job,
    training_run,
    wait_condition,
    wait_jobs,
)
from harness.conditions import condition, has_condition
from harness.kubeapi import KubeClient, resource_path
from harness.manifests import validate_manifest

pytestmark = pytest.mark.cluster


def record_run(cp: httpx.Client, ns: str, job: dict[str, Any], metrics: dict[str, float], artifact_hex: str) -> str:
    """What the training job of ``job`` records: its run (with the operator's run id and lineage), Succeeded."""
    env = env_of(job)
    run: dict[str, Any] = {
        "experiment": env["MODELPLANE_EXPERIMENT"],
        "run_id": env["MODELPLANE_RUN_ID"],
        "dataset_digest": DATASET_DIGEST,
        "seed": 7,
        "packages": {"scikit-learn": "1.9.1"},
        "hardware": {"node": "node-a"},
    }
    if "MODELPLANE_PARENT_RUN_ID" in env:
        run["parent_run_id"] = env["MODELPLANE_PARENT_RUN_ID"]
    return record_training_run(cp, ns, run, metrics, artifact_hex)


def job_named(kube: KubeClient, ns: str, name: str) -> dict[str, Any]:
    return dict(kube.get(jobs_path(ns, name)))


def test_training_run_waits_for_its_dataset_then_succeeds_and_registers_a_model(
    kube_client: KubeClient,
    kube_namespace: str,
    modelplane_operator: OperatorFactory,
    control_plane_client: httpx.Client,
) -> None:
    ns = kube_namespace
    run = training_run("iris-rf", output={"modelName": "iris"}, activeDeadlineSeconds=600, maxRetries=2)
    with modelplane_operator() as operator:
        kube_client.create(path("trainingruns", ns), run)
        waiting = wait_condition(
            kube_client, path("trainingruns", ns, "iris-rf"), operator, "DatasetReady", "False", "DatasetNotFound"
        )
        assert condition(waiting, "Succeeded")["status"] == "Unknown"
        make_dataset_ready(kube_client, control_plane_client, ns, operator)

        (listed,) = wait_jobs(kube_client, ns, "modelplane.io/training-run=iris-rf", operator)
        job = job_named(kube_client, ns, listed["metadata"]["name"])
        validate_manifest({k: v for k, v in job.items() if k != "status"})
        env = env_of(job)
        assert env["MODELPLANE_EXPERIMENT"] == "iris-rf"
        assert len(env["MODELPLANE_RUN_ID"]) == 32
        assert DATASET_DIGEST in env["MODELPLANE_DATASET"]
        assert "MODELPLANE_TRIAL_INDEX" not in env
        assert job["spec"]["backoffLimit"] == 2
        assert job["spec"]["activeDeadlineSeconds"] == 600
        assert job["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "train"
        running = wait_condition(kube_client, path("trainingruns", ns, "iris-rf"), operator, "DatasetReady", "True")
        assert running["status"]["runId"] == env["MODELPLANE_RUN_ID"]

        start_job(kube_client, ns, job["metadata"]["name"])
        wait_condition(kube_client, path("trainingruns", ns, "iris-rf"), operator, "Running", "True", "JobRunning")
        artifact = "ab" * 32
        record_run(control_plane_client, ns, job, {"accuracy": 0.93, "f1": 0.91}, artifact)
        job_exited(kube_client, ns, job["metadata"]["name"], message='{"succeeded": true}', exit_code=0)
        done = wait_condition(
            kube_client, path("trainingruns", ns, "iris-rf"), operator, "Succeeded", "True", "JobSucceeded"
        )
        model = kube_client.wait_for(
            path("modelversions", ns, f"iris-rf-{artifact[:8]}"), lambda obj: True, alive=operator.check_running
        )
    status = done["status"]
    assert status["metrics"] == {"accuracy": 0.93, "f1": 0.91}
    assert status["artifactDigest"] == f"sha256:{artifact}"
    assert status["artifactUri"].endswith(artifact)
    assert status["lineage"]["datasetDigest"] == DATASET_DIGEST
    assert status["lineage"]["node"] == "node-a"
    assert status["lineage"]["imageDigest"] == "sha256:" + "e" * 64  # the run has none: the pod's imageID
    assert status["lineage"]["parameters"] == {"n_estimators": 20}
    assert status["lineage"]["seed"] == 7
    assert status["modelVersion"] == f"iris-rf-{artifact[:8]}"
    assert status["completionTime"]
    assert condition(done, "Ready")["status"] == "True"
    assert (model["spec"]["modelName"], model["spec"]["source"]) == ("iris", {"trainingRunRef": {"name": "iris-rf"}})
    assert model["metadata"]["ownerReferences"][0]["uid"] == done["metadata"]["uid"]
    assert model["metadata"]["annotations"]["modelplane.io/run-id"] == status["runId"]
    assert "Forbidden" not in operator.output()


def test_accelerators_suspend_and_queue_pass_through(
    kube_client: KubeClient,
    kube_namespace: str,
    modelplane_operator: OperatorFactory,
    control_plane_client: httpx.Client,
) -> None:
    ns = kube_namespace
    gpu = training_run(
        "gpu-run",
        resources={"cpu": "4", "memory": "16Gi", "accelerator": {"type": "nvidia-a100", "count": 2}},
        suspend=True,
        queueName="gpu-batch",
    )
    tpu = training_run("tpu-run", resources={"accelerator": {"type": "tpu-v5e", "count": 4}})
    unknown = training_run("odd-run", resources={"accelerator": {"type": "quantum-qpu", "count": 1}})
    with modelplane_operator() as operator:
        make_dataset_ready(kube_client, control_plane_client, ns, operator)
        for body in (gpu, tpu, unknown):
            kube_client.create(path("trainingruns", ns), body)
        invalid = wait_condition(
            kube_client, path("trainingruns", ns, "odd-run"), operator, "Succeeded", "False", "UnknownAccelerator"
        )
        jobs = wait_jobs(kube_client, ns, "app.kubernetes.io/component=training", operator, count=2)
        by_run = {j["metadata"]["labels"]["modelplane.io/training-run"]: j for j in jobs}
        suspended = wait_condition(
            kube_client, path("trainingruns", ns, "gpu-run"), operator, "Running", "False", "JobSuspended"
        )
    assert "nvidia-a100" in condition(invalid, "Succeeded")["message"]
    assert "tpu-v5e" in condition(invalid, "Succeeded")["message"]
    assert not [j for j in jobs if "odd-run" in j["metadata"]["name"]]

    gpu_job = job_named(kube_client, ns, by_run["gpu-run"]["metadata"]["name"])
    validate_manifest({k: v for k, v in gpu_job.items() if k != "status"})
    pod = gpu_job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert container["resources"]["requests"] == {"cpu": "4", "memory": "16Gi"}
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-a100"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert gpu_job["spec"]["suspend"] is True
    assert gpu_job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpu-batch"
    assert env_of(gpu_job)["MODELPLANE_ACCELERATOR"] == "nvidia-a100"
    assert condition(suspended, "Succeeded")["status"] == "Unknown"

    tpu_pod = by_run["tpu-run"]["spec"]["template"]["spec"]
    assert tpu_pod["nodeSelector"] == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
        "cloud.google.com/gke-tpu-topology": "2x2",
    }
    assert tpu_pod["containers"][0]["resources"]["limits"]["google.com/tpu"] == "4"


def test_sweep_respects_parallelism_and_reports_the_best_trial(
    kube_client: KubeClient,
    kube_namespace: str,
    modelplane_operator: OperatorFactory,
    control_plane_client: httpx.Client,
) -> None:
    ns = kube_namespace
    sweep = {
        "algorithm": "Grid",
        "parameters": [{"name": "max_depth", "values": [2, 4, 8]}],
        "objective": {"metric": "f1", "direction": "Maximize"},
        "parallelism": 2,
    }
    scores = {2: 0.71, 4: 0.88, 8: 0.84}
    with modelplane_operator() as operator:
        make_dataset_ready(kube_client, control_plane_client, ns, operator)
        kube_client.create(
            path("trainingruns", ns), training_run("rf-sweep", sweep=sweep, output={"modelName": "iris"})
        )
        selector = "modelplane.io/training-run=rf-sweep"
        first = wait_jobs(kube_client, ns, selector, operator, count=2)
        time.sleep(1.0)  # parallelism 2: no third Job while two run
        assert len(list_jobs(kube_client, ns, selector)) == 2
        trial_jobs = {int(j["metadata"]["labels"]["modelplane.io/trial"]): j for j in first}
        assert set(trial_jobs) == {0, 1}
        parents = {env_of(j)["MODELPLANE_PARENT_RUN_ID"] for j in trial_jobs.values()}
        assert len(parents) == 1

        for index in (0, 1):
            job = trial_jobs[index]
            depth = json_params(job)["max_depth"]
            record_run(control_plane_client, ns, job, {"f1": scores[depth]}, f"{index:02d}" * 32)
            complete_job(kube_client, ns, job["metadata"]["name"])
        third = wait_jobs(kube_client, ns, selector, operator, count=3)
        last = next(j for j in third if j["metadata"]["labels"]["modelplane.io/trial"] == "2")
        record_run(control_plane_client, ns, last, {"f1": scores[json_params(last)["max_depth"]]}, "02" * 32)
        complete_job(kube_client, ns, last["metadata"]["name"])
        done = wait_condition(
            kube_client, path("trainingruns", ns, "rf-sweep"), operator, "Succeeded", "True", "SweepSucceeded"
        )
    trials = done["status"]["trials"]
    assert trials == {
        "total": 3,
        "succeeded": 3,
        "failed": 0,
        "running": 0,
        "bestTrial": 1,
        "bestValue": 0.88,
        "bestParameters": {"n_estimators": 20, "max_depth": 4},
    }
    assert done["status"]["metrics"] == {"f1": 0.88}
    assert done["status"]["runId"] == parents.pop()
    assert done["status"]["modelVersion"] == "rf-sweep-" + "01" * 4
    run = control_plane_client.get(f"/api/v1/runs/{done['status']['runId']}").json()
    assert run["status"] == "Succeeded"
    assert run["tags"]["modelplane.best_trial"] == "1"


def json_params(job: dict[str, Any]) -> dict[str, Any]:
    import json

    return dict(json.loads(env_of(job)["MODELPLANE_TRIAL_PARAMS"]))


def test_distributed_custom_trainer_gets_an_indexed_job_and_a_headless_service(
    kube_client: KubeClient,
    kube_namespace: str,
    modelplane_operator: OperatorFactory,
    control_plane_client: httpx.Client,
) -> None:
    ns = kube_namespace
    run = training_run(
        "ddp",
        trainer={
            "custom": {
                "image": "registry.example.com/ddp:1",
                "command": ["torchrun"],
                "args": ["train.py"],
                "env": [{"name": "WANDB_API_KEY", "secretKeyRef": {"name": "wandb", "key": "apiKey"}}],
            }
        },
        numNodes=3,
        resources={"accelerator": {"type": "nvidia-gpu", "count": 1}},
    )
    with modelplane_operator() as operator:
        make_dataset_ready(kube_client, control_plane_client, ns, operator)
        kube_client.create(path("trainingruns", ns), run)
        (listed,) = wait_jobs(kube_client, ns, "modelplane.io/training-run=ddp", operator)
        name = listed["metadata"]["name"]
        service = kube_client.get(resource_path("v1", "services", ns, name))
        job = job_named(kube_client, ns, name)
        fail_job(kube_client, ns, name)
        failed = wait_condition(
            kube_client, path("trainingruns", ns, "ddp"), operator, "Succeeded", "False", "JobFailed"
        )
    validate_manifest({k: v for k, v in job.items() if k != "status"})
    validate_manifest({k: v for k, v in service.items() if k != "status"})
    assert (job["spec"]["completionMode"], job["spec"]["completions"], job["spec"]["parallelism"]) == ("Indexed", 3, 3)
    pod = job["spec"]["template"]["spec"]
    assert pod["subdomain"] == name
    assert pod["containers"][0]["image"] == "registry.example.com/ddp:1"
    env = env_of(job)
    assert env["WORLD_SIZE"] == "3"
    assert env["MASTER_ADDR"] == f"{name}-0.{name}"
    assert env["RANK"] == {
        "fieldRef": {
            "apiVersion": "v1",
            "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']",
        }
    }
    assert env["WANDB_API_KEY"] == {"secretKeyRef": {"name": "wandb", "key": "apiKey"}}
    assert env["PET_NNODES"] == "3"
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == {"batch.kubernetes.io/job-name": name}
    assert "backoff limit" in condition(failed, "Succeeded")["message"]


def test_killed_operator_resumes_without_duplicate_jobs(
    kube_client: KubeClient,
    kube_namespace: str,
    modelplane_operator: OperatorFactory,
    control_plane_client: httpx.Client,
) -> None:
    ns = kube_namespace
    count = 50
    with modelplane_operator() as operator:
        make_dataset_ready(kube_client, control_plane_client, ns, operator)
        for i in range(count):
            kube_client.create(path("trainingruns", ns), training_run(f"run-{i:02d}"))
        # Kill it in the middle of creating the runs' Jobs.
        kube_client.wait_for(
            jobs_path(ns) + "?labelSelector=app.kubernetes.io/component=training",
            lambda listed: len(listed["items"]) >= 5,
            alive=operator.check_running,
            interval=0.01,
        )
        operator.process.proc.kill()
        operator.process.proc.wait()
    created_before = len(list_jobs(kube_client, ns, "app.kubernetes.io/component=training"))
    with modelplane_operator() as operator:
        jobs = kube_client.wait_for(
            jobs_path(ns) + "?labelSelector=app.kubernetes.io/component=training",
            lambda listed: len(listed["items"]) >= count,
            alive=operator.check_running,
            timeout=60,
        )
        for job in jobs["items"]:  # the job records its run, then its pod exits
            record_run(
                control_plane_client, ns, job_named(kube_client, ns, job["metadata"]["name"]), {"f1": 0.5}, "cd" * 32
            )
            complete_job(kube_client, ns, job["metadata"]["name"])
        deadline = time.monotonic() + 90
        while True:
            operator.check_running()
            runs = kube_client.get(path("trainingruns", ns))["items"]
            done = [r for r in runs if has_condition("Succeeded", "True")(r)]
            if len(done) == count or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert created_before < count, "the operator was killed too late to test a restart in the middle"
    assert len(done) == count, [condition(r, "Succeeded") for r in runs if r not in done][:3]
    final_jobs = list_jobs(kube_client, ns, "app.kubernetes.io/component=training")
    assert len(final_jobs) == count
    per_run = {j["metadata"]["labels"]["modelplane.io/training-run"] for j in final_jobs}
    assert len(per_run) == count


def test_resuming_a_suspended_run_keeps_its_job_and_a_pinned_digest_selects_the_version(
    kube_client: KubeClient,
    kube_namespace: str,
    modelplane_operator: OperatorFactory,
    control_plane_client: httpx.Client,
) -> None:
    ns = kube_namespace
    older = "sha256:" + "01" * 32
    with modelplane_operator() as operator:
        response = control_plane_client.post(
            f"/api/v1/namespaces/{ns}/datasets/iris/versions",
            json={"digest": older, "rows": 100, "artifacts": {"train": "s3://mp/old-train.parquet"}},
        )
        assert response.status_code == 201, response.text
        make_dataset_ready(kube_client, control_plane_client, ns, operator)  # now at DATASET_DIGEST, version 2
        kube_client.create(
            path("trainingruns", ns), training_run("pinned", datasetRef={"name": "iris", "digest": older}, suspend=True)
        )
        kube_client.create(
            path("trainingruns", ns),
            training_run("unknown", datasetRef={"name": "iris", "digest": "sha256:" + "99" * 32}),
        )
        mismatch = wait_condition(
            kube_client, path("trainingruns", ns, "unknown"), operator, "DatasetReady", "False", "DigestMismatch"
        )
        (job,) = wait_jobs(kube_client, ns, "modelplane.io/training-run=pinned", operator)
        assert job["spec"]["suspend"] is True
        kube_client.patch(path("trainingruns", ns, "pinned"), {"spec": {"suspend": False}})
        resumed = kube_client.wait_for(
            jobs_path(ns, job["metadata"]["name"]),
            lambda obj: obj["spec"]["suspend"] is False,
            alive=operator.check_running,
        )
    assert resumed["metadata"]["uid"] == job["metadata"]["uid"]
    assert len(list_jobs(kube_client, ns, "modelplane.io/training-run=pinned")) == 1
    dataset = json_dataset(job)
    assert (dataset["digest"], dataset["version"], dataset["artifacts"]) == (
        older,
        "1",
        {"train": "s3://mp/old-train.parquet"},
    )
    assert "not the pinned" in condition(mismatch, "DatasetReady")["message"]
    assert not list_jobs(kube_client, ns, "modelplane.io/training-run=unknown")


def json_dataset(job: dict[str, Any]) -> dict[str, Any]:
    import json

    return dict(json.loads(env_of(job)["MODELPLANE_DATASET"]))
