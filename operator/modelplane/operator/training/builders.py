"""Desired state of a TrainingRun's children: one Job per trial, a headless Service per distributed trial,
and the ModelVersion of the result. Pure.

Names are deterministic (``<run>-<spec key>-<trial>``, the key a hash of the uid and the training-relevant
spec), so every pass, retry or restarted operator applies the same objects. A built-in trainer runs the jobs image
(``python -m modelplane.jobs train``); a custom trainer runs the user's image, command, args and env. Both
get the job contract's environment (docs/operator.md). ``numNodes > 1`` makes an Indexed Job
(``completions = parallelism = numNodes``) whose pods find rank 0 through a headless Service, with the
``torchrun`` variables (``PET_*``) and the usual ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/``MASTER_PORT``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelplane.apis.meta import GROUP
from modelplane.apis.v1alpha1 import TrainingRun
from modelplane.apis.v1alpha1.sweep import trial_hyperparameters
from modelplane.operator import podspec
from modelplane.operator.accelerators import Placement
from modelplane.operator.config import OperatorConfig
from modelplane.operator.naming import child_name, label_value, run_id, short_hash
from modelplane.operator.training.inputs import ANNOTATION_DATASET, DatasetInfo

LABEL_TRAINING_RUN = f"{GROUP}/training-run"
LABEL_TRIAL = f"{GROUP}/trial"
LABEL_SPEC_KEY = f"{GROUP}/spec-key"
LABEL_KUEUE_QUEUE = "kueue.x-k8s.io/queue-name"
ANNOTATION_RUN_ID = f"{GROUP}/run-id"
ANNOTATION_PARENT_RUN_ID = f"{GROUP}/parent-run-id"
ANNOTATION_ARTIFACT_URI = f"{GROUP}/artifact-uri"
ANNOTATION_ARTIFACT_SHA256 = f"{GROUP}/artifact-sha256"
ANNOTATION_DATASET_DIGEST = f"{GROUP}/dataset-digest"
CONTAINER = "trainer"
APP = "modelplane-trainer"
COMPONENT = "training"
COMMAND = ["python", "-m", "modelplane.jobs", "train"]
RENDEZVOUS_PORT = 29500


@dataclass(frozen=True)
class Trial:
    """One trial: its index, its searched values (None without a sweep), effective hyperparameters and run ids."""

    index: int
    values: dict[str, Any] | None
    params: dict[str, Any]
    run_id: str
    parent_run_id: str | None = None


SCHEDULING_FIELDS = ("suspend", "queueName", "output")
"""Spec fields that do not change what is trained: changing them keeps the run's Jobs and run ids."""


def spec_key(run: TrainingRun) -> str:
    """6 hex of the run's uid and its spec without the scheduling fields: the identity of its trials.

    A new generation that only suspends/resumes the run, moves it to another queue or sets the output
    keeps the same Jobs (and run ids); any other spec change makes new ones (the old Jobs are deleted).
    """
    spec = {k: v for k, v in run.spec.to_wire().items() if k not in SCHEDULING_FIELDS}
    return short_hash(run.metadata.uid, podspec.compact_json(spec), length=6)


def trial_job_name(run: TrainingRun, index: int) -> str:
    """``<run>-<spec key>-<trial>``."""
    return child_name(run.metadata.name, spec_key(run), str(index))


def parent_run_id(run: TrainingRun) -> str | None:
    """The sweep's parent run id (None without a sweep)."""
    if run.spec.sweep is None:
        return None
    return run_id(run.metadata.uid or "", spec_key(run), "sweep")


def make_trials(run: TrainingRun, values: list[dict[str, Any]]) -> list[Trial]:
    """The run's trials (``values`` from ``sweep.expand_trials``; one trial without a sweep) with run ids."""
    uid, key = run.metadata.uid or "", spec_key(run)
    if run.spec.sweep is None:
        return [Trial(0, None, trial_hyperparameters(run.spec, None), run_id(uid, key, 0))]
    parent = parent_run_id(run)
    return [Trial(i, v, trial_hyperparameters(run.spec, v), run_id(uid, key, i), parent) for i, v in enumerate(values)]


