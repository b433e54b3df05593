"""Condition types and reasons of an InferenceService, in one place (CamelCase, as ``kubectl describe`` shows them)."""

from __future__ import annotations

from modelplane.operator.outcome import EventPolicy

MODEL_RESOLVED = "ModelResolved"
READY = "Ready"

# ModelResolved (and Ready while the model is not resolved)
RESOLVED = "ModelVersionResolved"
MODEL_VERSION_NOT_FOUND = "ModelVersionNotFound"
MODEL_VERSION_NOT_READY = "ModelVersionNotReady"
ALIAS_NOT_FOUND = "AliasNotFound"
MODEL_NAMES_DIFFER = "ModelNamesDiffer"
INVALID_SPEC = "InvalidSpec"
UNKNOWN_ACCELERATOR = "UnknownAccelerator"

# Ready
SERVING = "Serving"
DEPLOYMENT_PROGRESSING = "DeploymentProgressing"
DEPLOYMENT_UNAVAILABLE = "DeploymentUnavailable"
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"

WAITING = frozenset({MODEL_VERSION_NOT_FOUND, MODEL_VERSION_NOT_READY, ALIAS_NOT_FOUND})
"""Resolution failures that resolve themselves when a ModelVersion appears, turns Ready or takes the alias."""
INVALID = frozenset({MODEL_NAMES_DIFFER, INVALID_SPEC, UNKNOWN_ACCELERATOR})
"""Failures only a spec change fixes."""

EVENTS = EventPolicy(
    types=(MODEL_RESOLVED, READY),
    warnings=WAITING | INVALID | {DEPLOYMENT_UNAVAILABLE, PROGRESS_DEADLINE_EXCEEDED},
)
