"""A tiny test-only kopf operator used to prove the kmock harness (run it as a *file*).

On creation of a Dataset it patches ``status.harness`` and an annotation, and logs a line.
"""

from __future__ import annotations

from typing import Any

import kopf

ANNOTATION = "harness.modelplane.io/seen-by"
OPERATOR_NAME = "harness-sample-operator"


@kopf.on.create("modelplane.io", "v1alpha1", "datasets")
def dataset_created(
    name: str | None, spec: kopf.Spec, patch: kopf.Patch, logger: kopf.Logger, **_: Any
) -> dict[str, Any]:
    patch.metadata.annotations[ANNOTATION] = OPERATOR_NAME
    patch.status["harness"] = {"observedName": name, "source": spec.get("source")}
    logger.info(f"harness sample operator saw dataset {name}")
    return {"handled": True}
