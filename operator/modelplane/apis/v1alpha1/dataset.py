"""Dataset: versioned, validated, profiled and split tabular data.

The first kind of the lifecycle. The ingest job (local process or pod) reads ``spec.source``, checks
``spec.schema``, writes the splits and the profile, and reports a content digest; a TrainingRun reads the
splits, and the drift monitor compares served payloads with the profile.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field

from modelplane.apis.meta import AGE_COLUMN, KindInfo, PrinterColumn, ready_column, reason_column
from modelplane.apis.v1alpha1.base import ApiModel, CustomResource
from modelplane.apis.v1alpha1.common import (
    Digest,
    ResourceName,
    SecretKeySelector,
    cel_rules,
    exactly_one,
    min_le_max,
)
from modelplane.apis.v1alpha1.conditions import Conditions

VERSION = "v1alpha1"


class DataFormat(StrEnum):
    """File format of the source data."""

    CSV = "Csv"
    PARQUET = "Parquet"
    JSON_LINES = "JsonLines"


class ColumnType(StrEnum):
    """Logical type of a column."""

    INTEGER = "Integer"
    FLOAT = "Float"
    STRING = "String"
    BOOLEAN = "Boolean"
    CATEGORICAL = "Categorical"
    TIMESTAMP = "Timestamp"


class ValidationPolicy(StrEnum):
    """What a violated schema rule does to the dataset version."""

    FAIL = "Fail"
    WARN = "Warn"


class S3Source(ApiModel):
    """Objects in an S3-compatible store; a key prefix reads every object under it."""

    uri: str = Field(
        description="s3://bucket/key or s3://bucket/prefix/.",
        max_length=2048,
        pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$",
    )
    endpoint: str | None = Field(
        None,
        description="S3 endpoint URL (http(s)://host:port) for non-AWS stores; the platform default when unset.",
        max_length=2048,
        pattern=r"^https?://",
    )
    region: str | None = Field(None, description="Region of the bucket.", max_length=64)
    access_key_id_ref: SecretKeySelector | None = Field(None, description="Secret key holding the access key id.")
    secret_access_key_ref: SecretKeySelector | None = Field(
        None, description="Secret key holding the secret access key."
    )


class HttpSource(ApiModel):
    """A file served over HTTP(S)."""

    url: str = Field(description="http:// or https:// URL of the file.", max_length=2048, pattern=r"^https?://")
    sha256: str | None = Field(
        None,
        description="Expected sha256 (hex) of the downloaded file; a mismatch fails the ingest.",
        pattern=r"^[a-f0-9]{64}$",
    )


class PvcSource(ApiModel):
    """A file or directory on a PersistentVolumeClaim in the same namespace."""

    claim_name: ResourceName = Field(description="Name of the PersistentVolumeClaim.")
    path: str = Field(description="Path inside the volume, a file or a directory.", min_length=1, max_length=4096)


class InlineSource(ApiModel):
    """Rows written in the resource itself; for tests, examples and tiny reference tables."""

    rows: list[dict[str, Any]] = Field(
        description="The rows, each a map from column name to value.",
        min_length=1,
        max_length=1000,
    )


class DatasetSource(ApiModel):
    """Where the data comes from; exactly one source is set."""

    model_config = cel_rules(exactly_one("s3", "http", "pvc", "inline"))

    s3: S3Source | None = Field(None, description="Read from an S3-compatible object store.")
    http: HttpSource | None = Field(None, description="Download over HTTP(S).")
    pvc: PvcSource | None = Field(None, description="Read from a PersistentVolumeClaim.")
    inline: InlineSource | None = Field(None, description="Rows given in the spec.")


class ColumnSpec(ApiModel):
    """The declared type and rules of one column."""

    model_config = cel_rules(
        min_le_max("minimum", "maximum"),
        {
            "rule": "!has(self.allowedValues) || self.type in ['String', 'Categorical', 'Integer']",
            "message": "allowedValues applies to String, Categorical and Integer columns",
        },
        {
            "rule": "!has(self.pattern) || self.type == 'String'",
            "message": "pattern applies to String columns",
        },
    )

    name: str = Field(description="Column name as in the source.", min_length=1, max_length=256)
    type: ColumnType = Field(description="Logical type the values must have.")
    nullable: bool = Field(True, description="Whether missing values are allowed.")
    minimum: float | None = Field(None, description="Smallest allowed value of a numeric column.")
    maximum: float | None = Field(None, description="Largest allowed value of a numeric column.")
    allowed_values: list[str] | None = Field(
        None,
        description="The only values allowed (as strings), for categorical or enumerated columns.",
        max_length=1000,
    )
    pattern: str | None = Field(None, description="Regular expression every string value must match.", max_length=1024)


class DatasetSchema(ApiModel):
    """Columns the data must have, and the target column of supervised learning."""

    model_config = cel_rules(
        {
            "rule": "!has(self.targetColumn) || !has(self.columns) || size(self.columns) == 0 || "
            "self.columns.exists(c, c.name == self.targetColumn)",
            "message": "targetColumn must name one of the declared columns",
            "fieldPath": ".targetColumn",
        }
    )

    columns: list[ColumnSpec] = Field(
        default_factory=list,
        description="Declared columns; when empty, the schema is inferred from the data.",
        max_length=1000,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    target_column: str | None = Field(
        None, description="Column holding the label that training predicts.", max_length=256
    )
    allow_extra_columns: bool = Field(
        True, description="Whether columns that are not declared are kept (true) or are a violation (false)."
    )


class SplitSpec(ApiModel):
    """Deterministic train/validation/test split."""

    model_config = cel_rules(
        {
            "rule": "self.train + self.validation + self.test > 0.999 && "
            "self.train + self.validation + self.test < 1.001",
            "message": "split ratios train + validation + test must sum to 1",
        }
    )

    train: float = Field(0.8, gt=0, le=1, description="Fraction of rows in the training split.")
    validation: float = Field(0.1, ge=0, lt=1, description="Fraction of rows in the validation split.")
    test: float = Field(0.1, ge=0, lt=1, description="Fraction of rows in the test split.")
    seed: int = Field(42, ge=0, le=2**31 - 1, description="Seed of the shuffle, for reproducible splits.")
    stratify: bool = Field(False, description="Keep the target's class proportions in every split.")


class ProfileSpec(ApiModel):
    """The per-column statistics kept with each version; the drift monitor's reference."""

    enabled: bool = Field(True, description="Whether to compute the profile.")
    bins: int = Field(10, ge=2, le=1000, description="Number of histogram bins of numeric columns.")
    max_categories: int = Field(
        50,
        ge=1,
        le=10000,
        description="Most frequent categories kept per categorical column; the rest are 'other'.",
    )


