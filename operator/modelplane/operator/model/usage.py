"""Which InferenceServices use a ModelVersion: the in-use guard of its deletion. Pure.

An InferenceService uses a version when its ``spec.modelVersionRef`` names it, when ``spec.traffic`` (written by
a Rollout) sends it requests, when ``spec.modelRef`` follows an alias of its model that the version holds, or
when its ``status.traffic`` says it still serves it. InferenceServices that are being deleted no longer count
(they are going away; counting them could deadlock a namespace's deletion).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any


def _uses(service: Mapping[str, Any], version: str, model: str, held: Collection[str]) -> str | None:
    spec = service.get("spec") or {}
    status = service.get("status") or {}
    if (spec.get("modelVersionRef") or {}).get("name") == version:
        return "modelVersionRef"
    ref = spec.get("modelRef") or {}
    alias = ref.get("alias") or "champion"
    if ref.get("name") == model and alias in held:
        return f"modelRef {model}@{alias}"
    if any((t or {}).get("modelVersion") == version for t in spec.get("traffic") or []):
        return "traffic"
    if any((t or {}).get("modelVersion") == version for t in status.get("traffic") or []):
        return "serving"
    return None


def users_of(
    services: Iterable[Mapping[str, Any]], *, version: str, model: str, held: Collection[str]
) -> list[tuple[str, str]]:
    """``(InferenceService name, how it uses the version)`` for every service using it, by name."""
    found: list[tuple[str, str]] = []
    for service in services:
        meta = service.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            continue
        how = _uses(service, version, model, held)
        if how is not None:
            found.append((str(meta.get("name", "")), how))
    return sorted(found)


def in_use_message(users: list[tuple[str, str]]) -> str:
    """``Deletion waits: InferenceServices a (modelVersionRef), b (traffic) use this version.``"""
    named = ", ".join(f"{name} ({how})" for name, how in users)
    noun = "InferenceService" if len(users) == 1 else "InferenceServices"
    verb = "uses" if len(users) == 1 else "use"
    return f"Deletion waits: {noun} {named} {verb} this version."
