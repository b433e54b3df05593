from __future__ import annotations

import json
import logging
from typing import Any

import kopf

from modelplane.operator.settings import FINALIZER, KOPF_PREFIX, configure, legacy_annotations


def configured() -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    configure(settings)
    return settings


def dataset(annotations: dict[str, str]) -> kopf.Body:
    return kopf.Body(
        {
            "apiVersion": "modelplane.io/v1alpha1",
            "kind": "Dataset",
            "metadata": {"name": "iris", "namespace": "ml", "uid": "u1", "annotations": annotations},
            "spec": {"source": {"http": {"url": "https://example.com/iris.csv"}}},
        }
    )


def test_kopf_bookkeeping_lives_under_its_own_prefix():
    settings = configured()
    assert settings.persistence.finalizer == FINALIZER == "modelplane.io/finalizer"
    progress = settings.persistence.progress_storage
    assert isinstance(progress, kopf.AnnotationsProgressStorage)
    assert progress.prefix == KOPF_PREFIX == "kopf.modelplane.io"
    diffbase = settings.persistence.diffbase_storage
    assert isinstance(diffbase, kopf.AnnotationsDiffBaseStorage)
    assert diffbase.prefix == "kopf.modelplane.io"
    assert settings.peering.name == "modelplane"
    assert not settings.peering.mandatory
    assert settings.persistence.consistency_timeout == 30.0  # longer than the watch lags in a burst


def test_kopfs_log_lines_are_not_posted_as_events_but_the_operators_own_events_are():
    settings = configured()
    assert settings.posting.enabled
    assert not settings.posting.loggers  # "Handler 'reconcile' succeeded." stays in the log
    assert settings.posting.level <= logging.INFO  # kopf.event/kopf.info from the operator are posted


def test_the_refresh_annotation_is_part_of_what_kopf_diffs():
    """kopf hides annotations under its storage prefix from its diffs: ours (modelplane.io/) must not be hidden.

    With the storage under modelplane.io/, a new modelplane.io/refresh value never reached an update handler.
    """
    storage = configured().persistence.diffbase_storage
    before = dataset({"modelplane.io/refresh": "1", "kopf.modelplane.io/kopf-managed": "yes"})
    after = dataset({"modelplane.io/refresh": "2", "kopf.modelplane.io/kopf-managed": "yes"})
    essence: Any = storage.build(body=before)
    assert essence["metadata"]["annotations"] == {"modelplane.io/refresh": "1"}  # kopf's own marker left out
    assert storage.build(body=after) != essence  # so kopf calls the update handler
    # What kopf stores as the diff base of the next comparison, under its own prefix.
    patch = kopf.Patch()
    storage.store(body=before, patch=patch, essence=essence)
    stored = patch["metadata"]["annotations"]
    assert set(stored) == {"kopf.modelplane.io/last-handled-configuration"}
    assert json.loads(stored["kopf.modelplane.io/last-handled-configuration"])["metadata"] == {
        "annotations": {"modelplane.io/refresh": "1"}
    }


def test_legacy_bookkeeping_is_found_for_removal():
    legacy = {
        "modelplane.io/kopf-managed": "yes",
        "modelplane.io/last-handled-configuration": "{}",
        "modelplane.io/refresh": "1",
    }
    assert legacy_annotations(dataset(legacy)) == [
        "modelplane.io/kopf-managed",
        "modelplane.io/last-handled-configuration",
    ]
    assert legacy_annotations(dataset({"modelplane.io/refresh": "1"})) == []
    # While the old marker is there, kopf still treats modelplane.io/ as a storage prefix: hence the removal.
    essence: Any = configured().persistence.diffbase_storage.build(body=dataset(legacy))
    assert "annotations" not in essence.get("metadata", {})
