"""The dataplane's start-up: the garbage collector is frozen once the models are loaded, unless told not to."""

from __future__ import annotations

import asyncio
import gc

from modelplane.serving.config import parse_config
from modelplane.serving.dataplane import DataPlane

from .conftest import Models


async def _frozen_after_loading(models: Models, freeze_gc: bool) -> tuple[int, bool]:
    dataplane = DataPlane(parse_config({"models": [models.iris.model("iris")]}), freeze_gc=freeze_gc)
    await dataplane.start()
    try:
        await dataplane.wait_loaded()
        return gc.get_freeze_count(), dataplane.repository.find("iris", None).ready_model() is not None
    finally:
        await dataplane.stop()


def test_loading_freezes_what_is_alive_so_full_collections_skip_it(models: Models) -> None:
    gc.unfreeze()
    try:
        frozen, ready = asyncio.run(_frozen_after_loading(models, freeze_gc=True))
    finally:
        gc.unfreeze()
    assert ready
    assert frozen > 10_000  # the interpreter, the web stack and ONNX Runtime's bindings at least


def test_freeze_gc_off_leaves_the_collector_alone(models: Models) -> None:
    gc.unfreeze()
    try:
        frozen, ready = asyncio.run(_frozen_after_loading(models, freeze_gc=False))
    finally:
        gc.unfreeze()
    assert ready
    assert frozen == 0
