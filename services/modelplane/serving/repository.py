"""The model repository: every configured model version, its load state, and the lookup of requests.

Where it sits: built from the config at start-up; :meth:`ModelRepository.load_all` runs in the
background (liveness answers meanwhile) and fetches, verifies and loads each version in a worker thread.
The server is ready only when every version is ``READY``; a version that fails to load stays
``UNAVAILABLE`` with its reason, shown by ``/v2/health/ready``, its metadata and ready endpoints, the
repository index, and the log. The dataplane looks models up here on every request (:meth:`get`).

Versions: a name may be listed with several versions; a request without a version gets the one listed
last for that name.
"""

from __future__ import annotations

import asyncio
import logging
import time
from enum import StrEnum

from modelplane.serving.artifacts import read_verified_artifact
from modelplane.serving.batcher import Batcher
from modelplane.serving.config import ModelConfig, ServingConfig
from modelplane.serving.errors import ArtifactError, ModelNotFound, ModelNotReady
from modelplane.serving.executor import InferenceExecutor
from modelplane.serving.metrics import ModelMetrics, ServingMetrics
from modelplane.serving.model import OnnxModel

logger = logging.getLogger(__name__)


class ModelState(StrEnum):
    """Load state of a model version (the values of Triton's repository index)."""

    LOADING = "LOADING"
    READY = "READY"
    UNAVAILABLE = "UNAVAILABLE"


class ServedModel:
    """One configured model version and, once loaded, its model, executor and batcher."""

    def __init__(self, config: ModelConfig, metrics: ModelMetrics) -> None:
        self.config = config
        self.name = config.name
        self.version = config.version
        self.metrics = metrics
        self.state = ModelState.LOADING
        self.reason: str | None = "loading"
        self.model: OnnxModel | None = None
        self.executor: InferenceExecutor | None = None
        self.batcher: Batcher | None = None

    @property
    def label(self) -> str:
        """``model 'name' version 'v'`` for messages."""
        return f"model '{self.name}' version '{self.version}'"

    def ready_model(self) -> tuple[OnnxModel, InferenceExecutor]:
        """The loaded model and its executor; :class:`ModelNotReady` (with the reason) otherwise."""
        if self.model is None or self.executor is None or self.state is not ModelState.READY:
            raise ModelNotReady(f"{self.label} is not ready: {self.reason}")
        return self.model, self.executor


class ModelRepository:
    """Every configured model version, by name and version."""

    def __init__(self, config: ServingConfig, metrics: ServingMetrics) -> None:
        self._config = config
        self._metrics = metrics
        self._by_name: dict[str, dict[str, ServedModel]] = {}
        self._default: dict[str, ServedModel] = {}
        for model_config in config.models:
            served = ServedModel(model_config, metrics.for_model(model_config.name, model_config.version))
            self._by_name.setdefault(served.name, {})[served.version] = served
            self._default[served.name] = served
        metrics.models_configured.set(len(config.models))
        self.ready = False
        """Every configured version is loaded."""
        self.settled = False
        """Every configured version finished loading, successfully or not."""

    def models(self) -> list[ServedModel]:
        """Every configured version, in config order."""
        return [served for versions in self._by_name.values() for served in versions.values()]

    def versions(self, name: str) -> list[str]:
        """The configured versions of a model."""
        return list(self._by_name.get(name, {}))

    def find(self, name: str, version: str | None) -> ServedModel:
        """The configured version (the default one when ``version`` is None), ready or not."""
        versions = self._by_name.get(name)
        if versions is None:
            raise ModelNotFound(f"unknown model '{name}'")
        if version is None:
            return self._default[name]
        served = versions.get(version)
        if served is None:
            known = ", ".join(f"'{v}'" for v in versions)
            raise ModelNotFound(f"model '{name}' has no version '{version}' (versions: {known})")
        return served

    def not_ready_reasons(self) -> list[str]:
        """``model 'x' version 'v': reason`` for every version that is not ready."""
        return [f"{s.label}: {s.reason}" for s in self.models() if s.state is not ModelState.READY]

    async def load_all(self) -> None:
        """Load every version concurrently; ready when all succeeded."""
        await asyncio.gather(*(self._load(served) for served in self.models()))
        self.ready = all(served.state is ModelState.READY for served in self.models())
        self.settled = True
        if self.ready:
            logger.info("Loaded every model", extra={"models": len(self.models())})
        else:
            logger.error("Started not ready: %s", "; ".join(self.not_ready_reasons()))

    async def close(self) -> None:
        """Drain the batchers and release the workers."""
        self.ready = False
        for served in self.models():
            if served.batcher is not None:
                await served.batcher.stop()
            if served.executor is not None:
                await asyncio.to_thread(served.executor.close)

    async def _load(self, served: ServedModel) -> None:
        config = served.config
        started = time.monotonic()
        try:
            artifact = await asyncio.to_thread(
                read_verified_artifact,
                config.uri,
                config.sha256,
                cache_dir=self._config.cache_dir,
                s3=self._config.s3,
            )
            model = await asyncio.to_thread(OnnxModel, config.name, config.version, artifact, config.runtime)
            expected_seconds = await asyncio.to_thread(model.warm_up)
        except ArtifactError as exc:
            self._fail(served, str(exc))
            return
        except Exception as exc:  # anything else is a bug, but it must still show as the model's reason
            logger.exception("Failed to load %s", served.label)
            self._fail(served, f"unexpected error: {exc!r}")
            return
        served.model = model
        served.executor = InferenceExecutor(config.name, expected_seconds)
        if config.batching is not None:
            if model.batchable:
                served.batcher = Batcher(model, served.executor, served.metrics, config.batching)
                served.batcher.start()
            else:
                logger.info(
                    "Turned off dynamic batching of %s: not every input and output has a leading dimension of any size",
                    served.label,
                )
        served.state, served.reason = ModelState.READY, None
        self._metrics.models_loaded.inc()
        if served.metrics.ready is not None:
            served.metrics.ready.set(1)
        logger.info(
            "Loaded %s",
            served.label,
            extra={
                "model": config.name,
                "version": config.version,
                "sha256": config.sha256,
                "seconds": round(time.monotonic() - started, 3),
                "batching": served.batcher is not None,
                "inline": served.executor.inline,
            },
        )

    def _fail(self, served: ServedModel, reason: str) -> None:
        served.state, served.reason = ModelState.UNAVAILABLE, reason
        logger.error("Failed to load %s: %s", served.label, reason, extra={"model": served.name, "reason": reason})