class DatasetSpec(ApiModel):
    """Desired state of a Dataset."""

    source: DatasetSource = Field(description="Where the data comes from.")
    format: DataFormat = Field(DataFormat.CSV, description="File format of the source data.")
    data_schema: DatasetSchema = Field(
        default_factory=DatasetSchema,
        alias="schema",
        description="Columns the data must have, their rules, and the target column.",
        json_schema_extra={"default": {}},
    )
    validation: ValidationPolicy = Field(
        ValidationPolicy.FAIL,
        description="Fail: a violated rule leaves the version not Ready. Warn: it is reported and the version is used.",
    )
    split: SplitSpec = Field(
        default_factory=SplitSpec, description="How rows are split.", json_schema_extra={"default": {}}
    )
    profile: ProfileSpec = Field(
        default_factory=ProfileSpec, description="Profile computation.", json_schema_extra={"default": {}}
    )
    refresh_interval_seconds: int | None = Field(
        None,
        ge=60,
        le=31_536_000,
        description="Re-read the source this often and make a new version when its content changed; never when unset.",
    )


class DatasetArtifacts(ApiModel):
    """Where one version's files are in the artifact store."""

    manifest: str | None = Field(None, description="URI of the manifest (file digests, schema, counts).")
    train: str | None = Field(None, description="URI of the training split.")
    validation: str | None = Field(None, description="URI of the validation split.")
    test: str | None = Field(None, description="URI of the test split.")
    profile: str | None = Field(None, description="URI of the profile (the drift reference).")
    report: str | None = Field(None, description="URI of the full validation report.")


class ValidationSummary(ApiModel):
    """Counts of the validation report; the full report is an artifact."""

    violations: int = Field(0, ge=0, description="Number of violating values over all rules.")
    failed_rules: list[str] = Field(
        default_factory=list, description="The rules that failed, as column.rule.", max_length=1000
    )


class DatasetStatus(ApiModel):
    """Observed state of a Dataset: its current version."""

    observed_generation: int | None = Field(None, ge=0, description="The generation this status was computed from.")
    conditions: Conditions = Field(
        default_factory=list, description="Current conditions; Ready when a valid version exists."
    )
    digest: Digest | None = Field(None, description="Content digest of the current version (over its manifest).")
    version: str | None = Field(None, description="Short, human-readable name of the current version.", max_length=64)
    rows: int | None = Field(None, ge=0, description="Number of rows of the current version.")
    columns: int | None = Field(None, ge=0, description="Number of columns of the current version.")
    artifacts: DatasetArtifacts | None = Field(None, description="Artifact URIs of the current version.")
    validation: ValidationSummary | None = Field(None, description="Summary of the current version's validation.")
    last_refresh_time: datetime | None = Field(None, description="When the source was last read.")


class Dataset(CustomResource):
    """A versioned tabular dataset: ingested, validated, profiled and split; every version immutable."""

    kind_info: ClassVar[KindInfo] = KindInfo(
        kind="Dataset",
        plural="datasets",
        singular="dataset",
        short_names=("mpds",),
        version=VERSION,
        printer_columns=(
            ready_column(),
            PrinterColumn("Version", ".status.version", description="Current version."),
            PrinterColumn("Rows", ".status.rows", "integer", "Rows of the current version."),
            PrinterColumn("Columns", ".status.columns", "integer", "Columns of the current version."),
            PrinterColumn("Digest", ".status.digest", description="Content digest of the current version.", priority=1),
            reason_column(),
            AGE_COLUMN,
        ),
    )

    spec: DatasetSpec = Field(description="Desired state of the Dataset.")
    status: DatasetStatus | None = Field(None, description="Observed state of the Dataset.")
