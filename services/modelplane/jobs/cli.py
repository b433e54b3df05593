"""``python -m modelplane.jobs ingest|train|validate-model``: the jobs as processes, in pods and on a laptop alike.

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

from modelplane.jobs.context import MODEL_SOURCE_ENV, RESOURCE_ENV, RUN_ID_ENV, TRIAL_INDEX_ENV
from modelplane.jobs.errors import (
    CONTROL_PLANE_ERROR,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_VALIDATION_FAILED,
    GateFailed,
    JobError,
)
from modelplane.jobs.result import result_file, write_result

logger = logging.getLogger("modelplane.jobs")
KINDS = {"ingest": "Dataset", "train": "TrainingRun", "validate-model": "ModelVersion"}


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run the job named in ``argv``; the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m modelplane.jobs", description=__doc__.splitlines()[0])
    parser.add_argument("job", choices=list(KINDS), help="the job to run")
    parser.add_argument("--log-level", default="INFO", help="log level of the stderr log (default INFO)")
    args = parser.parse_args(argv)
    env = os.environ if env is None else env
    logging.basicConfig(
        stream=sys.stderr, level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    kind = KINDS[args.job]
    path = result_file(env)
    jobs = {"ingest": _ingest, "train": _train, "validate-model": _validate_model}
    try:
        result, code = jobs[args.job](env)
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


def _validate_model(env: Mapping[str, str]) -> tuple[dict[str, Any], int]:
    from modelplane.apis.v1alpha1.model_version import ModelVersion
    from modelplane.jobs.context import JobContext, eval_dataset_from_env, load_resource, model_source_from_env
    from modelplane.jobs.model.job import run_model_validation

    model_version = load_resource(ModelVersion, env)
    source = model_source_from_env(env)
    evaluation = eval_dataset_from_env(env)
    ctx = JobContext.from_env(env)
    try:
        outcome = run_model_validation(model_version, ctx, source, evaluation)
    finally:
        ctx.client.close()
    return outcome.to_result(), EXIT_OK if outcome.succeeded else GateFailed.exit_code


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
    if kind == "ModelVersion":
        result.update(_model_source_lineage(env))
    return result


def _model_source_lineage(env: Mapping[str, str]) -> dict[str, Any]:
    """The lineage fields of ``MODELPLANE_MODEL_SOURCE`` for a failure's result (when it parses)."""
    try:
        source = json.loads(env.get(MODEL_SOURCE_ENV) or "{}")
    except ValueError:
        source = {}
    source = source if isinstance(source, dict) else {}
    return {key: source.get(key) for key in ("runId", "trainingRun", "datasetDigest")}
