"""The InferenceService controller alone, as a file for ``kopf run``: its handlers, the Deployment events, the runtime.

Run as a *file* (kopf re-executes it each run with a fresh default registry) by the kmock wiring tests
(``KmockCluster.run_operator``) and by the cluster tier (``run_cluster_operator``). It registers what
``modelplane.operator.registration`` registers for InferenceServices and nothing else: those tests write
the ModelVersions' status themselves, which the ModelVersion controller would otherwise recompute from a
validation Job. :data:`PATH` names this file.
"""

from __future__ import annotations

import kopf

from modelplane.operator import children, registration, settings
from modelplane.operator.inference import handlers

registry = kopf.get_default_registry()
kopf.on.startup(registry=registry, id="configure")(settings.configure)
kopf.on.startup(registry=registry, id="runtime")(registration.start_runtime)
kopf.on.cleanup(registry=registry, id="runtime")(registration.stop_runtime)
handlers.register(registry, resync_seconds=60)
children.register(registry, {"InferenceService": handlers.reconcile_from_child})
