"""Desired state of a Dataset's children: the ingest Job, by a deterministic name. Pure.

One ingest Job per *ingest key*: a hash of the Dataset's uid, its generation, the value of its
``modelplane.io/refresh`` annotation and the current refresh round (``refreshIntervalSeconds``). Any of
them changing names a new Job, so a spec change, a refresh request or the interval re-reads the source;
the same key always names the same Job, so a retried or restarted pass never creates a second one.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from modelplane.apis.meta import GROUP
from modelplane.apis.v1alpha1 import Dataset
from modelplane.apis.v1alpha1.common import ResourceSpec
from modelplane.operator import podspec
from modelplane.operator.config import OperatorConfig
from modelplane.operator.naming import child_name, label_value, short_hash

LABEL_DATASET = f"{GROUP}/dataset"
ANNOTATION_INGEST_KEY = f"{GROUP}/ingest-key"
CONTAINER = "ingest"
APP = "modelplane-ingest"
COMPONENT = "ingest"
SOURCE_VOLUME = "source"
SOURCE_MOUNT = "/mnt/modelplane-source"
COMMAND = ["python", "-m", "modelplane.jobs", "ingest"]


def refresh_round(dataset: Dataset, now: datetime) -> int:
    """The index of the current refresh interval (0 without ``refreshIntervalSeconds``).

    Rounds are offset per Dataset (by its uid) so that Datasets with the same interval do not all
    re-read their sources at the same instant.
    """
    interval = dataset.spec.refresh_interval_seconds
    if not interval:
        return 0
    offset = int(short_hash(dataset.metadata.uid or dataset.metadata.name), 16) % interval
    return math.floor((now.timestamp() + offset) / interval)


def seconds_to_next_round(dataset: Dataset, now: datetime) -> float | None:
    """Seconds until the next refresh round begins, or None without ``refreshIntervalSeconds``."""
    interval = dataset.spec.refresh_interval_seconds
    if not interval:
        return None
    offset = int(short_hash(dataset.metadata.uid or dataset.metadata.name), 16) % interval
    return interval - ((now.timestamp() + offset) % interval)


def ingest_key(dataset: Dataset, now: datetime) -> str:
    """The 8-hex key of the ingest this Dataset wants now."""
    meta = dataset.metadata
    refresh = meta.annotations.get(podspec.ANNOTATION_REFRESH, "")
    return short_hash(meta.uid, meta.generation, refresh, refresh_round(dataset, now))


def ingest_job_name(dataset: Dataset, key: str) -> str:
    """``<dataset>-ingest-<key>``."""
    return child_name(dataset.metadata.name, "ingest", key)


def dataset_selector(dataset: Dataset) -> str:
    """Label selector of every ingest Job of this Dataset."""
    return f"{LABEL_DATASET}={label_value(dataset.metadata.name)}"


def _source_env(dataset: Dataset, config: OperatorConfig) -> list[dict[str, Any]]:
    source = dataset.spec.source
    env: list[dict[str, Any]] = []
    if source.s3 is not None:
        if source.s3.access_key_id_ref is not None:
            ref = source.s3.access_key_id_ref
            env.append(podspec.env_secret("MODELPLANE_SOURCE_ACCESS_KEY_ID", ref.name, ref.key))
        if source.s3.secret_access_key_ref is not None:
            ref = source.s3.secret_access_key_ref
            env.append(podspec.env_secret("MODELPLANE_SOURCE_SECRET_ACCESS_KEY", ref.name, ref.key))
        if source.s3.endpoint is None and config.source_s3_endpoint:
            env.append(podspec.env_value("MODELPLANE_SOURCE_S3_ENDPOINT", config.source_s3_endpoint))
    if source.pvc is not None:
        env.append(podspec.env_value("MODELPLANE_PVC_MOUNT", SOURCE_MOUNT))
    return env


def build_ingest_job(dataset: Dataset, config: OperatorConfig, *, key: str) -> dict[str, Any]:
    """The ingest Job of ``dataset`` for ingest ``key``."""
    meta = dataset.metadata
    labels = {
        **podspec.standard_labels(APP, meta.name, COMPONENT),
        LABEL_DATASET: label_value(meta.name),
        podspec.LABEL_GENERATION: str(meta.generation or 0),
    }
    env = [*podspec.contract_env(dataset, dataset.spec.to_wire(), config), *_source_env(dataset, config)]
    mounts: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    if dataset.spec.source.pvc is not None:
        volumes.append(
            {
                "name": SOURCE_VOLUME,
                "persistentVolumeClaim": {"claimName": dataset.spec.source.pvc.claim_name, "readOnly": True},
            }
        )
        mounts.append({"name": SOURCE_VOLUME, "mountPath": SOURCE_MOUNT, "readOnly": True})
    resources = podspec.container_resources(ResourceSpec(cpu=config.ingest_cpu, memory=config.ingest_memory))
    container = podspec.job_container(CONTAINER, podspec.jobs_image(config, COMMAND), env, resources, mounts=mounts)
    return podspec.job_manifest(
        dataset,
        ingest_job_name(dataset, key),
        podspec.job_pod_spec(container, config, volumes=volumes),
        labels=labels,
        annotations={ANNOTATION_INGEST_KEY: key},
        backoff_limit=config.ingest_backoff_limit,
    )
