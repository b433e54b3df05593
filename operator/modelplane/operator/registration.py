"""Wiring of the whole operator into one kopf registry: start-up, clean-up, every kind's handlers.

``register(registry)`` is what ``main`` calls on import, and what a test's operator file calls to get the
same operator into the fresh registry of its run. The start-up handler applies ModelPlane's kopf
settings and creates the :class:`~modelplane.operator.runtime.Runtime` (configuration, Kubernetes and
control-plane clients) that the handlers find in kopf's memo.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from modelplane.kube.client import KubeClient
from modelplane.kube.connection import load_connection
from modelplane.operator import children, metrics, settings
from modelplane.operator.config import OperatorConfig
from modelplane.operator.controlplane import ControlPlaneClient
from modelplane.operator.dataset import handlers as dataset_handlers
from modelplane.operator.inference import handlers as inference_handlers
from modelplane.operator.model import handlers as model_handlers
from modelplane.operator.runtime import MEMO_KEY, Runtime, runtime_of
from modelplane.operator.training import handlers as training_handlers

logger = logging.getLogger(__name__)


async def start_runtime(memo: Any, **_: Any) -> None:
    """Create the runtime: read the configuration and open the clients."""
    for noisy in ("httpx", "httpcore"):  # one line per request at INFO/DEBUG: the reconcilers log what matters
        logging.getLogger(noisy).setLevel(logging.WARNING)
    config = OperatorConfig.from_env()
    runtime = Runtime(config=config, kube=KubeClient(load_connection()), control_plane=ControlPlaneClient(config))
    memo[MEMO_KEY] = runtime
    if config.metrics_port is not None:
        metrics.serve(config.metrics_port)
    logger.info(
        "Started the ModelPlane operator runtime: control plane %s, jobs image %s, %d accelerator profiles.",
        config.api_url,
        config.jobs_image,
        len(config.accelerator_profiles),
    )


async def stop_runtime(memo: Any, **_: Any) -> None:
    """Close the clients."""
    if memo.get(MEMO_KEY) is not None:
        await runtime_of(memo).aclose()


def register(registry: kopf.OperatorRegistry, config: OperatorConfig | None = None) -> None:
    """Register ModelPlane's operator into ``registry``."""
    config = config or OperatorConfig.from_env()
    kopf.on.startup(registry=registry, id="configure")(settings.configure)
    kopf.on.startup(registry=registry, id="runtime")(start_runtime)
    kopf.on.cleanup(registry=registry, id="runtime")(stop_runtime)
    dataset_handlers.register(registry, resync_seconds=config.resync_seconds)
    training_handlers.register(registry, resync_seconds=config.resync_seconds)
    inference_handlers.register(registry, resync_seconds=config.resync_seconds)
    model_handlers.register(registry, resync_seconds=config.resync_seconds)
    children.register(
        registry,
        {
            "Dataset": dataset_handlers.reconcile_from_child,
            "TrainingRun": training_handlers.reconcile_from_child,
            "InferenceService": inference_handlers.reconcile_from_child,
            "ModelVersion": model_handlers.reconcile_from_child,
        },
    )
