"""Loud skips: skip locally, fail in CI.

A test that cannot run because a component (PostgreSQL, MinIO, a cluster…) is
missing must never pass silently in CI. Every fixture of the harness reports a
missing component through :func:`missing_component` (or :func:`require`):

* normally, it calls :func:`pytest.skip` with a reason prefixed by
  :data:`SKIP_PREFIX`, which ``-ra`` and the harness' terminal summary print;
* with ``MODELPLANE_REQUIRE_ALL_TIERS=1`` (CI sets it), it calls
  :func:`pytest.fail` instead, so the run goes red.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_ALL_TIERS_ENV = "MODELPLANE_REQUIRE_ALL_TIERS"
SKIP_PREFIX = "missing component: "
FAIL_PREFIX = "required component missing: "

_TRUE_VALUES = frozenset({"1", "true", "yes", "on"})


def env_flag(name: str) -> bool:
    """Whether the environment variable ``name`` is set to a true-ish value (1, true, yes, on)."""
    return os.environ.get(name, "").strip().lower() in _TRUE_VALUES


def all_tiers_required() -> bool:
    """Whether every test tier must run (``MODELPLANE_REQUIRE_ALL_TIERS`` is true-ish)."""
    return env_flag(REQUIRE_ALL_TIERS_ENV)


def missing_component(reason: str) -> NoReturn:
    """Skip the current test (or fail it under ``MODELPLANE_REQUIRE_ALL_TIERS=1``)."""
    __tracebackhide__ = True
    if all_tiers_required():
        pytest.fail(f"{FAIL_PREFIX}{reason}", pytrace=False)
    pytest.skip(f"{SKIP_PREFIX}{reason}")


def require(condition: object, reason: str) -> None:
    """Call :func:`missing_component` with ``reason`` unless ``condition`` is truthy."""
    __tracebackhide__ = True
    if not condition:
        missing_component(reason)
