"""Guard: ``modelplane`` is one PEP 420 namespace package spread over operator/ and services/.

A stray ``modelplane/__init__.py`` in either portion silently hides the other one; this test fails first.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import modelplane

ROOT = Path(__file__).resolve().parents[1]
PORTIONS = ("operator", "services")


def test_namespace_has_both_portions():
    paths = {Path(p).resolve() for p in modelplane.__path__}
    for portion in PORTIONS:
        assert (ROOT / portion / "modelplane").resolve() in paths, f"{portion}/modelplane is not on modelplane.__path__"


def test_no_init_at_namespace_level():
    for portion in PORTIONS:
        assert not (ROOT / portion / "modelplane" / "__init__.py").exists(), (
            f"{portion}/modelplane/__init__.py hides the other portion"
        )
        assert not (ROOT / portion / "__init__.py").exists(), f"{portion}/ must be a folder, never a package"


def test_both_portions_import():
    importlib.import_module("modelplane.apis.v1alpha1")
    importlib.import_module("modelplane.operator.main")
    importlib.import_module("modelplane.cli.main")


def test_stdlib_operator_module_is_not_shadowed():
    import operator

    assert operator.add(1, 2) == 3
    assert not hasattr(operator, "__path__"), "the top-level operator/ folder shadows the stdlib module"