def run_selector(run: TrainingRun) -> str:
    """Label selector of every Job of this TrainingRun."""
    return f"{LABEL_TRAINING_RUN}={label_value(run.metadata.name)}"


def _labels(run: TrainingRun, trial: Trial) -> dict[str, str]:
    return {
        **podspec.standard_labels(APP, run.metadata.name, COMPONENT),
        LABEL_TRAINING_RUN: label_value(run.metadata.name),
        LABEL_SPEC_KEY: spec_key(run),
        LABEL_TRIAL: str(trial.index),
    }


def _distributed_env(job_name: str, nodes: int) -> list[dict[str, Any]]:
    master = f"{job_name}-0.{job_name}"
    rank_path = f"metadata.annotations['{podspec.COMPLETION_INDEX_ANNOTATION}']"
    return [
        podspec.env_field("RANK", rank_path),
        podspec.env_value("WORLD_SIZE", str(nodes)),
        podspec.env_value("MASTER_ADDR", master),
        podspec.env_value("MASTER_PORT", str(RENDEZVOUS_PORT)),
        podspec.env_field("PET_NODE_RANK", rank_path),
        podspec.env_value("PET_NNODES", str(nodes)),
        podspec.env_value("PET_MASTER_ADDR", master),
        podspec.env_value("PET_MASTER_PORT", str(RENDEZVOUS_PORT)),
    ]


def _run_env(run: TrainingRun, trial: Trial, dataset: DatasetInfo, placement: Placement) -> list[dict[str, Any]]:
    env = [
        podspec.env_value("MODELPLANE_RUN_ID", trial.run_id),
        podspec.env_value("MODELPLANE_EXPERIMENT", run.metadata.name),
        podspec.env_value("MODELPLANE_DATASET", dataset.to_json()),
        podspec.env_value("MODELPLANE_SEED", str(run.spec.seed)),
    ]
    if trial.values is not None:  # a sweep trial
        env.append(podspec.env_value("MODELPLANE_TRIAL_INDEX", str(trial.index)))
        env.append(podspec.env_value("MODELPLANE_TRIAL_PARAMS", podspec.compact_json(trial.values)))
    if trial.parent_run_id is not None:
        env.append(podspec.env_value("MODELPLANE_PARENT_RUN_ID", trial.parent_run_id))
    if placement.profile is not None:
        env.append(podspec.env_value("MODELPLANE_ACCELERATOR", placement.profile))
    code_ref = run.metadata.annotations.get(podspec.ANNOTATION_CODE_REF)
    if code_ref:
        env.append(podspec.env_value("MODELPLANE_CODE_REF", code_ref))
    return env


def _container(
    run: TrainingRun, config: OperatorConfig, trial: Trial, dataset: DatasetInfo, placement: Placement, job_name: str
) -> dict[str, Any]:
    spec = run.spec
    custom = spec.trainer.custom
    env: list[dict[str, Any]] = []
    if custom is not None:
        env += podspec.user_env(custom.env)  # first: the contract's variables below take precedence
        env.append(podspec.env_value("MP_HYPERPARAMETERS", podspec.compact_json(trial.params)))
    env += podspec.contract_env(run, spec.to_wire(), config)
    env += _run_env(run, trial, dataset, placement)
    if spec.num_nodes > 1:
        env += _distributed_env(job_name, spec.num_nodes)
    image: dict[str, Any]
    if custom is not None:
        image = {"image": custom.image}
        if custom.command:
            image["command"] = list(custom.command)
        if custom.args:
            image["args"] = list(custom.args)
    else:
        image = podspec.jobs_image(config, COMMAND)
    container = podspec.job_container(CONTAINER, image, env, podspec.container_resources(spec.resources, placement))
    if spec.num_nodes > 1:
        container["ports"] = [{"name": "rendezvous", "containerPort": RENDEZVOUS_PORT, "protocol": "TCP"}]
    return container


