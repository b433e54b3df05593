"""Why a job failed: one exception per failure reason, each with its exit code.

The exit code is the operator's first signal (a Job's ``podFailurePolicy`` can fail the Job at once on
a permanent code instead of retrying); the reason goes into the result JSON and becomes the reason of
the resource's condition.

====  ====================  =========================================================
code  reason                meaning
====  ====================  =========================================================
0     (none)                succeeded (ingest: registered, possibly with Warn violations)
1     JobError              unexpected or transient (control plane unreachable, bug): retry
2     InvalidSpec           the resource or the environment is unusable: permanent
2     InvalidData           the source cannot be read as a table: permanent for this content
3     ValidationFailed      schema rules failed under ``validation: Fail``: permanent
4     TrainingFailed        fitting, evaluating or exporting failed: permanent for this spec
5     SourceUnavailable     the source could not be fetched (HTTP error, missing object, bad sha256)
2     DigestMismatch        validate-model: the artifact's sha256 is not the expected one: permanent
2     InvalidModel          validate-model: not an ONNX model, or ONNX Runtime cannot load it: permanent
2     SignatureMismatch     validate-model: the model's signature differs from the declared one: permanent
3     GateFailed            validate-model: an evaluation gate failed: permanent for this artifact and data
====  ====================  =========================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INVALID = 2
EXIT_VALIDATION_FAILED = 3
EXIT_TRAINING_FAILED = 4
EXIT_SOURCE_UNAVAILABLE = 5

PERMANENT_EXIT_CODES = frozenset({EXIT_INVALID, EXIT_VALIDATION_FAILED, EXIT_TRAINING_FAILED})
"""Exit codes a retry cannot fix: the operator's podFailurePolicy fails the Job on them."""

VALIDATION_FAILED = "ValidationFailed"
CONTROL_PLANE_ERROR = "ControlPlaneError"
GATE_FAILED = "GateFailed"


class JobError(Exception):
    """A failure of a job, with the reason and exit code it reports."""

    reason = "JobError"
    exit_code = EXIT_ERROR


class InvalidSpec(JobError):
    """The resource, the environment or a hyperparameter cannot work."""

    reason = "InvalidSpec"
    exit_code = EXIT_INVALID


class InvalidData(JobError):
    """The source's bytes are not a table of the declared format."""

    reason = "InvalidData"
    exit_code = EXIT_INVALID


class SourceUnavailable(JobError):
    """The source could not be fetched, or its content is not what the spec pinned."""

    reason = "SourceUnavailable"
    exit_code = EXIT_SOURCE_UNAVAILABLE


class TrainingFailed(JobError):
    """The estimator failed to fit, or its ONNX export failed or disagreed with it."""

    reason = "TrainingFailed"
    exit_code = EXIT_TRAINING_FAILED


class DigestMismatch(JobError):
    """The model artifact's content is not the one its sha256 pins (the message has both digests)."""

    reason = "DigestMismatch"
    exit_code = EXIT_INVALID


class InvalidModel(JobError):
    """The artifact is not a valid ONNX model, or ONNX Runtime cannot load or run it."""

    reason = "InvalidModel"
    exit_code = EXIT_INVALID


class SignatureMismatch(JobError):
    """The model's inputs or outputs differ from the signature the ModelVersion declares."""

    reason = "SignatureMismatch"
    exit_code = EXIT_INVALID


class GateFailed(JobError):
    """An evaluation gate failed (threshold or baseline alias); the message lists every gate."""

    reason = GATE_FAILED
    exit_code = EXIT_VALIDATION_FAILED
