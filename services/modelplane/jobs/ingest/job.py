"""``run_ingest``: one Dataset ingest from source to a registered, content-addressed version.

Steps: fetch the source files (sha256 each) → read one table → validate or infer the schema → manifest
and digest → if the digest is already registered, report that version (nothing is uploaded again) →
with violations under ``validation: Fail``, upload only the report and stop (not registered) → split,
profile, write the splits as Parquet → upload the source files, splits, profile, report and manifest
through the control plane's artifact API → register the version. Every artifact is content-addressed,
so a retried or repeated ingest of the same content uploads nothing new and registers the same version.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from modelplane.apis.v1alpha1.dataset import Dataset, ValidationPolicy
from modelplane.jobs.context import JobContext
from modelplane.jobs.encoding import canonical_json
from modelplane.jobs.errors import VALIDATION_FAILED
from modelplane.jobs.ingest.manifest import build_manifest, manifest_bytes, manifest_digest
from modelplane.jobs.ingest.profile import build_profile
from modelplane.jobs.ingest.source import fetch_source
from modelplane.jobs.ingest.split import split_rows
from modelplane.jobs.ingest.table import read_table
from modelplane.jobs.ingest.validation import Validation, validate
from modelplane.sdk.client import ModelPlaneError

logger = logging.getLogger(__name__)


@dataclass
class IngestResult:
    """What an ingest produced; :meth:`to_result` is the JSON the operator reads."""

    name: str
    digest: str
    policy: ValidationPolicy
    rows: int
    columns: int
    violations: int
    failed_rules: list[str]
    artifacts: dict[str, str] = field(default_factory=dict)
    version: str | None = None
    registered: bool = False
    """Whether the control plane holds this version (now or from an earlier ingest of the same content)."""
    observed_generation: int | None = None
    uid: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.registered

    def to_result(self) -> dict[str, Any]:
        failed = not self.succeeded
        return {
            "kind": "Dataset",
            "name": self.name,
            "uid": self.uid,
            "observedGeneration": self.observed_generation,
            "succeeded": self.succeeded,
            "reason": VALIDATION_FAILED if failed else None,
            "message": f"validation failed: {', '.join(self.failed_rules)}" if failed else None,
            "digest": self.digest,
            "version": self.version,
            "rows": self.rows,
            "columns": self.columns,
            "artifacts": self.artifacts,
            "validation": {
                "policy": self.policy.value,
                "passed": not self.failed_rules,
                "violations": self.violations,
                "failedRules": self.failed_rules,
            },
        }


def run_ingest(dataset: Dataset, ctx: JobContext) -> IngestResult:
    """Ingest ``dataset``'s source and register the version; a failed ``Fail`` validation is not registered."""
    spec = dataset.spec
    name = dataset.metadata.name
    with tempfile.TemporaryDirectory(prefix="modelplane-ingest-", dir=ctx.workdir) as tmp:
        workdir = Path(tmp)
        fetched = fetch_source(spec.source, spec.format, ctx, workdir / "source")
        raw = read_table(fetched.files, fetched.format, spec.data_schema)
        checked = validate(raw, spec.data_schema, max_categories=spec.profile.max_categories)
        manifest = build_manifest(
            fetched.files,
            fetched.format,
            checked.schema,
            rows=checked.table.num_rows,
            split=spec.split,
            profile=spec.profile,
        )
        result = IngestResult(
            name=name,
            digest=manifest_digest(manifest),
            policy=spec.validation,
            rows=checked.table.num_rows,
            columns=checked.table.num_columns,
            violations=checked.violations,
            failed_rules=checked.failed_rules,
            observed_generation=dataset.metadata.generation,
            uid=dataset.metadata.uid,
        )
        logger.info(
            "Read dataset %s: %d rows, %d columns, %d violations.",
            name,
            result.rows,
            result.columns,
            result.violations,
            extra={"dataset": name, "digest": result.digest},
        )
        report = _write_json(workdir / "report.json", checked.report())
        if not checked.passed and spec.validation == ValidationPolicy.FAIL:
            result.artifacts["report"] = ctx.client.upload_artifact(report)["uri"]
            logger.warning("Rejected dataset %s: %s.", name, ", ".join(checked.failed_rules), extra={"dataset": name})
            return result
        existing = _existing_version(ctx, name, result.digest)
        if existing is not None:
            result.version, result.artifacts, result.registered = str(existing["version"]), existing["artifacts"], True
            logger.info("Found dataset %s version %s unchanged.", name, result.version, extra={"dataset": name})
            return result
        result.artifacts = _upload_outputs(ctx, dataset, checked, report, workdir)
        for file in fetched.files:  # the source bytes, addressable by the manifest's sha256s
            ctx.client.upload_artifact(file.path)
        manifest_path = workdir / "manifest.json"
        manifest_path.write_bytes(manifest_bytes(manifest))
        result.artifacts["manifest"] = ctx.client.upload_artifact(manifest_path)["uri"]
        source = {**fetched.describe(), "dataset": name, "uid": dataset.metadata.uid}
        source["generation"] = dataset.metadata.generation
        version = ctx.client.register_dataset_version(
            name,
            digest=result.digest,
            schema=checked.schema.to_wire(),
            rows=result.rows,
            columns=result.columns,
            source=source,
            artifacts=result.artifacts,
            profile_uri=result.artifacts.get("profile"),
        )
        result.version, result.registered = str(version["version"]), True
        logger.info("Registered dataset %s version %s.", name, result.version, extra={"dataset": name})
        return result


def _existing_version(ctx: JobContext, name: str, digest: str) -> dict[str, Any] | None:
    try:
        return ctx.client.get_dataset_version(name, digest)
    except ModelPlaneError as error:
        if error.status == 404:
            return None
        raise


def _upload_outputs(
    ctx: JobContext, dataset: Dataset, checked: Validation, report: Path, workdir: Path
) -> dict[str, str]:
    spec = dataset.spec
    artifacts: dict[str, str] = {}
    split = split_rows(checked.table, spec.split, checked.schema.target_column)
    for split_name, rows in split.items():
        if getattr(spec.split, split_name) == 0:
            continue
        path = workdir / f"{split_name}.parquet"
        pq.write_table(checked.table.take(rows), path, compression="zstd")
        artifacts[split_name] = ctx.client.upload_artifact(path)["uri"]
    if spec.profile.enabled:
        profile = _write_json(workdir / "profile.json", build_profile(checked.table, checked.schema, spec.profile))
        artifacts["profile"] = ctx.client.upload_artifact(profile)["uri"]
    artifacts["report"] = ctx.client.upload_artifact(report)["uri"]
    return artifacts


def _write_json(path: Path, value: Any) -> Path:
    path.write_bytes(canonical_json(value))
    return path
