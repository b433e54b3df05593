"""A pod's container as a local process: command line, environment and mounted volumes. Pure.

Where it sits: the kubelet (:mod:`.kubelet`) calls :func:`to_process` for every pod it starts. The local
mode runs the command the operator put in the pod (``python -m modelplane.jobs train``,
``python -m modelplane.serving ...``) with this machine's Python instead of the image's, so what runs
locally is exactly what runs in the cluster. The translation, in the kubelet's terms:

* ``python``/``python3`` as the first word becomes this interpreter (the image is not pulled; a custom
  trainer's command runs as written, from the machine's ``PATH``);
* volumes become directories under the pod's directory: ``emptyDir`` empty, ``secret``/``configMap``
  filled with their keys (or ``items``), ``persistentVolumeClaim`` the directory the claim maps to
  (``volumes.yaml``, default ``$MODELPLANE_HOME/volumes/<claim>``); every ``mountPath`` that appears in
  the environment, the arguments or ``workingDir`` is rewritten to its directory;
* ``terminationMessagePath`` (``/dev/termination-log``) becomes a file the kubelet reads as the pod's
  termination message;
* environment ``valueFrom``: ``secretKeyRef``/``configMapKeyRef`` from the stored objects (a missing one
  keeps the pod waiting, as ``CreateContainerConfigError`` does), ``fieldRef`` from the pod;
* service host names resolve locally: ``http://<name>`` URLs of the ``hosts`` map (the control plane is
  ``http://modelplane-api.local`` in every pod spec the local operator builds) become the address that
  serves them now, so pods created before a restart on another port still find it;
* container ports map to local ports: ``--port <containerPort>`` arguments get the local port and
  ``--host 0.0.0.0`` becomes ``127.0.0.1`` (nothing local listens beyond loopback).
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TERMINATION_LOG = "/dev/termination-log"
PYTHONS = ("python", "python3", "python3.11", "python3.12", "python3.13")

ObjectLookup = Callable[[str, str], Mapping[str, Any] | None]
"""(kind, name) -> the stored object in the pod's namespace."""


class ContainerConfigError(Exception):
    """The container cannot start yet: a referenced Secret, ConfigMap or key is missing (the pod waits)."""


