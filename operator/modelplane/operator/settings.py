"""How kopf itself is configured for ModelPlane: storage prefixes, peering, event posting, retries.

Every annotation and finalizer the framework writes is under ``modelplane.io/`` (never the
``kopf.zalando.org`` defaults), so ``kubectl`` users see whose bookkeeping it is and a second kopf-based
operator in the cluster cannot collide with ours.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from modelplane.apis.meta import GROUP

FINALIZER = f"{GROUP}/finalizer"
PEERING_NAME = "modelplane"


def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Apply ModelPlane's kopf settings; registered as the operator's startup handler."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.peering.name = PEERING_NAME
    settings.peering.mandatory = False
    settings.posting.level = logging.INFO
    settings.posting.loggers = True  # handler log lines become Events, as `kubectl describe` users expect
    settings.execution.max_workers = 20
    settings.queueing.error_delays = (1, 2, 5, 10, 30, 60, 120)
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
