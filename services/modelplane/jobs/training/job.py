"""``run_training``: one built-in training run (or sweep trial) from dataset version to ONNX artifact.

Steps: resolve the estimator and hyperparameters (spec values, then the trial's) → resolve the dataset
version → create the run in the control plane (idempotent: the operator's ``MODELPLANE_RUN_ID``; a
trial's sweep run is created too if missing) with params and lineage → load the train split, fit →
evaluate on the validation split (the test split when there is none) → export to ONNX, check it in
ONNX Runtime → upload the model → log metrics and set the run Succeeded with its artifact and lineage.

On a permanent failure (InvalidSpec, TrainingFailed) the run is set Failed; on any other error it is left
Running, since the Job may retry and the operator marks it Failed when the Job finally fails.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import platform
import tempfile
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelplane.apis.v1alpha1.sweep import trial_hyperparameters
from modelplane.apis.v1alpha1.training_run import Lineage, Task, TrainingRun
from modelplane.jobs.context import JobContext
from modelplane.jobs.errors import PERMANENT_EXIT_CODES, InvalidSpec, JobError, TrainingFailed
from modelplane.jobs.training.data import DatasetVersion, Frame, load_split, resolve_dataset, to_frame
from modelplane.jobs.training.estimator import build_estimator, estimator_parameters, resolve_estimator
from modelplane.jobs.training.evaluation import evaluate
from modelplane.jobs.training.export import check_parity, to_onnx
from modelplane.sdk.run import ActiveRun, start_run

logger = logging.getLogger(__name__)
PACKAGES = ("scikit-learn", "skl2onnx", "onnx", "numpy", "scipy")
MAX_TAG_LENGTH = 500


@dataclass
class TrainingResult:
    """What a training run produced; :meth:`to_result` is the JSON the operator reads."""

    name: str
    run_id: str
    metrics: dict[str, float]
    artifact_uri: str
    artifact_digest: str
    artifact_size: int
    lineage: Lineage
    trial_index: int | None = None
    observed_generation: int | None = None
    uid: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_result(self) -> dict[str, Any]:
        return {
            "kind": "TrainingRun",
            "name": self.name,
            "uid": self.uid,
            "observedGeneration": self.observed_generation,
            "succeeded": True,
            "runId": self.run_id,
            "trialIndex": self.trial_index,
            "metrics": self.metrics,
            "artifactUri": self.artifact_uri,
            "artifactDigest": self.artifact_digest,
            "lineage": self.lineage.to_wire(),
        }


def run_training(run: TrainingRun, ctx: JobContext) -> TrainingResult:
    """Train, evaluate, export and register one built-in run; see the module docstring."""
    builtin = run.spec.trainer.builtin
    if builtin is None:
        raise InvalidSpec("only built-in trainers run in this job; a custom trainer runs its own image")
    hyperparameters = trial_hyperparameters(run.spec, ctx.trial.params if ctx.trial else None)
    cls = resolve_estimator(builtin.estimator, builtin.task)
    parameters = estimator_parameters(cls, hyperparameters, run.spec.seed)
    version = resolve_dataset(run, ctx)
    lineage = Lineage(
        dataset_digest=version.digest,
        packages=_packages(),
        code_ref=ctx.code_ref,
        parameters=parameters,
        seed=run.spec.seed,
        node=ctx.node_name,
        accelerator=ctx.accelerator,
    )
    active = _start(run, ctx, lineage, cls, builtin.task)
    try:
        result = _train(run, ctx, active, cls, parameters, version, lineage, builtin.task)
    except BaseException as error:
        permanent = isinstance(error, JobError) and error.exit_code in PERMANENT_EXIT_CODES
        try:
            active.set_tag("modelplane.error", str(error)[:MAX_TAG_LENGTH])
            active.finish("Failed" if permanent else "Running")
        except Exception:
            logger.exception("Could not record the failure of run %s.", active.run_id)
        raise
    logger.info("Trained run %s: %s.", result.run_id, result.metrics, extra={"run_id": result.run_id})
    return result


def _start(run: TrainingRun, ctx: JobContext, lineage: Lineage, cls: type[Any], task: Task) -> ActiveRun:
    experiment = ctx.experiment or run.metadata.name
    trial = ctx.trial
    fields = _run_lineage(lineage, ctx)
    if trial is not None and trial.parent_run_id is not None:
        ctx.client.create_run(experiment, run_id=trial.parent_run_id, name=run.metadata.name, seed=run.spec.seed)
    active = start_run(
        experiment,
        run_id=ctx.run_id or uuid.uuid4().hex,
        client=ctx.client,
        params={k: _param(v) for k, v in lineage.parameters.items()},
        name=f"{run.metadata.name}-trial-{trial.index}" if trial is not None else run.metadata.name,
        parent_run_id=trial.parent_run_id if trial is not None else None,
        **fields,
    )
    active.set_tag("modelplane.estimator", f"{cls.__module__}.{cls.__qualname__}")
    active.set_tag("modelplane.task", task.value)
    if trial is not None:
        active.set_tag("modelplane.trial_index", trial.index)
    return active


def _train(
    run: TrainingRun,
    ctx: JobContext,
    active: ActiveRun,
    cls: type[Any],
    parameters: dict[str, Any],
    version: DatasetVersion,
    lineage: Lineage,
    task: Task,
) -> TrainingResult:
    from sklearn.utils._param_validation import InvalidParameterError

    classifier = task == Task.CLASSIFICATION
    with tempfile.TemporaryDirectory(prefix="modelplane-train-", dir=ctx.workdir) as tmp:
        workdir = Path(tmp)
        train_table = load_split(ctx, version, "train", workdir)
        if train_table is None:
            raise InvalidSpec(f"dataset {version.name} {version.digest} has no train split")
        train = to_frame(train_table, version, task, "train")
        evaluation = _evaluation_frame(ctx, version, task, workdir) or train
        model = build_estimator(cls, parameters)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model.fit(train.x, train.y)
            except InvalidParameterError as error:
                raise InvalidSpec(f"{cls.__name__} rejected its hyperparameters: {error}") from error
            except (ValueError, TypeError, ArithmeticError) as error:
                raise TrainingFailed(f"{cls.__name__} failed to fit: {error}") from error
        messages = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
        for message in messages:
            logger.warning("Fitting %s warned: %s.", cls.__name__, message, extra={"run_id": active.run_id})
        if messages:
            active.set_tag("modelplane.fit_warnings", "; ".join(messages)[:MAX_TAG_LENGTH])
        metrics = evaluate(model, evaluation, task)
        onnx_model = to_onnx(
            model,
            train.x.shape[1],
            classifier=classifier,
            metadata={
                "dataset_digest": version.digest,
                "estimator": f"{cls.__module__}.{cls.__qualname__}",
                "features": version.features,
                "target": version.target,
                "task": task.value,
            },
        )
        check_parity(model, onnx_model, evaluation.x, classifier=classifier)
        path = workdir / "model.onnx"
        path.write_bytes(onnx_model)
        artifact = ctx.client.upload_artifact(path)
    active.log_metrics(metrics)
    active.finish("Succeeded", artifact_uri=artifact["uri"], **_run_lineage(lineage, ctx))
    return TrainingResult(
        name=run.metadata.name,
        run_id=active.run_id,
        metrics=metrics,
        artifact_uri=artifact["uri"],
        artifact_digest=f"sha256:{artifact['sha256']}",
        artifact_size=artifact["size"],
        lineage=lineage,
        trial_index=ctx.trial.index if ctx.trial else None,
        observed_generation=run.metadata.generation,
        uid=run.metadata.uid,
        warnings=messages,
    )


def _evaluation_frame(ctx: JobContext, version: DatasetVersion, task: Task, workdir: Path) -> Frame | None:
    for split in ("validation", "test"):
        table = load_split(ctx, version, split, workdir)
        if table is not None and table.num_rows:
            return to_frame(table, version, task, split)
    return None


def _run_lineage(lineage: Lineage, ctx: JobContext) -> dict[str, Any]:
    """The control plane's lineage fields of a run (snake_case, as its API takes them)."""
    hardware = {"node": ctx.node_name, "accelerator": ctx.accelerator, "machine": platform.machine()}
    return {
        "dataset_digest": lineage.dataset_digest,
        "packages": lineage.packages,
        "seed": lineage.seed,
        "code_ref": lineage.code_ref,
        "hardware": {k: v for k, v in hardware.items() if v},
    }


def _packages() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _param(value: Any) -> str:
    """A hyperparameter as the control plane stores it: text as is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