@dataclass(frozen=True)
class ProcessSpec:
    """What to execute for one container."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    termination_file: Path
    files: dict[Path, bytes] = field(default_factory=dict)
    """Files to write before start (Secret and ConfigMap volume contents)."""
    directories: list[Path] = field(default_factory=list)
    ports: dict[int, int] = field(default_factory=dict)


def _decode_secret(secret: Mapping[str, Any]) -> dict[str, bytes]:
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    data.update({k: str(v).encode() for k, v in (secret.get("stringData") or {}).items()})
    return data


def _config_map(config_map: Mapping[str, Any]) -> dict[str, bytes]:
    data = {k: str(v).encode() for k, v in (config_map.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (config_map.get("binaryData") or {}).items()})
    return data


def _volume_files(volume: Mapping[str, Any], lookup: ObjectLookup, root: Path) -> dict[Path, bytes]:
    if "secret" in volume:
        source = volume["secret"]
        found = lookup("Secret", source.get("secretName", ""))
        if found is None:
            if source.get("optional"):
                return {}
            raise ContainerConfigError(f'secret "{source.get("secretName")}" not found')
        data = _decode_secret(found)
    else:
        source = volume["configMap"]
        found = lookup("ConfigMap", source.get("name", ""))
        if found is None:
            if source.get("optional"):
                return {}
            raise ContainerConfigError(f'configmap "{source.get("name")}" not found')
        data = _config_map(found)
    items = source.get("items")
    if not items:
        return {root / key: value for key, value in data.items()}
    files: dict[Path, bytes] = {}
    for item in items:
        if item["key"] not in data:
            raise ContainerConfigError(f'key "{item["key"]}" not found in {volume["name"]}')
        files[root / item["path"]] = data[item["key"]]
    return files


def _env_value(var: Mapping[str, Any], lookup: ObjectLookup, pod_fields: Mapping[str, str]) -> str | None:
    if "value" in var:
        return str(var["value"])
    source = var.get("valueFrom") or {}
    if "fieldRef" in source:
        return pod_fields.get(source["fieldRef"].get("fieldPath", ""), "")
    for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
        if key in source:
            ref = source[key]
            found = lookup(kind, ref.get("name", ""))
            data = None if found is None else (_decode_secret(found) if kind == "Secret" else _config_map(found))
            if data is None or ref.get("key") not in data:
                if ref.get("optional"):
                    return None
                what = f'{kind.lower()} "{ref.get("name")}"'
                raise ContainerConfigError(
                    f"{what} not found" if data is None else f'key "{ref.get("key")}" not in {what}'
                )
            return data[ref["key"]].decode()
    return ""  # resourceFieldRef and others: not meaningful on a laptop


def _rewrite(value: str, mounts: Sequence[tuple[str, Path]]) -> str:
    for mount_path, directory in mounts:
        if value == mount_path:
            return str(directory)
        if value.startswith(mount_path.rstrip("/") + "/"):
            return str(directory) + value[len(mount_path.rstrip("/")) :]
    return value


def _resolve(value: str, hosts: Mapping[str, str]) -> str:
    for host, address in hosts.items():
        for scheme in ("http://", "https://"):
            if scheme + host in value:
                value = value.replace(scheme + host, "http://" + address)
    return value


def _map_ports(args: list[str], ports: Mapping[int, int]) -> list[str]:
    out = list(args)
    for i, arg in enumerate(out):
        if arg == "--host" and i + 1 < len(out) and out[i + 1] in ("0.0.0.0", "::"):
            out[i + 1] = "127.0.0.1"
        if arg == "--port" and i + 1 < len(out) and out[i + 1].isdigit() and int(out[i + 1]) in ports:
            out[i + 1] = str(ports[int(out[i + 1])])
        if arg.startswith("--port=") and arg[7:].isdigit() and int(arg[7:]) in ports:
            out[i] = f"--port={ports[int(arg[7:])]}"
    return out


def to_process(
    pod_spec: Mapping[str, Any],
    *,
    pod_dir: Path,
    pod_fields: Mapping[str, str],
    lookup: ObjectLookup,
    claims: Callable[[str], Path],
    ports: Mapping[int, int] | None = None,
    base_env: Mapping[str, str] | None = None,
    hosts: Mapping[str, str] | None = None,
) -> ProcessSpec:
    """The process of the pod's first container; :class:`ContainerConfigError` when it cannot start yet."""
    containers = pod_spec.get("containers") or []
    if not containers:
        raise ContainerConfigError("the pod has no containers")
    container = containers[0]
    volumes = {v["name"]: v for v in pod_spec.get("volumes") or []}
    files: dict[Path, bytes] = {}
    directories: list[Path] = []
    mounts: list[tuple[str, Path]] = []
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name", ""))
        if volume is None:
            raise ContainerConfigError(f'volume "{mount.get("name")}" is mounted but not declared')
        if "persistentVolumeClaim" in volume:
            directory = claims(volume["persistentVolumeClaim"]["claimName"])
        else:
            directory = pod_dir / "volumes" / volume["name"]
            directories.append(directory)
            if "secret" in volume or "configMap" in volume:
                files.update(_volume_files(volume, lookup, directory))
        if mount.get("subPath"):
            directory = directory / mount["subPath"]
        mounts.append((str(mount["mountPath"]), directory))
    mounts.sort(key=lambda m: len(m[0]), reverse=True)
    termination = pod_dir / "termination-log"
    mounts.append((str(container.get("terminationMessagePath") or TERMINATION_LOG), termination))

    env = dict(base_env or {})
    for var in container.get("env") or []:
        value = _env_value(var, lookup, pod_fields)
        if value is not None:
            env[var["name"]] = _resolve(_rewrite(value, mounts), hosts or {})
    argv = [*(container.get("command") or []), *(container.get("args") or [])]
    if not argv:
        raise ContainerConfigError("the container has no command: the local mode cannot run an image's entrypoint")
    port_map = dict(ports or {})
    argv = _map_ports([_resolve(_rewrite(a, mounts), hosts or {}) for a in argv], port_map)
    if argv[0] in PYTHONS:
        argv[0] = sys.executable
    working = container.get("workingDir")
    cwd = Path(_rewrite(working, mounts)) if working else pod_dir
    return ProcessSpec(argv, env, cwd, termination, files, directories, port_map)
