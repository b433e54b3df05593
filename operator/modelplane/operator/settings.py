"""How kopf itself is configured for ModelPlane: storage prefixes, peering, event posting, retries.

kopf's bookkeeping lives under its own prefix, ``kopf.modelplane.io/`` (``last-handled-configuration``,
per-handler progress, the ``kopf-managed`` marker), never the ``kopf.zalando.org`` defaults, so
``kubectl`` users see whose bookkeeping it is and a second kopf-based operator cannot collide with ours.
It is *not* ``modelplane.io/``: kopf leaves every annotation under its storage prefix out of the
essence it diffs, and ``modelplane.io/`` is where users write to the operator (``modelplane.io/refresh``,
``modelplane.io/code-ref``): those must reach the update handlers like a spec change. The finalizer
(only on objects with a timer) stays ``modelplane.io/finalizer``.

Event posting: the Events users read are the operator's own (condition transitions, rejected writes,
posted with ``kopf.event``); kopf's per-handler log lines ("Handler 'reconcile' succeeded.") are not
posted, which saves two API writes per handled object.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from modelplane.apis.meta import GROUP

FINALIZER = f"{GROUP}/finalizer"
KOPF_PREFIX = f"kopf.{GROUP}"
"""kopf's storage prefix: its annotations are ``kopf.modelplane.io/<key>``."""
DIFFBASE_KEY = "last-handled-configuration"
PEERING_NAME = "modelplane"
CONSISTENCY_TIMEOUT = 30.0
LEGACY_ANNOTATIONS = (f"{GROUP}/kopf-managed", f"{GROUP}/{DIFFBASE_KEY}")
"""kopf's bookkeeping from before it moved to ``kopf.modelplane.io/``: while the old ``kopf-managed``
marker is on an object, kopf still treats ``modelplane.io/`` as a storage prefix and hides our annotations,
so a pass removes both (once per object, see :func:`legacy_annotations`)."""


def legacy_annotations(body: Mapping[str, Any]) -> list[str]:
    """The legacy kopf annotations on an object (usually none)."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    return [key for key in LEGACY_ANNOTATIONS if key in annotations]


def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Apply ModelPlane's kopf settings; registered as the operator's startup handler."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=KOPF_PREFIX, key=DIFFBASE_KEY)
    # How long kopf waits for the version of its own diff-base patch before it handles an older event as
    # if it were current. 5 s (the default) is less than the watch lags behind a burst of a thousand new
    # objects, and an older event without the diff base is a *creation* again: a second create handler
    # and a second patch per object. A version that never arrives delays only that object's handlers.
    settings.persistence.consistency_timeout = CONSISTENCY_TIMEOUT
    settings.peering.name = PEERING_NAME
    settings.peering.mandatory = False
    settings.posting.level = logging.INFO  # kopf.info/kopf.event post at INFO
    settings.posting.loggers = False  # kopf's log lines stay in the log; the operator posts its own Events
    settings.execution.max_workers = 20
    settings.queueing.error_delays = (1, 2, 5, 10, 30, 60, 120)
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
