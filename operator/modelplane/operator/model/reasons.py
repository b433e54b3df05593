"""Condition types and reasons of a ModelVersion, in one place (CamelCase, as ``kubectl describe`` shows them)."""

from __future__ import annotations

from modelplane.operator.outcome import EventPolicy

VALIDATED = "Validated"
EVALUATED = "Evaluated"
ALIASES = "AliasesAssigned"
READY = "Ready"
DELETING = "Deleting"

# Waiting for inputs (Validated/Evaluated Unknown, Ready False)
SOURCE_NOT_FOUND = "SourceNotFound"
SOURCE_NOT_READY = "SourceNotReady"
SOURCE_FAILED = "SourceFailed"
DATASET_NOT_FOUND = "DatasetNotFound"
DATASET_NOT_READY = "DatasetNotReady"
DATASET_VERSION_NOT_FOUND = "DatasetVersionNotFound"
CONTROL_PLANE_UNAVAILABLE = "ControlPlaneUnavailable"

# The validation Job
JOB_CREATED = "JobCreated"
VALIDATING = "Validating"
JOB_SUSPENDED = "JobSuspended"

# Results (Validated, Evaluated, Ready)
ARTIFACT_VALID = "ArtifactValid"
DIGEST_MISMATCH = "DigestMismatch"
INVALID_MODEL = "InvalidModel"
SIGNATURE_MISMATCH = "SignatureMismatch"
INVALID_SPEC = "InvalidSpec"
GATE_FAILED = "GateFailed"
SOURCE_UNAVAILABLE = "SourceUnavailable"
CONTROL_PLANE_ERROR = "ControlPlaneError"
JOB_ERROR = "JobError"
JOB_FAILED = "JobFailed"
DEADLINE_EXCEEDED = "DeadlineExceeded"
VERSION_NOT_RECORDED = "VersionNotRecorded"
GATES_PASSED = "GatesPassed"
NO_GATES = "NoGates"
NOT_EVALUATED = "NotEvaluated"
REGISTERED = "Registered"

# AliasesAssigned
NO_ALIASES = "NoAliases"
ALIASES_HELD = "AliasesHeld"
ALIASES_PENDING = "AliasesPending"
ALIAS_CONFLICT = "AliasConflict"

# Deleting
IN_USE = "InUse"
ARTIFACT_DELETION_FAILED = "ArtifactDeletionFailed"

# Events of alias moves (not conditions)
ALIAS_MOVED = "AliasMoved"
ALIAS_REMOVED = "AliasRemoved"

PERMANENT_FAILURES = frozenset({DIGEST_MISMATCH, INVALID_MODEL, SIGNATURE_MISMATCH, INVALID_SPEC, GATE_FAILED})
"""Failures of the artifact or the spec: validating again cannot help (exit codes 2 and 3 of the job)."""
JOB_RESULT_REASONS = PERMANENT_FAILURES | {SOURCE_UNAVAILABLE, CONTROL_PLANE_ERROR, JOB_ERROR}
"""Reasons the validation job reports in its result (docs/jobs.md) that become the condition's reason."""
FINAL_FAILURES = JOB_RESULT_REASONS | {JOB_FAILED, DEADLINE_EXCEEDED, VERSION_NOT_RECORDED, DATASET_VERSION_NOT_FOUND}
"""Reasons of a final ``Ready=False``: the version stays so until its spec (or ``modelplane.io/refresh``) changes."""

EVENTS = EventPolicy(
    types=(VALIDATED, EVALUATED, ALIASES, READY, DELETING),
    warnings=FINAL_FAILURES | {SOURCE_FAILED, ALIAS_CONFLICT, IN_USE, ARTIFACT_DELETION_FAILED},
)
