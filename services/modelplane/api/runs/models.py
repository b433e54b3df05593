"""Tables of runs: the run row, immutable params, mutable tags, and metrics as an append-only series.

Metrics avoid MLflow's index bloat: the metric key is a small integer (``metric_keys``), a point's
primary key is ``(run_id, key_id, step, timestamp)`` — which is also the (run, key, step) index — and
``latest_metrics`` keeps one row per run and key, so filtering and ordering runs by a metric never
scans the series. Params and tags have a partial ``(key, value)`` index each, so a filter on them reads
the matching rows instead of probing every run of the experiment.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Double, Enum, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from modelplane.api.db.base import Base, BigId, utcnow

KEY_LENGTH = 250
PARAM_VALUE_LENGTH = 6000
TAG_VALUE_LENGTH = 8000
INDEXED_VALUE_LENGTH = 256
"""Param and tag values up to this many characters are in the ``(key, value)`` indexes.

A btree entry holds at most ~2.7 kB on Postgres and a value may hold 8,000 characters, so the indexes are
partial: ``WHERE length(value) <= 256``. A filter ``=`` or ``IN`` with values no longer than that adds the
same predicate (a no-op for the match, the condition under which the planner may use the index)."""
SHORT_VALUE = f"length(value) <= {INDEXED_VALUE_LENGTH}"


def _value_index(table: str) -> Index:
    return Index(
        f"ix_{table}_key_value",
        "key",
        "value",
        postgresql_where=text(SHORT_VALUE),
        sqlite_where=text(SHORT_VALUE),
    )


class RunStatus(StrEnum):
    """Where a run is; terminal statuses never change again."""

    SCHEDULED = "Scheduled"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    KILLED = "Killed"


TERMINAL_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.KILLED})


class Run(Base):
    """One training run (or a sweep's parent run) and its lineage."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_namespace_experiment_id", "namespace", "experiment", "id"),
        Index("ix_runs_namespace_status_id", "namespace", "status", "id"),
        Index("ix_runs_dataset_digest", "dataset_digest"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), unique=True)
    namespace: Mapped[str] = mapped_column(String(253))
    experiment: Mapped[str] = mapped_column(String(253))
    name: Mapped[str] = mapped_column(String(253))
    status: Mapped[RunStatus] = mapped_column(
        Enum(RunStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    start_time: Mapped[datetime] = mapped_column(default=utcnow)
    end_time: Mapped[datetime | None] = mapped_column(default=None)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True, default=None)
    dataset_digest: Mapped[str | None] = mapped_column(String(71), default=None)
    code_ref: Mapped[str | None] = mapped_column(String(1024), default=None)
    image_digest: Mapped[str | None] = mapped_column(String(256), default=None)
    packages: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seed: Mapped[int | None] = mapped_column(BigInteger, default=None)
    hardware: Mapped[dict[str, Any]] = mapped_column(default=dict)
    artifact_uri: Mapped[str | None] = mapped_column(String(2048), default=None)
    created_by: Mapped[str] = mapped_column(String(253))


class RunParam(Base):
    """A hyperparameter; immutable once logged."""

    __tablename__ = "run_params"
    __table_args__ = (_value_index("run_params"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    value: Mapped[str] = mapped_column(String(PARAM_VALUE_LENGTH))


class RunTag(Base):
    """A mutable key/value label."""

    __tablename__ = "run_tags"
    __table_args__ = (_value_index("run_tags"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    value: Mapped[str] = mapped_column(String(TAG_VALUE_LENGTH))


class MetricKey(Base):
    """The narrow key: each metric name stored once."""

    __tablename__ = "metric_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)


class Metric(Base):
    """One point of a metric's series; re-logging the same (step, timestamp) is a no-op."""

    __tablename__ = "metrics"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("metric_keys.id"), primary_key=True)
    step: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    timestamp: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float] = mapped_column(Double)


class LatestMetric(Base):
    """The newest point (highest step, then timestamp) of each metric of each run."""

    __tablename__ = "latest_metrics"
    __table_args__ = (Index("ix_latest_metrics_key_id_value", "key_id", "value"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("metric_keys.id"), primary_key=True)
    step: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float] = mapped_column(Double)
