"""Bulk-load search runs into MLflow's database through MLflow's own ORM models, in one transaction.

Run by MLflow's interpreter (its throwaway virtualenv), never the project's:

    <mlflow venv>/bin/python bench/tracking/bulk_mlflow.py DB_URL EXPERIMENT_ID ARTIFACT_ROOT < runs.jsonl

Each stdin line is ``{"name", "tags": [[k, v]], "params": [[k, v]], "metrics": [[k, value, step, ts]]}``.
The rows are what MLflow's ``create_run`` + ``log_batch`` would write (the ``mlflow.runName`` tag, a
latest-metric row per key), inserted with MLflow's table definitions in one transaction instead of a
commit and an HTTP round trip per run.
"""

from __future__ import annotations

import json
import sys
import time
import uuid


def main(argv: list[str]) -> int:
    from mlflow.store.tracking.dbmodels.models import (  # type: ignore[import-not-found,unused-ignore]
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore  # type: ignore[import-not-found,unused-ignore]
    from sqlalchemy import insert

    db_url, experiment_id, artifact_root = argv
    store = SqlAlchemyStore(db_url, artifact_root)
    location = store.get_experiment(experiment_id).artifact_location.rstrip("/")
    now = int(time.time() * 1000)
    tables: dict[object, list[dict[str, object]]] = {
        m: [] for m in (SqlRun, SqlTag, SqlParam, SqlMetric, SqlLatestMetric)
    }
    count = 0
    for line in sys.stdin:
        run = json.loads(line)
        run_id = uuid.uuid4().hex
        tables[SqlRun].append(
            {
                "name": run["name"],
                "artifact_uri": f"{location}/{run_id}/artifacts",
                "run_uuid": run_id,
                "experiment_id": int(experiment_id),
                "source_type": "UNKNOWN",
                "source_name": "",
                "entry_point_name": "",
                "user_id": "",
                "status": "RUNNING",
                "start_time": now,
                "end_time": None,
                "deleted_time": None,
                "source_version": "",
                "lifecycle_stage": "active",
            }
        )
        tags = [["mlflow.runName", run["name"]], *run["tags"]]
        tables[SqlTag] += [{"key": k, "value": v, "run_uuid": run_id} for k, v in tags]
        tables[SqlParam] += [{"key": k, "value": v, "run_uuid": run_id} for k, v in run["params"]]
        for key, value, step, timestamp in run["metrics"]:
            point = {
                "key": key,
                "value": value,
                "step": step,
                "timestamp": timestamp,
                "is_nan": False,
                "run_uuid": run_id,
            }
            tables[SqlMetric].append(point)
            tables[SqlLatestMetric].append(point)
        count += 1
    with store.ManagedSessionMaker() as session:
        for model, rows in tables.items():
            if rows:
                session.execute(insert(model.__table__), rows)  # type: ignore[attr-defined]
    print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
