"""Every kind registers its handlers the same way: create, update and resume stacked on one function under
one id, and (for the kinds that have one) a resync timer that first fires after one interval."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from modelplane.apis.v1alpha1 import ModelVersion
from modelplane.operator.handling import register_reconcile, register_resync
from modelplane.operator.selectors import selector_of

pytestmark = pytest.mark.unit


async def handler(**_: Any) -> None:
    return None


def unsettled(**_: Any) -> bool:
    return True


def test_create_update_and_resume_share_one_handler_and_the_timer_waits_one_interval():
    registry = kopf.OperatorRegistry()
    selector = selector_of(ModelVersion)
    register_reconcile(registry, selector, handler)
    register_resync(registry, selector, handler, interval=45.0, when=unsettled)

    changing = registry._changing.get_all_handlers()
    assert [(h.id, h.reason, h.initial, h.fn) for h in changing] == [
        ("reconcile", None, True, handler),  # resume: kopf's initial listing, no reason
        ("reconcile", "create", None, handler),
        ("reconcile", "update", None, handler),
    ]
    assert {(h.selector.group, h.selector.version, h.selector.any_name) for h in changing} == {
        ("modelplane.io", "v1alpha1", "modelversions")
    }
    (timer,) = registry._spawning.get_all_handlers()
    assert (timer.id, timer.interval, timer.initial_delay, timer.when, timer.fn) == (
        "resync",
        45.0,
        45.0,
        unsettled,
        handler,
    )
