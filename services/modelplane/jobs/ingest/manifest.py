"""The manifest of a dataset version and its digest: what makes versions content-addressed.

The manifest lists the sha256 and size of every source file in reading order, the format, the effective
schema, the counts, and the split and profile settings (they determine the derived artifacts). It holds
no names, URIs, times or object ids, so the same bytes give the same digest wherever they come from,
and any changed byte gives a new one. The digest is ``sha256:`` + the sha256 of the manifest's
canonical JSON, which is also the manifest artifact's own content address.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from modelplane.apis.v1alpha1.dataset import DataFormat, DatasetSchema, ProfileSpec, SplitSpec
from modelplane.jobs.encoding import canonical_json
from modelplane.jobs.ingest.source import SourceFile

PRODUCER = "modelplane.jobs.ingest/1"
"""Changes when the job derives artifacts differently, so old and new outputs never share a digest."""


def build_manifest(
    files: Sequence[SourceFile],
    data_format: DataFormat,
    schema: DatasetSchema,
    *,
    rows: int,
    split: SplitSpec,
    profile: ProfileSpec,
) -> dict[str, Any]:
    return {
        "producer": PRODUCER,
        "format": data_format.value,
        "files": [{"sha256": f.sha256, "size": f.size} for f in files],
        "schema": schema.to_wire(),
        "rows": rows,
        "columns": len(schema.columns),
        "split": split.to_wire(),
        "profile": profile.to_wire(),
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return canonical_json(manifest)


def manifest_digest(manifest: dict[str, Any]) -> str:
    """``sha256:<hex>`` of the manifest's canonical JSON."""
    return "sha256:" + hashlib.sha256(manifest_bytes(manifest)).hexdigest()
