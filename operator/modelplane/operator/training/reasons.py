"""Condition types and reasons of a TrainingRun, in one place."""

from __future__ import annotations

from modelplane.operator.outcome import EventPolicy

DATASET_READY = "DatasetReady"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
READY = "Ready"

# DatasetReady
DATASET_IS_READY = "DatasetReady"
DATASET_NOT_FOUND = "DatasetNotFound"
DATASET_NOT_READY = "DatasetNotReady"
DIGEST_MISMATCH = "DigestMismatch"

# Running
JOBS_CREATED = "JobCreated"
JOBS_RUNNING = "JobRunning"
JOBS_SUSPENDED = "JobSuspended"
NOT_STARTED = "NotStarted"
FINISHED = "Finished"

# Succeeded / Ready
PENDING = "Pending"
IN_PROGRESS = "Running"
JOB_SUCCEEDED = "JobSucceeded"
SWEEP_SUCCEEDED = "SweepSucceeded"
JOB_FAILED = "JobFailed"
DEADLINE_EXCEEDED = "DeadlineExceeded"
ALL_TRIALS_FAILED = "AllTrialsFailed"
OBJECTIVE_NOT_LOGGED = "ObjectiveNotLogged"
RUN_NOT_RECORDED = "RunNotRecorded"
INVALID_SPEC = "InvalidSpec"
INVALID_DATA = "InvalidData"
TRAINING_FAILED = "TrainingFailed"
UNKNOWN_ACCELERATOR = "UnknownAccelerator"
CONTROL_PLANE_UNAVAILABLE = "ControlPlaneUnavailable"

TERMINAL_FAILURES = frozenset(
    {
        JOB_FAILED,
        DEADLINE_EXCEEDED,
        ALL_TRIALS_FAILED,
        OBJECTIVE_NOT_LOGGED,
        RUN_NOT_RECORDED,
        INVALID_SPEC,
        INVALID_DATA,
        TRAINING_FAILED,
        UNKNOWN_ACCELERATOR,
    }
)
JOB_RESULT_REASONS = frozenset({INVALID_SPEC, INVALID_DATA, TRAINING_FAILED})
"""Reasons a training job reports in its result (docs/jobs.md) that become the condition's reason."""
"""Reasons of a final ``Succeeded=False``: the run is over for this generation."""

EVENTS = EventPolicy(
    types=(DATASET_READY, RUNNING, SUCCEEDED),
    warnings=TERMINAL_FAILURES | {DATASET_NOT_FOUND, DIGEST_MISMATCH, CONTROL_PLANE_UNAVAILABLE},
    quiet=frozenset({IN_PROGRESS}),  # Succeeded=Unknown while the run runs: Running=True already says so
)
