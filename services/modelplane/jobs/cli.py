"""``python -m modelplane.jobs ingest|train``: the jobs as processes, in pods and on a laptop alike.

Reads the resource and context from the ``MODELPLANE_*`` environment, runs the job, and reports its
result as the last line of stdout and in ``MODELPLANE_RESULT_FILE`` (default: the termination log when
it exists). Logs go to stderr. The exit code says how it ended (see :mod:`modelplane.jobs.errors`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from modelplane.jobs.context import RESOURCE_ENV, RUN_ID_ENV, TRIAL_INDEX_ENV
from modelplane.jobs.errors import (
    CONTROL_PLANE_ERROR,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_VALIDATION_FAILED,
    JobError,
)
from modelplane.jobs.result import result_file, write_result

logger = logging.getLogger("modelplane.jobs")


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run the job named in ``argv``; the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m modelplane.jobs", description=__doc__.splitlines()[0])
    parser.add_argument("job", choices=["ingest", "train"], help="the job to run")
    parser.add_argument("--log-level", default="INFO", help="log level of the stderr log (default INFO)")
    args = parser.parse_args(argv)
    env = os.environ if env is None else env
    logging.basicConfig(
        stream=sys.stderr, level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    kind = "Dataset" if args.job == "ingest" else "TrainingRun"
    path = result_file(env)
    try:
        result, code = _ingest(env) if args.job == "ingest" else _train(env)
    except JobError as error:
        logger.error("Failed %s job: %s", args.job, error)
        result, code = _failure(kind, env, error.reason, str(error)), error.exit_code
    except Exception as error:
        from modelplane.sdk.client import ModelPlaneError

        reason = CONTROL_PLANE_ERROR if isinstance(error, ModelPlaneError) else type(error).__name__
        logger.exception("Failed %s job.", args.job)
        result, code = _failure(kind, env, reason, str(error) or type(error).__name__), EXIT_ERROR
    write_result(result, path=path)
    return code


def _ingest(env: Mapping[str, str]) -> tuple[dict[str, Any], int]:
    from modelplane.apis.v1alpha1.dataset import Dataset
    from modelplane.jobs.context import JobContext, load_resource
    from modelplane.jobs.ingest.job import run_ingest

    dataset = load_resource(Dataset, env)
    ctx = JobContext.from_env(env)
    try:
        outcome = run_ingest(dataset, ctx)
    finally:
        ctx.client.close()
    return outcome.to_result(), EXIT_OK if outcome.succeeded else EXIT_VALIDATION_FAILED


def _train(env: Mapping[str, str]) -> tuple[dict[str, Any], int]:
    from modelplane.apis.v1alpha1.training_run import TrainingRun
    from modelplane.jobs.context import JobContext, load_resource
    from modelplane.jobs.training.job import run_training

    run = load_resource(TrainingRun, env)
    ctx = JobContext.from_env(env)
    try:
        outcome = run_training(run, ctx)
    finally:
        ctx.client.close()
    return outcome.to_result(), EXIT_OK


def _failure(kind: str, env: Mapping[str, str], reason: str, message: str) -> dict[str, Any]:
    """The result of a job that raised: who it was about (when the resource parses) and why it failed."""
    try:
        body = json.loads(env.get(RESOURCE_ENV) or "{}")
    except ValueError:
        body = {}
    meta = body.get("metadata") if isinstance(body, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    result: dict[str, Any] = {
        "kind": kind,
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "observedGeneration": meta.get("generation"),
        "succeeded": False,
        "reason": reason,
        "message": message,
    }
    if kind == "TrainingRun":
        trial = env.get(TRIAL_INDEX_ENV, "")
        result["runId"] = env.get(RUN_ID_ENV)
        result["trialIndex"] = int(trial) if trial.isdigit() else None
    return result
