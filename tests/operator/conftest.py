"""Fixtures of the operator's unit tests: golden files of built objects, and sample resources.

``golden(name, obj)`` validates ``obj`` against the Kubernetes 1.34 schemas (or the CRD schemas for
ModelPlane kinds) and compares it with ``golden/<name>.yaml``; ``MODELPLANE_UPDATE_GOLDEN=1`` rewrites
the files instead (review the diff); the check itself is :mod:`harness.golden`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.golden import golden_checker


@pytest.fixture
def golden() -> Callable[[str, dict[str, Any]], None]:
    return golden_checker(Path(__file__).parent / "golden")
