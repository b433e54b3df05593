from __future__ import annotations

import kopf

from modelplane.operator.settings import FINALIZER, configure


def test_kopf_bookkeeping_lives_under_modelplane_io():
    settings = kopf.OperatorSettings()
    configure(settings)
    assert settings.persistence.finalizer == FINALIZER == "modelplane.io/finalizer"
    progress = settings.persistence.progress_storage
    assert isinstance(progress, kopf.AnnotationsProgressStorage)
    assert progress.prefix == "modelplane.io"
    diffbase = settings.persistence.diffbase_storage
    assert isinstance(diffbase, kopf.AnnotationsDiffBaseStorage)
    assert diffbase.prefix == "modelplane.io"
    assert settings.peering.name == "modelplane"
    assert not settings.peering.mandatory
    assert settings.posting.loggers
