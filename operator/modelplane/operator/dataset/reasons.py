"""Condition types and reasons of a Dataset, in one place (CamelCase, as ``kubectl describe`` shows them)."""

from __future__ import annotations

from modelplane.operator.outcome import EventPolicy

READY = "Ready"
INGESTING = "Ingesting"

# Ready
VERSION_READY = "VersionReady"
WAITING_FOR_INGEST = "Ingesting"
VALIDATION_FAILED = "ValidationFailed"
JOB_FAILED = "JobFailed"
VERSION_NOT_RECORDED = "VersionNotRecorded"
CONTROL_PLANE_UNAVAILABLE = "ControlPlaneUnavailable"

# Ingesting
JOB_CREATED = "JobCreated"
JOB_RUNNING = "JobRunning"
JOB_SUSPENDED = "JobSuspended"
JOB_SUCCEEDED = "JobSucceeded"

EVENTS = EventPolicy(
    types=(INGESTING, READY),
    warnings=frozenset({VALIDATION_FAILED, JOB_FAILED, VERSION_NOT_RECORDED, CONTROL_PLANE_UNAVAILABLE}),
)
