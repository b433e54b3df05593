"""Bulk-load search runs into ModelPlane's database through its own ORM models, in one transaction.

The rows are what ``POST /runs`` + ``log-batch`` would write (run, params, tags, metric keys, metric
points, latest values), without a commit and an HTTP round trip per run. Audit records are not
written: run search never reads them.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import create_engine, insert, select
from sqlalchemy.orm import Session

from modelplane.api.db.migrate import sync_url
from modelplane.api.runs.models import LatestMetric, Metric, MetricKey, Run, RunParam, RunStatus, RunTag
from tracking.servers import RunData


def _key_ids(session: Session, keys: list[str]) -> dict[str, int]:
    rows = session.execute(select(MetricKey.key, MetricKey.id).where(MetricKey.key.in_(keys))).tuples().all()
    return dict(rows)


def load(url: str, namespace: str, experiment: str, runs: list[RunData], created_by: str) -> int:
    engine = create_engine(sync_url(url))
    try:
        with Session(engine) as session, session.begin():
            keys = sorted({key for *_, metrics in runs for key, *_ in metrics})
            known = _key_ids(session, keys)
            missing = [{"key": k} for k in keys if k not in known]
            if missing:
                session.execute(insert(MetricKey), missing)
                known = _key_ids(session, keys)
            run_rows = [
                {
                    "run_id": uuid.uuid4().hex,
                    "namespace": namespace,
                    "experiment": experiment,
                    "name": name,
                    "status": RunStatus.RUNNING,
                    "packages": {},
                    "hardware": {},
                    "created_by": created_by,
                }
                for name, *_ in runs
            ]
            ids = list(session.scalars(insert(Run).returning(Run.id, sort_by_parameter_order=True), run_rows))
            params: list[dict[str, Any]] = []
            tags: list[dict[str, Any]] = []
            points: list[dict[str, Any]] = []
            for run_id, (_, run_tags, run_params, metrics) in zip(ids, runs, strict=True):
                tags += [{"run_id": run_id, "key": k, "value": v} for k, v in run_tags]
                params += [{"run_id": run_id, "key": k, "value": v} for k, v in run_params]
                points += [
                    {"run_id": run_id, "key_id": known[k], "step": s, "timestamp": t, "value": v}
                    for k, v, s, t in metrics
                ]
            for model, rows in ((RunParam, params), (RunTag, tags), (Metric, points), (LatestMetric, points)):
                if rows:
                    session.execute(insert(model), rows)
    finally:
        engine.dispose()
    return len(runs)
