"""Validation metrics of a fitted estimator, under the metric names objectives and gates use.

Classification: ``accuracy``, ``f1``, ``precision``, ``recall`` (macro averages, 0 where undefined),
and with ``predict_proba`` ``roc_auc`` (binary, or one-vs-rest macro) and ``log_loss``. Regression:
``rmse``, ``mae``, ``r2``. A metric that is undefined on the split (one class only, fewer than two
rows) is left out and the reason logged, never reported as NaN.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import numpy as np

from modelplane.apis.v1alpha1.training_run import Task
from modelplane.jobs.training.data import Frame

logger = logging.getLogger(__name__)


def evaluate(model: Any, frame: Frame, task: Task) -> dict[str, float]:
    """The metrics of ``model`` on ``frame``; finite values only."""
    from sklearn import metrics
    from sklearn.exceptions import UndefinedMetricWarning

    if len(frame) == 0:
        return {}
    predicted = model.predict(frame.x)
    candidates: dict[str, Any] = {}
    if task == Task.REGRESSION:
        candidates["rmse"] = lambda: math.sqrt(metrics.mean_squared_error(frame.y, predicted))
        candidates["mae"] = lambda: metrics.mean_absolute_error(frame.y, predicted)
        candidates["r2"] = lambda: metrics.r2_score(frame.y, predicted) if len(frame) >= 2 else None
    else:
        average = {"average": "macro", "zero_division": 0}
        candidates["accuracy"] = lambda: metrics.accuracy_score(frame.y, predicted)
        candidates["f1"] = lambda: metrics.f1_score(frame.y, predicted, **average)
        candidates["precision"] = lambda: metrics.precision_score(frame.y, predicted, **average)
        candidates["recall"] = lambda: metrics.recall_score(frame.y, predicted, **average)
        if hasattr(model, "predict_proba"):
            proba = model.predict_proba(frame.x)
            classes = model.classes_
            candidates["roc_auc"] = lambda: _roc_auc(metrics, frame.y, proba, classes)
            candidates["log_loss"] = lambda: metrics.log_loss(frame.y, proba, labels=classes)
    results: dict[str, float] = {}
    for name, compute in candidates.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                value = compute()
            except ValueError as error:
                logger.info("Skipped metric %s: %s.", name, error, extra={"metric": name})
                continue
        undefined = [w for w in caught if issubclass(w.category, UndefinedMetricWarning)]
        for warning in caught:
            logger.info("Metric %s warned: %s.", name, warning.message, extra={"metric": name})
        if not undefined and value is not None and math.isfinite(float(value)):
            results[name] = float(value)
    return results


def _roc_auc(metrics: Any, y: Any, proba: Any, classes: Any) -> float | None:
    present = np.unique(y)
    if len(present) < 2:
        return None
    if len(classes) == 2:
        return float(metrics.roc_auc_score(y == classes[1], proba[:, 1]))
    if len(present) < len(classes):
        return None  # one-vs-rest needs every class in the split
    return float(metrics.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes))
