"""Jobs: the code that runs inside the operator's Job pods, and as local processes, with one entry point.

    python -m modelplane.jobs ingest          # a Dataset: source -> validated, split, profiled version
    python -m modelplane.jobs train           # a built-in TrainingRun (or one sweep trial) -> ONNX model
    python -m modelplane.jobs validate-model  # a ModelVersion: verified, evaluated, optimized, registered

In-process (the local runtime): ``modelplane.jobs.ingest.job.run_ingest(dataset, ctx)``,
``modelplane.jobs.training.job.run_training(run, ctx)`` and
``modelplane.jobs.model.job.run_model_validation(model_version, ctx, source_input, evaluation)`` with a
:class:`modelplane.jobs.context.JobContext` (``source_input``, ``evaluation``: the resolved
:class:`~modelplane.jobs.context.ModelSourceInput` and :class:`~modelplane.jobs.context.DatasetInput`, or
None to resolve them from the resource and the control plane).
``modelplane.apis.v1alpha1.sweep`` (pure, light) expands sweeps and picks the best trial for the operator.

Contract with the operator (details and examples in ``docs/jobs.md``):

Environment, every job
    ``MODELPLANE_API_URL``, ``MODELPLANE_TOKEN`` or ``MODELPLANE_TOKEN_FILE``, ``MODELPLANE_NAMESPACE``;
    ``MODELPLANE_RESOURCE``: the whole Dataset or TrainingRun as the API server returns it (JSON).
    Optional: ``MODELPLANE_RESULT_FILE`` (default ``/dev/termination-log`` when it exists),
    ``MODELPLANE_WORKDIR`` (scratch space, default the system temp dir).
Ingest
    ``MODELPLANE_SOURCE_ACCESS_KEY_ID`` / ``MODELPLANE_SOURCE_SECRET_ACCESS_KEY`` (from the S3 source's
    Secret refs); optional ``MODELPLANE_SOURCE_S3_ENDPOINT`` (S3 endpoint when the spec names none) and
    ``MODELPLANE_PVC_MOUNT`` (where the pvc source's claim is mounted; the path is local when unset).
Train
    ``MODELPLANE_RUN_ID`` (32 hex, chosen by the operator), ``MODELPLANE_EXPERIMENT`` (the TrainingRun
    name), ``MODELPLANE_DATASET`` (``{"digest", "artifacts": {"train", "validation", "test", "profile"}}``),
    for a sweep trial ``MODELPLANE_TRIAL_INDEX``, ``MODELPLANE_TRIAL_PARAMS`` (JSON, merged over
    ``spec.hyperparameters``) and ``MODELPLANE_PARENT_RUN_ID``; optional ``NODE_NAME`` (downward API),
    ``MODELPLANE_ACCELERATOR`` (the accelerator profile) and ``MODELPLANE_CODE_REF`` for the lineage.
Validate-model
    ``MODELPLANE_MODEL_SOURCE`` (``{"uri", "sha256", "runId", "trainingRun", "datasetDigest"}``, resolved by
    the operator), ``MODELPLANE_EVAL_DATASET`` (same shape as ``MODELPLANE_DATASET``, with
    ``spec.evaluation``), and for an external S3 source ``MODELPLANE_SOURCE_ACCESS_KEY_ID`` /
    ``MODELPLANE_SOURCE_SECRET_ACCESS_KEY``. Unset (local use): resolved from the resource and the control plane.
Result
    One line of JSON, the last line of stdout and the content of the result file (at most 4096 bytes),
    camelCase like the resource status. Exit codes: 0 succeeded, 1 transient/unexpected, 2 InvalidSpec,
    InvalidData, DigestMismatch, InvalidModel or SignatureMismatch, 3 ValidationFailed or GateFailed,
    4 TrainingFailed, 5 SourceUnavailable (see :mod:`.errors`).

Artifacts move through the control plane's artifact API with the SDK, so jobs hold no credentials of the
platform's store. Importing this package loads nothing: the heavy libraries (pyarrow, scikit-learn,
skl2onnx, onnx, ONNX Runtime) load in the job modules that need them.
"""