def build_training_job(
    run: TrainingRun, config: OperatorConfig, *, trial: Trial, dataset: DatasetInfo, placement: Placement
) -> dict[str, Any]:
    """The Job of one trial."""
    spec = run.spec
    name = trial_job_name(run, trial.index)
    container = _container(run, config, trial, dataset, placement, name)
    distributed = spec.num_nodes > 1
    pod_spec = podspec.job_pod_spec(container, config, placement=placement, subdomain=name if distributed else None)
    annotations = {ANNOTATION_RUN_ID: trial.run_id, ANNOTATION_DATASET: dataset.to_json()}
    if trial.parent_run_id is not None:
        annotations[ANNOTATION_PARENT_RUN_ID] = trial.parent_run_id
    job_spec: dict[str, Any] = {"suspend": desired_suspend(run)}
    if spec.active_deadline_seconds is not None:
        job_spec["activeDeadlineSeconds"] = spec.active_deadline_seconds
    if distributed:
        job_spec.update(completionMode="Indexed", completions=spec.num_nodes, parallelism=spec.num_nodes)
    return podspec.job_manifest(
        run,
        name,
        pod_spec,
        labels=_labels(run, trial),
        annotations=annotations,
        backoff_limit=spec.max_retries,
        permanent_exit_code=spec.trainer.custom is None,
        job_labels={LABEL_KUEUE_QUEUE: spec.queue_name} if spec.queue_name else None,
        spec=job_spec,
    )


def desired_suspend(run: TrainingRun) -> bool:
    """Jobs start suspended when the spec says so or a Kueue queue admits them (Kueue unsuspends)."""
    return run.spec.suspend or run.spec.queue_name is not None


def build_headless_service(run: TrainingRun, trial: Trial) -> dict[str, Any]:
    """The headless Service giving a distributed trial's pods stable DNS names (``<job>-<rank>.<job>``)."""
    name = trial_job_name(run, trial.index)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": run.metadata.namespace,
            "labels": _labels(run, trial),
            "ownerReferences": [podspec.owner_reference(run)],
        },
        "spec": {
            "clusterIP": "None",
            "selector": {podspec.JOB_NAME_LABEL: name},
            "publishNotReadyAddresses": True,
            "ports": [
                {"name": "rendezvous", "port": RENDEZVOUS_PORT, "targetPort": RENDEZVOUS_PORT, "protocol": "TCP"}
            ],
        },
    }


def model_version_name(run: TrainingRun, artifact_sha256: str | None, best_run_id: str) -> str:
    """``<run>-<first 8 hex of the artifact's sha256>`` (of the run id when the digest is unknown)."""
    return child_name(run.metadata.name, (artifact_sha256 or best_run_id)[:8], max_length=253)


def build_model_version(
    run: TrainingRun,
    *,
    best_trial: int | None,
    best_run_id: str,
    artifact_uri: str | None,
    artifact_sha256: str | None,
    dataset_digest: str | None,
) -> dict[str, Any]:
    """The ModelVersion registering the (best) model of a succeeded run, with its lineage in annotations."""
    assert run.spec.output.model_name is not None
    source: dict[str, Any] = {"name": run.metadata.name}
    if run.spec.sweep is not None and best_trial is not None:
        source["trial"] = best_trial
    annotations = {ANNOTATION_RUN_ID: best_run_id}
    if artifact_uri:
        annotations[ANNOTATION_ARTIFACT_URI] = artifact_uri
    if artifact_sha256:
        annotations[ANNOTATION_ARTIFACT_SHA256] = artifact_sha256
    if dataset_digest:
        annotations[ANNOTATION_DATASET_DIGEST] = dataset_digest
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "ModelVersion",
        "metadata": {
            "name": model_version_name(run, artifact_sha256, best_run_id),
            "namespace": run.metadata.namespace,
            "labels": {
                **podspec.standard_labels("modelplane-model", run.metadata.name, "model-version"),
                LABEL_TRAINING_RUN: label_value(run.metadata.name),
            },
            "annotations": annotations,
            "ownerReferences": [podspec.owner_reference(run)],
        },
        "spec": {"modelName": run.spec.output.model_name, "source": {"trainingRunRef": source}},
    }
