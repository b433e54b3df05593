"""A tiny test operator for the cluster tier: marks each new Dataset Ready through the status subresource.

Run as a file by ``kopf run`` (see ``harness.operator_process``) as the operator's restricted identity.
It uses ModelPlane's kopf settings (kopf's storage under ``kopf.modelplane.io/``, no status storage) and a
group-qualified selector, as the real handlers do.
"""

from __future__ import annotations

import datetime
from typing import Any

import kopf

from modelplane.apis.v1alpha1 import Dataset
from modelplane.operator import settings
from modelplane.operator.selectors import selector_of

REASON = "SeenByTestOperator"

kopf.on.startup()(settings.configure)


@kopf.on.create(*selector_of(Dataset))
def mark_ready(body: kopf.Body, meta: kopf.Meta, patch: kopf.Patch, logger: kopf.Logger, **_: Any) -> None:
    generation = meta.get("generation")
    now = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch.status["observedGeneration"] = generation
    patch.status["conditions"] = [
        {
            "type": "Ready",
            "status": "True",
            "reason": REASON,
            "message": "The cluster-tier test operator saw this Dataset.",
            "lastTransitionTime": now,
            "observedGeneration": generation,
        }
    ]
    kopf.info(body, reason=REASON, message="Marked ready by the cluster-tier test operator.")
    logger.info(f"Marked Dataset {meta.get('name')} ready.")
