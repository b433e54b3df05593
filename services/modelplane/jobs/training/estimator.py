"""Resolving a built-in trainer's estimator class and building it with the run's hyperparameters.

``spec.trainer.builtin.estimator`` is a scikit-learn class name (looked up among
``sklearn.utils.all_estimators()``) or a full import path (``sklearn.ensemble.RandomForestClassifier``,
or any scikit-learn-compatible class). Only parameters the estimator's constructor accepts are allowed;
``random_state`` is set to the run's seed when the estimator has one and the spec does not set it, so a
run is reproducible from its seed.
"""

from __future__ import annotations

import difflib
import functools
import importlib
from collections.abc import Mapping
from typing import Any

from modelplane.apis.v1alpha1.training_run import Task
from modelplane.jobs.errors import InvalidSpec


@functools.cache
def _sklearn_estimators() -> dict[str, type[Any]]:
    from sklearn.utils import all_estimators

    return dict(all_estimators())


def resolve_estimator(name: str, task: Task) -> type[Any]:
    """The estimator class ``name`` refers to; it must be a scikit-learn estimator of ``task``'s kind."""
    from sklearn.base import BaseEstimator, is_classifier, is_regressor

    if "." in name:
        module_name, _, class_name = name.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as error:
            raise InvalidSpec(f"estimator {name!r} cannot be imported: {error}") from error
    else:
        known = _sklearn_estimators()
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; give a full import path for other libraries"
            raise InvalidSpec(f"estimator {name!r} is not a scikit-learn estimator{hint}")
        cls = known[name]
    if not isinstance(cls, type) or not issubclass(cls, BaseEstimator):
        raise InvalidSpec(f"estimator {name!r} is not a scikit-learn estimator class")
    probe = cls()
    if task == Task.CLASSIFICATION and not is_classifier(probe):
        raise InvalidSpec(f"estimator {name!r} is not a classifier, but the task is Classification")
    if task == Task.REGRESSION and not is_regressor(probe):
        raise InvalidSpec(f"estimator {name!r} is not a regressor, but the task is Regression")
    return cls


def estimator_parameters(cls: type[Any], hyperparameters: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The constructor arguments: the hyperparameters, checked against the accepted names, plus the seed."""
    accepted = set(cls().get_params(deep=False))
    unknown = sorted(set(hyperparameters) - accepted)
    if unknown:
        raise InvalidSpec(
            f"unknown hyperparameters for {cls.__name__}: {', '.join(unknown)} "
            f"(accepted: {', '.join(sorted(accepted))})"
        )
    parameters = dict(hyperparameters)
    if "random_state" in accepted and parameters.get("random_state") is None:
        parameters["random_state"] = seed
    return parameters


def build_estimator(cls: type[Any], parameters: Mapping[str, Any]) -> Any:
    """An unfitted estimator; bad values are found by scikit-learn when it fits."""
    try:
        return cls(**parameters)
    except (TypeError, ValueError) as error:
        raise InvalidSpec(f"{cls.__name__} rejected its hyperparameters: {error}") from error
