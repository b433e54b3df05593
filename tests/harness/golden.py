"""Golden files of built objects: validate against the Kubernetes 1.34 schemas (or the CRD schemas for
ModelPlane kinds), then compare with ``<directory>/<name>.yaml``; ``MODELPLANE_UPDATE_GOLDEN=1`` rewrites
the files instead (review the diff). Each test package's conftest makes a ``golden`` fixture of its own folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from harness.manifests import validate_manifest

UPDATE_ENV = "MODELPLANE_UPDATE_GOLDEN"


class _NoAliases(yaml.SafeDumper):
    """Write shared sub-objects out in full (a golden file is read by people)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def golden_checker(directory: Path) -> Callable[[str, dict[str, Any]], None]:
    """``check(name, obj)`` against the golden files of ``directory``."""

    def check(name: str, obj: dict[str, Any]) -> None:
        validate_manifest(obj)
        path = directory / f"{name}.yaml"
        text = yaml.dump(obj, Dumper=_NoAliases, sort_keys=True, width=120)
        if os.environ.get(UPDATE_ENV) == "1":
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"no golden file {path.name}: run with {UPDATE_ENV}=1 and review it"
        assert yaml.safe_load(path.read_text(encoding="utf-8")) == obj, (
            f"{name} differs from {path.name}; run with {UPDATE_ENV}=1 and review the diff"
        )

    return check
