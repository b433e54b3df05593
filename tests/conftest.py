"""Top-level pytest configuration: registers the ModelPlane test harness (tests/harness)."""

from __future__ import annotations

import sys
from pathlib import Path

# The harness is imported as the top-level package ``harness`` (tests/ is a source root, like
# operator/ and services/). Under --import-mode=importlib pytest does not put tests/ on sys.path.
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

pytest_plugins = ["harness.plugin", "harness.control_plane", "pytester"]
