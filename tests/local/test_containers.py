"""A pod's container becomes a local process: interpreter, volumes, environment, termination log, ports."""

from __future__ import annotations

import base64
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from modelplane.local.containers import ContainerConfigError, to_process

pytestmark = pytest.mark.unit

SECRET = {"data": {"token": base64.b64encode(b"s3cret").decode()}}


def pod_spec(**container: Any) -> dict[str, Any]:
    base = {
        "name": "main",
        "image": "ghcr.io/modelplane/modelplane-jobs:0.1.0",
        "command": ["python", "-m", "modelplane.jobs", "train"],
        "env": [
            {"name": "MODELPLANE_TOKEN_FILE", "value": "/var/run/modelplane/token"},
            {"name": "MODELPLANE_RESULT_FILE", "value": "/dev/termination-log"},
            {"name": "MODELPLANE_WORKDIR", "value": "/work/tmp"},
            {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
        ],
        "volumeMounts": [
            {"name": "token", "mountPath": "/var/run/modelplane", "readOnly": True},
            {"name": "work", "mountPath": "/work"},
            {"name": "data", "mountPath": "/data"},
        ],
    }
    base.update(container)
    return {
        "containers": [base],
        "volumes": [
            {"name": "token", "secret": {"secretName": "creds", "items": [{"key": "token", "path": "token"}]}},
            {"name": "work", "emptyDir": {}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "shared"}},
        ],
    }


def lookup(objects: Mapping[str, Mapping[str, Any]]) -> Any:
    return lambda kind, name: objects.get(f"{kind}/{name}")


def test_a_job_container_runs_here_with_its_volumes_and_env(tmp_path: Path) -> None:
    claims = tmp_path / "claims"
    spec = to_process(
        pod_spec(args=["--data", "/data/file.csv"]),
        pod_dir=tmp_path / "pod",
        pod_fields={"spec.nodeName": "local"},
        lookup=lookup({"Secret/creds": SECRET}),
        claims=lambda name: claims / name,
        base_env={"PATH": "/usr/bin"},
    )
    assert spec.argv[:4] == [sys.executable, "-m", "modelplane.jobs", "train"]
    assert spec.argv[4:] == ["--data", str(claims / "shared" / "file.csv")]
    volumes = tmp_path / "pod" / "volumes"
    assert spec.env["MODELPLANE_TOKEN_FILE"] == str(volumes / "token" / "token")
    assert spec.files[volumes / "token" / "token"] == b"s3cret"
    assert spec.env["MODELPLANE_RESULT_FILE"] == str(spec.termination_file)
    assert spec.env["MODELPLANE_WORKDIR"] == str(volumes / "work" / "tmp")
    assert spec.env["NODE_NAME"] == "local"
    assert spec.env["KEY"] == "s3cret"
    assert spec.env["PATH"] == "/usr/bin"


def test_a_missing_secret_keeps_the_pod_waiting(tmp_path: Path) -> None:
    with pytest.raises(ContainerConfigError, match='secret "creds" not found'):
        to_process(pod_spec(), pod_dir=tmp_path, pod_fields={}, lookup=lookup({}), claims=lambda n: tmp_path / n)


def test_optional_secret_keys_are_skipped(tmp_path: Path) -> None:
    spec = pod_spec(
        env=[{"name": "X", "valueFrom": {"secretKeyRef": {"name": "no", "key": "k", "optional": True}}}],
        volumeMounts=[],
    )
    process = to_process(spec, pod_dir=tmp_path, pod_fields={}, lookup=lookup({}), claims=lambda n: tmp_path / n)
    assert "X" not in process.env


def test_server_ports_and_hosts_map_to_loopback(tmp_path: Path) -> None:
    spec = pod_spec(
        command=["python", "-m", "modelplane.serving"],
        args=["--host", "0.0.0.0", "--port", "8080"],
        env=[],
        volumeMounts=[],
        ports=[{"containerPort": 8080, "name": "http"}],
    )
    process = to_process(
        spec, pod_dir=tmp_path, pod_fields={}, lookup=lookup({}), claims=lambda n: tmp_path / n, ports={8080: 40123}
    )
    assert process.argv[-4:] == ["--host", "127.0.0.1", "--port", "40123"]


def test_an_image_entrypoint_cannot_run_locally(tmp_path: Path) -> None:
    spec = pod_spec(command=[], env=[], volumeMounts=[])
    with pytest.raises(ContainerConfigError, match="no command"):
        to_process(spec, pod_dir=tmp_path, pod_fields={}, lookup=lookup({}), claims=lambda n: tmp_path / n)


def test_service_hosts_resolve_to_where_they_serve_now(tmp_path: Path) -> None:
    spec = pod_spec(env=[{"name": "MODELPLANE_API_URL", "value": "http://modelplane-api.local"}], volumeMounts=[])
    process = to_process(
        spec,
        pod_dir=tmp_path,
        pod_fields={},
        lookup=lookup({}),
        claims=lambda n: tmp_path / n,
        hosts={"modelplane-api.local": "127.0.0.1:40999"},
    )
    assert process.env["MODELPLANE_API_URL"] == "http://127.0.0.1:40999"
