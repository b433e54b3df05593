"""The chart's crds/ is a byte-for-byte copy of the generated crds/ (``make chart-crds`` or ``make crds``)."""

from __future__ import annotations

import pytest

from helm.chart import CHART_DIR, REPO_ROOT

pytestmark = pytest.mark.unit


def test_chart_crds_are_the_generated_crds() -> None:
    generated = {p.name: p.read_bytes() for p in sorted((REPO_ROOT / "crds").glob("*.yaml"))}
    copied = {p.name: p.read_bytes() for p in sorted((CHART_DIR / "crds").iterdir())}
    assert generated, "crds/ is empty"
    assert sorted(copied) == sorted(generated), "helm/modelplane/crds differs from crds/: run `make chart-crds`"
    stale = [name for name in generated if copied[name] != generated[name]]
    assert not stale, f"helm/modelplane/crds is stale ({', '.join(stale)}): run `make chart-crds`"
