"""The serving exception tree: what the dataplane raises and the REST adapter turns into a status code.

Where it sits: raised anywhere on the request path (decoding, model lookup, tensor checks, inference) and
by model loading; ``modelplane.serving.rest.errors`` holds the one map from these classes to HTTP status
codes, so no handler chooses a status on its own.
"""

from __future__ import annotations


class ServingError(Exception):
    """Base of every error the server reports to a client; the message is sent as the response's ``error``."""


class InvalidInput(ServingError):
    """The request is malformed or does not fit the model: bad JSON, tensor name, datatype, shape or data."""


class ModelNotFound(ServingError):
    """No model (or no version of it) with that name is configured."""


class ModelNotReady(ServingError):
    """The model is configured but not loaded (still loading, or its load failed: the message says why)."""


class ServerNotReady(ServingError):
    """At least one configured model is not loaded yet."""


class PayloadTooLarge(ServingError):
    """The request body is larger than ``maxRequestBytes``."""


class ArtifactError(Exception):
    """A model artifact could not be fetched, verified or loaded; the message is the model's not-ready reason."""


class TransientArtifactError(ArtifactError):
    """Fetching an artifact failed in a way that may succeed on a retry (network, server unavailable)."""
