"""The Job, pod and container every job gets (the golden files of each kind's builders show them whole; these
tests pin what the per-kind builders rely on), placement, and reading back an annotation's JSON."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.apis.v1alpha1 import Dataset
from modelplane.apis.v1alpha1.common import Accelerator
from modelplane.operator import podspec
from modelplane.operator.accelerators import DEFAULT_PROFILES, Placement, resolve_accelerator
from modelplane.operator.config import OperatorConfig

pytestmark = pytest.mark.unit

CONFIG = OperatorConfig.from_env({})
WITH_ACCOUNT = OperatorConfig.from_env({"MODELPLANE_OPERATOR_JOBS_SERVICE_ACCOUNT": "modelplane-jobs"})
OWNER = Dataset.from_wire(
    {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "credit", "namespace": "risk", "uid": "0b8e3c52", "generation": 3},
        "spec": {"source": {"inline": {"rows": [{"a": 1}]}}},
    }
)
SOURCE_MOUNT = {"name": "source", "mountPath": "/mnt/source", "readOnly": True}
SOURCE_VOLUME = {"name": "source", "persistentVolumeClaim": {"claimName": "lake", "readOnly": True}}


def container(**kwargs: Any) -> dict[str, Any]:
    env = podspec.contract_env(OWNER, OWNER.spec.to_wire(), CONFIG)
    return podspec.job_container("ingest", podspec.jobs_image(CONFIG, ["python", "-m", "x"]), env, {}, **kwargs)


def test_a_job_container_runs_the_contract_locked_down():
    plain, with_source = container(), container(mounts=[SOURCE_MOUNT])
    assert plain["image"] == CONFIG.jobs_image
    assert plain["command"] == ["python", "-m", "x"]
    assert plain["volumeMounts"] == [podspec.token_mount(), podspec.work_mount()]
    assert with_source["volumeMounts"] == [podspec.token_mount(), podspec.work_mount(), SOURCE_MOUNT]
    assert plain["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert plain["terminationMessagePolicy"] == "FallbackToLogsOnError"
    env = {e["name"]: e.get("value") for e in plain["env"]}
    assert env["MODELPLANE_WORKDIR"] == podspec.WORK_DIR
    assert env["MODELPLANE_RESULT_FILE"] == podspec.RESULT_FILE


def test_a_job_pod_takes_its_volumes_placement_subdomain_and_service_account():
    plain = podspec.job_pod_spec(container(), CONFIG)
    assert plain == {
        "restartPolicy": "Never",
        "enableServiceLinks": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container()],
        "volumes": [podspec.token_volume(CONFIG), podspec.work_volume()],
    }
    gpu = resolve_accelerator(Accelerator(type="nvidia-l4", count=1), DEFAULT_PROFILES)
    placed = podspec.job_pod_spec(
        container(), WITH_ACCOUNT, volumes=[SOURCE_VOLUME], placement=gpu, subdomain="credit-0"
    )
    assert placed["volumes"][-1] == SOURCE_VOLUME
    assert placed["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert placed["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert (placed["subdomain"], placed["serviceAccountName"]) == ("credit-0", "modelplane-jobs")
    assert podspec.scheduling(Placement()) == {}  # CPU only: nothing to select or tolerate


def test_a_job_labels_its_pods_and_names_its_container_in_the_failure_policy():
    labels = podspec.standard_labels("modelplane-ingest", "credit", "ingest")
    job = podspec.job_manifest(
        OWNER,
        "credit-ingest-1",
        podspec.job_pod_spec(container(), CONFIG),
        labels=labels,
        annotations={"modelplane.io/ingest-key": "1"},
        backoff_limit=2,
        job_labels={"kueue.x-k8s.io/queue-name": "batch"},
        spec={"suspend": True},
    )
    assert job["metadata"]["labels"] == {**labels, "kueue.x-k8s.io/queue-name": "batch"}
    assert job["spec"]["template"]["metadata"]["labels"] == labels  # the queue is the Job's, not its pods'
    assert job["metadata"]["ownerReferences"] == [podspec.owner_reference(OWNER)]
    assert (job["metadata"]["namespace"], job["spec"]["backoffLimit"], job["spec"]["suspend"]) == ("risk", 2, True)
    fail_job, ignore = job["spec"]["podFailurePolicy"]["rules"]
    assert fail_job["onExitCodes"] == {"containerName": "ingest", "operator": "In", "values": [2, 3, 4]}
    assert ignore["action"] == "Ignore"
    custom = podspec.job_manifest(
        OWNER,
        "x",
        podspec.job_pod_spec(container(), CONFIG),
        labels={},
        annotations={},
        backoff_limit=0,
        permanent_exit_code=False,
    )
    assert [r["action"] for r in custom["spec"]["podFailurePolicy"]["rules"]] == ["Ignore"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [('{"digest":"sha256:00"}', {"digest": "sha256:00"}), ("[1, 2]", None), ("not json", None), ("", None)],
)
def test_an_annotations_json_object_is_read_back_or_none(text: str, expected: dict[str, Any] | None):
    assert podspec.json_object(text) == expected
    if expected is not None:
        assert podspec.json_object(podspec.compact_json(expected)) == expected
